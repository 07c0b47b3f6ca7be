# Mendel host: files shipped with the package.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Paths of bundled data: printer configs, board definitions, firmware."""
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def default_config():
    """The bundled i3-class cartesian printer.cfg."""
    return os.path.join(_HERE, "configs", "i3-cartesian.cfg")


def config_path(name):
    """A bundled printer.cfg by name: ``i3-cartesian``, ``corexy``, ``delta``."""
    return os.path.join(_HERE, "configs", name + ".cfg")


def example_gcode():
    """The bundled example print, ``examples/mendel-test-block.gcode``."""
    import mendel.examples
    return os.path.join(os.path.dirname(os.path.abspath(mendel.examples.__file__)),
                        "mendel-test-block.gcode")
