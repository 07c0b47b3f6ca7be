"""Step generation and compression, checked step by step against an independent solver.

The reference finds each step time by bisection on the toolhead position
along the trapezoid (no closed form shared with the kernel), then every run
is decompressed and each step compared with it.
"""
import math
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mendel import config
from mendel.mcu import codec
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


def step_position(mm, spm):
    """Step count at ``mm``: rounded half away from zero, as the kernel does."""
    return int(math.copysign(math.floor(abs(mm * spm) + 0.5), mm))


def ideal_step_times(moves, axis, spm):
    """Every step's ideal time (s) of one axis, with its direction (+1/-1)."""
    times, dirs = [], []
    for move in moves:
        p0 = step_position(move.start[axis], spm)
        p1 = step_position(move.end[axis], spm)
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
        assert dirs.sum() == step_position(moves[-1].end[axis], SPM[axis])
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


# -- the cases closed-form fitting creates ----------------------------------------

def trapezoid(print_time, x0, x1, start_v, cruise_v, end_v, accel):
    """One move of the X motor, as ``ideal_step_times`` and ``add_move`` take it."""
    move_d = abs(x1 - x0)
    accel_t = (cruise_v - start_v) / accel
    decel_t = (cruise_v - end_v) / accel
    accel_d = (start_v + cruise_v) * 0.5 * accel_t
    decel_d = (cruise_v + end_v) * 0.5 * decel_t
    assert accel_d + decel_d <= move_d
    cruise_t = (move_d - accel_d - decel_d) / cruise_v
    return types.SimpleNamespace(
        print_time=print_time, start=[x0], end=[x1], axes_d=[x1 - x0], move_d=move_d,
        accel=accel, start_v=start_v, cruise_v=cruise_v, accel_t=accel_t,
        cruise_t=cruise_t, decel_t=decel_t, duration=accel_t + cruise_t + decel_t)


def check_compressor(moves, spm=80.0, max_error=MAX_ERROR):
    """Feed ``trapezoid`` moves to one compressor; every step against the solver."""
    comp = StepCompressor(spm, FREQ, max_error)
    comp.position = step_position(moves[0].start[0], spm)
    for m in moves:
        comp.add_move(m.print_time, m.accel_t, m.cruise_t, m.start_v, m.cruise_v, m.accel,
                      m.move_d, m.start[0], (m.end[0] - m.start[0]) / m.move_d,
                      step_position(m.end[0], spm))
    runs = comp.flush()
    clocks, dirs = decompress(runs)
    ideal, ideal_dirs = ideal_step_times(moves, 0, spm)
    assert len(clocks) == len(ideal) and np.array_equal(dirs, ideal_dirs)
    assert np.all(np.diff(clocks) > 0)
    error = np.abs(clocks - ideal * FREQ)
    assert error.max() <= max_error + 0.5, error.max()
    for _reference, interval, count, add, _first, _last in runs:
        assert 1 <= interval <= FREQ and 1 <= interval + add * (abs(count) - 1) <= FREQ
        assert 1 <= abs(count) <= 65535
    return runs, clocks


def phase_ends(moves):
    """Print times (s) where a phase or a move ends."""
    ends = []
    for m in moves:
        ends += [m.print_time + m.accel_t, m.print_time + m.accel_t + m.cruise_t,
                 m.print_time + m.duration]
    return np.array(ends)


def test_runs_cross_phase_and_move_boundaries():
    points = [(0, 0, 0, 0)] + [
        (50 + 10 * math.cos(i * 0.1), 50 + 10 * math.sin(i * 0.1), 0.2, i * 0.03)
        for i in range(60)]
    moves = planned(points, [60.0] * 60)
    runs = check_axes(moves)
    ends = phase_ends(moves) * FREQ
    for axis_runs in (runs[0], runs[3]):
        spanning = [r for r in axis_runs
                    if np.any((ends > r[4]) & (ends < r[5]))]
        assert spanning                 # runs are not cut at each phase
    # The extruder's steps are a few per move: runs hold several moves.
    assert len(runs[3]) < len(moves) / 2


def test_step_at_the_very_end_of_a_move_then_from_rest():
    # 10.00625 mm is 800.5 steps: the last step of the first move lies on its
    # very end (v = 0, the move reverses), the first of the second on its
    # very start, from rest; both at the same ideal time.
    moves = planned([(0, 0, 0, 0), (10.00625, 0, 0, 0), (5.00625, 0, 0, 0), (7.5, 0, 0, 0)],
                    [80.0, 120.0, 40.0])
    runs = check_axes(moves)
    clocks, dirs = decompress(runs[0])
    assert np.all(np.diff(clocks) > 0)
    turn = np.flatnonzero(np.diff(dirs))
    assert len(turn) == 2
    assert clocks[turn[0] + 1] - clocks[turn[0]] <= 2 * MAX_ERROR + 1


def test_steps_from_rest_on_a_half_step():
    # 0.00625 mm is half a step: the first step from rest lies at distance 0
    # (v = 0 there), the last on the very end of a move to rest, and so on
    # back the other way.
    first = trapezoid(1.0, 0.00625, -20.00625, 0.0, 150.0, 0.0, 3000.0)
    second = trapezoid(1.0 + first.duration, -20.00625, -10.0, 0.0, 5.0, 0.0, 200.0)
    check_compressor([first, second])
    assert ideal_step_times([first], 0, 80.0)[0][0] == first.print_time
    assert ideal_step_times([second], 0, 80.0)[0][0] == second.print_time


def test_a_move_at_odds_with_the_step_position_still_steps():
    # Not from planned moves: the motor "moves" backwards towards a target ahead.
    comp = StepCompressor(80.0, FREQ, MAX_ERROR)
    comp.add_move(1.0, 0.1, 0.0, 0.0, 10.0, 100.0, 0.05, 0.0, -1.0, 3)
    clocks, dirs = decompress(comp.flush())
    assert dirs.tolist() == [1, 1, 1] and np.all(np.diff(clocks) > 0)
    assert np.abs(clocks - FREQ).max() <= 3


def test_very_slow_moves_with_gaps_over_a_second():
    # 0.01 mm/s at 80 steps/mm: 1.25 s between steps; then a normal move.
    moves = planned([(0, 0, 0, 0), (0.1, 0, 0, 0), (0.2, 0, 0, 0), (10, 0, 0, 0)],
                    [0.01, 0.02, 50.0])
    runs = check_axes(moves)[0]
    assert sum(r[0] is not None for r in runs) >= 8
    _runs, clocks = check_compressor([trapezoid(2.0, 0.0, 0.1, 0.0, 0.005, 0.0, 0.0005)])
    assert np.diff(clocks).max() > 2 * FREQ


def test_steps_near_one_tick_apart():
    # 125 m/s at 80 steps/mm: 1.2 ticks a step in the cruise.
    _runs, clocks = check_compressor(
        [trapezoid(0.5, 0.0, 40.0, 0.0, 125000.0, 0.0, 1e9)])
    assert np.diff(clocks).min() == 1
    # And every step of a slow-down to rest, at 25 kHz steps.
    check_compressor([trapezoid(0.5, 0.0, 40.0, 2000.0, 2500.0, 0.0, 2e5)], spm=400.0)


@pytest.mark.parametrize("speed", [100.0, 97.0])
def test_long_cruise_over_65535_steps(speed):
    moves = planned([(0, 0, 0, 0), (1000, 0, 0, 0)], [speed])
    runs = check_axes(moves)[0]
    counts = [abs(r[2]) for r in runs]
    assert sum(counts) == 80000 and max(counts) <= 65535
    if speed == 100.0:
        # 1500 ticks a step exactly: the cruise is one run as long as can be.
        assert max(counts) == 65535


def test_flush_after_every_move():
    # As printing does: steps generated and flushed a few moves at a time.
    points = [(0, 0, 0, 0), (0, 0, 0.2, 0), (20, 0, 0.2, 1), (20, 20, 0.2, 2), (0, 20, 0.2, 3),
              (0, 0, 0.2, 2.2), (20, 20, 0.4, 2.2), (0.0125, 0.0125, 0.6, 3)]
    moves = planned(points, [10, 40, 80, 120, 300, 150, 60])
    gen = StepGenerator(CartesianKinematics(), SPM, FREQ, MAX_ERROR / FREQ)
    rows = to_planned(moves)
    runs_by_axis = [[] for _ in SPM]
    t = moves[0].print_time
    for k in range(len(rows)):
        t = gen.add_moves(rows[k:k + 1], t)
        for axis, comp in enumerate(gen.compressors):
            runs_by_axis[axis] += comp.flush()
    for axis, runs in enumerate(runs_by_axis):
        clocks, dirs = decompress(runs)
        ideal, ideal_dirs = ideal_step_times(moves, axis, SPM[axis])
        assert np.array_equal(dirs, ideal_dirs)
        assert np.abs(clocks - ideal * FREQ).max() <= MAX_ERROR + 0.5


def read_words(data):
    """The zigzag VLQ words of ``data``, as ints."""
    words, pos = [], 0
    while pos < len(data):
        value, pos = codec.get_int(data, pos)
        words.append(value)
    return words


def test_flush_encoded_is_the_runs_in_time_order():
    points = [(0, 0, 0, 0), (0, 0, 0.2, 0), (20, 0, 0.2, 1), (20, 20, 0.2, 2), (0, 20, 0.2, 3),
              (0, 0, 0.2, 2.2), (20, 20, 0.4, 2.2), (0.0125, 0.0125, 0.6, 3)]
    moves = planned(points, [10, 40, 80, 120, 300, 150, 60])
    gens = [StepGenerator(CartesianKinematics(), SPM, FREQ) for _ in range(2)]
    for gen in gens:
        gen.add_moves(to_planned(moves), moves[0].print_time)
    runs = [(r[4], motor, r) for motor, c in enumerate(gens[0].compressors) for r in c.flush()]
    runs.sort(key=lambda item: item[:2])
    oids = [7, 5, 3, 1]
    data, ends, motors, last_clocks = gens[1].flush_encoded(oids, 11, 12)
    assert len(ends) == len(runs) and ends[-1] == len(data)
    assert motors.tolist() == [motor for _first, motor, _run in runs]
    assert last_clocks.tolist() == [run[5] for _first, _motor, run in runs]
    expected = []
    for _first, motor, (reference, interval, count, add, _f, _l) in runs:
        if reference is not None:
            expected += [11, oids[motor], reference]
        expected += [12, oids[motor], interval, count, add]
    assert read_words(data) == expected
    assert gens[1].flush_encoded(oids, 11, 12)[0] == b""


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.floats(-30.0, 30.0), st.floats(-2.0, 2.0),
                          st.sampled_from([0.5, 5.0, 40.0, 150.0, 400.0])),
                min_size=1, max_size=12))
def test_random_paths_step_by_step(legs):
    # Reversals, stops, short and long moves, slow and fast, X and E together.
    points = [(0.0, 0.0, 0.0, 0.0)]
    for dx, de, _speed in legs:
        x, _y, _z, e = points[-1]
        points.append((round(x + dx, 5), 0.0, 0.0, round(e + de, 5)))
    kept = [points[0]]
    speeds = []
    for point, (_dx, _de, speed) in zip(points[1:], legs):
        if point != kept[-1]:
            kept.append(point)
            speeds.append(speed)
    if len(kept) > 1:
        check_axes(planned(kept, speeds), max_error=120)


def test_kernel_refuses_steps_at_no_speed():
    comp = StepCompressor(80.0, FREQ, MAX_ERROR)
    with pytest.raises(ValueError, match="speed"):
        comp.add_move(1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 80)
