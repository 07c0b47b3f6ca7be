#!/usr/bin/env python3
# Mendel benchmark: step generation and compression.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time ``StepGenerator.add_moves`` + ``flush_encoded`` on planned files, the
current kernel side by side with a baseline kernel, in the same run.

    python benchmarks/bench_steps.py [--baseline REV] [--repeat N] [--moves N]

Inputs: the generated chords file (``mendel.bench.motion.generate_chords``),
``examples/mendel-test-block.gcode`` and, when the read-only corpus is there,
``prusaslicer-2.6-benchy-m83.gcode``. Each is planned once (untimed) with
the bundled i3 config; then each kernel generates and encodes the steps of
every planned move in one batch, at 12 MHz, as ``mendel.machine.toolhead`` does.

Printed per kernel: us per planned move (the ``add_moves`` and
``flush_encoded`` shares), ns per step, runs and encoded bytes per move.

The baseline is ``host/planner/_stepcompress.pyx`` and ``stepgen.py`` as
they were at git revision REV (default: the last per-step kernel), built
into a cache folder once; nothing of it is kept in the tree. ``--baseline
none`` skips it. Timings are the best of N runs on one core; a benchmark
prints figures and asserts nothing.
"""
import argparse
import hashlib
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import time

from mendel import config
from mendel.bench.motion import generate_chords, recorded_moves
from mendel.planner.motion import Motion
from mendel.planner.stepgen import StepGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "gcode")
BASELINE_REV = "ab41b75"          # the per-step kernel: exact times, then fit and verify
FREQ = 12_000_000


def git_show(rev, path):
    return subprocess.run(["git", "-C", ROOT, "show", "%s:%s" % (rev, path)], check=True,
                          capture_output=True, text=True).stdout


def baseline_generator(rev):
    """The ``StepGenerator`` class of git revision ``rev``, its kernel built
    (once, in a cache folder keyed by the sources) under another module name."""
    pyx = git_show(rev, "host/planner/_stepcompress.pyx")
    pxi = git_show(rev, "host/planner/_planned.pxi")
    stepgen = git_show(rev, "host/planner/stepgen.py")
    key = hashlib.sha1((pyx + pxi).encode()).hexdigest()[:12]
    name = "baseline_stepcompress_%s" % key
    folder = os.path.join(tempfile.gettempdir(), "mendel-bench-steps", key)
    os.makedirs(folder, exist_ok=True)
    if not any(f.startswith(name) and f.endswith(".so") for f in os.listdir(folder)):
        with open(os.path.join(folder, name + ".pyx"), "w") as f:
            f.write(pyx)
        with open(os.path.join(folder, "_planned.pxi"), "w") as f:
            f.write(pxi)
        build = ("from setuptools import setup, Extension\n"
                 "from Cython.Build import cythonize\n"
                 "setup(ext_modules=cythonize([Extension(%r, [%r], extra_compile_args=['-O2'])],"
                 " compiler_directives={'language_level': '3'}, quiet=True))\n"
                 % (name, name + ".pyx"))
        subprocess.run([sys.executable, "-c", build, "-q", "build_ext", "--inplace"],
                       cwd=folder, check=True)
    so = next(f for f in os.listdir(folder) if f.startswith(name) and f.endswith(".so"))
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, so))
    kernel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kernel)
    sys.modules[name] = kernel
    module = type(sys)("baseline_stepgen")
    exec(compile(stepgen.replace("mendel.planner._stepcompress", name), "stepgen@" + rev,
                 "exec"), module.__dict__)
    return module.StepGenerator


def plan(data, cfg):
    """``(motion, home, planned moves)`` of G-code bytes ``data``."""
    motion = Motion(cfg)
    home = list(motion.position)
    for target, speed in recorded_moves(data):
        if target is not None:
            motion.move(target, speed)
    motion.flush()
    return motion, home, motion.take()


def measure(generator_class, motion, home, planned, cfg, repeat):
    """Best-of-``repeat`` figures of one kernel on ``planned`` moves."""
    best = (math.inf, 0.0, 0.0)
    for _ in range(repeat):
        gen = generator_class(motion.kinematics, cfg.steps_per_mm(), FREQ)
        gen.set_position(home)
        start = time.perf_counter()
        gen.add_moves(planned, 0.25)
        added = time.perf_counter()
        data, ends, _motors, _last = gen.flush_encoded([0, 1, 2, 3], 1, 2)
        done = time.perf_counter()
        if done - start < best[0]:
            best = (done - start, added - start, done - added)
    steps = sum(c.steps_total for c in gen.compressors)
    moves = len(planned)
    return {"us_move": best[0] / moves * 1e6, "add_us": best[1] / moves * 1e6,
            "flush_us": best[2] / moves * 1e6, "ns_step": best[0] / steps * 1e9,
            "runs_move": len(ends) / moves, "bytes_move": len(data) / moves,
            "steps_move": steps / moves, "steps": steps, "positions": gen.positions()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_REV,
                        help="git revision of the baseline kernel, or 'none'")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--moves", type=int, default=100_000, help="generated moves")
    args = parser.parse_args()
    kernels = [("current", StepGenerator)]
    if args.baseline.lower() != "none":
        kernels.append(("baseline " + args.baseline, baseline_generator(args.baseline)))
    inputs = [("generated chords", generate_chords(args.moves).encode())]
    for path in (os.path.join(ROOT, "examples", "mendel-test-block.gcode"),
                 os.path.join(CORPUS, "prusaslicer-2.6-benchy-m83.gcode")):
        if os.path.exists(path):
            with open(path, "rb") as f:
                inputs.append((os.path.basename(path), f.read()))
    cfg = config.load(None)
    print("steps + encode, one batch, best of %d (one core)" % args.repeat)
    for name, data in inputs:
        motion, home, planned = plan(data, cfg)
        figures = [(label, measure(cls, motion, home, planned, cfg, args.repeat))
                   for label, cls in kernels]
        first = figures[0][1]
        print("%s: %d planned moves, %.0f steps/move" % (name, len(planned),
                                                         first["steps_move"]))
        for label, fig in figures:
            same = "" if fig["positions"] == first["positions"] and \
                fig["steps"] == first["steps"] else "  (DIFFERENT STEPS)"
            print("  %-17s %6.2f us/move (add %5.2f, flush %5.2f)  %5.1f ns/step  "
                  "%5.2f runs/move  %6.2f bytes/move%s"
                  % (label, fig["us_move"], fig["add_us"], fig["flush_us"], fig["ns_step"],
                     fig["runs_move"], fig["bytes_move"], same))
        if len(figures) > 1:
            base = figures[1][1]
            print("  current/baseline: x%.2f faster, %+.1f%% runs, %+.1f%% bytes"
                  % (base["us_move"] / first["us_move"],
                     100 * (first["runs_move"] / base["runs_move"] - 1),
                     100 * (first["bytes_move"] / base["bytes_move"] - 1)))


if __name__ == "__main__":
    main()
