"""Boot and handshake on the emulated RP2040."""
import time

import pytest

from conftest import connect

pytestmark = pytest.mark.emulated


def test_host_identifies_the_rp2040_board_over_usb(emulator):
    """The unchanged host's Mcu connects on the pty bridged to the emulated chip's
    USB CDC port and learns the board from the firmware itself: MicroPython's rp2
    port boots, runs main.py from the littlefs image, and the firmware answers."""
    started = time.monotonic()
    port, mcu = connect(emulator)
    try:
        assert mcu.info["firmware"] == "mendel"
        assert mcu.info["mcu"] == "rp2040"
        assert mcu.info["board"] == "rpi-pico-bench"
        assert mcu.clock_freq == 12000000
        assert mcu.info["motors"] == ["x", "y", "z", "e"]
        assert time.monotonic() - started < 30
    finally:
        port.close()


def test_board_clock_is_the_emulated_timer_and_sys_clock_is_120_mhz(emulator):
    """The firmware moves clk_sys to 120 MHz (12 MHz ticks are then 10 PIO cycles),
    and the clock it reports is the emulated 1 MHz timer times 12: it lies between
    the emulated times read just before and just after the query."""
    port, mcu = connect(emulator)
    try:
        before = emulator.time()
        clock = mcu.sync_clock()
        after = emulator.time()
    finally:
        port.close()
    assert after["hz"] == 120000000
    assert before["ns"] * 0.012 - 12 <= clock <= after["ns"] * 0.012 + 12
