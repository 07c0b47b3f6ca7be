# Mendel firmware: a monotonic microsecond clock from a wrapping tick counter.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Extend ``time.ticks_us`` (which wraps: every 2**30 us, about 17.9 minutes,
on most MicroPython ports) into a clock that never wraps.

Each read adds ``ticks_diff(raw, last)`` to a running total, which is exact
as long as reads come less than half a period apart (8.9 minutes); the main
loop reads the clock many times a second. Used by backends without a 64-bit
hardware timer (ESP32); the RP2040 backend reads its 64-bit timer instead.
"""
import time


class MonotonicUs:
    """Microseconds since creation, never wrapping (int, grows past 2**30)."""

    def __init__(self, ticks_us=None, ticks_diff=None):
        self._read = ticks_us or time.ticks_us
        self._diff = ticks_diff or time.ticks_diff
        self._last = self._read()
        self._total = 0

    def now(self):
        """Microseconds since creation. Allocates only once the total is a long int."""
        raw = self._read()
        self._total += self._diff(raw, self._last)
        self._last = raw
        return self._total
