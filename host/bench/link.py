# Mendel host: `mendel bench link`.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Link figures, measured: a real G-code file streamed through the real pty to
the MicroPython firmware on the simulated board, and the rate at which the
firmware takes those very runs on the unix port, in bulk and per message.

Printed side by side with the ASCII G-code the same moves came from (what a
Marlin host would send). A benchmark prints figures; it asserts nothing.
"""
import os
import re
import tempfile
import time

import serial

from mendel import config as config_mod
from mendel.mcu.mcu import Mcu
from mendel.machine.printer import Printer
from mendel.sim.board import SimBoard

_MOVE_LINE = re.compile(rb"^\s*[Gg]0*[0123](?![0-9])")


def ascii_move_bytes(path):
    """Bytes and count of the G0-G3 lines of a file (line endings included)."""
    total = count = 0
    with open(path, "rb") as f:
        for line in f:
            if _MOVE_LINE.match(line):
                total += len(line)
                count += 1
    return total, count


def stream_figures(path, cfg, step_log=None):
    """Print ``path`` on a fresh simulated board; figures of what crossed the link."""
    with SimBoard(cfg.board, step_log=step_log) as sim, \
            serial.Serial(sim.port, 250000, timeout=0.1) as port:
        mcu = Mcu(port)
        mcu.connect()
        printer = Printer(cfg, mcu, warn=lambda _text: None)
        link = mcu.link
        messages0, bytes0 = link.messages_sent, link.bytes_sent
        start = time.perf_counter()
        summary = printer.print_file(path, preflight=False)
        seconds = time.perf_counter() - start
        messages = link.messages_sent - messages0
        wire = link.bytes_sent - bytes0
    move_bytes, move_lines = ascii_move_bytes(path)
    return {
        "file": os.path.basename(path), "moves": summary.moves, "seconds": seconds,
        "commands": messages, "commands_per_s": messages / seconds,
        "wire_bytes": wire, "wire_bytes_per_s": wire / seconds,
        "wire_bytes_per_move": wire / summary.moves if summary.moves else 0.0,
        "ascii_file_bytes": os.path.getsize(path),
        "ascii_bytes_per_move_line": move_bytes / move_lines if move_lines else 0.0,
        "print_time_s": summary.print_time_s,
    }


def firmware_figures(step_log):
    """Runs/s the firmware takes on the unix port, from the stream's own runs
    (``mendel bench firmware`` has the board's figures and the need)."""
    from mendel.bench import firmware
    figures = firmware.unix_rate(step_log)
    return {mode: figures[mode]["runs_per_s"] for mode in firmware.MODES}


def bench_link(path, cfg_path=None):
    """All link figures as a dict."""
    cfg = config_mod.load(cfg_path)
    with tempfile.TemporaryDirectory() as work:
        log = os.path.join(work, "steps.log")
        stream = stream_figures(path, cfg, log)
        return {"stream": stream, "firmware_runs_per_s": firmware_figures(log)}


def report(figures):
    s = figures["stream"]
    d = figures["firmware_runs_per_s"]
    return "\n".join([
        "link bench: %s, %d moves, %.0f s of print" % (s["file"], s["moves"],
                                                       s["print_time_s"]),
        "  streamed through the pty to the MicroPython firmware in %.2f s:" % s["seconds"],
        "    %10.0f commands/s  %12.0f bytes/s" % (s["commands_per_s"], s["wire_bytes_per_s"]),
        "    %10.1f bytes on the wire per move" % s["wire_bytes_per_move"],
        "    %10.1f bytes per G0-G3 line of the ASCII file (the Marlin way)"
        % s["ascii_bytes_per_move_line"],
        "  the firmware on the unix port takes these runs at (runs/s; the board's",
        "  figures: `mendel bench firmware --rp2040`):",
        "    %10d decoded in bulk, %d per message" % (d["bulk"], d["message"]),
    ])
