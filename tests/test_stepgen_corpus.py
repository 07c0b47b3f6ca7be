"""Whole corpus files, step by step: every run decompressed, every step checked.

Each file is planned, its steps generated and compressed as for printing;
then every run is decompressed and each step compared with its ideal time,
found independently by bisection on the toolhead's distance along the
trapezoid (no closed form shared with the kernel). Checked: the step count,
each step's direction, each step within the error bound (25 us), steps in
strictly increasing time (so none lands on the wrong side of a direction
change), and the final step position of every motor exactly.
"""
import os

import numpy as np
import pytest

from test_planner import CFG, plan_file

from mendel.planner.kinematics import CartesianKinematics
from mendel.planner.stepgen import StepGenerator

FREQ = 12_000_000
MAX_ERROR = 300                     # ticks: 25 us at 12 MHz
START = 1.0                         # s: print time of the first move
FILES = ["kisslicer-1.1-solidbox-m82.gcode", "slic3r-1.3-cube-m82.gcode",
         "curaengine-4.13-cube-m82.gcode", "prusaslicer-2.7-twistvase-spiral-m83.gcode",
         "prusaslicer-2.7-plantsign-arcs-m83.gcode"]


def half_away(x):
    """Round half away from zero, as the kernel's llround."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def ideal_steps(moves, motor, spm):
    """Ideal time (s) and direction of every step of one motor (cartesian)."""
    start = moves["start"][:, motor]
    end = moves["end"][:, motor]
    p_end = half_away(end * spm).astype(np.int64)
    p_start = np.concatenate([[0], p_end[:-1]])
    counts = np.abs(p_end - p_start)
    durations = moves["accel_t"] + moves["cruise_t"] + moves["decel_t"]
    move_start_t = START + np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    which = np.repeat(np.arange(len(moves)), counts)
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    sign = np.sign(p_end - p_start)[which]
    boundary = (p_start[which] + sign * (k + 0.5)) / spm
    ratio = (end - start) / moves["move_d"]
    times = np.empty(len(which))
    for lo_i in range(0, len(which), 65536):
        part = slice(lo_i, lo_i + 65536)
        w = which[part]
        want = np.clip((boundary[part] - start[w]) / ratio[w], 0.0, moves["move_d"][w])
        times[part] = solve_times(moves[w], want, durations[w])
    return move_start_t[which] + times, sign, p_end[-1]


def solve_times(m, want, durations):
    """Time (s) from each move's start at which it has covered ``want`` mm."""
    a = m["accel"]
    t1 = m["accel_t"]
    t2 = t1 + m["cruise_t"]
    d1 = m["start_v"] * t1 + 0.5 * a * t1 * t1
    d2 = d1 + m["cruise_v"] * m["cruise_t"]

    def distance(t):
        tc = np.minimum(t, t1)
        out = m["start_v"] * tc + 0.5 * a * tc * tc
        out = np.where(t > t1, d1 + m["cruise_v"] * (np.minimum(t, t2) - t1), out)
        td = np.clip(t - t2, 0.0, None)
        return np.where(t > t2, d2 + m["cruise_v"] * td - 0.5 * a * td * td, out)

    lo = np.zeros(len(want))
    hi = durations.copy()
    for _ in range(44):
        mid = 0.5 * (lo + hi)
        below = distance(mid) < want
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return hi


def decompress(runs):
    """Step clocks and directions of ``(reference, interval, count, add, ...)`` runs."""
    refs = [r[0] for r in runs]
    interval = np.array([r[1] for r in runs], dtype=np.int64)
    count = np.array([abs(r[2]) for r in runs], dtype=np.int64)
    add = np.array([r[3] for r in runs], dtype=np.int64)
    first = np.array([r[4] for r in runs], dtype=np.int64)
    last = np.array([r[5] for r in runs], dtype=np.int64)
    base = np.concatenate([[0], last[:-1]])
    has_ref = np.array([ref is not None for ref in refs])
    base[has_ref] = [ref for ref in refs if ref is not None]
    which = np.repeat(np.arange(len(runs)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + 1
    clocks = base[which] + k * interval[which] + add[which] * k * (k - 1) // 2
    # Every run's recorded first and last step agree with the decompression.
    ends = np.cumsum(count) - 1
    assert np.array_equal(clocks[ends], last)
    assert np.array_equal(clocks[ends - count + 1], first)
    dirs = np.repeat(np.sign([r[2] for r in runs]), count)
    return clocks, dirs


@pytest.mark.parametrize("name", FILES)
def test_every_step_of_a_corpus_file(corpus, name):
    machine, moves = plan_file(os.path.join(corpus, name))
    spm = CFG.steps_per_mm()
    gen = StepGenerator(CartesianKinematics(), spm, FREQ, MAX_ERROR / FREQ)
    gen.add_moves(moves, START)
    checked = 0
    for motor, compressor in enumerate(gen.compressors):
        runs = compressor.flush()
        ideal, ideal_dirs, final = ideal_steps(moves, motor, spm[motor])
        if not runs:
            assert len(ideal) == 0
            continue
        clocks, dirs = decompress(runs)
        assert len(clocks) == len(ideal)
        assert np.array_equal(dirs, ideal_dirs)
        assert np.all(np.diff(clocks) > 0)
        error = np.abs(clocks - ideal * FREQ)
        assert error.max() <= MAX_ERROR + 0.5, (motor, error.max())
        assert dirs.sum() == final == compressor.position
        # The file's last position, to the step.
        assert final == half_away(machine.position[motor] * spm[motor])
        checked += len(clocks)
    assert checked > 100_000
