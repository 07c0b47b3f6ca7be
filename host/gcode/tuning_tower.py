# Mendel host: TUNING_TOWER, a parameter that changes with the height printed.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``TUNING_TOWER COMMAND=<command> PARAMETER=<name> START=<value> [SKIP=<mm>]
[FACTOR=<per mm> [BAND=<mm>]] | [STEP_DELTA=<value> STEP_HEIGHT=<mm>]``, as
Klipper's G-Codes document describes it (our code): from then on, each time
an extruding move with X/Y travel reaches a new Z, ``COMMAND PARAMETER=value``
runs with the value for that height, where ``h = max(z - SKIP, 0)`` and

* FACTOR: ``START + FACTOR * h``;
* FACTOR and BAND: ``START + FACTOR * (floor(h / BAND) + 0.5) * BAND``;
* STEP_DELTA and STEP_HEIGHT: ``START + STEP_DELTA * floor(h / STEP_HEIGHT)``.

The command runs only when the value changes, as ``M104 S210.000000000`` for a
classic code and ``SET_HEATER_TEMPERATURE TARGET=210.000000000`` for an extended
one. The test ends with G28 (as
Klipper's does) or at the end of the file. Typical use, a pressure advance
tower: ``TUNING_TOWER COMMAND=SET_PRESSURE_ADVANCE PARAMETER=ADVANCE START=0
FACTOR=.005``. While a test runs the interpreter reads moves line by line
(the C move feed does not see the height).
"""
import math
import re

from mendel.errors import CommandError
from mendel.gcode.params import Params
from mendel.gcode.reader import parse_text


_TRADITIONAL = re.compile(r"^[GMT][0-9]+$")


class TuningTower:
    """The TUNING_TOWER test of one interpreter (``active`` while it runs)."""

    def __init__(self, interpreter):
        self.interpreter = interpreter
        self.active = False
        self._command = self._parameter = None
        self._start = self._skip = self._factor = self._band = 0.0
        self._step_delta = self._step_height = 0.0
        self._last_z = self._last_value = None

    def handlers(self):
        return {"TUNING_TOWER": self.start}

    def start(self, command):
        """TUNING_TOWER: check every parameter, then begin the test."""
        params = Params(command, ("COMMAND", "PARAMETER", "START", "SKIP", "FACTOR", "BAND",
                                  "STEP_DELTA", "STEP_HEIGHT"))
        name = (params.get("COMMAND") or "").upper()
        parameter = (params.get("PARAMETER") or "").upper()
        if not name or not parameter:
            raise CommandError("TUNING_TOWER needs COMMAND= and PARAMETER=")
        if not self.interpreter.knows(name):
            raise CommandError("TUNING_TOWER: COMMAND=%s is not a command of this printer"
                               % name)
        start = params.get_float("START", 0.0)
        skip = params.get_float("SKIP", 0.0, minval=0.0)
        factor = params.get_float("FACTOR", 0.0)
        band = params.get_float("BAND", 0.0, minval=0.0)
        step_delta = params.get_float("STEP_DELTA", 0.0)
        step_height = params.get_float("STEP_HEIGHT", 0.0, minval=0.0)
        if (factor or band) and (step_delta or step_height):
            raise CommandError("TUNING_TOWER: give FACTOR [BAND] or STEP_DELTA and "
                               "STEP_HEIGHT, not both")
        if (step_delta or step_height) and not (step_delta and step_height):
            raise CommandError("TUNING_TOWER: STEP_DELTA needs STEP_HEIGHT above 0")
        if band and not factor:
            raise CommandError("TUNING_TOWER: BAND needs FACTOR")
        self._command, self._parameter = name, parameter
        self._start, self._skip, self._factor, self._band = start, skip, factor, band
        self._step_delta, self._step_height = step_delta, step_height
        self._last_z = self._last_value = None
        self.active = True
        respond = self.interpreter.machine.respond
        if step_delta:
            respond("Starting tuning test (start=%.6f step_delta=%.6f step_height=%.6f)"
                    % (start, step_delta, step_height))
        else:
            respond("Starting tuning test (start=%.6f factor=%.6f)" % (start, factor))

    def value_at(self, z):
        """The parameter's value at height ``z`` mm."""
        height = max(z - self._skip, 0.0)
        if self._step_delta:
            return self._start + self._step_delta * math.floor(height / self._step_height)
        if self._band:
            return self._start + self._factor * (math.floor(height / self._band) + 0.5) \
                * self._band
        return self._start + self._factor * height

    def before_move(self, start, target):
        """Called with each G-code move ([x, y, z, e] mm) before it is sent:
        an extruding move with X/Y travel at a new height runs the command
        when the value changes."""
        if not self.active:
            return
        extruding = target[3] > start[3] and (target[0] != start[0] or target[1] != start[1])
        if not extruding or target[2] == self._last_z:
            return
        self._last_z = target[2]
        value = self.value_at(target[2])
        if value == self._last_value:
            return
        self._last_value = value
        interpreter = self.interpreter
        # A classic code takes its letter and number (M104 S210), an extended
        # command KEY=value, as Klipper writes them.
        form = "%s %s%.9f" if _TRADITIONAL.match(self._command) else "%s %s=%.9f"
        for command in parse_text(form % (self._command, self._parameter, value)):
            command.lineno = interpreter.lines
            interpreter.execute(command)

    def end(self):
        """G28 ends a running test, as in Klipper."""
        if self.active:
            self.active = False
            self.interpreter.machine.respond("Ending tuning test mode")
