#!/usr/bin/env python3
# Mendel benchmark: kinematics checks and delta splitting.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Moves per second through ``check_move`` and ``split_move`` of the bundled
cartesian (the baseline), CoreXY and delta configs, in the same run, and
points per second of the vectorised inverse/forward kinematics.

    python benchmarks/kinematics_speed.py [--moves N] [--repeat N]

The moves are a seeded random walk of print-like lengths (about 3 mm)
inside each printer's volume. Best of N runs on one core; not a test.
"""
import argparse
import math
import random
import time

import numpy as np

from mendel import config, resources
from mendel.planner.kinematics import from_config


def walk(count, inside, rng):
    """``count + 1`` points ``[x, y, z, e]`` a few mm apart, all ``inside(x, y)``."""
    points = [[0.0, 0.0, 5.0, 0.0]]
    while len(points) <= count:
        x, y, z, e = points[-1]
        angle = rng.uniform(0.0, 2.0 * math.pi)
        step = rng.uniform(0.5, 6.0)
        nx, ny = x + step * math.cos(angle), y + step * math.sin(angle)
        if inside(nx, ny):
            points.append([nx, ny, min(z + rng.choice((0.0, 0.0, 0.0, 0.2)), 50.0),
                           e + 0.1 * step])
    return points


def best_of(repeat, func):
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(name, inside, moves, repeat):
    """Print one line of figures for the bundled config ``name``."""
    kin = from_config(config.load(resources.default_config().replace("i3-cartesian", name)))
    points = walk(moves, inside, random.Random(1))
    pairs = list(zip(points, points[1:]))
    check_s, _ = best_of(repeat, lambda: [kin.check_move(a, b) for a, b in pairs])
    split_s, pieces = best_of(repeat, lambda: sum(len(kin.split_move(a, b)) for a, b in pairs))
    xyz = np.array([p[:3] for p in points])
    ik_s, motors = best_of(repeat, lambda: kin.calc_motor_positions(xyz))
    fk_s, _ = best_of(repeat, lambda: kin.calc_toolhead_positions(motors))
    print("%-13s check %9.0f moves/s  split %9.0f moves/s (%.2f pieces/move)  "
          "IK %5.1f M points/s  FK %5.1f M points/s"
          % (name, len(pairs) / check_s, len(pairs) / split_s, pieces / len(pairs),
             len(xyz) / ik_s / 1e6, len(xyz) / fk_s / 1e6))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    measure("i3-cartesian", lambda x, y: 0 <= x <= 200 and 0 <= y <= 200,
            args.moves, args.repeat)
    measure("corexy", lambda x, y: 0 <= x <= 200 and 0 <= y <= 200, args.moves, args.repeat)
    measure("delta", lambda x, y: math.hypot(x, y) <= 80, args.moves, args.repeat)


if __name__ == "__main__":
    main()
