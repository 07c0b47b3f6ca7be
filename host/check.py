# Mendel host: preflight of a G-code file (`mendel check`).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse, interpret and plan a whole file without a board, and report.

The report (``check_file``) has: ``lines``, ``commands``, ``moves``,
``extrude_moves``, ``travel_moves``, ``arcs``, ``layers`` (the slicer's layer
tags when it wrote any: ``;LAYER_CHANGE``, else ``;LAYER:``-style ones; else
the distinct Z heights at which filament is laid), ``layer_comments`` (all
layer tags seen),
``filament_mm`` (net E of the extruder motor in mm of filament),
``print_bounds`` (``{"min": [x, y, z], "max": [x, y, z]}`` mm over the start
and end points of extruding moves: E grows and X/Y/Z move), ``travel_bounds``
(over the end points of every other move, homing included), ``estimated_time_s`` (planned motion
plus dwells; heating waits are not counted), ``unsupported`` (code -> count),
``ignored`` (known codes needing no action -> count), ``errors`` (list of
``{line, text, reason}``), ``warnings``, and ``fits`` with ``problems``: the
file fits when it has no errors and every move stays within the axis limits.
"""
import math

from mendel.errors import CommandError, printable
from mendel.gcode.interpreter import Interpreter, Settings
from mendel.gcode.reader import LineCounter, iter_commands
from mendel.planner.extrusion import check_extrusion, check_temperature
from mendel.planner._lookahead import Planner
from mendel.planner.lookahead import Limits
from mendel.thermal.heaters import check_target

_EPSILON = 1e-9


class _Bounds:
    def __init__(self):
        self.low = [math.inf] * 3
        self.high = [-math.inf] * 3

    def add(self, point):
        for i in range(3):
            if point[i] < self.low[i]:
                self.low[i] = point[i]
            if point[i] > self.high[i]:
                self.high[i] = point[i]

    def as_dict(self):
        if self.low[0] == math.inf:
            return None
        return {"min": [round(v, 6) for v in self.low], "max": [round(v, 6) for v in self.high]}


class CheckMachine:
    """A machine that plans moves and keeps statistics instead of moving."""

    def __init__(self, config):
        self.config = config
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.extruder_count = 1
        self.planner = Planner(config.max_velocity, config.max_accel)
        self.limits = Limits(config, self.planner)
        self.time = 0.0
        self.extrude_moves = 0
        self.travel_moves = 0
        self.print_bounds = _Bounds()
        self.travel_bounds = _Bounds()
        self.layer_heights = set()
        self.layer_comments = 0
        self.out_of_range = {}
        self.tools = {}                  # T number -> first line
        self.cold_extrusion = None       # line of the first E move before any heating
        self.too_much = None             # (line, reason) of the first over-extrusion
        self.hot_end_max = 0.0           # highest hot end target so far
        self.interpreter = None          # set by check_file, for line numbers
        self.events = {}

    def _line(self):
        return self.interpreter.lines if self.interpreter else 0

    def move(self, target, speed):
        self._check_range(target)
        self._check_extruder(target)
        start = self.position
        if target[3] > start[3] + _EPSILON and any(
                abs(target[i] - start[i]) > _EPSILON for i in range(3)):
            self.extrude_moves += 1
            self.print_bounds.add(start)
            self.print_bounds.add(target)
            self.layer_heights.add(round(target[2], 4))
        else:
            self.travel_moves += 1
            self.travel_bounds.add(target)
        self._plan(self.planner.add(*target, speed))
        self.position = list(target)

    def _check_range(self, target):
        for i, axis in enumerate("xyz"):
            stepper = self.config.steppers[axis]
            if target[i] < stepper.position_min - 1e-9 or target[i] > stepper.position_max + 1e-9:
                worst = self.out_of_range.setdefault(axis, [target[i], target[i], self._line()])
                worst[0] = min(worst[0], target[i])
                worst[1] = max(worst[1], target[i])

    def _check_extruder(self, target):
        """Record the first over-extrusion, and the first E move made before the
        hot end was ever set hot enough (a file whose heating lives in a macro).
        A retract after the heaters are turned off at the end is fine: the
        nozzle is still hot, which a print checks against the real reading."""
        try:
            check_extrusion(self.config.extrusion, self.position, target)
        except CommandError as exc:
            if self.too_much is None:
                self.too_much = (self._line(), str(exc))
        if self.cold_extrusion is None:
            try:
                check_temperature(self.config.extrusion, self.position, target,
                                  self.hot_end_max)
            except CommandError:
                self.cold_extrusion = self._line()

    def _plan(self, released):
        if released:
            moves = self.planner.take()
            self.time += float(moves["accel_t"].sum() + moves["cruise_t"].sum()
                               + moves["decel_t"].sum())

    def home(self, axes):
        for axis in axes:
            i = "XYZ".index(axis)
            target = list(self.position)
            target[i] = self.config.steppers["xyz"[i]].position_endstop
            if target != self.position:
                self.travel_moves += 1
                self.travel_bounds.add(target)
                self._plan(self.planner.add(
                    *target, self.config.steppers["xyz"[i]].homing_speed))
                self.position = target
        self.wait_moves()

    def dwell(self, seconds):
        self.wait_moves()
        self.time += seconds

    def wait_moves(self):
        self._plan(self.planner.flush())

    def set_limits(self, **limits):
        self.limits.update(**limits)

    def set_temperature(self, heater, temp, wait, wait_cooling):
        check_target(self.config, heater, temp)
        if heater == "extruder":
            self.hot_end_max = max(self.hot_end_max, temp)
        if wait:
            self.wait_moves()

    def event(self, kind, value):
        self.events[kind] = self.events.get(kind, 0) + 1
        if kind in ("layer", "layer_change"):
            self.layer_comments += 1

    def select_tool(self, tool):
        self.tools.setdefault(tool, self._line())

    def pid_tune(self, heater_index, target, cycles):
        """M303 runs on the board; a check validates it and finishes the moves."""
        heater = {0: "extruder", -1: "heater_bed"}.get(int(heater_index))
        if heater is None:
            raise CommandError("M303 E%d: no such heater (E0 hot end, E-1 bed)" % heater_index)
        if not target > 0:
            raise CommandError("M303 needs a target above 0 C")
        check_target(self.config, heater, target)
        self.wait_moves()

    def set_fan(self, fraction):
        pass

    def motors_off(self):
        self.wait_moves()

    def emergency_stop(self):
        self.wait_moves()

    def respond(self, text):
        pass


def check_file(path, config, settings=None):
    """Check G-code file ``path`` for printer ``config``; returns the report dict.

    Raises OSError when the file cannot be read.
    """
    machine = CheckMachine(config)
    errors = []
    warnings = []
    interpreter = Interpreter(
        machine, settings or Settings(), warn=warnings.append, filename=path,
        on_error=lambda line, text, reason: errors.append(
            {"line": line, "text": printable(text), "reason": reason}))
    machine.interpreter = interpreter
    counter = LineCounter()
    with open(path, "rb") as stream:
        interpreter.run(iter_commands(stream, counter=counter))
    machine.wait_moves()
    problems = ["line %d: %s moves reach %.3f..%.3f mm, outside %.3f..%.3f mm"
                % (line, axis.upper(), low, high, config.steppers[axis].position_min,
                   config.steppers[axis].position_max)
                for axis, (low, high, line) in sorted(machine.out_of_range.items())]
    missing = sorted(t for t in machine.tools if t >= machine.extruder_count)
    if missing:
        problems.append("line %d: uses tool(s) %s but this printer has %d extruder(s)"
                        % (machine.tools[missing[0]], ", ".join("T%d" % t for t in missing),
                           machine.extruder_count))
    if machine.too_much is not None:
        problems.append("line %d: %s" % machine.too_much)
    if machine.cold_extrusion is not None:
        problems.append("line %d: extrudes before the hot end was set to min_extrude_temp "
                        "%.0f C (is the heating in a macro Mendel does not run?)"
                        % (machine.cold_extrusion, config.extrusion.min_extrude_temp))
    if errors:
        problems.append("%d line(s) with errors" % len(errors))
    return {
        "file": path,
        "lines": counter.lines,
        "commands": interpreter.commands,
        "moves": interpreter.moves,
        "extrude_moves": machine.extrude_moves,
        "travel_moves": machine.travel_moves,
        "arcs": interpreter.arcs,
        "layers": (machine.events.get("layer_change") or machine.events.get("layer")
                   or len(machine.layer_heights)),
        "layer_comments": machine.layer_comments,
        "filament_mm": round(machine.position[3], 6),
        "print_bounds": machine.print_bounds.as_dict(),
        "travel_bounds": machine.travel_bounds.as_dict(),
        "estimated_time_s": round(machine.time, 3),
        "unsupported": {code: seen[0] for code, seen in sorted(interpreter.unsupported.items())},
        "ignored": dict(sorted(interpreter.ignored.items())),
        "errors": errors,
        "warnings": [printable(w) for w in warnings],
        "tools": sorted(machine.tools),
        "fits": not problems,
        "problems": problems,
    }
