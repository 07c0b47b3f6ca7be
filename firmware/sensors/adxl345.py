# Mendel firmware: the ADXL345 accelerometer over SPI, streamed to the host.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reads ADXL345 accelerometers in batches from their FIFO and streams the
raw samples to the host with the board clock of each read.

Chip facts (Analog Devices ADXL345 data sheet, rev. G): the first SPI byte
is the register address, ``0x80`` to read, ``0x40`` for several bytes;
DEVID (0x00) reads 0xE5; BW_RATE (0x2C) low nibble 0xF is 3200 Hz;
POWER_CTL (0x2D) 0x08 measures, 0 stands by; DATA_FORMAT (0x31) 0x0B is
full resolution at +-16 g (3.9 mg/LSB); FIFO_CTL (0x38) 0x80 is stream mode
(the newest 32 samples kept); FIFO_STATUS (0x39) low 6 bits count the
entries; a six-byte read from DATAX0 (0x32) takes one entry (x, y, z
little-endian).

Board file entry (``"accelerometers"``): ``{"name": "adxl345", "chip":
"adxl345", "spi": ..., "cs": ...}``; the HAL's ``spi(entry)`` gives the
device (``write_readinto(out, into)`` with CS held low for the transfer).

Link (oid = index in the board's list):

* ``adxl345_query_id oid`` -> ``adxl345_id oid devid``.
* ``adxl345_start oid rate_code``: configure and measure from now.
* ``adxl345_stop oid``: stand by, send what the FIFO still holds, then
  ``adxl345_status oid clock samples overflows``: the host has every sample.
* While measuring, every ``POLL_S`` the FIFO is read and sent as
  ``adxl345_data oid clock seq remaining data``: ``data`` is up to
  ``BATCH`` raw six-byte samples, ``seq`` the index (mod 8192) of the first
  one since start, ``clock`` the low 32 bits of the board clock at which
  FIFO_STATUS was read, ``remaining`` how many entries that read counted
  beyond this message's last sample: the newest sample at ``clock`` is
  ``seq + len(data) // 6 + remaining - 1``. A read that finds the FIFO full
  counts an overflow (the chip may have dropped samples).

Sizes: 8 samples make a 64-byte frame (the longest the host reads); at
3200 Hz that is 400 frames, 25.6 KB/s. Buffers are made once; a poll
allocates only the response frames (link.send).
"""
from micropython import const

import link

_REG_DEVID = const(0x00)
_REG_BW_RATE = const(0x2C)
_REG_POWER_CTL = const(0x2D)
_REG_DATA_FORMAT = const(0x31)
_REG_DATAX0 = const(0x32)
_REG_FIFO_CTL = const(0x38)
_REG_FIFO_STATUS = const(0x39)
_READ = const(0x80)
_MULTI = const(0x40)
_MEASURE = const(0x08)
_FULL_RES_16G = const(0x0B)
_STREAM = const(0x80)
_FIFO_SIZE = const(32)
BATCH = const(8)
_SEQ_MASK = const(0x1FFF)
POLL_S_PER_1000 = const(4)      # FIFO read every 4 ms: 13 of its 32 at 3200 Hz

ADXL_ID = link.response("adxl345_id", "ii")
ADXL_DATA = link.response("adxl345_data", "iiiis")
ADXL_STATUS = link.response("adxl345_status", "iiii")


class Adxl345:
    """One chip on SPI ``device``. Allocates its buffers here."""

    def __init__(self, device):
        self.device = device
        self.running = False
        self.samples = 0
        self.overflows = 0
        self._cmd = bytearray(2)
        self._reply = bytearray(2)
        self._out = bytearray(7)
        self._out[0] = _READ | _MULTI | _REG_DATAX0
        self._sample = bytearray(7)
        self._batch = bytearray(6 * BATCH)
        self._view = memoryview(self._batch)

    def read_reg(self, reg):
        """One register's value (0..255)."""
        self._cmd[0] = _READ | reg
        self._cmd[1] = 0
        self.device.write_readinto(self._cmd, self._reply)
        return self._reply[1]

    def write_reg(self, reg, value):
        self._cmd[0] = reg
        self._cmd[1] = value
        self.device.write_readinto(self._cmd, self._reply)

    def start(self, rate_code):
        """Stand by, full resolution +-16 g, ``rate_code``, stream FIFO, measure."""
        self.write_reg(_REG_POWER_CTL, 0)
        self.write_reg(_REG_DATA_FORMAT, _FULL_RES_16G)
        self.write_reg(_REG_BW_RATE, rate_code & 0x0F)
        self.write_reg(_REG_FIFO_CTL, 0)            # bypass: empties the FIFO
        self.write_reg(_REG_FIFO_CTL, _STREAM)
        self.samples = 0
        self.overflows = 0
        self.running = True
        self.write_reg(_REG_POWER_CTL, _MEASURE)

    def stop(self):
        self.write_reg(_REG_POWER_CTL, 0)
        self.running = False

    def drain(self, send, oid, board_clock):
        """Read every entry the FIFO holds and hand them to ``send(oid,
        clock, seq, remaining, data)`` in batches of up to BATCH; ``clock``
        is ``board_clock()`` read just after FIFO_STATUS (a clock taken
        before it, at the main loop's turn, ran ~1 ms early on the emulated
        RP2040: tests/emulated/test_accelerometer.py)."""
        waiting = self.read_reg(_REG_FIFO_STATUS) & 0x3F
        clock = board_clock()
        if waiting >= _FIFO_SIZE:
            self.overflows += 1
        out, sample, batch = self._out, self._sample, self._batch
        device = self.device
        first = self.samples
        filled = 0
        while waiting:
            device.write_readinto(out, sample)
            base = 6 * filled
            for i in range(6):
                batch[base + i] = sample[1 + i]
            filled += 1
            waiting -= 1
            if filled == BATCH or not waiting:
                send(oid, clock & 0xFFFFFFFF, first & _SEQ_MASK, waiting,
                     self._view[:6 * filled])
                first += filled
                filled = 0
        self.samples = first


class Accelerometers:
    """The board's accelerometers and their link commands. ``mcu``: the
    firmware (hal, link); ``specs``: the board file's entries."""

    def __init__(self, mcu, specs):
        self.mcu = mcu
        self.chips = [Adxl345(mcu.hal.spi(spec)) for spec in specs]
        self.names = [spec["name"] for spec in specs]
        self.poll_ticks = mcu.hal.clock_freq * POLL_S_PER_1000 // 1000
        self.next_clock = None      # board clock of the next FIFO read, None when idle
        mcu.timed = _WithPolls(mcu.timed, self)

    def _send(self, oid, clock, seq, remaining, data):
        self.mcu.link.send(ADXL_DATA, oid, clock, seq, remaining, data)

    @link.command("adxl345_query_id", "i")
    def cmd_query_id(self, oid):
        """Report chip ``oid``'s DEVID register (0xE5 for an ADXL345)."""
        self.mcu.link.send(ADXL_ID, oid, self.chips[oid].read_reg(_REG_DEVID))

    @link.command("adxl345_start", "ii")
    def cmd_start(self, oid, rate_code):
        """Measure at BW_RATE code ``rate_code`` (0xF: 3200 Hz) from now."""
        self.chips[oid].start(rate_code)
        if self.next_clock is None:
            self.next_clock = self.mcu.hal.clock() + self.poll_ticks

    @link.command("adxl345_stop", "i")
    def cmd_stop(self, oid):
        """Stand by; send the rest of the FIFO, then the status."""
        chip = self.chips[oid]
        now = self.mcu.hal.clock()
        chip.stop()
        chip.drain(self._send, oid, self.mcu.hal.clock)
        self.mcu.link.send(ADXL_STATUS, oid, now & 0xFFFFFFFF, chip.samples, chip.overflows)
        if not any(c.running for c in self.chips):
            self.next_clock = None

    def run(self, now):
        """The poll timer (main loop, not an IRQ): read each measuring chip's FIFO."""
        for oid in range(len(self.chips)):
            chip = self.chips[oid]
            if chip.running:
                chip.drain(self._send, oid, self.mcu.hal.clock)
        self.next_clock = now + self.poll_ticks


class _WithPolls:
    """The firmware's timed heater/fan changes (``mcu.timed``) with the
    accelerometers' poll timer joined in: the main loop wakes for and runs
    both, and the rest goes to the changes. Only boards with an
    accelerometer pay for it."""

    def __init__(self, timed, sensors):
        self.timed = timed
        self.sensors = sensors

    def next_clock(self, default):
        clock = self.timed.next_clock(default)
        poll = self.sensors.next_clock
        return poll if poll is not None and poll < clock else clock

    def run(self, now):
        self.timed.run(now)
        poll = self.sensors.next_clock
        if poll is not None and now >= poll:
            self.sensors.run(now)

    def clear(self):
        self.timed.clear()

    def set_now(self, kind, index, value):
        self.timed.set_now(kind, index, value)

    def queue(self, mcu, clock, kind, index, value):
        self.timed.queue(mcu, clock, kind, index, value)
