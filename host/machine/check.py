# Mendel host: preflight of a G-code file (`mendel check`).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse, interpret and plan a whole file without a board, and report.

The report (``check_file``) has: ``lines``, ``commands``, ``moves``,
``extrude_moves``, ``travel_moves``, ``arcs``, ``layers`` (the slicer's layer
tags when it wrote any: ``;LAYER_CHANGE``, else ``;LAYER:``-style ones; else
the distinct Z heights at which filament is laid), ``layer_comments`` (all
layer tags seen), ``first_layer_z`` (mm: Z of the first move laying filament
on layer 1, mendel.gcode.layers; None without any),
``filament_mm`` (net E of the extruder motor in mm of filament),
``print_bounds`` (``{"min": [x, y, z], "max": [x, y, z]}`` mm over the start
and end points of extruding moves: E grows and X/Y/Z move), ``travel_bounds``
(over the end points of every other move, homing included), ``estimated_time_s`` (planned motion
plus dwells; heating waits are not counted), ``unsupported`` (code -> count),
``ignored`` (known codes needing no action -> count), ``objects`` (the
names of labelled objects, M486 A / EXCLUDE_OBJECT_DEFINE, in file order), ``macros``
(printer.cfg macro -> times called), ``errors`` (list of
``{line, text, reason}``), ``warnings``, and ``fits`` with ``problems``: the
file fits when it has no errors and every move stays within the axis limits.
"""
import math
import os

from mendel.errors import CommandError, printable
from mendel.gcode.interpreter import Interpreter, Settings
from mendel.gcode.layers import LayerTracker, lays_filament
from mendel.gcode.reader import LineCounter, iter_commands, sniff_gcode
from mendel.planner.extrusion import check_extrusion, check_temperature
from mendel.planner.kinematics import KinematicsError
from mendel.planner.motion import Motion, duration
from mendel.probing.bed_mesh import CheckedBedMesh
from mendel.shaping import shapers as shapers_mod
from mendel.thermal.heaters import check_target

# Heater temperature a check assumes before a heater was waited for (degC).
ROOM_TEMPERATURE = 25.0


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
        self.motion = Motion(config)
        self.extruder_count = 1
        self.limits = self.motion.limits
        self.time = 0.0
        self.extrude_moves = 0
        self.travel_moves = 0
        self.print_bounds = _Bounds()
        self.travel_bounds = _Bounds()
        self.layers = LayerTracker()
        self.layer_comments = 0
        self.out_of_range = {}
        self.out_of_envelope = None      # (line, reason): first move a delta cannot make
        self.tools = {}                  # T number -> first line
        self.cold_extrusion = None       # line of the first E move before any heating
        self.too_much = None             # (line, reason) of the first over-extrusion
        self.hot_end_max = 0.0           # highest hot end target so far
        self.interpreter = None          # set by check_file, for line numbers
        self.events = {}
        self.targets = {}                # heater -> target degC
        self.temperatures = {}           # heater -> degC as a check assumes it
        self.homed = set()               # axes homed so far (G28, SET_KINEMATIC_POSITION)
        self.unhomed_move = None         # (line, reason) of the first move before homing
        self.bed_mesh = None             # BED_MESH_* checked, nothing probed
        self._shapers = {"x": None, "y": None}
        if config.input_shaper is not None:
            self._shapers.update({axis: (kind, freq, damping) if freq else None
                                  for axis, kind, freq, damping in config.input_shaper.axes()})
        self.pressure_advance = (config.pressure_advance, config.pressure_advance_smooth_time)
        if config.bed_mesh is not None:
            self.bed_mesh = CheckedBedMesh(config.bed_mesh, config.mesh_profiles)

    def _line(self):
        return self.interpreter.lines if self.interpreter else 0

    # -- tuning: checked, kept, nothing moves ------------------------------
    @property
    def input_shaper(self):
        return dict(self._shapers)

    def set_input_shaper(self, axis, shaper_type, freq, damping_ratio):
        if freq:
            shapers_mod.pulses(shaper_type, freq, damping_ratio)    # ValueError if bad
            if not self.motion.kinematics.is_linear:
                raise ValueError("input shaping needs cartesian or CoreXY kinematics")
        self._shapers[axis] = (shaper_type, freq, damping_ratio) if freq else None

    def set_pressure_advance(self, advance, smooth_time):
        self.pressure_advance = (advance, smooth_time)

    @property
    def position(self):
        return self.motion.position

    def move(self, target, speed):
        self._check_homed(target)
        limits, reachable = self._check_range(target)
        self._check_extruder(target)
        start = self.position
        if lays_filament(start, target):
            self.extrude_moves += 1
            self.print_bounds.add(start)
            self.print_bounds.add(target)
            self.layers.move(start, target)
        else:
            self.travel_moves += 1
            self.travel_bounds.add(target)
        self._plan(self.motion.move(target, speed, limits, split=reachable))

    def _check_range(self, target):
        """``(limits, reachable)``: the kinematics' limits of the move, and
        whether it is in reach. An out-of-range move is recorded (and planned
        anyway, whole, so the estimate covers the whole file)."""
        try:
            return self.motion.check(target), True
        except KinematicsError as exc:
            if not self.motion.kinematics.is_linear:
                self.out_of_envelope = self.out_of_envelope or (self._line(), str(exc))
                return (math.inf, math.inf), False
        for i, axis in enumerate("xyz"):
            stepper = self.config.steppers[axis]
            if target[i] < stepper.position_min - 1e-9 or target[i] > stepper.position_max + 1e-9:
                worst = self.out_of_range.setdefault(axis, [target[i], target[i], self._line()])
                worst[0] = min(worst[0], target[i])
                worst[1] = max(worst[1], target[i])
        return (math.inf, math.inf), False   # the planner still applies the Z limits

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
            self.time += duration(self.motion.take())

    def home(self, axes):
        for target, speed in self.motion.home_moves(axes):
            self.travel_moves += 1
            self.travel_bounds.add(target)
            self._plan(self.motion.move(target, speed))
        self.wait_moves()
        homed = ["x", "y", "z"] if not self.motion.kinematics.is_linear else \
            [axis.lower() for axis in axes]
        self.homed.update(homed)
        return homed

    def set_kinematic_position(self, values, set_homed="xyz", clear_homed=""):
        self.wait_moves()
        point = list(self.position)
        for axis, mm in values.items():
            point["xyz".index(axis)] = mm
        self.motion.set_position(point)
        self.homed.update(set_homed)
        self.homed.difference_update(clear_homed)

    def lift(self, distance, speed):
        target = list(self.position)
        target[2] += distance
        self._plan(self.motion.move(target, speed, (math.inf, math.inf), split=False))

    def query_endstops(self):
        """Nothing to read without a board."""
        return []

    def _check_homed(self, target):
        """Record the first move of an axis not homed (a print refuses it)."""
        if self.unhomed_move is not None or len(self.homed) == 3:
            return
        moved = [axis for i, axis in enumerate("xyz") if target[i] != self.position[i]]
        if moved and not self.motion.kinematics.is_linear:
            moved = list("xyz")
        missing = [axis for axis in moved if axis not in self.homed]
        if missing:
            self.unhomed_move = (self._line(), "Must home axis first: %s (G28)"
                                 % " ".join(missing))

    def dwell(self, seconds):
        self.wait_moves()
        self.time += seconds

    def wait_moves(self):
        self._plan(self.motion.flush())

    def set_limits(self, **limits):
        self.limits.update(**limits)

    def set_temperature(self, heater, temp, wait, wait_cooling):
        check_target(self.config, heater, temp)
        self.targets[heater] = temp
        if wait:
            self.temperatures[heater] = temp
        if heater == "extruder":
            self.hot_end_max = max(self.hot_end_max, temp)
        if wait:
            self.wait_moves()

    def heater_status(self):
        """{heater: (degC, target degC)} for macros: a heater is assumed at
        ROOM_TEMPERATURE until waited for (M109/M190), then at that target."""
        return {name: (self.temperatures.get(name, ROOM_TEMPERATURE),
                       self.targets.get(name, 0.0)) for name in self.config.heaters}

    def event(self, kind, value):
        self.events[kind] = self.events.get(kind, 0) + 1
        self.layers.event(kind, value)
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

    def set_generic_fan(self, name, fraction):
        pass

    def wait_temperature(self, sensor, minimum, maximum):
        """TEMPERATURE_WAIT: the moves finish; the sensor is taken to reach
        the bound (MINIMUM, else the current reading)."""
        self.wait_moves()
        if minimum is not None:
            self.temperatures[sensor] = max(minimum,
                                            self.temperatures.get(sensor, ROOM_TEMPERATURE))

    def motors_off(self):
        self.wait_moves()
        self.homed.clear()

    def emergency_stop(self):
        self.wait_moves()

    def respond(self, text):
        pass


def check_file(path, config, settings=None):
    """Check G-code file ``path`` for printer ``config``; returns the report dict.

    Raises OSError when the file cannot be read, NotGcodeError
    (mendel.gcode.reader) when it is not G-code text; an empty file is a
    warning.
    """
    empty = sniff_gcode(path)
    machine = CheckMachine(config)
    errors = []
    warnings = [empty] if empty else []
    macros = config.macros.session() if config.macros is not None else None
    interpreter = Interpreter(
        machine, settings or Settings(), warn=warnings.append, filename=path,
        macros=macros, on_error=lambda line, text, reason: errors.append(
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
    if machine.out_of_envelope is not None:
        problems.append("line %d: %s" % machine.out_of_envelope)
    if machine.unhomed_move is not None:
        problems.append("line %d: %s" % machine.unhomed_move)
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
    if not empty and not interpreter.commands and not errors:
        warnings.append("%s has only comments and blank lines: there is nothing to "
                        "print" % os.path.basename(path))
    return {
        "file": path,
        "lines": counter.lines,
        "commands": interpreter.commands,
        "moves": interpreter.moves,
        "extrude_moves": machine.extrude_moves,
        "travel_moves": machine.travel_moves,
        "arcs": interpreter.arcs,
        "layers": machine.layers.current,
        "first_layer_z": machine.layers.first_z,
        "layer_comments": machine.layer_comments,
        "filament_mm": round(machine.position[3], 6),
        "print_bounds": machine.print_bounds.as_dict(),
        "travel_bounds": machine.travel_bounds.as_dict(),
        "estimated_time_s": round(machine.time, 3),
        "unsupported": {code: seen[0] for code, seen in sorted(interpreter.unsupported.items())},
        "ignored": dict(sorted(interpreter.ignored.items())),
        "macros": dict(sorted(macros.calls.items())) if macros else {},
        "errors": errors,
        "warnings": [printable(w) for w in warnings],
        "tools": sorted(machine.tools),
        "objects": list(interpreter.objects.values()),
        "fits": not problems,
        "problems": problems,
    }
