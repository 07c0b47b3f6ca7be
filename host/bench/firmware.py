# Mendel host: `mendel bench firmware`.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Step-run throughput of the firmware, beside what real prints need.

Suffixes: ``_s`` seconds, ``_per_s`` per second of the board's own clock.

1. **Need.** Each input is printed on the simulated board with a step log;
   the peak number of runs whose first step falls in any 1 s and any 100 ms
   window (``needed_runs_per_s``, ``needed_runs_per_s_100ms``) is what the
   board must take at least. Inputs: ``example``, the bundled example at the
   default config, and ``benchy-x3-fast``, the PrusaSlicer benchy of the
   corpus at three times its feed rates on a printer allowed 500 mm/s and
   10,000 mm/s².
2. **Rate.** ``firmware/bench.py`` takes the runs of the busiest second of
   the fast input (the most demanding mix of real runs) and feeds them
   through the real link, step queues and pulse intake: on the MicroPython
   unix port of this machine, and with ``--rp2040`` on an emulated RP2040
   at 125 MHz (MicroPython's rp2 port in rp2040js, time measured by the
   board's own clock: see :mod:`mendel.emulate`). Unix-port figures are not
   a board's. The heap is measured apart, in a fresh interpreter: the
   firmware's modules and data with every queue, run slot and ring full.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from mendel import config as config_mod
from mendel import resources
from mendel.sim.board import find_micropython, firmware_dir

FAST_SPEED_FACTOR = 3
FAST_LIMITS = {"max_velocity": 500, "max_accel": 10000}
BENCH_RUNS = 2000
_LIMITS = re.compile(r"^(\s*(?:M201|M203|M204)\b)", re.M | re.I)
_FEED = re.compile(r"^(\s*[Gg]0*[0123](?![0-9])[^;\n]*?[Ff])([0-9]*\.?[0-9]+)", re.M)


def fast_gcode(path, out_path, factor=FAST_SPEED_FACTOR):
    """Copy of ``path`` with every G0-G3 feed rate times ``factor`` and its
    own velocity and acceleration limits (M201, M203, M204) turned into
    comments, so that the printer's limits apply."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    text = _LIMITS.sub(r"; \1", text)
    text = _FEED.sub(lambda m: "%s%.1f" % (m.group(1), float(m.group(2)) * factor), text)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text)
    return out_path


def fast_config(cfg_path, out_path, limits=None):
    """Copy of printer.cfg ``cfg_path`` with the [printer] limits raised."""
    limits = dict(FAST_LIMITS, **(limits or {}))
    lines = open(cfg_path, encoding="utf-8").read().splitlines()
    section = None
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]").strip()
        key = stripped.split("=", 1)[0].split(":", 1)[0].strip()
        if section == "printer" and key in limits:
            line = "%s = %s" % (key, limits[key])
        out.append(line)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return out_path


def step_log(gcode, cfg_path, log_path):
    """Print ``gcode`` on the simulated board, writing its step log."""
    out = subprocess.run([sys.executable, "-m", "mendel", "print", gcode, "--step-log",
                          log_path, "--quiet", "--no-log", "--no-preflight"]
                         + (["--config", cfg_path] if cfg_path else []),
                         capture_output=True, text=True, timeout=1800)
    if out.returncode not in (0, 1):
        raise RuntimeError("printing %s on the simulated board failed: %s"
                           % (gcode, (out.stdout + out.stderr)[-1000:]))
    return log_path


def first_clocks(log_path):
    """(R,) int64: each run's first step clock (ticks), in the log's order."""
    clocks = []
    with open(log_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 5 and parts[0] != "stop":
                clocks.append(int(parts[1]))
    return np.array(clocks, dtype=np.int64)


def peak_rate(clocks, window_ticks, clock_freq):
    """(runs per second, start clock) of the busiest ``window_ticks`` window."""
    if len(clocks) == 0:
        return 0.0, 0
    ordered = np.sort(clocks)
    ends = np.searchsorted(ordered, ordered + window_ticks, side="left")
    counts = ends - np.arange(len(ordered))
    best = int(np.argmax(counts))
    return counts[best] * clock_freq / window_ticks, int(ordered[best])


def busiest_slice(log_path, out_path, start_clock, runs=BENCH_RUNS):
    """Write the ``runs`` runs of ``log_path`` from ``start_clock`` on to ``out_path``."""
    kept = 0
    with open(log_path) as src, open(out_path, "w") as dst:
        for line in src:
            parts = line.split()
            if len(parts) == 5 and parts[0] != "stop" and int(parts[1]) >= start_clock:
                dst.write(line)
                kept += 1
                if kept >= runs:
                    break
    return out_path


def need(name, gcode, cfg_path, work, clock_freq):
    """Peak runs per second ``gcode`` needs, from its simulated step log
    (``name``: a file-safe key)."""
    log = step_log(gcode, cfg_path, os.path.join(work, name + ".steps"))
    clocks = first_clocks(log)
    per_s, start = peak_rate(clocks, clock_freq, clock_freq)
    per_100ms, _ = peak_rate(clocks, clock_freq // 10, clock_freq)
    return {"input": name, "file": os.path.basename(gcode),
            "config": os.path.basename(cfg_path), "runs": int(len(clocks)),
            "needed_runs_per_s": per_s, "needed_runs_per_s_100ms": per_100ms,
            "busiest_second_at_s": start / clock_freq}, log, start


MODES = ("bulk", "message")


def unix_rate(slice_path, runs=BENCH_RUNS):
    """firmware/bench.py on the MicroPython unix port of this machine, in
    bulk and per message (the baseline): {mode: figures}."""
    figures = {}
    for mode in MODES:
        out = subprocess.run([find_micropython(), "-X", "heapsize=8M", "bench.py",
                              slice_path, str(runs), mode], cwd=firmware_dir(),
                             capture_output=True, text=True, timeout=600)
        figures[mode] = _figures(out.stdout, out.stderr)
    out = subprocess.run([find_micropython(), "-X", "heapsize=8M", "bench.py", "heap"],
                         cwd=firmware_dir(), capture_output=True, text=True, timeout=600)
    figures["heap"] = _figures(out.stdout, out.stderr)
    return figures


def _figures(stdout, stderr=""):
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("the firmware bench printed no figures: %s" % (stdout + stderr)[-2000:])


def rp2040_rate(slice_path, runs=BENCH_RUNS, board="rpi-pico-bench"):
    """firmware/bench.py on the emulated RP2040, its modules compiled as
    ``mendel flash`` does and booted without main.py, run through mpremote's
    raw REPL (needs MENDEL_RP2_UF2 and MENDEL_RP2_BOOTROM, see
    mendel.emulate). {mode: figures, "heap": figures}."""
    from mpremote.transport_serial import SerialTransport

    from mendel.emulate.emulator import Rp2040Emulator
    from mendel.flash.upload import READ_TIMEOUT
    figures = {}
    with Rp2040Emulator(board, extra_files={"bench_runs.log": slice_path}, start=False,
                        max_speed=1000.0, drive={}) as emu:
        emu.wait_usb()
        transport = SerialTransport(emu.port, timeout=READ_TIMEOUT)
        try:
            for mode in MODES:
                transport.enter_raw_repl(soft_reset=False)
                figures[mode] = _board_figures(transport, "['bench', 'bench_runs.log', "
                                               "'%d', '%s']" % (runs, mode))
            transport.enter_raw_repl(soft_reset=True)       # the heap, fresh
            figures["heap"] = _board_figures(transport, "['bench', 'heap']")
        finally:
            transport.close()
    return figures


def _board_figures(transport, argv):
    out, err = transport.exec_raw("import bench\nbench.main(%s)\n" % argv, timeout=1800)
    if err:
        raise RuntimeError("the firmware bench failed on the board: %s"
                           % err.decode(errors="replace"))
    return _figures(out.decode(errors="replace"))


def bench_firmware(cfg_path=None, rp2040=False, corpus=None):
    """All figures as a dict (see the module docstring)."""
    cfg_path = cfg_path or config_mod.load().path
    clock_freq = 12000000
    work = tempfile.mkdtemp(prefix="mendel-bench-firmware-")
    inputs = []
    example, _log, _start = need("example", resources.example_gcode(), cfg_path, work,
                                 clock_freq)
    inputs.append(example)
    benchy = _benchy(corpus)
    fast_start = fast_log = None
    if benchy:
        fast, fast_log, fast_start = need(
            "benchy-x3-fast",
            fast_gcode(benchy, os.path.join(work, "benchy-x3.gcode")),
            fast_config(cfg_path, os.path.join(work, "fast.cfg")), work, clock_freq)
        inputs.append(fast)
    source = fast_log or _log
    slice_path = busiest_slice(source, os.path.join(work, "busiest.steps"),
                               fast_start if fast_log else _start)
    figures = {"inputs": inputs, "unix_port": unix_rate(slice_path)}
    if rp2040:
        figures["rp2040"] = rp2040_rate(slice_path)
    where = figures.get("rp2040", figures["unix_port"])
    target = dict(where["bulk"], **where["heap"])
    need_peak = max(i["needed_runs_per_s"] for i in inputs)
    figures.update({"runs_per_s": target["runs_per_s"],
                    "bytes_per_run": target["bytes_per_run"],
                    "heap_free_bytes": target["heap_free_bytes"],
                    "heap_used_bytes": target["heap_used_bytes"],
                    "needed_runs_per_s": {i["input"]: i["needed_runs_per_s"] for i in inputs},
                    "headroom": target["runs_per_s"] / need_peak if need_peak else None,
                    "measured_on": "rp2040 (emulated)" if rp2040 else "unix port (x86)"})
    return figures


def _benchy(corpus):
    folder = corpus or os.environ.get("MENDEL_GCODE_CORPUS") or os.path.join(
        os.path.dirname(resources.__file__), "..", "..", "shared", "gcode")
    path = os.path.join(folder, "prusaslicer-2.6-benchy-m83.gcode")
    return path if os.path.exists(path) else None


def report(figures):
    lines = ["firmware bench: step runs received, decoded, queued and expanded into "
             "pulse words"]
    for where in ("rp2040", "unix_port"):
        if where not in figures:
            continue
        lines.append("  %s:" % ("emulated RP2040 at 125 MHz, "
                                "board clock" if where == "rp2040" else
                                "MicroPython unix port on this machine (not a board's figure)"))
        for mode, label in (("bulk", "bulk decode (the firmware)"),
                            ("message", "per message (baseline)")):
            f = figures[where][mode]
            lines.append("    %-27s %9.0f runs/s %10.0f words/s  %5.2f bytes/run  (%d runs)"
                         % (label, f["runs_per_s"], f["words_per_s"], f["bytes_per_run"],
                            f["runs"]))
        f = figures[where]["heap"]
        lines.append("    heap with every queue full (firmware modules and this bench's own): "
                     "%.1f KB used, %.1f KB free"
                     % (f["heap_used_bytes"] / 1024, f["heap_free_bytes"] / 1024))
    lines.append("  what real prints need (simulated step logs):")
    for i in figures["inputs"]:
        lines.append("    %-16s peak %6.0f runs/s over 1 s, %6.0f over 100 ms  (%s, %s)"
                     % (i["input"], i["needed_runs_per_s"], i["needed_runs_per_s_100ms"],
                        i["file"], i["config"]))
    if figures.get("headroom"):
        lines.append("  headroom on the most demanding input: %.1fx (%s)"
                     % (figures["headroom"], figures["measured_on"]))
    return "\n".join(lines)
