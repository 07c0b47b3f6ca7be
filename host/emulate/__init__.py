# Mendel host: the firmware on an emulated RP2040.
# SPDX-License-Identifier: GPL-3.0-or-later
"""MicroPython's rp2 port running the Mendel firmware inside rp2040js (npm).

:class:`Rp2040Emulator` boots a board file's firmware on an emulated RP2040 and
serves its USB serial port on a pty that the unchanged host opens like
``/dev/ttyACM0``; tests drive its inputs, feed its ADC from thermal plants and
read its step pins' edges in emulated cycles. ``mendel emulate`` offers it on
the command line. The MicroPython UF2 and the RP2040 boot ROM come from outside
the repository (:mod:`mendel.emulate.node` says where).
"""
from mendel.emulate.emulator import Rp2040Emulator
from mendel.emulate.node import EmulatorError

__all__ = ["Rp2040Emulator", "EmulatorError"]
