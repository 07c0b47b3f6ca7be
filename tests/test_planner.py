"""Look-ahead planner: Klipper's model on hand-computed cases, invariants on real files.

The expected numbers below are worked out by hand from the model Klipper
documents (Kinematics.md: trapezoids, junction deviation, minimum cruise
ratio), not read from the code under test. Printer: the bundled i3 config,
max_velocity 300 mm/s, max_accel 3000 mm/s^2, square_corner_velocity 5 mm/s,
minimum_cruise_ratio 0.5, max_z 12 mm/s / 200 mm/s^2, extrude-only
60 mm/s / 1500 mm/s^2.
"""
import math
import os

import numpy as np
import pytest

from mendel import config
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.reader import iter_commands
from mendel.planner import lookahead
from mendel.planner._lookahead import Planner
from mendel.planner.lookahead import Limits, LookAheadQueue, Move

CFG = config.load()
A = 3000.0
SCV = 5.0
MCR = 0.5
CORPUS_FILES = ["prusaslicer-2.5-cube-m83.gcode", "cura-2.3-puzzle-reprap-m82.gcode",
                "slic3r-1.3-cube-m82.gcode", "kisslicer-1.1-solidbox-m82.gcode",
                "prusaslicer-2.7-twistvase-spiral-m83.gcode", "curaengine-4.13-cube-m82.gcode"]


def new_planner(cfg=CFG):
    planner = Planner(1.0, 1.0)
    Limits(cfg, planner)
    return planner


def plan(points, speed=100.0, cfg=CFG):
    """Plan moves through ``points`` (x, y, z, e) with the Cython planner."""
    planner = new_planner(cfg)
    planner.set_position(points[0])
    for point in points[1:]:
        planner.add(*point, speed)
    planner.flush()
    return planner.take()


def durations(moves):
    return moves["accel_t"] + moves["cruise_t"] + moves["decel_t"]


def trapezoid_time(d, v0, v, v1, a=A):
    """Time of a trapezoid by hand: phases at constant acceleration."""
    accel_d = (v * v - v0 * v0) / (2 * a)
    decel_d = (v * v - v1 * v1) / (2 * a)
    return (v - v0) / a + (v - v1) / a + (d - accel_d - decel_d) / v


def test_single_long_move_is_a_trapezoid():
    (move,) = plan([(0, 0, 0, 0), (100, 0, 0, 0)])
    # Accelerate 0->100 mm/s at 3000 mm/s^2 and back: t = d/v + v/a.
    assert durations(move) == pytest.approx(100 / 100 + 100 / 3000)
    assert move["accel_t"] == pytest.approx(100 / 3000)
    assert move["cruise_v"] == pytest.approx(100.0)


def test_short_move_keeps_the_minimum_cruise_ratio():
    # Klipper's Config_Reference example: with minimum_cruise_ratio 0.5 a
    # standalone 1.5 mm move cruises for at least 0.75 mm. The peak then is
    # v^2 = a * (1 - r) * d (half the distance accelerating and decelerating).
    (move,) = plan([(0, 0, 0, 0), (1.5, 0, 0, 0)], speed=300.0)
    v = math.sqrt(A * (1 - MCR) * 1.5)
    assert move["cruise_v"] == pytest.approx(v)
    assert move["cruise_v"] * move["cruise_t"] == pytest.approx(0.75)
    assert durations(move) == pytest.approx(2 * v / A + 0.75 / v)


def test_ratio_zero_gives_the_plain_triangle():
    cfg = config.load()
    cfg.minimum_cruise_ratio = 0.0
    (move,) = plan([(0, 0, 0, 0), (1.5, 0, 0, 0)], speed=300.0, cfg=cfg)
    assert move["cruise_v"] == pytest.approx(math.sqrt(A * 1.5))
    assert durations(move) == pytest.approx(2 * math.sqrt(1.5 / A))


def test_square_corners_run_at_square_corner_velocity():
    square = [(0, 0, 0, 0), (100, 0, 0, 0), (100, 100, 0, 0), (0, 100, 0, 0), (0, 0, 0, 0)]
    moves = plan(square, speed=100.0)
    # By the definition of junction deviation, 90 degrees gives exactly scv.
    assert moves["end_v"][:3] == pytest.approx([SCV] * 3)
    assert moves["start_v"][1:] == pytest.approx([SCV] * 3)
    expected = (trapezoid_time(100, 0, 100, SCV) + 2 * trapezoid_time(100, SCV, 100, SCV)
                + trapezoid_time(100, SCV, 100, 0))
    assert durations(moves).sum() == pytest.approx(expected)


def test_zig_zag_of_short_moves():
    # 45-degree zig-zag: segments of sqrt(2) mm meeting at 90 degrees, so each
    # junction runs at scv (the centripetal bound, a*d*tan(45)/2 = 2121 mm^2/s^2,
    # does not bind). The minimum cruise ratio caps each segment's peak at
    # v^2 = (v_in^2 + v_out^2 + 2 a (1 - r) d) / 2.
    points = [(i, i % 2, 0, 0) for i in range(8)]
    moves = plan(points, speed=100.0)
    d = math.sqrt(2)
    total = 0.0
    for i, move in enumerate(moves):
        v_in = 0.0 if i == 0 else SCV
        v_out = 0.0 if i == len(moves) - 1 else SCV
        peak = math.sqrt((v_in ** 2 + v_out ** 2 + 2 * A * (1 - MCR) * d) / 2)
        assert move["start_v"] == pytest.approx(v_in)
        assert move["end_v"] == pytest.approx(v_out)
        assert move["cruise_v"] == pytest.approx(peak)
        total += trapezoid_time(d, v_in, peak, v_out)
    assert durations(moves).sum() == pytest.approx(total)


def test_straight_line_does_not_slow_down_and_reversal_stops():
    first, second = plan([(0, 0, 0, 0), (50, 0, 0, 0), (100, 0, 0, 0)])
    assert first["end_v"] == pytest.approx(100.0) and second["start_v"] == pytest.approx(100.0)
    moves = plan([(0, 0, 0, 0), (10, 0, 0, 0), (0, 0, 0, 0)])
    assert moves["end_v"][0] == 0.0 and moves["start_v"][1] == 0.0
    assert durations(moves).sum() == pytest.approx(2 * (10 / 100 + 100 / 3000))


def test_z_hop_is_limited_by_the_z_axis():
    # 0.4 mm up at 100 mm/s: capped by max_z 12 mm/s and 200 mm/s^2. Klipper
    # lowers the smoothing bound with the acceleration, so the hop is a
    # triangle peaking at v^2 = a_z * d = 80 (8.94 mm/s, below 12).
    (move,) = plan([(0, 0, 0.2, 0), (0, 0, 0.6, 0)], speed=100.0)
    assert move["accel"] == 200.0
    assert move["cruise_v"] == pytest.approx(math.sqrt(200 * 0.4))
    assert durations(move) == pytest.approx(2 * math.sqrt(0.4 / 200))


def test_e_only_retract_uses_extruder_limits():
    # 0.8 mm retract at 35 mm/s: extrude-only limits 60 mm/s and 1500 mm/s^2;
    # as for the Z hop the smoothing bound follows the lower acceleration:
    # peak v^2 = 1500 * 0.8 = 1200 (34.6 mm/s), a triangle.
    (move,) = plan([(0, 0, 0, 0), (0, 0, 0, -0.8)], speed=35.0)
    assert move["move_d"] == pytest.approx(0.8)
    assert move["accel"] == 1500.0
    assert move["cruise_v"] == pytest.approx(math.sqrt(1200))
    assert durations(move) == pytest.approx(2 * math.sqrt(0.8 / 1500))


def test_extrusion_ratio_change_is_a_corner():
    # Same direction, E ratio jumps from 0 to 0.05: the extruder's
    # instantaneous_corner_velocity (1 mm/s) allows v = 1 / 0.05 = 20 mm/s.
    moves = plan([(0, 0, 0, 0), (50, 0, 0, 0), (100, 0, 0, 2.5)], speed=100.0)
    assert moves["end_v"][0] == pytest.approx(20.0)


def test_limits_change_at_the_right_move():
    planner = new_planner()
    limits = Limits(CFG, planner)
    planner.add(100, 0, 0, 0, 100.0)
    limits.update(accel=500.0)               # M204 S500 between the two moves
    planner.add(100, 100, 0, 0, 100.0)
    planner.flush()
    first, second = planner.take()
    assert first["accel"] == 3000.0 and second["accel"] == 500.0
    # The config is the ceiling: M204 cannot raise it.
    limits.update(accel=10000.0)
    assert limits.max_accel == 3000.0
    with pytest.raises(ValueError):
        limits.update(min_cruise_ratio=1.0)


def test_lazy_flush_releases_early_and_changes_nothing():
    points = [(10 * math.cos(i / 10), 10 * math.sin(i / 10), 0, i * 0.01) for i in range(400)]
    planner = new_planner()
    planner.set_position(points[0])
    released_early = 0
    for point in points[1:]:
        released_early = max(released_early, planner.add(*point, 100.0))
    assert released_early > 0 and planner.queued < len(points) - 1
    planner.flush()
    lazy = planner.take()
    # All at once: the Python reference with no lazy flushing.
    full = reference_plan(points, flush_time=math.inf)
    assert [m.cruise_v for m in full] == pytest.approx(list(lazy["cruise_v"]), rel=1e-9)
    assert sum(m.duration for m in full) == pytest.approx(durations(lazy).sum(), rel=1e-12)


def reference_plan(points, speed=100.0, flush_time=lookahead.LOOKAHEAD_FLUSH_TIME):
    limits = Limits(CFG)
    queue = LookAheadQueue()
    saved, lookahead.LOOKAHEAD_FLUSH_TIME = lookahead.LOOKAHEAD_FLUSH_TIME, flush_time
    try:
        queue.junction_flush = flush_time
        moves = []
        for start, end in zip(points, points[1:]):
            moves += queue.add(Move(limits, start, end, speed))
        return moves + queue.flush()
    finally:
        lookahead.LOOKAHEAD_FLUSH_TIME = saved


class Recorder:
    """Machine for the interpreter that plans moves without a board."""

    extruder_count = 1

    def __init__(self):
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.planner = new_planner()
        self.limits = Limits(CFG, self.planner)
        self.events = []
        self.moves = []

    def move(self, target, speed):
        self.events.append(("move", list(target), speed))
        if self.planner.add(*target, speed):
            self.moves.append(self.planner.take())
        self.position = list(target)

    def home(self, axes):
        for axis in axes:
            i = "XYZ".index(axis)
            target = list(self.position)
            target[i] = 0.0
            if target != self.position:
                self.move(target, 50.0)

    def set_limits(self, **limits):
        self.events.append(("limits", limits, None))
        self.limits.update(**limits)

    def finish(self):
        self.planner.flush()
        self.moves.append(self.planner.take())
        return np.concatenate(self.moves)

    def __getattr__(self, name):
        return lambda *args, **kw: None


def plan_file(path):
    machine = Recorder()
    interp = Interpreter(machine, warn=lambda _t: None)
    with open(path, "rb") as f:
        interp.run(iter_commands(f))
    return machine, machine.finish()


def check_invariants(moves, limits_cfg=CFG):
    """No limit exceeded, speeds continuous, junctions within the model."""
    start_v, end_v, cruise_v = moves["start_v"], moves["end_v"], moves["cruise_v"]
    assert start_v[0] == 0.0 and end_v[-1] == 0.0
    np.testing.assert_allclose(start_v[1:], end_v[:-1], atol=1e-6)
    assert np.all(start_v <= cruise_v + 1e-9) and np.all(end_v <= cruise_v + 1e-9)
    assert np.all(cruise_v <= limits_cfg.max_velocity + 1e-9)
    assert np.all(moves["accel"] <= limits_cfg.max_accel + 1e-9)
    assert min(moves["accel_t"].min(), moves["cruise_t"].min(), moves["decel_t"].min()) >= 0
    # The phases cover the move: distance from speeds and times.
    distance = ((start_v + cruise_v) / 2 * moves["accel_t"] + cruise_v * moves["cruise_t"]
                + (end_v + cruise_v) / 2 * moves["decel_t"])
    np.testing.assert_allclose(distance, moves["move_d"], rtol=1e-6, atol=1e-9)
    # Acceleration phases never beat the move's acceleration.
    accel_ok = cruise_v - start_v <= moves["accel"] * moves["accel_t"] * (1 + 1e-9) + 1e-9
    decel_ok = cruise_v - end_v <= moves["accel"] * moves["decel_t"] * (1 + 1e-9) + 1e-9
    assert accel_ok.all() and decel_ok.all()
    # Z moves within max_z_velocity (along Z).
    z_speed = np.abs(moves["axes_r"][:, 2]) * cruise_v
    assert np.all(z_speed <= limits_cfg.max_z_velocity + 1e-6)
    # Junction speeds within the junction deviation model, by hand:
    # v^2 <= jd * a * sin(t/2) / (1 - sin(t/2)) at every corner, where
    # jd * a = scv^2 (sqrt(2) - 1) at most (M204 moves both; scv is capped
    # at the config's).
    r0, r1 = moves["axes_r"][:-1, :3], moves["axes_r"][1:, :3]
    kinematic = (np.abs(moves["axes_r"][:-1, :3]).sum(axis=1) > 0) & (
        np.abs(moves["axes_r"][1:, :3]).sum(axis=1) > 0)
    cos_theta = -np.sum(r0 * r1, axis=1)
    sin_half = np.sqrt(np.clip(0.5 * (1 - cos_theta), 0, 1))
    with np.errstate(divide="ignore"):
        bound = np.where(sin_half < 1 - 1e-12, SCV ** 2 * (math.sqrt(2) - 1) * sin_half
                         / (1 - sin_half), np.inf)
    junction_v2 = start_v[1:] ** 2
    assert np.all(junction_v2[kinematic] <= bound[kinematic] * (1 + 1e-9) + 1e-9)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_invariants_on_corpus_files(corpus, name):
    machine, moves = plan_file(os.path.join(corpus, name))
    assert len(moves) > 1000
    check_invariants(moves)
    # Exact end position: the last move ends where the file left the toolhead.
    assert list(moves["end"][-1]) == pytest.approx(machine.position, abs=1e-9)


@pytest.mark.parametrize("name", CORPUS_FILES[:2])
def test_kernel_equals_reference_on_corpus_files(corpus, name):
    machine, moves = plan_file(os.path.join(corpus, name))
    limits = Limits(CFG)
    queue = LookAheadQueue()
    reference = []
    position = [0.0, 0.0, 0.0, 0.0]
    for kind, target, speed in machine.events:
        if kind == "limits":
            limits.update(**target)
            continue
        move = Move(limits, position, target, speed)
        if move.move_d == 0.0 and not any(move.axes_d):
            continue
        reference += queue.add(move)
        position = move.end
    reference += queue.flush()
    assert len(reference) == len(moves)
    np.testing.assert_allclose([m.cruise_v for m in reference], moves["cruise_v"], rtol=1e-9)
    total = sum(m.duration for m in reference)
    assert durations(moves).sum() == pytest.approx(total, rel=1e-8)


def test_rounding_noise_move_is_dropped_not_a_stop():
    # A relative move's float noise (4e-15 mm) must not stop the toolhead.
    moves = plan([(10, 0, 0, 0), (10 + 4e-15, 0, 0, 0), (60, 0, 0, 0)], speed=100.0)
    assert len(moves) == 1
    assert np.isfinite(moves["axes_r"]).all()


def test_non_finite_or_overflowing_targets_are_refused():
    from mendel.errors import CommandError
    planner = new_planner()
    for target in [(math.inf, 0, 0, 0), (0, 0, 0, math.nan), (1e200, 0, 0, 0)]:
        with pytest.raises(CommandError):
            planner.add(*target, 100.0)
    assert planner.queued == 0 and planner.position == [0.0, 0.0, 0.0, 0.0]


def test_exact_reversal_stops_dead():
    moves = plan([(0, 0, 0, 0), (8.661013687422017, 0, 0, 0), (0, 0, 0, 0)])
    assert moves["end_v"][0] == 0.0 and moves["start_v"][1] == 0.0


def test_queue_is_bounded_for_absurdly_small_moves():
    planner = new_planner()
    targets = np.zeros((300_000, 4))
    targets[:, 0] = np.arange(1, 300_001) * 1e-7
    planner.add_batch(targets, np.full(300_000, 100.0))
    assert planner.queued < 1 << 18
    assert planner.released > 0


def test_bad_junction_deviation_changes_nothing():
    limits = Limits(CFG, new_planner())
    before = limits.square_corner_velocity
    with pytest.raises(ValueError):
        limits.update(junction_deviation=math.nan)
    assert limits.square_corner_velocity == before
    limits.update(accel=1000.0)
    assert limits.max_accel == 1000.0
