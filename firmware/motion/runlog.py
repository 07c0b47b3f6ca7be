# Mendel firmware: steps taken by a clock, from the runs a motor was given.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which steps have happened by a given clock (MCU ticks), per motor.

The simulated board and the hardware backends stop motors mid-run on a
shutdown; the position the host must learn is the steps actually taken. A run
(first, interval, count, add) has its k-th step (k = 1..|count|) at
``last + k*interval + add*k*(k-1)/2`` with ``last = first - interval``, so the
steps taken by ``now`` are found by a binary search on k. Runs stay here until
the clock passes their last step, then fold into a settled count.
"""


class RunLog:
    """Unfinished runs and settled steps of ``count`` motors (allocates per run)."""

    def __init__(self, count):
        self._runs = [[] for _ in range(count)]
        self._settled = [0] * count

    def add(self, oid, first, interval, count, add, now):
        """Record a run; runs that ended before ``now`` fold into the settled count."""
        steps = count if count > 0 else -count
        last = first - interval
        end = last + steps * interval + add * steps * (steps - 1) // 2
        runs = self._runs[oid]
        while runs and runs[0][4] < now:
            self._settled[oid] += runs.pop(0)[2]
        runs.append((last, interval, count, add, end))

    def taken(self, now):
        """Each motor's position in steps actually taken by ``now``; forgets the runs."""
        out = []
        for oid in range(len(self._runs)):
            out.append(self.stop(oid, now))
        return out

    def stop(self, oid, now, position=None):
        """Stop motor ``oid`` at ``now`` (or at a known ``position``); returns it."""
        runs = self._runs[oid]
        if position is None:
            position = self._settled[oid]
            for last, interval, count, add, _end in runs:
                position += steps_by(now, last, interval, count, add)
        runs.clear()
        self._settled[oid] = position
        return position


def steps_by(now, last, interval, count, add):
    """Signed steps of a run (k-th step at last + k*interval + add*k*(k-1)/2)
    that have happened by clock ``now``: binary search on k."""
    steps = count if count > 0 else -count
    low, high = 0, steps
    while low < high:
        mid = (low + high + 1) // 2
        if last + mid * interval + add * mid * (mid - 1) // 2 <= now:
            low = mid
        else:
            high = mid - 1
    return low if count > 0 else -low
