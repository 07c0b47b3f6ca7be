#!/usr/bin/env python3
# Mendel benchmark: step runs expanded into PIO words by the firmware.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Expand accelerating step runs (one PIO word per step, the worst case) with
``firmware/motion/pulses.py`` and print words/s:

1. on the MicroPython unix port, where ``_fill`` is compiled by viper;
2. on CPython, the same code run as plain Python (the baseline), same run.

    python benchmarks/pulse_expand.py [--runs N]

These are figures of this machine's CPU, not of an RP2040 (no board here):
they compare the two and show the cost per word. This is a benchmark, not a test.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
FAKES = os.path.join(ROOT, "tests", "firmware", "fakes")

PROBE = """
import sys
sys.path[:0] = [%(firmware)r, %(fakes)r]
try:
    import builtins
    builtins.ptr32 = lambda obj: obj
except ImportError:
    pass
import time
from hal import rp2_pio as r
from motion.pulses import PulseStream
try:
    now, diff = time.ticks_us, time.ticks_diff
except AttributeError:
    now, diff = (lambda: int(time.perf_counter() * 1e6)), (lambda a, b: a - b)
timing = (r.DIR_LAG, r.FIRST_RISE, r.PERIOD_OVERHEAD, r.IDLE_OVERHEAD, r.COUNT_BITS,
          r.DELAY_BITS)
ps = PulseStream(timing, 13, 3, 256, 1024)
words, first, start = 0, 1000, now()
for _ in range(%(runs)d):
    ps.queue(first, 2000, 200, 1)
    first += 200 * 2000 + 200 * 199 // 2 + 2000
    while ps.pending() or ps.state[19]:
        words += ps.fill(0)
        ps.consumed(ps.state[10])
print(words, diff(now(), start))
"""


def run(command, runs):
    source = PROBE % {"firmware": FIRMWARE, "fakes": FAKES, "runs": runs}
    out = subprocess.run(command + ["-c", source], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]), int(out[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    micropython = shutil.which("micropython") or os.path.join(
        os.path.dirname(sys.executable), "micropython")
    for name, command in (("micropython (viper)", [micropython]),
                          ("CPython (plain, baseline)", [sys.executable])):
        started = time.perf_counter()
        words, us = run(command, args.runs)
        print("%-26s %8d words in %8.1f ms: %12.0f words/s (wall %.2f s)"
              % (name, words, us / 1000, words * 1e6 / us, time.perf_counter() - started))


if __name__ == "__main__":
    main()
