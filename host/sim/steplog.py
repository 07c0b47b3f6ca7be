# Mendel host: replay the simulated board's step log.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each motor's step position over time, from the board's step log.

Units: ``_ticks`` MCU clock ticks, ``_steps`` motor steps (signed, counted
from 0 at power-on).

The log (firmware/hal/sim.py) has one line per run the board queued,
``oid first interval count add``: the k-th step (k = 1..|count|) is at
``last + k*interval + add*k*(k-1)/2`` ticks with ``last = first -
interval``, the sign of ``count`` is the direction. ``hit clock oid
position`` says an endstop or the probe stopped motor ``oid`` at
``clock`` with the counter at ``position``: the runs of that motor queued
before the line made no step after ``clock``. ``stop clock p0 p1 ...`` (a
shutdown) cuts every motor's runs at ``clock``. Other lines (``heater``,
``fan``, ...) are not about steps and are skipped.

A replay checks itself: at every ``hit`` and ``stop`` the position it
computes must be the one the board logged (ValueError otherwise).
"""
import numpy as np

NEVER_TICKS = np.iinfo(np.int64).max
_SEARCH_ROUNDS = 64          # bisection rounds: enough for any int64 step count


class StepLogError(ValueError):
    """The step log cannot be replayed; the message names the file and line."""


class MotorSteps:
    """One motor's runs after the cuts: ``positions_at`` and ``steps``.

    Arrays (one entry per run that made at least one step, in time order):
    ``last_ticks``, ``interval_ticks``, ``add_ticks`` (int64), ``sign``
    (+1/-1), ``taken`` (steps the run made), ``before_steps`` (position
    before the run), ``start_ticks`` (its first step).
    """

    def __init__(self, runs, cut_ticks):
        first, interval, count, add = (runs[:, i] for i in range(4))
        last = first - interval
        steps = np.abs(count)
        taken = _steps_by(cut_ticks, last, interval, add, steps)
        keep = taken > 0
        self.last_ticks = last[keep]
        self.interval_ticks = interval[keep]
        self.add_ticks = add[keep]
        self.sign = np.where(count[keep] > 0, 1, -1).astype(np.int64)
        self.taken = taken[keep]
        self.start_ticks = self.last_ticks + self.interval_ticks
        moved = self.sign * self.taken
        self.before_steps = np.concatenate(([0], np.cumsum(moved)[:-1])).astype(np.int64)
        self.final_steps = int(moved.sum())

    def end_ticks(self):
        """Clock of each run's last step taken (int64 array)."""
        k = self.taken
        return self.last_ticks + k * self.interval_ticks + self.add_ticks * k * (k - 1) // 2

    def check_order(self, where):
        """StepLogError unless each run's steps end before the next run's begin."""
        ends = self.end_ticks()
        overlap = np.nonzero(self.start_ticks[1:] <= ends[:-1])[0]
        if overlap.size:
            raise StepLogError("%s: runs overlap in time (a run starts at %d ticks, before "
                               "the previous one ended at %d)"
                               % (where, self.start_ticks[overlap[0] + 1], ends[overlap[0]]))

    def positions_at(self, clocks_ticks):
        """Position (steps) after every step at or before each clock: int64
        array shaped like ``clocks_ticks``."""
        clocks = np.asarray(clocks_ticks, dtype=np.int64)
        if not self.taken.size:
            return np.zeros(clocks.shape, dtype=np.int64)
        run = np.searchsorted(self.start_ticks, clocks, side="right") - 1
        inside = run >= 0
        j = np.where(inside, run, 0)
        k = _steps_by(clocks, self.last_ticks[j], self.interval_ticks[j], self.add_ticks[j],
                      self.taken[j])
        return np.where(inside, self.before_steps[j] + self.sign[j] * k, 0)

    def steps(self):
        """Every step: ``(clock_ticks, position_steps)`` int64 arrays, the
        clock of each step and the position after it, in time order."""
        total = int(self.taken.sum())
        run = np.repeat(np.arange(self.taken.size), self.taken)
        offsets = np.concatenate(([0], np.cumsum(self.taken)[:-1]))
        k = np.arange(total, dtype=np.int64) - offsets[run] + 1
        clocks = (self.last_ticks[run] + k * self.interval_ticks[run]
                  + self.add_ticks[run] * k * (k - 1) // 2)
        return clocks, self.before_steps[run] + self.sign[run] * k


def _steps_by(clocks, last, interval, add, steps):
    """Steps of runs (arrays, broadcast) made by ``clocks``: the largest k in
    0..steps with ``last + k*interval + add*k*(k-1)/2 <= clock``, by
    bisection (step times grow with k inside a run)."""
    low = np.zeros(np.broadcast(clocks, steps).shape, dtype=np.int64)
    high = np.broadcast_to(steps, low.shape).astype(np.int64)
    for _ in range(_SEARCH_ROUNDS):
        open_ = low < high
        if not open_.any():
            break
        mid = (low + high + 1) // 2
        ok = last + mid * interval + add * mid * (mid - 1) // 2 <= clocks
        low = np.where(open_ & ok, mid, low)
        high = np.where(open_ & ~ok, mid - 1, high)
    return low


def read(path, motor_count):
    """Replay the step log at ``path`` for ``motor_count`` motors (oids
    0..motor_count-1): a list of :class:`MotorSteps`, one per oid.

    Raises StepLogError for a line it cannot read, a motor out of range, or a
    ``hit``/``stop`` position that the runs before it do not reach."""
    runs, marks = _parse(path, motor_count)
    cut = np.full(len(runs), NEVER_TICKS, dtype=np.int64)
    oids = runs[:, 0]
    for kind, line, count, clock, oid, _positions in marks:
        before = cut[:count]
        mask = (oids[:count] == oid) if kind == "hit" else slice(None)
        before[mask] = np.minimum(before[mask], clock)
    motors = [MotorSteps(runs[oids == oid, 1:], cut[oids == oid]) for oid in range(motor_count)]
    for oid, motor in enumerate(motors):
        motor.check_order("%s: motor %d" % (path, oid))
    _check_marks(path, motors, marks)
    return motors


def _parse(path, motor_count):
    """(runs int64 (N, 5), marks) of the log; a mark is
    (kind, line, runs before it, clock, oid or None, logged positions)."""
    texts, run_lines, marks = [], [], []
    with open(path) as stream:
        for number, line in enumerate(stream, 1):
            head = line[:1]
            if head.isdigit() or head == "-":
                texts.append(line)
                run_lines.append(number)
            elif line.startswith(("hit ", "stop ")):
                marks.append(_mark(path, number, line, len(texts), motor_count))
    values = np.array(" ".join(texts).split(), dtype=np.int64) if texts else np.zeros(0, np.int64)
    if values.size != 5 * len(texts):
        bad = next(n for n, t in zip(run_lines, texts) if len(t.split()) != 5)
        raise StepLogError("%s:%d: a run line needs 5 integers (oid first interval count add)"
                           % (path, bad))
    runs = values.reshape(-1, 5)
    wrong = np.nonzero((runs[:, 0] < 0) | (runs[:, 0] >= motor_count))[0]
    if wrong.size:
        raise StepLogError("%s:%d: motor %d does not exist (the board has %d)"
                           % (path, run_lines[wrong[0]], runs[wrong[0], 0], motor_count))
    return runs, marks


def _mark(path, number, line, runs_before, motor_count):
    words = line.split()
    try:
        values = [int(w) for w in words[1:]]
    except ValueError:
        raise StepLogError("%s:%d: cannot read %r" % (path, number, line.strip())) from None
    if words[0] == "hit":
        if len(values) != 3 or not 0 <= values[1] < motor_count:
            raise StepLogError("%s:%d: expected `hit clock oid position` with oid < %d: %r"
                               % (path, number, motor_count, line.strip()))
        return ("hit", number, runs_before, values[0], values[1], [values[2]])
    if len(values) != 1 + motor_count:
        raise StepLogError("%s:%d: `stop` needs a clock and %d positions: %r"
                           % (path, number, motor_count, line.strip()))
    return ("stop", number, runs_before, values[0], None, values[1:])


def _check_marks(path, motors, marks):
    """Each logged hit/stop position against the replay at its clock (runs
    queued after the line start after that clock, by the board's order)."""
    for kind, line, _count, clock, oid, logged in marks:
        which = [oid] if kind == "hit" else range(len(motors))
        for m, position in zip(which, logged):
            replayed = int(motors[m].positions_at([clock])[0])
            if replayed != position:
                raise StepLogError("%s:%d: the board logged motor %d at %d steps, the runs "
                                   "before it reach %d" % (path, line, m, position, replayed))
