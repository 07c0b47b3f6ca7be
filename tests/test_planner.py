"""Look-ahead planner: hand-computed trapezoids and junctions, invariants on real files."""
import math
import os

import pytest

from mendel import config
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.reader import iter_commands
from mendel.planner.lookahead import Limits, LookAheadQueue, Move

CFG = config.load()          # 300 mm/s, 3000 mm/s^2, scv 5 mm/s
LIMITS = Limits(CFG)


def plan(points, speed=100.0, window=256):
    queue = LookAheadQueue(window)
    moves = []
    for start, end in zip(points, points[1:]):
        moves += queue.add(Move(LIMITS, list(start), list(end), speed))
    return moves + queue.flush()


def test_single_long_move_is_a_trapezoid():
    (move,) = plan([(0, 0, 0, 0), (100, 0, 0, 0)])
    # Accelerate 0->100 mm/s at 3000 mm/s^2 and back: t = d/v + v/a.
    assert move.duration == pytest.approx(100 / 100 + 100 / 3000)
    assert move.accel_t == pytest.approx(100 / 3000)
    assert move.cruise_v == pytest.approx(100.0)


def test_short_move_is_a_triangle():
    (move,) = plan([(0, 0, 0, 0), (1, 0, 0, 0)])
    # Peak where a*t^2 = d: v = sqrt(a*d), t = 2*sqrt(d/a).
    assert move.cruise_v == pytest.approx(math.sqrt(3000 * 1))
    assert move.duration == pytest.approx(2 * math.sqrt(1 / 3000))


def test_square_corner_runs_at_square_corner_velocity():
    first, second = plan([(0, 0, 0, 0), (100, 0, 0, 0), (100, 100, 0, 0)])
    # By the definition of junction deviation, 90 degrees gives exactly scv.
    assert first.end_v == pytest.approx(5.0)
    assert second.start_v == pytest.approx(5.0)


def test_straight_line_does_not_slow_down_and_reversal_stops():
    first, second = plan([(0, 0, 0, 0), (50, 0, 0, 0), (100, 0, 0, 0)])
    assert first.end_v == pytest.approx(100.0) and second.start_v == pytest.approx(100.0)
    first, second = plan([(0, 0, 0, 0), (50, 0, 0, 0), (0, 0, 0, 0)])
    assert first.end_v == 0.0 and second.start_v == 0.0


def test_z_move_is_limited_by_max_z_velocity():
    (move,) = plan([(0, 0, 0, 0), (0, 0, 10, 0)], speed=100.0)
    assert move.cruise_v == pytest.approx(CFG.max_z_velocity)


def test_extrude_only_move_uses_extruder_limits():
    (move,) = plan([(0, 0, 0, 0), (0, 0, 0, -0.8)], speed=70.0)
    assert move.move_d == pytest.approx(0.8)
    assert move.accel == CFG.max_extrude_only_accel
    assert move.cruise_v <= CFG.max_extrude_only_velocity


class Recorder:
    """Machine for the interpreter that plans moves without a board."""

    extruder_count = 1

    def __init__(self, window):
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.queue = LookAheadQueue(window)
        self.planned = []

    def move(self, target, speed):
        self.planned += self.queue.add(Move(LIMITS, list(self.position), list(target), speed))
        self.position = list(target)

    def home(self, axes):
        for axis in axes:
            self.move([0.0 if "XYZE"[i] == axis else p for i, p in enumerate(self.position)],
                      50.0)

    def __getattr__(self, name):
        return lambda *args, **kw: None


def check_invariants(moves):
    prev_end = 0.0
    for move in moves:
        assert move.start_v == pytest.approx(prev_end, abs=1e-6)
        assert move.cruise_v <= math.sqrt(move.max_cruise_v2) + 1e-6
        assert move.start_v <= move.cruise_v + 1e-9 and move.end_v <= move.cruise_v + 1e-9
        assert move.start_v ** 2 <= move.max_start_v2 + 1e-6
        accel_d = (move.start_v + move.cruise_v) / 2 * move.accel_t
        decel_d = (move.end_v + move.cruise_v) / 2 * move.decel_t
        cruise_d = move.cruise_v * move.cruise_t
        assert accel_d + cruise_d + decel_d == pytest.approx(move.move_d, rel=1e-6, abs=1e-9)
        assert min(move.accel_t, move.cruise_t, move.decel_t) >= 0.0
        prev_end = move.end_v
    assert prev_end == 0.0


@pytest.mark.parametrize("name", ["prusaslicer-2.5-cube-m83.gcode",
                                  "cura-2.3-puzzle-reprap-m82.gcode"])
def test_invariants_on_corpus_files(corpus, name):
    machine = Recorder(window=64)
    interp = Interpreter(machine, warn=lambda _t: None)
    with open(os.path.join(corpus, name), "rb") as f:
        interp.run(iter_commands(f))
    machine.planned += machine.queue.flush()
    assert len(machine.planned) > 1000
    check_invariants(machine.planned)


def test_window_size_does_not_break_continuity():
    points = [(10 * math.cos(i / 10), 10 * math.sin(i / 10), 0, i * 0.01) for i in range(200)]
    small = plan(points, window=4)
    check_invariants(small)
    big = plan(points, window=1000)
    # A longer look-ahead can only be faster.
    assert sum(m.duration for m in big) <= sum(m.duration for m in small) + 1e-9
