"""Step generation and compression, checked step by step against an independent solver.

The reference finds each step time by bisection on the toolhead position
along the trapezoid (no closed form shared with the kernel), then every run
is decompressed and each step compared with it.
"""
import math

import numpy as np
import pytest

from mendel import config
from mendel.planner._stepcompress import StepCompressor
from mendel.planner.kinematics import CartesianKinematics
from mendel.planner.lookahead import Limits, LookAheadQueue, Move, to_planned
from mendel.planner.stepgen import StepGenerator

FREQ = 12_000_000
MAX_ERROR = 300                     # 25 us at 12 MHz
LIMITS = Limits(config.load())
SPM = [80.0, 80.0, 400.0, 93.0]


def distance_at(move, t):
    """Distance along ``move`` (mm) at time ``t`` (s) from its start; vectorised."""
    a = move.accel
    t1, t2 = move.accel_t, move.accel_t + move.cruise_t
    d1 = move.start_v * t1 + 0.5 * a * t1 * t1
    d2 = d1 + move.cruise_v * move.cruise_t
    tc = np.clip(t, 0.0, t1)
    out = move.start_v * tc + 0.5 * a * tc * tc
    out = np.where(t > t1, d1 + move.cruise_v * (np.minimum(t, t2) - t1), out)
    td = np.clip(t - t2, 0.0, move.decel_t)
    return np.where(t > t2, d2 + move.cruise_v * td - 0.5 * a * td * td, out)


def ideal_step_times(moves, axis, spm):
    """Every step's ideal time (s) of one axis, with its direction (+1/-1)."""
    times, dirs = [], []
    for move in moves:
        p0 = round(move.start[axis] * spm)
        p1 = round(move.end[axis] * spm)
        if p0 == p1:
            continue
        sign = 1 if p1 > p0 else -1
        boundaries = (p0 + sign * (np.arange(abs(p1 - p0)) + 0.5)) / spm
        ratio = move.axes_d[axis] / move.move_d
        want = np.clip((boundaries - move.start[axis]) / ratio, 0.0, move.move_d)
        lo = np.zeros_like(want)
        hi = np.full_like(want, move.duration)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            below = distance_at(move, mid) < want
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        times.append(move.print_time + hi)
        dirs.append(np.full(len(want), sign))
    return np.concatenate(times), np.concatenate(dirs)


def decompress(runs):
    """Step clocks and directions from ``(reference, interval, count, add, ...)`` runs."""
    clocks, dirs = [], []
    last = None
    for reference, interval, count, add, first, end in runs:
        if reference is not None:
            last = reference
        k = np.arange(1, abs(count) + 1, dtype=np.int64)
        steps = last + k * interval + add * k * (k - 1) // 2
        assert steps[0] == first and steps[-1] == end
        assert np.all(np.diff(steps) > 0)
        clocks.append(steps)
        dirs.append(np.full(len(k), 1 if count > 0 else -1))
        last = steps[-1]
    return np.concatenate(clocks), np.concatenate(dirs)


def planned(points, speeds):
    """Planned moves through ``points``; motors start at 0, so the path does too."""
    assert list(points[0]) == [0, 0, 0, 0]
    queue = LookAheadQueue()
    moves = []
    for (start, end), speed in zip(zip(points, points[1:]), speeds):
        moves += queue.add(Move(LIMITS, list(start), list(end), speed))
    moves += queue.flush()
    t = 1.0
    for move in moves:
        move.print_time = t
        t += move.duration
    return moves


def check_axes(moves, max_error=MAX_ERROR):
    gen = StepGenerator(CartesianKinematics(), SPM, FREQ, max_error / FREQ)
    gen.add_moves(to_planned(moves), moves[0].print_time)
    runs_by_axis = [c.flush() for c in gen.compressors]
    for axis, runs in enumerate(runs_by_axis):
        if not runs:
            continue
        clocks, dirs = decompress(runs)
        ideal, ideal_dirs = ideal_step_times(moves, axis, SPM[axis])
        assert len(clocks) == len(ideal)
        assert np.array_equal(dirs, ideal_dirs)
        error = np.abs(clocks - ideal * FREQ)
        assert error.max() <= max_error + 0.5, (axis, error.max())
        # Exact end position: every step taken, in the right directions.
        assert dirs.sum() == round(moves[-1].end[axis] * SPM[axis])
    return runs_by_axis


def test_long_trapezoid_compresses_to_few_runs_within_error():
    moves = planned([(0, 0, 0, 0), (100, 0, 0, 0)], [100.0])
    (runs_x, *_rest) = check_axes(moves)
    assert len(runs_x) < 30             # 8000 steps
    cruise = max(runs_x, key=lambda r: abs(r[2]))
    assert cruise[1] == FREQ // 8000 and cruise[3] == 0   # 100 mm/s * 80 steps/mm


def test_polygon_with_reversals_and_extrusion():
    points = [(0, 0, 0, 0), (0, 0, 0.2, 0), (20, 0, 0.2, 1), (20, 20, 0.2, 2), (0, 20, 0.2, 3),
              (0, 0, 0.2, 2.2), (20, 20, 0.4, 2.2), (0.0125, 0.0125, 0.6, 3)]
    check_axes(planned(points, [10, 40, 80, 120, 300, 150, 60]))


def test_circle_of_short_chords():
    points = [(0, 0, 0, 0)] + [
        (50 + 10 * math.cos(i * 0.1), 50 + 10 * math.sin(i * 0.1), 0.2, i * 0.03)
        for i in range(200)]
    runs = check_axes(planned(points, [60.0] * 200))
    steps = sum(abs(r[2]) for r in runs[0])
    assert len(runs[0]) < steps / 4


@pytest.mark.parametrize("max_error", [12, 120, 1200])
def test_error_bound_is_configurable(max_error):
    points = [(0, 0, 0, 0), (30, 7, 0, 0), (10, 30, 0, 0)]
    check_axes(planned(points, [150.0, 150.0]), max_error)


def test_kernel_rejects_bad_parameters():
    with pytest.raises(ValueError):
        StepCompressor(0.0, FREQ, 10)


def test_slow_steps_never_leave_more_than_a_second_between_steps_of_a_run():
    # 0.02 mm/s at 80 steps/mm: a step every 0.625 s; then 0.005 mm/s: every 2.5 s.
    comp = StepCompressor(80.0, FREQ, MAX_ERROR)
    comp.add_move(1.0, 0.0, 5.0, 0.02, 0.02, 3000.0, 0.1, 0.0, 1.0, 8)
    comp.add_move(6.0, 0.0, 20.0, 0.005, 0.005, 3000.0, 0.1, 0.1, 1.0, 16)
    runs = comp.flush()
    clocks, _dirs = decompress(runs)
    assert len(clocks) == 16
    for reference, interval, count, add, _first, _last in runs:
        assert 1 <= interval <= FREQ
        assert 1 <= interval + add * (abs(count) - 1) <= FREQ
    # The 2.5 s gaps are bridged by set_step_clock, one run per step.
    assert sum(r[0] is not None for r in runs) >= 8
