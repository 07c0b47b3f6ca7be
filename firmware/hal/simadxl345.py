# Mendel firmware, simulated board: an ADXL345 accelerometer on SPI.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ADXL345 at register level, as the simulated board's SPI device.

Facts from Analog Devices' ADXL345 data sheet (rev. G): SPI mode 3; the
first byte of a transfer is the register address, bit 7 set to read and
bit 6 set for a multi-byte transfer (the address then counts up).
Registers modelled:

=========== ====== ==============================================
DEVID       0x00   reads 0xE5
BW_RATE     0x2C   low 4 bits: output rate code, 0xF = 3200 Hz
POWER_CTL   0x2D   bit 3 Measure: sampling on/off
DATA_FORMAT 0x31   bit 3 FULL_RES, bits 0-1 range (3 = +-16 g)
DATAX0..Z1  0x32   x, y, z, little-endian two's complement; reading
                   them (a multi-byte read of all six) pops one FIFO entry
FIFO_CTL    0x38   bits 6-7 mode (2 = stream)
FIFO_STATUS 0x39   bits 0-5: entries waiting (0..32)
=========== ====== ==============================================

Samples: one every ``clock_freq / rate`` board ticks while Measure is set,
made lazily when the board's clock advances (:meth:`advance`). In stream
mode the FIFO keeps the newest 32: a reader that falls behind loses the
oldest, as the real chip does. Full resolution is 256 LSB/g (3.9 mg/LSB)
in every range; the values saturate at the range's 13-bit limits (+-16 g).
Noise: about ``noise_lsb`` LSB rms per axis (sum of three uniforms from a
fixed-seed xorshift, so runs repeat).

The acceleration is the toolhead plant's (hal/simtoolhead.py) plus gravity
on +Z (the chip flat, its axes the printer's).
"""
from hal.simtoolhead import ToolheadPlant

GRAVITY_MM_S2 = 9806.65
LSB_PER_G = 256.0
DEVID = 0xE5
_READ = 0x80
_MULTI = 0x40
_REG_POWER_CTL = 0x2D
_REG_BW_RATE = 0x2C
_REG_DATA_FORMAT = 0x31
_REG_DATAX0 = 0x32
_REG_FIFO_CTL = 0x38
_REG_FIFO_STATUS = 0x39
_MEASURE = 0x08
FIFO_SIZE = 32
_FULL_SCALE = 4095          # 13 bits signed: -4096..4095 (+-16 g)


def rate_hz(code):
    """Output rate (Hz) of BW_RATE code ``code`` (0xF = 3200 Hz, halving down)."""
    return 3200.0 / (1 << (15 - (code & 0x0F)))


class SimAdxl345:
    """The chip. ``carriage(clock) -> (x, y, z)`` mm gives where the
    carriage is at a board clock; ``spec``: the board file's "sim_toolhead"
    (plant frequencies and damping), ``clock_freq`` Hz."""

    def __init__(self, spec, clock_freq, carriage, seed=7):
        self.clock_freq = clock_freq
        self.carriage = carriage
        self.spec = spec
        self.regs = bytearray(64)
        self.regs[0] = DEVID
        self.regs[_REG_BW_RATE] = 0x0A
        self.fifo = []               # [x, y, z] counts, oldest first
        self.lost = 0                # samples overwritten in stream mode
        self.noise_lsb = spec.get("noise_lsb", 1.0)
        self.plant = None
        self._next = 0               # board clock of the next sample
        self._ticks = 1
        self._accel = [0.0, 0.0, 0.0]
        self._rng = (seed * 2654435761) & 0xFFFFFFFF or 1

    # -- the SPI device --------------------------------------------------
    def write_readinto(self, out, into):
        """One SPI transfer with CS held low: ``out`` bytes in, ``into``
        (same length) what the chip drives on MISO."""
        address = out[0]
        reg = address & 0x3F
        multi = address & _MULTI
        into[0] = 0
        if address & _READ:
            popped = False
            for i in range(1, len(out)):
                if _REG_DATAX0 <= reg <= _REG_DATAX0 + 5 and not popped:
                    self._latch()
                    popped = True
                into[i] = self.regs[reg]
                if multi:
                    reg = (reg + 1) & 0x3F
            return
        for i in range(1, len(out)):
            self._write(reg, out[i])
            into[i] = 0
            if multi:
                reg = (reg + 1) & 0x3F

    def write(self, out):
        """An SPI write (CS low, bytes out, CS high)."""
        self.write_readinto(out, bytearray(len(out)))

    def _write(self, reg, value):
        was = self.regs[_REG_POWER_CTL] & _MEASURE
        if reg in (_REG_BW_RATE, _REG_DATA_FORMAT, _REG_FIFO_CTL):
            self.regs[reg] = value
        elif reg == _REG_POWER_CTL:
            self.regs[reg] = value
            if value & _MEASURE and not was:
                self._start()

    def _start(self):
        self._ticks = int(round(self.clock_freq / rate_hz(self.regs[_REG_BW_RATE])))
        self.plant = ToolheadPlant(self.spec, self._ticks / self.clock_freq)
        self.fifo = []
        self._next = None

    def _latch(self):
        """Move the oldest FIFO entry into DATAX0..DATAZ1 (the FIFO pops)."""
        if not self.fifo:
            return
        entry = self.fifo.pop(0)
        regs = self.regs
        for i in range(3):
            value = entry[i] & 0xFFFF
            regs[_REG_DATAX0 + 2 * i] = value & 0xFF
            regs[_REG_DATAX0 + 2 * i + 1] = value >> 8
        regs[_REG_FIFO_STATUS] = len(self.fifo)

    # -- time ------------------------------------------------------------
    @property
    def measuring(self):
        return bool(self.regs[_REG_POWER_CTL] & _MEASURE)

    def advance(self, now):
        """Make every sample due by board clock ``now`` (only while measuring)."""
        if not self.measuring:
            return
        if self._next is None:
            self.plant.sample(self.carriage(now), self._accel)   # the state at rest
            self._next = now + self._ticks
        ticks = self._ticks
        while self._next <= now:
            self.plant.sample(self.carriage(self._next), self._accel)
            self._push()
            self._next += ticks

    def _push(self):
        accel = self._accel
        scale = LSB_PER_G / GRAVITY_MM_S2
        entry = [0, 0, 0]
        for i in range(3):
            value = accel[i] + (GRAVITY_MM_S2 if i == 2 else 0.0)
            count = int(round(value * scale + self.noise_lsb * self._noise()))
            entry[i] = max(-_FULL_SCALE - 1, min(_FULL_SCALE, count))
        if len(self.fifo) >= FIFO_SIZE:
            self.fifo.pop(0)
            self.lost += 1
        self.fifo.append(entry)
        self.regs[_REG_FIFO_STATUS] = len(self.fifo)

    def _noise(self):
        """About unit variance: three uniforms on [-1, 1] summed (variance 1)."""
        total = 0.0
        for _ in range(3):
            x = self._rng
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            self._rng = x
            total += x / 2147483647.5 - 1.0
        return total
