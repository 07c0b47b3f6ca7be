# Mendel host: `mendel bench` (motion).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host motion figures, measured side by side in one run.

* look-ahead alone: the Cython planner against the plain-Python reference of
  the same model (:mod:`mendel.planner.lookahead`), on the same moves;
* the full host pipeline: G-code bytes -> lexer -> interpreter (plain moves
  through the C MoveFeed, as ``mendel print`` runs them) -> look-ahead ->
  kinematics -> step times and compression -> encoded link frames (the board
  is a null sink that takes every frame at once); beside it the same pipeline
  with every line through the Python interpreter;
* the full pipeline again with input shaping (mzv at 40 Hz on X, ei at
  50 Hz on Y) and pressure advance (0.05 s, smoothed over 40 ms) on:
  the motors then follow the shaped position (``ShapedPath``);
* peak memory of the pipeline (tracemalloc, in a separate pass so tracing
  does not slow the timed one).

Inputs: a real corpus file, and a generated file of 100,000 moves: short
perimeter chords (0.3-1.5 mm) with extrusion, retracts and travels.
A benchmark prints figures; it asserts nothing.
"""
import copy
import io
import math
import os
import random
import time
import tracemalloc

import numpy as np

from mendel import config as config_mod
from mendel.config.shaping import InputShaperConfig
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.reader import iter_batches, iter_commands
from mendel.mcu import codec
from mendel.mcu.link import SEQ_MODULO, SerialLink
from mendel.planner._lookahead import Planner
from mendel.planner.lookahead import Limits, LookAheadQueue, Move
from mendel.machine.toolhead import Toolhead, ToolheadMachine


def generate_chords(moves=100_000, seed=1):
    """G-code text of ``moves`` moves: perimeters of short chords around
    circles and polygons (0.3-1.5 mm), each loop followed by a retract, a
    travel and an unretract, layer by layer."""
    rng = random.Random(seed)
    out = ["G21", "G90", "M83", "G1 Z0.2 F720"]
    count = 0
    z = 0.2
    while count < moves:
        cx, cy = rng.uniform(40, 160), rng.uniform(40, 160)
        radius = rng.uniform(5, 30)
        angle = 0.0
        out.append("G1 E-0.8 F2100")
        out.append("G0 X%.3f Y%.3f F9000" % (cx + radius, cy))
        out.append("G1 E0.8 F2100")
        count += 3
        x, y = cx + radius, cy
        while angle < 2 * math.pi and count < moves:
            chord = rng.uniform(0.3, 1.5)
            angle += chord / radius
            nx, ny = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            e = 0.0333 * math.hypot(nx - x, ny - y)
            out.append("G1 X%.3f Y%.3f E%.5f F%d" % (nx, ny, e, rng.choice((1800, 2700, 3600))))
            x, y = nx, ny
            count += 1
        if rng.random() < 0.05:
            z += 0.2
            out.append("G1 Z%.2f F720" % z)
            count += 1
    return "\n".join(out) + "\n"


class NullLink(SerialLink):
    """The real framing of :class:`SerialLink`; frames are counted, not sent."""

    def __init__(self):
        super().__init__(port=None)
        self.wire_bytes = 0

    def _send_frame(self, frame):
        self._send_frames((frame,))

    def _send_frames(self, frames):
        self.next_seq = (self.next_seq + len(frames)) % SEQ_MODULO
        self.wire_bytes += sum(map(len, frames))
        self.frames_sent += len(frames)


class NullMcu:
    """A board that takes every command at once (its queues never fill)."""

    def __init__(self, clock_freq=12_000_000, motors=("x", "y", "z", "e"), queue_size=128):
        self.info = {"motors": list(motors), "step_queue_size": queue_size,
                     "clock_freq": clock_freq}
        self.clock_freq = clock_freq
        self.commands = {"set_step_clock": (1, "ii"), "queue_step": (2, "iiii")}
        self.link = NullLink()

    def estimated_clock(self):
        return 0

    def message_id(self, name):
        return self.commands[name][0]

    def send(self, name, *args):
        msgid, fmt = self.commands[name]
        self.link.queue(codec.encode_message(msgid, fmt, args))

    def queue_encoded(self, block, first, stop):
        self.link.queue_block(block, first, stop)

    def flush(self):
        self.link.flush()

    def wait_until(self, clock):
        pass

    def queue_used(self, oid):
        return 0


class PipelineMachine(ToolheadMachine):
    """The interpreter's machine: a real Toolhead on a NullMcu."""

    extruder_count = 1

    def __init__(self, cfg, mcu):
        self.toolhead = Toolhead(cfg, mcu)
        # No board, no endstops: the pipeline starts homed (a file whose
        # homing is in a PRINT_START macro still plans).
        self.toolhead.homed.update("xyz")

    def wait_moves(self):
        self.toolhead.flush()

    def home(self, axes):
        """G28 on a board that is not there: the axes are declared homed and
        move to position_endstop (no endstop to stop them)."""
        toolhead = self.toolhead
        homed = ["x", "y", "z"] if not toolhead.kinematics.is_linear else \
            [axis.lower() for axis in axes]
        toolhead.homed.update(homed)
        for target, speed in toolhead.motion.home_moves(axes):
            toolhead.move(target, speed)
        toolhead.flush()
        return homed

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class LineByLineMachine(PipelineMachine):
    """The same machine without a MoveFeed: every line through the interpreter."""

    move_feed = None


def run_pipeline(data, cfg, feed=True):
    """Run ``data`` (G-code bytes) through the whole host pipeline; ``feed``
    False runs every line through the Python interpreter (the baseline)."""
    mcu = NullMcu()
    machine = (PipelineMachine if feed else LineByLineMachine)(cfg, mcu)
    Interpreter(machine, warn=lambda _t: None).run_batches(iter_batches(io.BytesIO(data)))
    machine.toolhead.flush()
    mcu.flush()
    steps = sum(c.steps_total for c in machine.toolhead.stepgen.compressors)
    return {"moves": machine.toolhead.moves, "steps": steps,
            "runs": machine.toolhead.runs_sent, "wire_bytes": mcu.link.wire_bytes}


class _Recorder:
    """Machine that records the moves a file asks for (targets, speeds, limits)."""

    extruder_count = 1

    def __init__(self):
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.events = []
        self.pressure_advance = (0.0, 0.040)
        self.input_shaper = {"x": None, "y": None}

    def move(self, target, speed):
        self.events.append((list(target), speed))
        self.position = list(target)

    def set_limits(self, **limits):
        self.events.append((None, limits))

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def recorded_moves(data):
    recorder = _Recorder()
    Interpreter(recorder, warn=lambda _t: None).run(iter_commands(io.BytesIO(data)))
    return recorder.events


def lookahead_figures(events, cfg, repeat=3):
    """moves/s of the Cython planner and of the Python reference, same moves."""
    moves = [(t, s) for t, s in events if t is not None]
    targets = np.ascontiguousarray([t for t, _s in moves], dtype=np.float64)
    speeds = np.ascontiguousarray([s for _t, s in moves], dtype=np.float64)
    best = math.inf
    for _ in range(repeat):
        planner = Planner(1.0, 1.0)
        Limits(cfg, planner)
        start = time.perf_counter()
        planner.add_batch(targets, speeds)
        planner.flush()
        best = min(best, time.perf_counter() - start)
        planned = planner.discard()
    limits = Limits(cfg)
    queue = LookAheadQueue()
    position = [0.0, 0.0, 0.0, 0.0]
    start = time.perf_counter()
    reference = 0
    for target, speed in moves:
        move = Move(limits, position, target, speed)
        if move.move_d:
            reference += len(queue.add(move))
            position = move.end
    reference += len(queue.flush())
    python_s = time.perf_counter() - start
    return {"moves": len(moves), "planned": planned, "reference_planned": reference,
            "cython_moves_per_s": len(moves) / best, "python_moves_per_s": len(moves) / python_s}


def tuned(cfg):
    """A copy of ``cfg`` with the bench's input shapers and pressure advance."""
    cfg = copy.copy(cfg)
    cfg.input_shaper = InputShaperConfig(x=("mzv", 40.0, 0.1), y=("ei", 50.0, 0.1))
    cfg.pressure_advance = 0.05
    cfg.pressure_advance_smooth_time = 0.040
    return cfg


def pipeline_figures(data, cfg, repeat=2):
    best = line_by_line = shaped = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = run_pipeline(data, cfg)
        best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        run_pipeline(data, cfg, feed=False)
        line_by_line = min(line_by_line, time.perf_counter() - start)
        start = time.perf_counter()
        shaped_result = run_pipeline(data, tuned(cfg))
        shaped = min(shaped, time.perf_counter() - start)
    tracemalloc.start()
    run_pipeline(data, cfg)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result.update(seconds=best, moves_per_s=result["moves"] / best,
                  steps_per_s=result["steps"] / best, peak_memory_mb=peak / 1e6,
                  bytes_per_move=result["wire_bytes"] / max(result["moves"], 1),
                  line_by_line_moves_per_s=result["moves"] / line_by_line,
                  shaped_moves_per_s=shaped_result["moves"] / shaped,
                  shaped_steps=shaped_result["steps"], shaped_runs=shaped_result["runs"])
    return result


def bench_motion(path, cfg_path=None, generated_moves=100_000):
    """All motion figures as a dict: for ``path`` and the generated chords file."""
    cfg = config_mod.load(cfg_path)
    inputs = {}
    with open(path, "rb") as f:
        inputs[os.path.basename(path)] = f.read()
    inputs["generated %d chords" % generated_moves] = generate_chords(generated_moves).encode()
    figures = {}
    for name, data in inputs.items():
        figures[name] = {"lookahead": lookahead_figures(recorded_moves(data), cfg),
                         "pipeline": pipeline_figures(data, cfg), "bytes": len(data)}
    # Memory does not grow with the file: the same moves three times over.
    longer = generate_chords(3 * generated_moves).encode()
    tracemalloc.start()
    run_pipeline(longer, cfg)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    figures["memory_bound"] = {"moves": 3 * generated_moves, "peak_memory_mb": peak / 1e6}
    return figures


def report(figures):
    lines = ["motion bench (one core; best of runs)"]
    bound = figures.get("memory_bound")
    for name, fig in figures.items():
        if name == "memory_bound":
            continue
        la, pl = fig["lookahead"], fig["pipeline"]
        lines += [
            "%s: %d moves, %.1f MB of G-code" % (name, la["moves"], fig["bytes"] / 1e6),
            "  look-ahead alone:   %12.0f moves/s Cython   %10.0f moves/s plain Python  (x%.0f)"
            % (la["cython_moves_per_s"], la["python_moves_per_s"],
               la["cython_moves_per_s"] / la["python_moves_per_s"]),
            "  full pipeline:      %12.0f moves/s  %12.0f steps/s  (%d steps, %d runs, "
            "%.1f wire bytes/move)" % (pl["moves_per_s"], pl["steps_per_s"], pl["steps"],
                                       pl["runs"], pl["bytes_per_move"]),
            "    every line through the Python interpreter: %.0f moves/s"
            % pl["line_by_line_moves_per_s"],
            "    input shaping (mzv 40 Hz X, ei 50 Hz Y) + pressure advance 0.05 s: "
            "%.0f moves/s (%d steps, %d runs)" % (pl["shaped_moves_per_s"], pl["shaped_steps"],
                                                 pl["shaped_runs"]),
            "  peak memory:        %12.1f MB (tracemalloc, pipeline)" % pl["peak_memory_mb"],
        ]
    if bound:
        lines.append("memory bound: %d generated moves peak at %.1f MB (tracemalloc)"
                     % (bound["moves"], bound["peak_memory_mb"]))
    return "\n".join(lines)
