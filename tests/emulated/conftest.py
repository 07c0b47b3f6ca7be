"""Tests on the emulated RP2040: MicroPython's rp2 port runs the firmware in rp2040js.

They need the MicroPython UF2 ($MENDEL_RP2_UF2) and the RP2040 boot ROM
($MENDEL_RP2_BOOTROM), which come from outside the repository
(mendel.emulate.node says where to get them), and node with npm. Without them
every test here is skipped with the reason, which the end of every run prints.
"""
import os
import shutil

import pytest
import serial

from mendel.emulate import Rp2040Emulator
from mendel.emulate.node import BOOTROM_ENV, UF2_ENV, BOOTROM_HELP, UF2_HELP
from mendel.mcu.mcu import Mcu


def _missing():
    """Why the emulated tests cannot run here, or None."""
    if not os.environ.get(UF2_ENV) or not os.path.isfile(os.environ[UF2_ENV]):
        return "emulated RP2040 tests skipped: $%s is not set to a file (%s)" % (UF2_ENV,
                                                                                UF2_HELP)
    if not os.environ.get(BOOTROM_ENV) or not os.path.isfile(os.environ[BOOTROM_ENV]):
        return "emulated RP2040 tests skipped: $%s is not set to a file (%s)" % (BOOTROM_ENV,
                                                                                BOOTROM_HELP)
    if not shutil.which("node") or not shutil.which("npm"):
        return "emulated RP2040 tests skipped: node and npm (Node.js 18+) are not installed"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.emulated)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    """Say it at the end of every run, -rs or not: CI has neither file."""
    reason = _missing()
    if reason:
        terminalreporter.write_line(reason)


@pytest.fixture
def emulator():
    """A booted emulated bench board (rpi-pico-bench), USB serial port up."""
    with Rp2040Emulator("rpi-pico-bench") as emu:
        emu.wait_usb()
        yield emu


def connect(emu, link_timeout=20.0):
    """(pyserial port, connected Mcu) on the emulator's pty; close the port after use."""
    port = serial.Serial(emu.port, 250000, timeout=0.1)
    mcu = Mcu(port, link_timeout=link_timeout)
    mcu.connect(clear_shutdown=True)
    return port, mcu
