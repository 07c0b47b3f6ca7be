# Mendel host: G-code modal state and command semantics.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Executes parsed G-code against a machine.

Modal state as Marlin keeps it (RepRap wiki G-code page; Marlin G-code docs):
G90/G91 absolute/relative (G90/G91 also set the E mode, as Marlin does),
M82/M83 E mode, G92 sets the logical position without moving, G20/G21 units,
F is modal in mm/min and converted once here to mm/s.

The machine object receives only machine coordinates in mm and speeds in
mm/s: ``move(target, speed)``, ``home(axes)``, ``dwell(seconds)``,
``wait_moves()``, ``set_temperature(heater, degC, wait)`` (with ``cooling=True``
for M109/M190 R, which also waits for cooling), ``set_fan(fraction)``,
``motors_off()`` and ``pid_tune(heater_index, degC, cycles)`` (M303).
"""
from mendel.gcode.parser import GcodeError, parse_line

AXES = "XYZE"
_INCH = 25.4


class Interpreter:
    """G-code state machine feeding ``machine``.

    ``warn(text)`` receives one notice per unsupported code. ``initial_feed``
    is in mm/s.
    """

    def __init__(self, machine, warn=print, initial_feed=25.0):
        self.machine = machine
        self.warn = warn
        self.position = list(machine.position)      # machine coordinates, mm
        self.base = [0.0, 0.0, 0.0, 0.0]             # machine = logical + base
        self.absolute = True
        self.absolute_e = True
        self.scale = 1.0                             # mm per G-code unit
        self.feed = initial_feed                     # mm/s
        self.unsupported = {}                        # code -> [count, first line]
        self.lines = 0
        self.moves = 0
        self._handlers = {
            "G0": self._move, "G1": self._move, "G4": self._dwell, "G20": self._inches,
            "G21": self._millimetres, "G28": self._home, "G90": self._set_absolute,
            "G91": self._set_relative, "G92": self._set_position, "M82": self._e_absolute,
            "M83": self._e_relative, "M104": self._hotend, "M109": self._hotend_wait,
            "M140": self._bed, "M190": self._bed_wait, "M106": self._fan_on,
            "M107": self._fan_off, "M400": self._wait_moves, "M84": self._motors_off,
            "M18": self._motors_off, "T0": self._nothing, "M303": self._pid_tune,
        }

    # -- driving -------------------------------------------------------
    def run_lines(self, lines, filename="<input>"):
        """Execute an iterable of text lines; raises GcodeError naming file and line."""
        for lineno, line in enumerate(lines, 1):
            self.lines = lineno
            try:
                command = parse_line(line, lineno)
                if command is not None:
                    self.execute(command)
            except GcodeError as exc:
                raise GcodeError("%s:%d: %s: %s" % (filename, lineno, line.strip(), exc)) from None

    def execute(self, command):
        """Run one parsed command."""
        handler = self._handlers.get(command.code)
        if handler is None:
            self._unsupported(command)
            return
        if command.error is not None:
            raise GcodeError(command.error)
        for letter, value in command.params.items():
            if isinstance(value, str):
                raise GcodeError("%s takes numbers, not the text %s=%r"
                                 % (command.code, letter, value))
        handler(command.params)

    def _unsupported(self, command):
        seen = self.unsupported.setdefault(command.code, [0, command.lineno])
        if seen[0] == 0:
            self.warn("line %d: %s is not supported yet; ignored (reported once)"
                      % (command.lineno, command.code))
        seen[0] += 1

    # -- motion --------------------------------------------------------
    def _move(self, params):
        if "F" in params:
            feed = params["F"]
            if feed is None or feed <= 0.0:
                raise GcodeError("F must be a positive feed rate in mm/min")
            self.feed = feed * self.scale / 60.0
        target = list(self.position)
        for i, axis in enumerate(AXES):
            value = params.get(axis)
            if value is None:
                continue
            value *= self.scale
            absolute = self.absolute_e if axis == "E" else self.absolute
            target[i] = value + self.base[i] if absolute else self.position[i] + value
        if target != self.position:
            self.machine.move(target, self.feed)
            self.position = target
            self.moves += 1

    def _home(self, params):
        axes = [a for a in "XYZ" if a in params] or list("XYZ")
        self.machine.home(axes)
        for axis in axes:
            i = AXES.index(axis)
            self.position[i] = self.machine.position[i]
            self.base[i] = 0.0

    def _set_position(self, params):
        if not params:
            params = {axis: 0.0 for axis in AXES}
        for i, axis in enumerate(AXES):
            if axis in params:
                value = params[axis] or 0.0
                self.base[i] = self.position[i] - value * self.scale

    def _dwell(self, params):
        seconds = (params.get("P") or 0.0) / 1000.0 + (params.get("S") or 0.0)
        self.machine.dwell(seconds)

    # -- modes ---------------------------------------------------------
    def _set_absolute(self, _params):
        self.absolute = self.absolute_e = True

    def _set_relative(self, _params):
        self.absolute = self.absolute_e = False

    def _e_absolute(self, _params):
        self.absolute_e = True

    def _e_relative(self, _params):
        self.absolute_e = False

    def _inches(self, _params):
        self.scale = _INCH

    def _millimetres(self, _params):
        self.scale = 1.0

    # -- heaters, fan, misc ----------------------------------------------
    def _temperature(self, params, heater, wait):
        temp = params.get("S")
        if temp is not None:
            self.machine.set_temperature(heater, temp, wait)
        elif wait and params.get("R") is not None:
            self.machine.set_temperature(heater, params["R"], wait, cooling=True)

    def _hotend(self, params):
        self._temperature(params, "extruder", False)

    def _hotend_wait(self, params):
        self._temperature(params, "extruder", True)

    def _bed(self, params):
        self._temperature(params, "heater_bed", False)

    def _bed_wait(self, params):
        self._temperature(params, "heater_bed", True)

    def _fan_on(self, params):
        value = params.get("S")
        self.machine.set_fan(1.0 if value is None else min(max(value, 0.0), 255.0) / 255.0)

    def _fan_off(self, _params):
        self.machine.set_fan(0.0)

    def _pid_tune(self, params):
        """M303 E<heater> S<degC> C<cycles> (Marlin defaults: E0, 150 C, 5 cycles)."""
        heater = params.get("E")
        target = params.get("S")
        cycles = params.get("C")
        self.machine.pid_tune(0 if heater is None else heater,
                              150.0 if target is None else target,
                              5 if cycles is None else cycles)

    def _wait_moves(self, _params):
        self.machine.wait_moves()

    def _motors_off(self, _params):
        self.machine.motors_off()

    def _nothing(self, _params):
        """T0 on a single-extruder printer selects what is already selected."""
