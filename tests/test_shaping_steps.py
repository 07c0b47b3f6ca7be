"""Step times of shaped motion, checked against independent computations.

* Input shaping: the shaped position of an axis is ``sum_i A_i x(t - T_i)``
  with ``x`` the planned (unshaped) position, here evaluated straight from
  the planned trapezoids. Each step the kernel made must cross its half-step
  boundary of the shaped position within 25 us of its clock: the shaped
  position is on one side of the boundary 25 us (plus half a tick) before
  the step and on the other side 25 us after.
* Pressure advance: Klipper's model (Pressure_Advance.md): the extruder
  follows ``e + K de/dt`` on extruding moves with X/Y travel, averaged over
  ``smooth_time`` with a triangular weight. Checked against the closed form
  on hand-computed moves, and every step against the weighted average
  integrated exactly (Gauss-Legendre on each polynomial piece of the window).
"""
import os

import numpy as np
import pytest

from test_planner import CFG, plan_file
from test_stepgen_corpus import decompress, half_away

from mendel.planner.kinematics import CartesianKinematics, CoreXYKinematics
from mendel.planner._lookahead import Planner
from mendel.planner._stepcompress import PA_TOLERANCE_STEPS
from mendel.planner.stepgen import StepGenerator
from mendel.shaping.shapers import SHAPER_TYPES, pulses

FREQ = 12_000_000
MAX_ERROR = 300                     # ticks: 25 us at 12 MHz
START = 1.0


class Nominal:
    """The planned (unshaped) toolhead position at any time, from the moves."""

    def __init__(self, moves, start_time):
        self.moves = moves
        durations = moves["accel_t"] + moves["cruise_t"] + moves["decel_t"]
        self.starts = start_time + np.concatenate([[0.0], np.cumsum(durations)[:-1]])
        self.ends = self.starts + durations

    def phase_times(self):
        """Every phase boundary (s)."""
        m = self.moves
        return np.unique(np.concatenate([self.starts, self.starts + m["accel_t"],
                                         self.starts + m["accel_t"] + m["cruise_t"],
                                         self.ends]))

    def distance(self, t):
        """(index of the move at each t, mm along it, mm/s along it)."""
        m = self.moves
        i = np.clip(np.searchsorted(self.starts, t, side="right") - 1, 0, len(m) - 1)
        mv = m[i]
        tau = np.clip(t - self.starts[i], 0.0, mv["accel_t"] + mv["cruise_t"] + mv["decel_t"])
        t1 = mv["accel_t"]
        t2 = t1 + mv["cruise_t"]
        a = mv["accel"]
        d1 = mv["start_v"] * t1 + 0.5 * a * t1 * t1
        d2 = d1 + mv["cruise_v"] * mv["cruise_t"]
        tc = np.minimum(tau, t1)
        dist = mv["start_v"] * tc + 0.5 * a * tc * tc
        speed = mv["start_v"] + a * tc
        cruise = (tau > t1)
        dist = np.where(cruise, d1 + mv["cruise_v"] * (np.minimum(tau, t2) - t1), dist)
        speed = np.where(cruise, mv["cruise_v"], speed)
        td = np.clip(tau - t2, 0.0, None)
        decel = tau > t2
        dist = np.where(decel, d2 + mv["cruise_v"] * td - 0.5 * a * td * td, dist)
        speed = np.where(decel, mv["cruise_v"] - a * td, speed)
        before = t < self.starts[0]
        speed = np.where(before | (t > self.ends[-1]), 0.0, speed)
        return i, np.where(before, 0.0, dist), speed

    def axis(self, t, k):
        """Position (mm) and velocity (mm/s) of axis ``k`` at times ``t``."""
        i, dist, speed = self.distance(np.asarray(t, dtype=np.float64))
        mv = self.moves[i]
        return mv["start"][:, k] + mv["axes_r"][:, k] * dist, mv["axes_r"][:, k] * speed

    def advance_of(self, t, advance):
        """The pressure advance (s) at times ``t``: ``advance`` (a number, or
        one per move) on extruding moves with X/Y travel, else 0."""
        i, _dist, _speed = self.distance(np.asarray(t, dtype=np.float64))
        mv = self.moves[i]
        inside = (t >= self.starts[0]) & (t <= self.ends[-1])
        flag = (mv["axes_r"][:, 3] > 0) & ((mv["axes_r"][:, 0] != 0) | (mv["axes_r"][:, 1] != 0))
        per_move = np.broadcast_to(np.asarray(advance, dtype=np.float64), (len(self.moves),))
        return np.where(flag & inside, per_move[i], 0.0)


def shaped(nominal, t, k, shaper):
    """Input-shaped position of axis ``k`` at times ``t``."""
    if shaper is None:
        return nominal.axis(t, k)[0]
    a, shifts = shaper
    return sum(ai * nominal.axis(t - ti, k)[0] for ai, ti in zip(a, shifts))


def check_steps(runs, position_at, start_steps, spm, tolerance=0.0):
    """Every step crosses its half-step boundary of ``position_at(t)`` (mm)
    within 25 us + half a tick; returns the step count.

    ``tolerance`` (steps): pressure advance's positions are quadratics within
    PA_TOLERANCE_STEPS of the smoothed quartic, so its steps are checked
    against a boundary that tolerance wide: each lies within 25 us of where
    the smoothed position comes that close to its boundary."""
    clocks, dirs = decompress(runs)
    assert np.all(np.diff(clocks) > 0)
    position = start_steps + np.cumsum(dirs)
    boundary = (position - dirs * 0.5) / spm
    slack = (MAX_ERROR + 0.5) / FREQ
    t = clocks / FREQ
    before = (position_at(t - slack) - boundary) * dirs
    after = (position_at(t + slack) - boundary) * dirs
    # Where the motion reverses within the window (a step out and one back,
    # microseconds apart), the boundary is crossed twice: look inside it for
    # a crossing in the step's direction, on 513 points.
    odd = np.flatnonzero((before > 1e-12) | (after < -1e-12))
    for i in odd:
        s = t[i] + np.linspace(-slack, slack, 513)
        f = (position_at(s) - boundary[i]) * dirs[i]
        slack_mm = tolerance / spm + 1e-12
        assert np.any((np.minimum.accumulate(f) <= slack_mm) & (f >= -slack_mm)), (i, t[i])
    assert len(odd) < 0.01 * len(t) + 5
    return len(clocks)


def generator(kinematics, spm, moves):
    gen = StepGenerator(kinematics, spm, FREQ, MAX_ERROR / FREQ)
    gen.set_position([float(v) for v in moves["start"][0]])
    return gen


@pytest.mark.parametrize("shaper_x, shaper_y", [("mzv", "ei"), ("3hump_ei", "zv")])
def test_shaped_steps_of_a_corpus_file_follow_the_shaped_position(corpus, shaper_x, shaper_y):
    machine, moves = plan_file(os.path.join(corpus, "slic3r-1.3-cube-m82.gcode"))
    spm = CFG.steps_per_mm()
    gen = generator(CartesianKinematics(), spm, moves)
    gen.set_input_shaper("x", shaper_x, 37.0, 0.08)
    gen.set_input_shaper("y", shaper_y, 52.0, 0.12)
    gen.add_moves(moves, START)
    gen.finish()
    nominal = Nominal(moves, START)
    shapers = [pulses(shaper_x, 37.0, 0.08), pulses(shaper_y, 52.0, 0.12), None, None]
    checked = 0
    for k, compressor in enumerate(gen.compressors):
        runs = compressor.flush()
        start_steps = half_away(moves["start"][0][k] * spm[k])
        if runs:
            checked += check_steps(runs, lambda t, k=k: shaped(nominal, t, k, shapers[k]),
                                   start_steps, spm[k])
        # The file's last position, to the step.
        assert compressor.position == half_away(machine.position[k] * spm[k])
    assert checked > 100_000


def test_shaped_corexy_motors_mix_the_shaped_axes():
    moves = plan([(0, 0, 0, 0), (30, 10, 0, 0), (30, 40, 0, 0), (0, 0, 0, 0)], 150.0, 4000.0)
    spm = [80.0, 80.0, 400.0, 93.0]
    gen = generator(CoreXYKinematics(), spm, moves)
    gen.set_input_shaper("x", "zvd", 40.0, 0.1)
    gen.set_input_shaper("y", "2hump_ei", 45.0, 0.1)
    gen.add_moves(moves, START)
    gen.finish()
    nominal = Nominal(moves, START)
    sx, sy = pulses("zvd", 40.0, 0.1), pulses("2hump_ei", 45.0, 0.1)
    motor_a = lambda t: shaped(nominal, t, 0, sx) + shaped(nominal, t, 1, sy)   # noqa: E731
    motor_b = lambda t: shaped(nominal, t, 0, sx) - shaped(nominal, t, 1, sy)   # noqa: E731
    for m, position_at in ((0, motor_a), (1, motor_b)):
        runs = gen.compressors[m].flush()
        assert check_steps(runs, position_at, 0, spm[m]) > 1000
        assert gen.compressors[m].position == 0


def plan(points, speed, accel):
    """Planned moves through ``points`` [x, y, z, e] at ``speed`` mm/s and
    ``accel`` mm/s^2, ending at rest (the printer's own look-ahead)."""
    planner = Planner(speed, accel)
    planner.set_position([float(v) for v in points[0]])
    for tag, point in enumerate(points[1:]):
        planner.add(*[float(v) for v in point], speed, tag, float("inf"), float("inf"))
    planner.flush()
    return planner.take()


@pytest.mark.parametrize("shaper_type", SHAPER_TYPES)
def test_every_shaper_ends_exactly_and_steps_back_and_forth(shaper_type):
    moves = plan([(0, 0, 0, 0), (2, 0, 0, 0), (0, 0, 0, 0), (5, 1, 0, 0), (5, 1, 0, 0.5)],
                 100.0, 3000.0)
    spm = [80.0, 80.0, 400.0, 93.0]
    gen = generator(CartesianKinematics(), spm, moves)
    gen.set_input_shaper("x", shaper_type, 30.0, 0.1)
    gen.add_moves(moves, START)
    resume = gen.finish()
    nominal = Nominal(moves, START)
    a, shifts = pulses(shaper_type, 30.0, 0.1)
    assert resume == pytest.approx(nominal.ends[-1] + shifts[-1] - shifts[0])
    runs = gen.compressors[0].flush()
    check_steps(runs, lambda t: shaped(nominal, t, 0, (a, shifts)), 0, 80.0)
    assert gen.compressors[0].position == 400
    # The shaped motion starts before and ends after the planned one.
    clocks, _dirs = decompress(runs)
    assert clocks[0] / FREQ < START
    assert clocks[-1] / FREQ > nominal.ends[-2]


# -- pressure advance ------------------------------------------------------
GAUSS_X, GAUSS_W = np.polynomial.legendre.leggauss(4)


def advanced(nominal, t, advance, smooth_time):
    """Klipper's smoothed pressure-advance position of the extruder at each
    time of ``t``: the triangular average of ``e + K de/dt * flag`` over
    ``[t - h, t + h]``, integrated exactly piece by piece (the integrand is a
    cubic between phase boundaries; 4-point Gauss-Legendre)."""
    h = 0.5 * smooth_time
    bounds = nominal.phase_times()
    out = np.empty(len(t))
    for n, tn in enumerate(t):
        inner = bounds[(bounds > tn - h) & (bounds < tn + h)]
        edges = np.unique(np.concatenate([[tn - h, tn, tn + h], inner]))
        lo, hi = edges[:-1], edges[1:]
        mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        s = (mid[:, None] + half[:, None] * GAUSS_X[None, :]).ravel()
        w = (half[:, None] * GAUSS_W[None, :]).ravel()
        e, v = nominal.axis(s, 3)
        p = e + v * nominal.advance_of(s, advance)
        out[n] = np.sum(w * (h - np.abs(s - tn)) * p) / (h * h)
    return out


def test_pressure_advance_matches_klippers_formula_on_hand_computed_moves():
    # One extruding move of 20 mm at 50 mm/s, 1000 mm/s^2, E 1 mm: accelerate
    # 25 ms over 1.25 mm, cruise 350 ms, decelerate 25 ms.
    moves = plan([(0, 0, 0, 0), (20, 0, 0, 1.0)], 50.0, 1000.0)
    assert len(moves) == 1
    mv = moves[0]
    assert mv["accel_t"] == pytest.approx(0.05) and mv["cruise_t"] == pytest.approx(0.35)
    k, smooth = 0.1, 0.02
    ratio = 1.0 / 20.0                      # mm of E per mm of travel
    nominal = Nominal(moves, START)
    # Hand-computed: in the cruise (away from its ends by h) the average of
    # e + K v is e + K v; in the acceleration it is e + K v + a h^2 / 12
    # (a triangle of half-width h has variance h^2 / 6).
    h = smooth / 2
    t_cruise = START + 0.05 + 0.2
    e_cruise = ratio * (0.5 * 1000 * 0.05 ** 2 + 50 * 0.2)
    t_accel = START + 0.03
    e_accel = ratio * 0.5 * 1000 * 0.03 ** 2
    expected = [e_cruise + k * ratio * 50.0,
                e_accel + k * ratio * 1000 * 0.03 + ratio * 1000 * h * h / 12]
    got = advanced(nominal, np.array([t_cruise, t_accel]), k, smooth)
    assert got == pytest.approx(expected, abs=1e-12)
    # The steps follow it: every step within 25 us of that position.
    spm = [80.0, 80.0, 400.0, 500.0]
    gen = generator(CartesianKinematics(), spm, moves)
    gen.set_pressure_advance(k, smooth)
    gen.add_moves(moves, START)
    gen.finish()
    runs = gen.compressors[3].flush()
    count = check_steps(runs, lambda t: advanced(nominal, t, k, smooth), 0, 500.0,
                        PA_TOLERANCE_STEPS)
    # The net extrusion is the move's 1 mm of E; with this much advance the
    # deceleration (K a = 5 mm/s > v = 2.5 mm/s of E) draws filament back.
    assert gen.compressors[3].position == 500
    assert count > 500 and (count - 500) % 2 == 0
    # X is not shaped by pressure advance: the exact path, ending where it should.
    assert gen.compressors[0].position == 1600


def test_pressure_advance_skips_retractions_and_travel_and_keeps_the_net_extrusion():
    moves = plan([(0, 0, 0, 0), (10, 0, 0, 0.5), (10, 0, 0, -0.3), (20, 5, 0, -0.3),
                  (20, 5, 0, 0.0), (30, 5, 0, 0.6)], 80.0, 2000.0)
    spm = [80.0, 80.0, 400.0, 415.0]
    nominal = Nominal(moves, START)
    k, smooth = 0.06, 0.04
    gen = generator(CartesianKinematics(), spm, moves)
    gen.set_pressure_advance(k, smooth)
    gen.add_moves(moves, START)
    gen.finish()
    runs = gen.compressors[3].flush()
    check_steps(runs, lambda t: advanced(nominal, t, k, smooth), 0, 415.0, PA_TOLERANCE_STEPS)
    assert gen.compressors[3].position == half_away(0.6 * 415.0)
    # Only the extruding moves with X/Y travel advance: during the travel
    # (E constant at -0.3) the smoothed position is the plain one.
    t_travel = nominal.starts[2] + 0.5 * (nominal.ends[2] - nominal.starts[2])
    assert advanced(nominal, np.array([t_travel]), k, smooth)[0] == pytest.approx(-0.3)


def test_pressure_advance_on_a_corpus_file_samples_of_steps(corpus):
    machine, moves = plan_file(os.path.join(corpus, "slic3r-1.3-cube-m82.gcode"))
    moves = moves[:1500]
    spm = CFG.steps_per_mm()
    k, smooth = 0.05, 0.04
    gen = generator(CartesianKinematics(), spm, moves)
    gen.set_pressure_advance(k, smooth)
    gen.add_moves(moves, START)
    gen.finish()
    nominal = Nominal(moves, START)
    runs = gen.compressors[3].flush()
    clocks, dirs = decompress(runs)
    start_steps = half_away(moves["start"][0][3] * spm[3])
    position = start_steps + np.cumsum(dirs)
    assert position[-1] == half_away(moves["end"][-1][3] * spm[3])
    # A sample of 2000 steps, each crossing its boundary within 25 us.
    pick = np.linspace(0, len(clocks) - 1, 2000).astype(int)
    boundary = (position[pick] - dirs[pick] * 0.5) / spm[3]
    slack = (MAX_ERROR + 0.5) / FREQ
    t = clocks[pick] / FREQ
    for ti, bi, di in zip(t, boundary, dirs[pick]):
        s = ti + np.linspace(-slack, slack, 9)
        f = (advanced(nominal, s, k, smooth) - bi) * di
        slack_mm = PA_TOLERANCE_STEPS / spm[3] + 1e-12
        assert np.any((np.minimum.accumulate(f) <= slack_mm) & (f >= -slack_mm)), ti


def test_a_new_advance_takes_effect_at_its_move_without_a_stop():
    # Extruding moves at speed; the advance changes at move 3 and again at 5
    # (a slicer's per-feature SET_PRESSURE_ADVANCE), the motion going on.
    points = [(0, 0, 0, 0)] + [(10.0 * i, 5.0 * (i % 2), 0, 0.4 * i) for i in range(1, 8)]
    moves = plan(points, 100.0, 3000.0)
    assert list(moves["tag"]) == list(range(7))
    spm = [80.0, 80.0, 400.0, 415.0]
    smooth = 0.04
    gen = generator(CartesianKinematics(), spm, moves)
    gen.set_pressure_advance(0.02, smooth)
    assert gen.set_pressure_advance(0.08, smooth, tag=3)
    assert gen.set_pressure_advance(0.0, smooth, tag=5)
    gen.add_moves(moves, START)
    gen.finish()
    per_move = np.array([0.02, 0.02, 0.02, 0.08, 0.08, 0.0, 0.0])
    nominal = Nominal(moves, START)
    runs = gen.compressors[3].flush()
    check_steps(runs, lambda t: advanced(nominal, t, per_move, smooth), 0, 415.0,
                PA_TOLERANCE_STEPS)
    assert gen.compressors[3].position == half_away(2.8 * 415.0)
    # ... and it is not the path of one advance throughout.
    with pytest.raises(AssertionError):
        check_steps(runs, lambda t: advanced(nominal, t, 0.02, smooth), 0, 415.0,
                    PA_TOLERANCE_STEPS)
