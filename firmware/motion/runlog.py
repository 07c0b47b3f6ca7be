# Mendel firmware: steps taken by a clock, from the runs a motor was given.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which steps have happened by a given clock (MCU ticks), per motor.

The simulated board and the hardware backends stop motors mid-run on a
shutdown; the position the host must learn is the steps actually taken. A run
(first, interval, count, add) has its k-th step (k = 1..|count|) at
``last + k*interval + add*k*(k-1)/2`` with ``last = first - interval``, so the
steps taken by ``now`` are found by a binary search on k. Runs stay here until
the clock passes their last step, then fold into a settled count.

Storage is one int64 array per motor made at start-up (a ring of
``slots`` runs of five fields), so queueing a run allocates nothing on a
64-bit port and only the clock values' long ints on a 32-bit one.
"""
import array

from micropython import const

_FIELDS = const(5)      # last, interval, count, add, end


class RunLog:
    """Unfinished runs and settled steps of ``count`` motors, ``slots`` runs each."""

    def __init__(self, count, slots=128):
        self.slots = slots
        self._runs = [array.array("q", bytes(8 * _FIELDS * slots)) for _ in range(count)]
        self._head = [0] * count
        self._used = [0] * count
        self._settled = [0] * count
        # The last step of the runs folded in, per motor: [clock, direction
        # (+1/-1), interval before it]; clock None before any.
        self._last = [[None, 0, 0] for _ in range(count)]

    def add(self, oid, first, interval, count, add, now):
        """Record a run; runs that ended before ``now`` fold into the settled count.

        With every slot taken the oldest run folds in whole (the step queue in
        front never holds more runs than it has slots, so this does not happen).
        """
        runs = self._runs[oid]
        while self._used[oid] and (runs[_FIELDS * self._head[oid] + 4] < now
                                   or self._used[oid] == self.slots):
            self._fold(oid)
        steps = count if count > 0 else -count
        last = first - interval
        i = _FIELDS * ((self._head[oid] + self._used[oid]) % self.slots)
        runs[i] = last
        runs[i + 1] = interval
        runs[i + 2] = count
        runs[i + 3] = add
        runs[i + 4] = last + steps * interval + add * steps * (steps - 1) // 2
        self._used[oid] += 1

    def settle(self, now):
        """Fold in every run whose last step came before ``now`` (queries
        at ``now`` or later give the same answers, faster)."""
        for oid in range(len(self._runs)):
            runs = self._runs[oid]
            while self._used[oid] and runs[_FIELDS * self._head[oid] + 4] < now:
                self._fold(oid)

    def _fold(self, oid):
        runs = self._runs[oid]
        i = _FIELDS * self._head[oid]
        count = runs[i + 2]
        if count:
            steps = count if count > 0 else -count
            self._last[oid] = [runs[i + 4], 1 if count > 0 else -1,
                               _interval(runs[i + 1], runs[i + 3], steps, steps)]
        self._settled[oid] += count
        self._head[oid] = (self._head[oid] + 1) % self.slots
        self._used[oid] -= 1

    def taken(self, now):
        """Each motor's position in steps actually taken by ``now``; forgets the runs."""
        out = []
        for oid in range(len(self._runs)):
            out.append(self.stop(oid, now))
        return out

    def position_at(self, oid, now):
        """Motor ``oid``'s position in steps taken by ``now`` (nothing forgotten)."""
        position = self._settled[oid]
        runs = self._runs[oid]
        for k in range(self._used[oid]):
            i = _FIELDS * ((self._head[oid] + k) % self.slots)
            position += steps_by(now, runs[i], runs[i + 1], runs[i + 2], runs[i + 3])
        return position

    def around(self, oid, now):
        """Motor ``oid``'s steps around clock ``now``: ``(position, prev,
        next)`` with ``position`` the steps taken by ``now``, ``prev`` the
        last step taken as ``(clock, direction, interval)`` or None, ``next``
        the first step still to come, alike, or None. A step's interval is the
        one before it in its run, or after it for a run's first step (a
        run's first interval may span a pause). Allocates."""
        position = self._settled[oid]
        last = self._last[oid]
        prev = None if last[0] is None else (last[0], last[1], last[2])
        runs = self._runs[oid]
        for k in range(self._used[oid]):
            i = _FIELDS * ((self._head[oid] + k) % self.slots)
            begin, interval, count, add = runs[i], runs[i + 1], runs[i + 2], runs[i + 3]
            direction = 1 if count > 0 else -1
            steps = count * direction
            # A run over by ``now`` needs no search.
            taken = count if runs[i + 4] <= now else steps_by(now, begin, interval, count, add)
            done = taken * direction
            position += taken
            if done:
                prev = (begin + done * interval + add * done * (done - 1) // 2, direction,
                        _interval(interval, add, done, steps))
            if done < steps:
                return position, prev, (begin + (done + 1) * interval + add * (done + 1) * done
                                        // 2, direction,
                                        _interval(interval, add, done + 1, steps))
        return position, prev, None

    def stop(self, oid, now, position=None):
        """Stop motor ``oid`` at ``now`` (or at a known ``position``); returns it."""
        if position is None:
            position = self.position_at(oid, now)
        self._used[oid] = 0
        self._settled[oid] = position
        return position


def _interval(interval, add, k, steps):
    """Ticks between step ``k`` (1-based) of a run and the one before it,
    or the one after it for the first step (when the run has one)."""
    if k == 1 and steps > 1:
        return interval + add
    return interval + add * (k - 1)


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
