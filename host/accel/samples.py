# Mendel host: accelerometer data messages -> timed samples.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Turn the board's ``adxl345_data`` messages into samples (numpy).

Units: s, mm/s^2; clocks in board ticks.

Each message (firmware/sensors/adxl345.py) holds up to 8 raw samples (x,
y, z as little-endian int16, 256 counts per g in full resolution), the
index ``seq`` (mod 8192) of its first sample since the start, and the board
``clock`` at which the firmware read FIFO_STATUS, with ``remaining``: the
newest sample in the chip at ``clock`` has index ``seq + n + remaining - 1``.

Timing: the chip makes a sample every period P of its own clock (not the
board's: a real chip's rate is within a few percent of nominal). Each read
says sample j was the newest at clock c, i.e. it was made within (c - P, c].
A least-squares line ``c = a + b j`` over all reads gives P (= b) and the
phase; on average c falls P/2 after the sample was made, and the sample is
the mean acceleration over the period before it was made, so sample j is
put at the middle of that period, ``a + b (j - 1)`` ticks. With reads at
fewer than two clocks the nominal rate is used. A fitted rate more than
``RATE_TOLERANCE`` off the configured one means the chip dropped samples
(the board did not read its FIFO in time): the times would be wrong, so
that is an error.
"""
import numpy as np

GRAVITY_MM_S2 = 9806.65
COUNTS_PER_G = 256.0          # ADXL345 full resolution (data sheet: 3.9 mg/LSB)
SEQ_MODULO = 8192
# A real ADXL345's data rate is within a few percent of nominal (data sheet).
RATE_TOLERANCE = 0.10


def unwrap(values, modulo, start=0):
    """Counters that wrap at ``modulo`` -> increasing ints, the first
    nearest ``start`` from above."""
    out = []
    last = start
    for value in values:
        last = last + ((value - last) % modulo)
        out.append(last)
    return out


def decode(messages, clock_freq, rate, axes_map):
    """``messages``: [(clock ticks (whole), seq (mod 8192), remaining, data
    bytes)] in arrival order. Returns (N, 4) float64: time (s, board clock /
    clock_freq), ax, ay, az (mm/s^2, printer axes: ``axes_map`` gives
    (chip axis, sign) per printer axis). Raises ValueError when a message
    is missing (sequence gap)."""
    if not messages:
        return np.zeros((0, 4))
    firsts = unwrap([m[1] for m in messages], SEQ_MODULO)
    expected = 0
    newest, clocks = [], []
    for (clock, _seq, remaining, data), first in zip(messages, firsts):
        if first != expected:
            raise ValueError("accelerometer samples %d..%d were lost on the link"
                             % (expected, first - 1))
        count = len(data) // 6
        expected = first + count
        newest.append(expected + remaining - 1)
        clocks.append(clock)
    raw = np.frombuffer(b"".join(bytes(m[3]) for m in messages), dtype="<i2")
    raw = raw.reshape(-1, 3).astype(np.float64)
    index = np.arange(len(raw), dtype=np.float64)
    nominal = clock_freq / float(rate)
    start, period = _fit(np.array(newest, float), np.array(clocks, float), nominal)
    if abs(period / nominal - 1.0) > RATE_TOLERANCE:
        raise ValueError("samples came at %.0f Hz, not the %g Hz asked for: the chip dropped "
                         "samples the board did not read in time (measure at a lower RATE)"
                         % (clock_freq / period, rate))
    out = np.empty((len(raw), 4))
    out[:, 0] = (start + period * (index - 1.0)) / clock_freq
    scale = GRAVITY_MM_S2 / COUNTS_PER_G
    for axis, (chip_axis, sign) in enumerate(axes_map):
        out[:, 1 + axis] = sign * scale * raw[:, chip_axis]
    return out


def _fit(newest, clocks, nominal):
    """(a, b) of ``clocks = a + b * newest`` by least squares (ticks, ticks
    per sample); ``nominal`` ticks per sample when the reads are too few."""
    distinct = np.unique(newest)
    if len(distinct) >= 2:
        b, a = np.polyfit(newest, clocks, 1)
    else:
        b = nominal
        a = float(np.mean(clocks - b * newest))
    return a, b
