# Mendel host: input shaper and pressure advance commands.
# SPDX-License-Identifier: GPL-3.0-or-later
"""SET_INPUT_SHAPER, SET_PRESSURE_ADVANCE, and the other firmwares' M900/M572.

* ``SET_INPUT_SHAPER [SHAPER_FREQ_X=<Hz>] [SHAPER_FREQ_Y=<Hz>]
  [DAMPING_RATIO_X=] [DAMPING_RATIO_Y=] [SHAPER_TYPE=] [SHAPER_TYPE_X=]
  [SHAPER_TYPE_Y=]`` (Klipper's G-Codes document): changes the given values
  (a frequency of 0 turns that axis's shaping off) and reports both axes as
  ``shaper_type_x:mzv shaper_freq_x:37.000 damping_ratio_x:0.100000``.
* ``SET_PRESSURE_ADVANCE [EXTRUDER=extruder] [ADVANCE=<s>] [SMOOTH_TIME=<s>]``:
  reports ``pressure_advance: 0.050000`` and
  ``pressure_advance_smooth_time: 0.040000``.
* ``M900 K<s>`` (Marlin's linear advance; its K is the same mm of filament
  per mm/s of extrusion) and ``M572 D0 S<s>`` (RepRapFirmware): the advance.

The machine gives ``input_shaper`` ({"x": (type, freq, damping) or None,
...}), ``set_input_shaper(axis, type, freq, damping)``,
``pressure_advance`` ((advance s, smooth_time s)) and
``set_pressure_advance(advance, smooth_time)``; they take effect from the
next move (the moves before are flushed with the old values). Every value
is checked before anything changes.
"""
from mendel.errors import CommandError
from mendel.gcode.params import Params
from mendel.shaping.shapers import DEFAULT_DAMPING_RATIO, SHAPER_TYPES

MAX_SMOOTH_TIME = 0.200     # s, as printer.cfg's pressure_advance_smooth_time


def handlers(interpreter):
    """``{command: handler(command)}`` for ``interpreter``'s table."""
    machine = interpreter.machine

    def respond(text):
        machine.respond(text)
    return {
        "SET_INPUT_SHAPER": lambda command: set_input_shaper(machine, command, respond),
        "SET_PRESSURE_ADVANCE": lambda command: set_pressure_advance(machine, command,
                                                                     respond),
        "M900": lambda command: m900(machine, command),
        "M572": lambda command: m572(machine, command, interpreter.warn),
    }


def _advance_now(machine):
    """(advance s, smooth_time s) the machine has now."""
    current = getattr(machine, "pressure_advance", None)
    return current if isinstance(current, tuple) else (0.0, 0.040)


def _need(machine, name, command):
    method = getattr(machine, name, None)
    if not callable(method):
        raise CommandError("%s: this printer has no %s" % (command.code, name))
    return method


def set_input_shaper(machine, command, respond):
    """SET_INPUT_SHAPER: change the given values, then report both axes."""
    params = Params(command, ("SHAPER_FREQ_X", "SHAPER_FREQ_Y", "DAMPING_RATIO_X",
                              "DAMPING_RATIO_Y", "SHAPER_TYPE", "SHAPER_TYPE_X",
                              "SHAPER_TYPE_Y"))
    setter = _need(machine, "set_input_shaper", command)
    current = getattr(machine, "input_shaper", None)
    current = dict(current) if isinstance(current, dict) else {}
    common = params.get("SHAPER_TYPE")
    changes = []
    for axis in "xy":
        kind, freq, damping = current.get(axis) or ("mzv", 0.0, DEFAULT_DAMPING_RATIO)
        new_kind = (params.get("SHAPER_TYPE_" + axis.upper()) or common or kind).lower()
        if new_kind not in SHAPER_TYPES:
            raise CommandError("SET_INPUT_SHAPER: shaper type %r is not one of %s"
                               % (new_kind, ", ".join(SHAPER_TYPES)))
        new_freq = params.get_float("SHAPER_FREQ_" + axis.upper(), freq, minval=0.0)
        new_damping = params.get_float("DAMPING_RATIO_" + axis.upper(), damping, minval=0.0)
        if new_damping >= 1.0:
            raise CommandError("SET_INPUT_SHAPER: DAMPING_RATIO_%s must be below 1"
                               % axis.upper())
        changes.append((axis, new_kind, new_freq, new_damping))
    for axis, kind, freq, damping in changes:
        try:
            setter(axis, kind, freq, damping)
        except ValueError as exc:
            raise CommandError("SET_INPUT_SHAPER: %s" % exc) from None
    for axis, kind, freq, damping in changes:
        respond("shaper_type_%s:%s shaper_freq_%s:%.3f damping_ratio_%s:%.6f"
                % (axis, kind, axis, freq, axis, damping))


def set_pressure_advance(machine, command, respond):
    """SET_PRESSURE_ADVANCE: change the given values, then report them."""
    params = Params(command, ("EXTRUDER", "ADVANCE", "SMOOTH_TIME"))
    extruder = params.get("EXTRUDER", "extruder")
    if extruder != "extruder":
        raise CommandError("SET_PRESSURE_ADVANCE: EXTRUDER=%s is not an extruder of this "
                           "printer (it has: extruder)" % extruder)
    setter = _need(machine, "set_pressure_advance", command)
    advance, smooth_time = _advance_now(machine)
    advance = params.get_float("ADVANCE", advance, minval=0.0)
    smooth_time = params.get_float("SMOOTH_TIME", smooth_time, minval=0.0,
                                   maxval=MAX_SMOOTH_TIME)
    if smooth_time <= 0.0:
        raise CommandError("SET_PRESSURE_ADVANCE: SMOOTH_TIME must be above 0 s")
    setter(advance, smooth_time)
    respond("pressure_advance: %.6f" % advance)
    respond("pressure_advance_smooth_time: %.6f" % smooth_time)


def _advance_word(command, letter):
    """The value of ``letter`` in a classic M-code (s), checked."""
    value = command.params.get(letter)
    if value is None:
        raise CommandError("%s needs %s<advance> (s)" % (command.code, letter))
    if not value >= 0.0:
        raise CommandError("%s: %s must not be negative" % (command.code, letter))
    return float(value)


def m900(machine, command):
    """M900 K<advance>: Marlin's linear advance factor as pressure advance."""
    advance = _advance_word(command, "K")
    setter = _need(machine, "set_pressure_advance", command)
    setter(advance, _advance_now(machine)[1])


def m572(machine, command, warn):
    """M572 D0 S<advance>: RepRapFirmware's pressure advance of drive 0.
    Another drive is said and ignored: slicers' start code sets every drive
    a profile has (ideaMaker writes D0 and D1)."""
    drive = command.params.get("D", 0.0)
    advance = _advance_word(command, "S")
    if drive != 0:
        warn("M572: D%g is not an extruder drive of this printer (it has D0): ignored" % drive)
        return
    setter = _need(machine, "set_pressure_advance", command)
    setter(advance, _advance_now(machine)[1])
