# Mendel host: estimate of the board's clock.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Board clock as a function of host time, from periodic clock queries.

Each query gives a sample: the host times when the query left and when the
answer came back, and the board's clock (its low 32 bits) in between. The
board clock is extended to 64 bits from the previous sample (a 12 MHz clock
wraps its 32 bits every 358 s; samples are seconds apart). Samples whose
round trip is well above the best recent one are dropped as outliers (the
answer waited somewhere, so its midpoint is wrong); a least-squares line
through the rest gives the clock offset and the actual frequency (crystals
are off by tens of ppm). With fewer than two good samples the nominal
frequency is used.
"""
import collections

_WRAP = 1 << 32
_HALF = 1 << 31


class ClockSync:
    """Board clock estimate; ``nominal_freq`` in ticks/s, host times in s."""

    def __init__(self, nominal_freq, window=16, outlier_factor=2.0):
        self.nominal_freq = float(nominal_freq)
        self.samples = collections.deque(maxlen=window)   # (host time, clock, rtt)
        self.outlier_factor = outlier_factor
        self.last_clock = None
        self.freq = float(nominal_freq)
        self._origin = (0.0, 0)

    def extend(self, clock32):
        """64-bit clock from its low 32 bits, continuing from the last one seen.

        A board whose firmware reports its whole clock (protocol 0.3: values
        of 2**32 and more) gives it as it is, so a host that connects after
        the 32-bit clock wrapped has the board's epoch, not its own."""
        if clock32 >= _WRAP:
            self.last_clock = clock32
            return clock32
        if self.last_clock is None:
            self.last_clock = clock32
            return clock32
        diff = (clock32 - self.last_clock) % _WRAP
        if diff >= _HALF:
            diff -= _WRAP              # a hair older than the last one
        self.last_clock += diff
        return self.last_clock

    def add_sample(self, sent, received, clock32):
        """Record one query (host times in s); returns the extended clock."""
        clock = self.extend(clock32)
        self.samples.append(((sent + received) / 2.0, clock, received - sent))
        self._fit()
        return clock

    def _fit(self):
        best = min(rtt for _t, _c, rtt in self.samples)
        good = [(t, c) for t, c, rtt in self.samples
                if rtt <= best * self.outlier_factor + 1e-4]
        t0, c0 = good[-1]
        if len(good) >= 2 and good[-1][0] - good[0][0] > 0.05:
            mean_t = sum(t for t, _c in good) / len(good)
            mean_c = sum(c - c0 for _t, c in good) / len(good)
            var = sum((t - mean_t) ** 2 for t, _c in good)
            cov = sum((t - mean_t) * (c - c0 - mean_c) for t, c in good)
            self.freq = cov / var
            self._origin = (mean_t, c0 + mean_c)
        else:
            self.freq = self.nominal_freq
            self._origin = (t0, c0)

    def clock_at(self, host_time):
        """Estimated board clock (ticks, int) at ``host_time`` (s)."""
        t, clock = self._origin
        return int(clock + (host_time - t) * self.freq)
