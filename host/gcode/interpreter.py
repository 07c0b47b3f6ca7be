# Mendel host: G-code modal state and command semantics.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Executes parsed G-code against a machine.

Semantics follow the RepRap wiki G-code page and Marlin's G-code docs (Marlin
where firmwares disagree; each handler says what it does). Positions: the
machine receives machine coordinates in mm and speeds in mm/s only.

* E mode (Klipper's rule): G90/G91 set absolute/relative for X, Y, Z;
  M82/M83 set the extruder's own mode; E is relative while G91 *or* M83 is in
  effect. So a ``G91 ... G90`` pair (a macro's lift) leaves an M83 file
  relative, and M82 makes E absolute again only under G90. ``absolute_e`` is
  the M82/M83 flag; :meth:`Interpreter.e_is_absolute` the mode moves use.
* G92 sets the logical position without moving or waiting. For X/Y/Z it
  shifts the offset between logical and machine coordinates; for E it only
  renames the current filament position, since the extruder motor keeps
  counting (its machine position grows by every E move, scaled by M221).
* F is modal, in mm/min (in/min after G20) and converted once, here, to mm/s;
  M220 scales it. ``F0`` is refused and the previous feed rate kept.
* Each line is checked whole before it acts: a line that fails changes no
  modal state and moves nothing.

The machine interface: ``position`` ([x, y, z, e] mm), ``extruder_count``,
``move(target, speed)``, ``home(axes)``, ``dwell(s)``, ``wait_moves()``,
``set_temperature(heater, degC, wait, wait_cooling)``, ``set_fan(fraction)``,
``motors_off()``, ``set_limits(**limits)``, ``select_tool(n)``, ``emergency_stop()``,
``respond(text)``, ``event(kind, value)`` and ``pid_tune(heater_index, degC,
cycles)`` (M303); optionally ``heater_status()`` ({name: (degC, target degC)},
for macros' ``printer.extruder.temperature``), ``wait_temperature(sensor,
minimum, maximum)`` (TEMPERATURE_WAIT) and ``set_generic_fan(name,
fraction)`` with ``config.fan_generic`` (SET_FAN_SPEED).

Commands named by a printer.cfg ``[gcode_macro NAME]`` run that macro
(``macros``, a :class:`mendel.gcode.macros.MacroSet`); without macros such a
command is unsupported like any other unknown code. A macro with
``rename_existing: OTHER`` takes the place of the existing command NAME (any
handler here, including ``extra_handlers``), which stays callable as OTHER.

Owned state that servers read: ``display_status`` (M117/M73,
:mod:`mendel.gcode.display_status`), ``exclude_object`` (object labels and
exclusion, :mod:`mendel.gcode.exclude_object`), ``saved_states``
(SAVE_GCODE_STATE).
"""
from mendel import __version__
from mendel.accel import commands as accel_commands
from mendel.errors import CommandError, printable
from mendel.gcode import arcs, heater_fan_commands, macro_commands, offsets, tuning_commands
from mendel.gcode.tuning_tower import TuningTower
from mendel.gcode.display_status import DisplayStatus
from mendel.gcode.exclude_object import ExcludeObject
from mendel.gcode.params import key_values
from mendel.gcode.commands import KNOWN_IGNORED
from mendel.homing import commands as homing_commands
from mendel.probing import commands as probing_commands
from mendel.probing import mesh_commands
from mendel.shaping import commands as shaping_commands
from mendel.gcode.reader import commands
from mendel.printjob import HELP as _PRINT_JOB_HELP

# Commands of `mendel serve`'s print job (mendel.printjob): elsewhere
# (`mendel print`, `check`, `console`) they are unsupported, and say why.
SERVE_ONLY = frozenset(_PRINT_JOB_HELP)

AXES = "XYZE"
_INCH = 25.4
# Commands whose arguments may follow a syntax of their own (Prusa's
# "M115 U3.11.0" version check): run even when the words did not parse.
_OWN_SYNTAX = ("M115",)
# Words that take text (the lexer keeps them as str): M486 A<object name>.
_TEXT_WORDS = (("M486", "A"),)
# Commands whose argument is text (the lexer keeps it whole).
_TEXT_CODES = ("M117", "M118")


class GcodeError(CommandError):
    """A line that cannot be executed; the message says what is wrong."""


class PlaceholderWarning(Exception):
    """A line with an unfilled slicer placeholder such as ``S{temp}``; skipped."""


class Settings:
    """Interpreter settings: arc chord tolerance (mm), firmware retraction
    (mm, mm/s), strict mode (unknown commands are errors)."""

    def __init__(self, arc_tolerance=0.01, retract_length=0.8, retract_speed=35.0,
                 unretract_extra_length=0.0, unretract_speed=35.0, strict=False):
        self.arc_tolerance = arc_tolerance
        self.retract_length = retract_length
        self.retract_speed = retract_speed
        self.unretract_extra_length = unretract_extra_length
        self.unretract_speed = unretract_speed
        self.strict = strict


class Interpreter:
    """G-code state machine feeding ``machine``.

    ``warn(text)`` receives notices (one per unsupported code, placeholders);
    ``on_error(lineno, text, reason)`` receives refused lines; by default it
    raises GcodeError naming the file, line and reason. ``extra_handlers``
    ({command: fn(command)}) adds commands of the caller (a session's PAUSE).
    """

    def __init__(self, machine, settings=None, warn=print, on_error=None, filename="<input>",
                 macros=None, extra_handlers=None):
        self.machine = machine
        self.macros = macros                        # printer.cfg's MacroSet, or None
        self.settings = settings or Settings()
        self.warn = warn
        self.filename = filename
        self.on_error = on_error or self._raise
        self.position = list(machine.position)      # machine coordinates, mm
        self.logical_e = self.position[3]           # E as the G-code names it
        # What G92 E / RESTORE_GCODE_STATE renamed away: logical_e + this is
        # the E the G-code has asked for so far (see commanded_e).
        self.e_renamed = 0.0
        self.base = [0.0, 0.0, 0.0]                 # machine = logical + base (X, Y, Z)
        self.homing_origin = [0.0, 0.0, 0.0]        # SET_GCODE_OFFSET's part of base (X, Y, Z)
        self.absolute = True                        # G90 / G91 (X, Y, Z)
        self.absolute_e = True                      # M82 / M83 (see e_is_absolute)
        self.scale = 1.0                            # mm per G-code unit
        self.feed = 25.0                            # mm/s
        self.speed_factor = 1.0                     # M220
        self.extrude_factor = 1.0                   # M221
        self.retracted = False
        self.homed_axes = set()                     # "x", "y", "z" after G28, until M84
        self.last_line_number = None                # M110
        self.unsupported = {}                       # code -> [count, first line]
        self.ignored = {}                           # known-and-ignored code -> count
        self.lines = 0
        self.commands = 0
        self.moves = 0
        self.arcs = 0
        self.display_status = DisplayStatus()       # M117 message, M73 progress
        self.exclude_object = ExcludeObject(self)   # EXCLUDE_OBJECT_*, M486
        self.saved_states = {}                      # SAVE_GCODE_STATE NAME -> GcodeState
        self._handlers = {
            "G0": self._move, "G1": self._move, "G2": self._arc_cw, "G3": self._arc_ccw,
            "G4": self._dwell, "G10": self._g10, "G11": self._unretract,
            "G17": self._xy_plane, "G18": self._other_plane, "G19": self._other_plane,
            "G20": self._inches, "G21": self._millimetres, "G28": self._home,
            "G90": self._set_absolute, "G91": self._set_relative, "G92": self._set_position,
            "M82": self._e_absolute, "M83": self._e_relative,
            "M104": self._hotend, "M109": self._hotend_wait, "M140": self._bed,
            "M190": self._bed_wait, "M106": self._fan_on, "M107": self._fan_off,
            "M400": self._wait_moves, "M84": self._motors_off, "M18": self._motors_off,
            "M112": self._emergency, "M114": self._report_position, "M110": self._line_number,
            "M115": self._firmware_info,
            "M220": self._speed_factor, "M221": self._extrude_factor,
            "M201": self._max_accel, "M203": self._max_feedrate, "M204": self._accel,
            "M205": self._jerk, "M207": self._retract_settings,
            "M208": self._unretract_settings, "M73": self._progress,
            "M117": self._display_message, "M118": self._echo,
            "SET_DISPLAY_TEXT": self._set_display_text,
            "SET_VELOCITY_LIMIT": self._set_velocity_limit,
            "M303": self._pid_tune,
            "SET_KINEMATIC_POSITION": self._set_kinematic_position,
            "QUERY_ENDSTOPS": self._query_endstops, "M119": self._m119,
        }
        # Probe, SAVE_CONFIG and G-code offset commands (mendel.probing.commands,
        # mendel.gcode.offsets).
        self._handlers.update(probing_commands.handlers(self))
        self._handlers.update(offsets.handlers(self))
        self._handlers.update(mesh_commands.handlers(self))      # BED_MESH_*
        self._handlers.update(self.exclude_object.handlers())    # EXCLUDE_OBJECT_*, M486
        self._handlers.update(heater_fan_commands.handlers(self))
        self._handlers.update(tuning_commands.handlers(self))    # SET_INPUT_SHAPER, M900 ...
        self.tuning_tower = TuningTower(self)
        self._handlers.update(self.tuning_tower.handlers())      # TUNING_TOWER
        self._handlers.update(macro_commands.handlers(self))     # RESPOND, *_GCODE_STATE
        self._handlers.update(accel_commands.handlers(self))     # ACCELEROMETER_QUERY ...
        self._handlers.update(shaping_commands.handlers(self))   # TEST_RESONANCES, SHAPER_CALIBRATE
        # Commands of whoever runs the interpreter (`mendel serve`'s print
        # job: SDCARD_PRINT_FILE, PAUSE, ...): code -> fn(command).
        self._handlers.update(extra_handlers or {})
        self.file_stop = False      # set while a file runs: stop after this line
        self._renamed_text = set()                  # new names of M117/M118 (text arguments)
        self._rename_existing()

    @property
    def objects(self):
        """Labelled objects: M486 id or EXCLUDE_OBJECT_DEFINE name -> name as written."""
        return self.exclude_object.labels

    def _rename_existing(self):
        """Macros with ``rename_existing: OTHER`` take their command's place; the
        command stays callable as OTHER. A macro named like a command without
        it is not run (said once, here)."""
        for macro in self.macros or ():
            handler = self._handlers.get(macro.name)
            if handler is None and macro.rename_existing and macro.name in SERVE_ONLY:
                # PAUSE, CANCEL_PRINT ... of a Klipper config, outside `mendel
                # serve`: the built-in under its new name says it is not here.
                handler = self._unsupported
            if handler is None:
                if macro.rename_existing:
                    self.warn("[gcode_macro %s] (%s): rename_existing: there is no command %s "
                              "to rename; %s is unknown" % (macro.name, macro.where(),
                                                            macro.name, macro.rename_existing))
                continue
            if not macro.rename_existing:
                self.warn("[gcode_macro %s] (%s) is not run: %s is a built-in command (add "
                          "rename_existing: <new name> to keep the built-in under another name)"
                          % (macro.name, macro.where(), macro.name))
                continue
            self._handlers.pop(macro.name, None)
            self._handlers[macro.rename_existing] = _renamed(handler, macro.name)
            if macro.name in _TEXT_CODES:
                self._renamed_text.add(macro.rename_existing)

    def command_handlers(self):
        """{command name: handler} of the commands this interpreter runs itself
        (macros and text replies aside); a copy."""
        return dict(self._handlers)

    # -- driving -------------------------------------------------------
    def run(self, commands):
        """Execute an iterable of parsed commands (see mendel.gcode.reader)."""
        for command in commands:
            self.lines = command.lineno
            try:
                self.execute(command)
            except PlaceholderWarning as exc:
                self.warn("%s:%d: %s: %s" % (self.filename, command.lineno, command.raw, exc))
            except (CommandError, arcs.ArcError) as exc:
                self.on_error(command.lineno, command.raw, str(exc))
            if self.file_stop:
                return command.lineno
        return None

    def run_batches(self, batches, counter=None, observer=None):
        """Execute parsed batches (:func:`mendel.gcode.reader.iter_batches`).

        With a machine that offers a ``move_feed()`` (a
        :class:`~mendel.planner._lookahead.MoveFeed`, or None), runs of plain
        G0/G1 lines go from the lexer's arrays to the planner in C; every
        other line, and any move the feed would refuse, runs through
        :meth:`execute` as in :meth:`run`, so errors and warnings are the
        same. The machine's ``fed_moves()`` follows each run. ``counter``, a
        :class:`~mendel.gcode.reader.LineCounter`, is told every line read.

        ``observer`` (or None) follows the file: ``before(command)`` and
        ``after(lineno)`` around each command run alone; around a run of
        lines ``start..stop-1`` fed through ``feed`` (which then tracks
        extruding heights) that read a move, ``fed(batch, start, stop,
        feed)`` before the run's moves go to the machine and
        ``after_fed(lineno)`` (the last move line) after. That is what the
        line-by-line path tells it: each move's ``before`` comes before any
        move is sent, and only the last move of a run can send (the board's
        clock, which an observer may read, moves on only then). A run of
        comments alone is not told. While ``exclude_object`` is diverted (an
        excluded object), lines run one by one as without a feed.

        Returns None, or the line number of the command after which the
        file stopped: a command run alone (PAUSE, CANCEL_PRINT) may set
        :attr:`file_stop` to end the file there.
        """
        move_feed = getattr(self.machine, "move_feed", None)
        for batch in batches:
            if counter is not None:
                counter.lines += batch.count
            feed = move_feed() if move_feed is not None else None
            if feed is None:
                stopped = self._run_observed(commands(batch), observer)
                if stopped is not None:
                    return stopped
                continue
            feed.set_batch(batch)
            feed.track_heights = observer is not None
            i, count = 0, batch.count
            while i < count:
                # Inside an excluded object (and up to the move after it)
                # lines go one by one: the C feed would send their moves.
                if not (self.exclude_object.diverted or self.tuning_tower.active):
                    feed = move_feed()      # armed anew: the machine's state moved on
                    if feed is None:        # no longer fed in C (M84, a mesh loaded)
                        rest = (batch.command(j) for j in range(i, count))
                        stopped = self._run_observed([c for c in rest if c is not None],
                                                     observer)
                        if stopped is not None:
                            return stopped
                        break
                    i = self._feed_run(feed, batch, i, count, observer)
                    if not feed.stopped:
                        continue
                command = batch.command(i)
                if command is not None:
                    stopped = self._run_observed((command,), observer)
                    if stopped is not None:
                        return stopped
                i += 1
        return None

    def _run_observed(self, commands, observer):
        if observer is None:
            return self.run(commands)
        for command in commands:
            observer.before(command)
            stopped = self.run((command,))
            observer.after(command.lineno)
            if stopped is not None:
                return stopped
        return None

    def _feed_run(self, feed, batch, start, stop, observer):
        """One run of ``feed`` over lines ``start..stop-1`` of ``batch``, with
        the modal state copied in and back; the moves then go to the
        machine, and ``observer`` (or None) is told. Returns the index of
        the first line not done."""
        feed.position = self.position
        feed.base = self.base
        feed.logical_e = self.logical_e
        feed.feed = self.feed
        feed.speed_factor = self.speed_factor
        feed.extrude_factor = self.extrude_factor
        feed.scale = self.scale
        feed.absolute = self.absolute
        feed.absolute_e = self.absolute_e
        feed.moves = feed.commands = 0
        feed.lineno = self.lines
        try:
            done = feed.run(start, stop)
        finally:
            self.position = feed.position
            self.logical_e = feed.logical_e
            self.feed = feed.feed
            self.moves += feed.moves
            self.commands += feed.commands
            self.lines = feed.lineno
        told = observer is not None and feed.commands
        if told:
            observer.fed(batch, start, done, feed)
        self.machine.fed_moves()
        if told:
            observer.after_fed(feed.lineno)
        return done

    def _raise(self, lineno, text, reason):
        raise GcodeError("%s:%d: %s: %s" % (self.filename, lineno, printable(text.strip()),
                                            reason))

    def execute(self, command):
        """Run one parsed command; raises GcodeError when it is refused.

        A line whose arguments did not parse is refused only if its command is
        one that acts: a known-and-ignored command (``M115 U3.11.0``) may carry
        arguments in a syntax of its own.
        """
        if command.meta is not None:
            self.machine.event(*command.meta)
        code = command.code
        handler = self._handlers.get(code)
        if command.error is not None and code not in _OWN_SYNTAX \
                and code not in self._renamed_text and (
                handler is not None or not code or code[0] == "T"):
            raise GcodeError(command.error)
        if not code:
            return
        self.commands += 1
        self._check_line_number(command)
        if handler is not None:
            self._check_params(command)
            handler(command)
        elif code[0] == "T" and code[1:].isdigit():
            self._tool(int(code[1:]))
        elif self.macros is not None and code in self.macros:
            self.macros.call(self, command)
        elif code == "G29":
            mesh_commands.g29(self, command)
        elif code in KNOWN_IGNORED:
            self.ignored[code] = self.ignored.get(code, 0) + 1
        else:
            self._unsupported(command)

    def knows(self, code):
        """True when ``code`` is a command this interpreter runs (built in, or
        a printer.cfg macro)."""
        return code in self._handlers or (self.macros is not None and code in self.macros)

    def _check_params(self, command):
        for letter, value in command.params.items():
            if isinstance(value, str) and (command.code, letter) not in _TEXT_WORDS:
                if value.startswith("{"):
                    raise PlaceholderWarning("unfilled slicer placeholder %s=%s; line skipped"
                                             % (letter, value))
                raise GcodeError("%s takes numbers, not the text %s=%r"
                                 % (command.code, letter, value))

    def _check_line_number(self, command):
        number = command.line_number
        if number is None:
            return
        if self.last_line_number is not None and number != self.last_line_number + 1 \
                and command.code != "M110":
            raise GcodeError("line number N%d out of sequence: expected N%d"
                             % (number, self.last_line_number + 1))
        self.last_line_number = number

    def _unsupported(self, command):
        seen = self.unsupported.setdefault(command.code, [0, command.lineno])
        seen[0] += 1
        why = "is not supported"
        if command.code in SERVE_ONLY:
            why = ("runs only in `mendel serve` (a print job there to pause, resume or "
                   "cancel; files from [virtual_sdcard])")
        if self.settings.strict:
            raise GcodeError("%s %s (--strict)" % (command.code, why))
        if seen[0] == 1:
            self.warn("%s:%d: %s %s; ignored (reported once)"
                      % (self.filename, command.lineno, command.code, why))

    # -- motion --------------------------------------------------------
    def _feed_from(self, params):
        feed = params.get("F")
        if feed is None:
            return self.feed
        speed = feed * self.scale / 60.0
        if not speed > 0.0:         # F0, F-5, or so small it is 0 mm/s
            raise GcodeError("F must be a positive feed rate in mm/min; keeping F%.0f"
                             % (self.feed * 60.0 / self.scale))
        return speed

    def _target(self, params):
        """Machine-coordinate target of a move's X/Y/Z/E words, and its logical E.

        Raises GcodeError for an axis letter without a number (``G1 X``)."""
        for axis in AXES:
            if axis in params and params[axis] is None:
                raise GcodeError("%s needs a number in a move" % axis)
        target = list(self.position)
        for i, axis in enumerate("XYZ"):
            value = params.get(axis)
            if value is not None:
                value *= self.scale
                target[i] = value + self.base[i] if self.absolute else self.position[i] + value
        logical_e = self.logical_e
        value = params.get("E")
        if value is not None:
            value *= self.scale
            logical_e = value if self.e_is_absolute() else logical_e + value
            target[3] = self.position[3] + (logical_e - self.logical_e) * self.extrude_factor
        return target, logical_e

    def _move(self, command):
        feed = self._feed_from(command.params)
        target, logical_e = self._target(command.params)
        sent = target
        if self.exclude_object.diverted:
            sent = self.exclude_object.adjust(target)     # None: an excluded object's
        if self.tuning_tower.active:
            self.tuning_tower.before_move(self.position, target)
        if sent is not None and sent != self.position:
            self.machine.move(sent, feed * self.speed_factor)
            self.moves += 1
        # Only once the move is accepted: a refused line changes no modal state.
        self.feed = feed
        self.position = target if sent is None else sent
        self.logical_e = logical_e

    def _arc(self, command, clockwise):
        params = command.params
        feed = self._feed_from(params)
        moving = self.exclude_object.allow_moves()
        target, logical_e = self._target(params)
        if "R" in params and params["R"] is not None:
            center = arcs.arc_center(self.position, target, clockwise,
                                     r=params["R"] * self.scale)
        elif params.get("I") is not None or params.get("J") is not None:
            center = arcs.arc_center(self.position, target, clockwise,
                                     (params.get("I") or 0.0) * self.scale,
                                     (params.get("J") or 0.0) * self.scale)
        else:
            raise GcodeError("an arc needs I/J (centre offset) or R (radius)")
        extras = getattr(getattr(self.machine, "config", None), "gcode_extras", None)
        points = arcs.segment_arc(self.position, target, clockwise, center,
                                  self.settings.arc_tolerance,
                                  extras.arc_resolution if extras is not None else None)
        self.feed = feed
        if moving:
            for point in points:
                self.machine.move(point, feed * self.speed_factor)
            self.moves += len(points)
        self.arcs += 1
        self.position = target
        self.logical_e = logical_e

    def _arc_cw(self, command):
        self._arc(command, True)

    def _arc_ccw(self, command):
        self._arc(command, False)

    def _home(self, command):
        self.tuning_tower.end()
        axes = [a for a in "XYZ" if a in command.params] or list("XYZ")
        homed = homing_commands.g28(self, axes) or axes
        self.homed_axes.update(axis.lower() for axis in homed)
        for axis in homed:
            i = "XYZ".index(axis.upper())
            self.base[i] = self.homing_origin[i]     # G92 ends, the G-code offset stays
        self.position[:3] = self.machine.position[:3]

    def _set_kinematic_position(self, command):
        homing_commands.set_kinematic_position(self, {
            key: (_number(key, value) if key in "XYZ" else value)
            for key, value in key_values(command.text).items()})
        self.position[:3] = self.machine.position[:3]

    def _query_endstops(self, _command):
        self.machine.respond(homing_commands.query_endstops(self.machine))

    def _m119(self, _command):
        for line in homing_commands.m119(self.machine):
            self.machine.respond(line)

    def _set_position(self, command):
        params = command.params
        if not params:
            params = dict.fromkeys(AXES, 0.0)
        for i, axis in enumerate("XYZ"):
            if axis in params:
                self.base[i] = self.position[i] - (params[axis] or 0.0) * self.scale
        if "E" in params:
            self.rename_e((params["E"] or 0.0) * self.scale)

    def _dwell(self, command):
        params = command.params
        seconds = (params.get("P") or 0.0) / 1000.0 + (params.get("S") or 0.0)
        if seconds < 0.0:
            raise GcodeError("G4 needs a dwell time of zero or more")
        self.machine.dwell(seconds)

    # -- firmware retraction (Marlin FWRETRACT; RepRapFirmware G10 tool form) --
    def _g10(self, command):
        if any(letter in command.params for letter in "PSRLXYZU"):
            self._tool_settings(command.params)
        else:
            self._retract()

    def _tool_settings(self, params):
        """RepRapFirmware ``G10 P<tool> S<active degC> R<standby degC>``."""
        tool = int(params.get("P") or 0)
        if tool >= self.machine.extruder_count:
            raise GcodeError("tool %d does not exist on this printer" % tool)
        if params.get("S") is not None:
            # RepRapFirmware turns a heater off with a temperature of -273.15.
            self.machine.set_temperature("extruder", max(params["S"], 0.0), False, False)

    def _retract(self):
        if self.retracted:
            return
        self._extrude_only(-self.settings.retract_length, self.settings.retract_speed)
        self.retracted = True

    def _unretract(self, _command):
        if not self.retracted:
            return
        settings = self.settings
        self._extrude_only(settings.retract_length + settings.unretract_extra_length,
                           settings.unretract_speed)
        self.retracted = False

    def _extrude_only(self, length, speed):
        if length == 0.0:
            return
        moving = self.exclude_object.allow_moves()
        target = list(self.position)
        target[3] += length
        if moving:
            self.machine.move(target, speed)
            self.moves += 1
        self.position = target

    def _retract_settings(self, command):
        """M207 S<length mm> F<speed mm/min>."""
        params = command.params
        if params.get("S") is not None:
            self.settings.retract_length = params["S"]
        if params.get("F") is not None and params["F"] > 0:
            self.settings.retract_speed = params["F"] / 60.0

    def _unretract_settings(self, command):
        """M208 S<extra length mm> F<speed mm/min>."""
        params = command.params
        if params.get("S") is not None:
            self.settings.unretract_extra_length = params["S"]
        if params.get("F") is not None and params["F"] > 0:
            self.settings.unretract_speed = params["F"] / 60.0

    @property
    def commanded_e(self):
        """Filament the G-code's moves have asked for, mm: E as the G-code
        names it, without G92 renames; before M221's factor, and with the
        moves of excluded objects (Klipper's print_stats.filament_used)."""
        return self.logical_e + self.e_renamed

    def rename_e(self, value):
        """Call the extruder's position ``value`` (mm) from now on (G92 E)."""
        self.e_renamed += self.logical_e - value
        self.logical_e = value

    # -- modes ---------------------------------------------------------
    def e_is_absolute(self):
        """True when an E word is an absolute position: G90 and M82 both in
        effect (Klipper's rule; E is relative under G91 or M83)."""
        return self.absolute and self.absolute_e

    def _set_absolute(self, _command):
        self.absolute = True

    def _set_relative(self, _command):
        self.absolute = False

    def _e_absolute(self, _command):
        self.absolute_e = True

    def _e_relative(self, _command):
        self.absolute_e = False

    def _xy_plane(self, _command):
        """G17: arcs in the XY plane, the only plane Mendel draws arcs in."""

    def _other_plane(self, command):
        """G18/G19 would put later arcs in the XZ/YZ plane: refused, not ignored,
        since drawing those arcs in XY would print the wrong shape."""
        raise GcodeError("%s: arcs outside the XY plane are not supported" % command.code)

    def _inches(self, _command):
        self.scale = _INCH

    def _millimetres(self, _command):
        self.scale = 1.0

    def _line_number(self, command):
        """M110 N<n>: the next line is N<n+1> (its own N argument, else the line's N)."""
        number = command.params.get("N")
        self.last_line_number = int(number) if number is not None else command.line_number

    def _speed_factor(self, command):
        if command.params.get("S") is not None:
            factor = command.params["S"] / 100.0
            if not factor > 0.0:    # S0, or so small the factor is 0
                raise GcodeError("M220 S must be a positive percentage")
            self.speed_factor = factor

    def _extrude_factor(self, command):
        if command.params.get("S") is not None:
            if command.params["S"] < 0:
                raise GcodeError("M221 S must not be negative")
            self.extrude_factor = command.params["S"] / 100.0

    # -- limits (Marlin units: mm/s, mm/s^2) ------------------------------
    def _max_accel(self, command):
        """M201 X Y Z E: maximum accelerations (mm/s^2)."""
        params = command.params
        xy = [params[a] for a in "XY" if params.get(a)]
        self._set_limits(accel=min(xy) if xy else None, z_accel=params.get("Z"),
                                e_accel=params.get("E"))

    def _max_feedrate(self, command):
        """M203 X Y Z E: maximum feed rates (mm/s, as Marlin)."""
        params = command.params
        xy = [params[a] for a in "XY" if params.get(a)]
        self._set_limits(velocity=min(xy) if xy else None,
                                z_velocity=params.get("Z"), e_velocity=params.get("E"))

    def _accel(self, command):
        """M204 S (all moves) or P/T (print/travel; the lower is used, as Klipper)."""
        params = command.params
        if params.get("S") is not None:
            accel = params["S"]
        else:
            given = [params[a] for a in "PT" if params.get(a)]
            accel = min(given) if given else None
        if accel is not None:
            self._set_limits(accel=accel)

    def _jerk(self, command):
        """M205 X/Y (Marlin jerk, mm/s) as square corner velocity; J (junction
        deviation, mm) converted to the equivalent square corner velocity."""
        params = command.params
        xy = [params[a] for a in "XY" if params.get(a) is not None]
        if xy:
            self._set_limits(scv=min(xy))
        if params.get("J") is not None:
            self._set_limits(junction_deviation=params["J"])

    def _set_limits(self, **limits):
        try:
            self.machine.set_limits(**limits)
        except ValueError as exc:
            raise GcodeError(str(exc)) from None

    def _set_velocity_limit(self, command):
        """Klipper SET_VELOCITY_LIMIT VELOCITY= ACCEL= SQUARE_CORNER_VELOCITY=
        MINIMUM_CRUISE_RATIO= (ACCEL_TO_DECEL= read as in Klipper's docs)."""
        args = key_values(command.text)
        names = {"VELOCITY": "velocity", "ACCEL": "accel", "SQUARE_CORNER_VELOCITY": "scv",
                 "MINIMUM_CRUISE_RATIO": "min_cruise_ratio"}
        limits = {}
        for key, value in args.items():
            if key == "ACCEL_TO_DECEL":
                continue
            if key not in names:
                raise GcodeError("SET_VELOCITY_LIMIT has no parameter %s" % key)
            limits[names[key]] = _number(key, value)
        self._set_limits(**limits)

    # -- heaters, fan, tools, reports ------------------------------------
    def _temperature(self, command, heater, wait):
        """S sets the target (M109/M190 S wait only when heating); R, on the
        waiting codes only, sets it and waits for cooling too (Marlin)."""
        params = command.params
        if heater == "extruder" and params.get("T") is not None:
            self.machine.select_tool(int(params["T"]))
        temp = params.get("S")
        wait_cooling = False
        if wait and params.get("R") is not None:
            temp = params["R"]
            wait_cooling = True
        if temp is None:
            return
        if temp < 0:
            raise GcodeError("temperature must not be negative")
        self.machine.set_temperature(heater, temp, wait, wait_cooling)

    def _hotend(self, command):
        self._temperature(command, "extruder", False)

    def _hotend_wait(self, command):
        self._temperature(command, "extruder", True)

    def _bed(self, command):
        self._temperature(command, "heater_bed", False)

    def _bed_wait(self, command):
        self._temperature(command, "heater_bed", True)

    def _fan_on(self, command):
        if self._part_fan(command):
            value = command.params.get("S")
            self.machine.set_fan(1.0 if value is None
                                 else min(max(value, 0.0), 255.0) / 255.0)

    def _fan_off(self, command):
        if self._part_fan(command):
            self.machine.set_fan(0.0)

    def _part_fan(self, command):
        """Whether M106/M107 is for the part-cooling fan (no P, or P0). Marlin's
        P picks a fan; another one (Bambu's P2 aux fan, P3 chamber fan) is not
        on a Mendel printer: ignored and reported once, as Marlin ignores a fan
        index past its fans, never given to the part fan."""
        index = command.params.get("P")
        if index is None or index == 0:
            return True
        key = "%s P%g" % (command.code, index)
        seen = self.unsupported.setdefault(key, [0, command.lineno])
        seen[0] += 1
        if self.settings.strict:
            raise GcodeError("%s: this printer has one part-cooling fan, P0 (--strict)" % key)
        if seen[0] == 1:
            self.warn("%s:%d: %s: this printer has one part-cooling fan, P0; ignored "
                      "(reported once)" % (self.filename, command.lineno, key))
        return False

    def _tool(self, tool):
        self.machine.select_tool(tool)

    def _pid_tune(self, command):
        """M303 E<heater> S<degC> C<cycles> (Marlin defaults: E0, 150 C, 5 cycles)."""
        params = command.params
        heater = params.get("E")
        target = params.get("S")
        cycles = params.get("C")
        self.machine.pid_tune(0 if heater is None else heater,
                              150.0 if target is None else target,
                              5 if cycles is None else cycles)

    def _wait_moves(self, _command):
        self.machine.wait_moves()

    def _motors_off(self, _command):
        self.machine.motors_off()
        self.homed_axes.clear()

    def _emergency(self, _command):
        self.machine.emergency_stop()

    def _report_position(self, _command):
        x, y, z, e = self.position
        self.machine.respond("X:%.3f Y:%.3f Z:%.3f E:%.3f" % (
            x - self.base[0], y - self.base[1], z - self.base[2], self.logical_e))

    def _firmware_info(self, command):
        """M115: report the firmware; with arguments (Prusa's ``M115 U<version>``
        firmware check) there is nothing to report or check."""
        if command.params or command.text or command.error:
            self.ignored["M115"] = self.ignored.get("M115", 0) + 1
            return
        self.machine.respond("FIRMWARE_NAME:Mendel %s PROTOCOL_VERSION:1.0 "
                             "MACHINE_TYPE:RepRap EXTRUDER_COUNT:%d"
                             % (__version__, self.machine.extruder_count))

    def _progress(self, command):
        """M73 P<percent>: the display's progress (R, minutes left, is not kept)."""
        if command.params.get("P") is not None:
            self.display_status.set_progress(command.params["P"])
            self.machine.event("progress", command.params["P"])

    def _display_message(self, command):
        """M117 <text>: the display's message, also answered; M117 alone clears it."""
        self.display_status.set_message(command.text)
        if command.text:
            self.machine.respond(command.text)

    def _echo(self, command):
        """M118 <text>: answered to the host."""
        if command.text:
            self.machine.respond(command.text)

    def _set_display_text(self, command):
        """Klipper's SET_DISPLAY_TEXT [MSG=<text>]: no MSG clears the message."""
        params = macro_commands.keyword_params(command.text, command.code)
        unknown = set(params) - {"MSG"}
        if unknown:
            raise GcodeError("SET_DISPLAY_TEXT has no parameter %s (it has: MSG)"
                             % ", ".join(sorted(unknown)))
        self.display_status.set_message(params.get("MSG"))


def _renamed(handler, original):
    """``handler`` of command ``original``, called under another name: it
    sees its own name (a text command its text, as it would have)."""
    def run(command):
        if original in _TEXT_CODES:      # the lexer read the new name's text as words
            command.text = _text_after_code(command.raw)
            command.error = None
            command.params = {}
        command.code = original
        handler(command)
    return run


def _text_after_code(raw):
    parts = raw.split(";", 1)[0].strip().split(None, 1)
    return parts[1] if len(parts) > 1 else ""


def _number(key, value):
    try:
        return float(value)
    except ValueError:
        raise GcodeError("%s=%s is not a number" % (key, value)) from None
