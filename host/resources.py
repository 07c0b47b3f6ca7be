# Mendel host: files shipped with the package.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Paths of bundled data: printer configs, board definitions, firmware."""
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def default_config():
    """The bundled i3-class cartesian printer.cfg."""
    return os.path.join(_HERE, "configs", "i3-cartesian.cfg")


def example_gcode():
    """The bundled example print (examples/ in a source checkout, else packaged)."""
    packaged = os.path.join(_HERE, "examples", "mendel-test-block.gcode")
    source = os.path.join(os.path.dirname(_HERE), "examples", "mendel-test-block.gcode")
    return packaged if os.path.exists(packaged) else source
