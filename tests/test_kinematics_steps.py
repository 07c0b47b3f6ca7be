"""Steps of CoreXY and delta printers follow the planned toolhead path.

Moves are planned through :class:`Motion` (kinematics limits, delta
splitting, look-ahead), their steps generated and compressed; then every
step is decompressed and checked against the toolhead path itself: at each
step's time, the motor position that the inverse kinematics give for the
planned toolhead position must sit on the step's boundary, within the
delta's split tolerance plus the time error bound times the motor's speed.
Final positions must be exact to the step.
"""
import math

import numpy as np
import pytest

from test_stepgen_corpus import decompress, half_away

from mendel import config, resources
from mendel.planner.motion import SPLIT_TOLERANCE, Motion
from mendel.planner.stepgen import StepGenerator

FREQ = 12_000_000
MAX_ERROR_S = 25e-6
START = 1.0


def config_named(name):
    return config.load(resources.config_path(name))


def toolhead_at(moves, times):
    """Toolhead [x, y, z] (N, 3) mm of planned ``moves`` at print ``times`` (N,)."""
    durations = moves["accel_t"] + moves["cruise_t"] + moves["decel_t"]
    starts = START + np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    i = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(moves) - 1)
    m = moves[i]
    t = np.clip(times - starts[i], 0.0, durations[i])
    a, t1 = m["accel"], m["accel_t"]
    t2 = t1 + m["cruise_t"]
    d1 = m["start_v"] * t1 + 0.5 * a * t1 * t1
    d2 = d1 + m["cruise_v"] * m["cruise_t"]
    tc = np.minimum(t, t1)
    d = m["start_v"] * tc + 0.5 * a * tc * tc
    d = np.where(t > t1, d1 + m["cruise_v"] * (np.minimum(t, t2) - t1), d)
    td = np.clip(t - t2, 0.0, None)
    d = np.where(t > t2, d2 + m["cruise_v"] * td - 0.5 * a * td * td, d)
    return m["start"][:, :3] + m["axes_r"][:, :3] * d[:, None]


def plan(cfg, points, speed):
    motion = Motion(cfg)
    for target in points:
        motion.move(target, speed)
    motion.flush()
    return motion, motion.take()


def check_steps(cfg, motion, moves):
    kin = motion.kinematics
    spm = cfg.steps_per_mm()
    gen = StepGenerator(kin, spm, FREQ, MAX_ERROR_S)
    home = list(kin.home_position()) + [0.0]
    gen.set_position(home)
    first = gen.positions()
    gen.add_moves(moves, START)
    final = gen.motor_positions([motion.position])[0]
    checked = 0
    for motor in range(3):
        compressor = gen.compressors[motor]
        assert compressor.position == half_away(final[motor] * spm[motor])
        runs = compressor.flush()
        clocks, dirs = decompress(runs)
        assert dirs.sum() == compressor.position - first[motor]
        assert np.all(np.diff(clocks) > 0)
        # The k-th step crosses the half-step boundary between two positions.
        positions = first[motor] + np.cumsum(dirs)
        boundary = (positions - dirs * 0.5) / spm[motor]
        times = clocks / FREQ
        motor_mm = kin.calc_motor_positions(toolhead_at(moves, times))[:, motor]
        dt = 1e-6
        speed = np.abs(kin.calc_motor_positions(toolhead_at(moves, times + dt))[:, motor]
                       - kin.calc_motor_positions(toolhead_at(moves, times - dt))[:, motor]) / (2 * dt)
        allowed = SPLIT_TOLERANCE + (MAX_ERROR_S + 0.5 / FREQ) * speed * 1.05 + 1e-6
        error = np.abs(motor_mm - boundary)
        assert np.all(error <= allowed), (motor, error.max(), allowed[error.argmax()])
        checked += len(clocks)
    return checked


def test_corexy_steps_follow_the_path():
    cfg = config_named("corexy")
    square = [[50, 50, 0.2, 0], [150, 50, 0.2, 3], [150, 150, 0.2, 6], [50, 150, 0.2, 9],
              [50, 50, 0.2, 12], [100, 100, 5.0, 12]]
    motion, moves = plan(cfg, square, 150.0)
    assert check_steps(cfg, motion, moves) > 20_000
    # CoreXY: a pure X move turns both motors the same way, a pure Y move opposite.
    a, b = motion.kinematics.calc_motor_positions([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])[:, :2].T
    assert a[0] == b[0] == 1.0 and a[1] == -b[1] == 1.0


def test_delta_steps_follow_the_path():
    cfg = config_named("delta")
    circle = [[0, 0, 50, 0], [60, 0, 0.2, 0]]
    circle += [[60 * math.cos(k * math.pi / 36), 60 * math.sin(k * math.pi / 36), 0.2,
                0.05 * k] for k in range(1, 73)]
    circle += [[-70, -20, 10, 4], [0, 0, 100, 4]]
    motion, moves = plan(cfg, circle, 120.0)
    # The delta's moves were split: more planned pieces than G-code moves.
    assert len(moves) > len(circle) * 2
    assert check_steps(cfg, motion, moves) > 50_000


def test_delta_refuses_a_move_out_of_reach_before_planning():
    cfg = config_named("delta")
    motion = Motion(cfg)
    with pytest.raises(Exception, match="out of range"):
        motion.check([120.0, 0.0, 10.0, 0.0])
    assert motion.planner.queued == 0
