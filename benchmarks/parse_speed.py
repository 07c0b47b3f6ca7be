#!/usr/bin/env python3
# Mendel benchmark: G-code parsing speed.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse the whole slicer corpus, concatenated, and print MB/s and lines/s for:

1. the Cython lexer alone (bytes -> per-line records, the streaming batches);
2. the Cython lexer plus building a Command object per line (what the
   interpreter consumes);
3. a straightforward pure-Python regex parser (benchmarks/regex_parser.py),
   the baseline, in the same run.

    python benchmarks/parse_speed.py [--corpus DIR] [--repeat N]

Timings are the best of N runs on one core. This is a benchmark, not a test.
"""
import argparse
import glob
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import regex_parser  # noqa: E402

from mendel.gcode.reader import iter_batches, iter_commands  # noqa: E402


def best_of(repeat, func):
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def lexer_only(data):
    return sum(batch.count for batch in iter_batches(io.BytesIO(data)))


def lexer_and_commands(data):
    count = 0
    for _command in iter_commands(io.BytesIO(data)):
        count += 1
    return count


def regex_baseline(data):
    count = 0
    for lineno, line in enumerate(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8",
                                                   errors="replace"), 1):
        try:
            regex_parser.parse_line(line, lineno)
        except regex_parser.GcodeError:
            pass
        count += 1
    return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=os.environ.get(
        "MENDEL_GCODE_CORPUS", os.path.join(os.path.dirname(__file__), "..", "..",
                                            "shared", "gcode")))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.corpus, "*.gcode")))
    if not files:
        sys.exit("no .gcode files in %s" % args.corpus)
    data = b"".join(open(f, "rb").read() for f in files)
    lines = data.count(b"\n")
    megabytes = len(data) / 1e6
    print("corpus: %d files, %.1f MB, %d lines" % (len(files), megabytes, lines))
    rows = [("Cython lexer (records)", lexer_only, args.repeat),
            ("Cython lexer + Command objects", lexer_and_commands, args.repeat),
            ("pure-Python regex baseline", regex_baseline, 1)]
    results = []
    for name, func, repeat in rows:
        seconds, _count = best_of(repeat, lambda: func(data))
        results.append((name, seconds))
        print("%-32s %8.3f s %9.1f MB/s %12.0f lines/s" % (
            name, seconds, megabytes / seconds, lines / seconds))
    baseline = results[-1][1]
    for name, seconds in results[:-1]:
        print("%-32s %8.1fx the baseline" % (name, baseline / seconds))


if __name__ == "__main__":
    main()
