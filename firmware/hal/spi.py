# Mendel firmware: a chip on a hardware SPI bus (RP2040, ESP32).
# SPDX-License-Identifier: GPL-3.0-or-later
"""An SPI device through MicroPython's ``machine.SPI`` with its own
chip-select pin; loaded only for a board file that lists an accelerometer."""
import machine


class SpiDevice:
    """A chip on a hardware SPI bus with its own chip select, mode 3 (the
    ADXL345's: clock idles high, data sampled on the rising edge).
    ``spec``: the board file's accelerometer entry, ``{"spi": {"bus": n,
    "sck": pin, "mosi": pin, "miso": pin}, "cs": pin}``; ``gpio(name) ->
    int``; ``baudrate`` Hz. Made once; a transfer allocates nothing."""

    def __init__(self, spec, gpio, baudrate=5000000):
        bus = spec["spi"]
        self._cs = machine.Pin(gpio(spec["cs"]), machine.Pin.OUT, value=1)
        self._spi = machine.SPI(bus["bus"], baudrate=baudrate, polarity=1, phase=1,
                                sck=machine.Pin(gpio(bus["sck"])),
                                mosi=machine.Pin(gpio(bus["mosi"])),
                                miso=machine.Pin(gpio(bus["miso"])))

    def write_readinto(self, out, into):
        """One transfer with CS low: ``out`` sent, ``into`` (same length) received."""
        self._cs.value(0)
        try:
            self._spi.write_readinto(out, into)
        finally:
            self._cs.value(1)
