# Mendel host: the commands that come with G-code macros (Klipper's names).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Commands available to files and macros once printer.cfg has a macro.

As Klipper's G-Codes document describes them:

* ``SET_GCODE_VARIABLE MACRO=<name> VARIABLE=<var> VALUE=<literal>``: change
  a macro's ``variable_<var>`` (VALUE is a Python literal: ``5``, ``"'PLA'"``).
* ``SAVE_GCODE_STATE [NAME=default]``: remember the G-code modes and position
  (G90/G91, M82/M83, G92 offsets, the E position as the G-code names it, F,
  M220/M221 factors, units).
* ``RESTORE_GCODE_STATE [NAME=default] [MOVE=0|1] [MOVE_SPEED=<mm/s>]``: put
  them back; the extruder stays where it is and its G-code E value becomes the
  saved one; with MOVE=1 the toolhead first travels back to the saved X, Y, Z
  (at MOVE_SPEED, else the saved feed rate).
* ``RESPOND [MSG=<text>] [PREFIX=<text>] [TYPE=echo|command|error]``: a message
  to the user.

Each takes ``(macros, interpreter, params)``: the running MacroSet, the
interpreter (its modal state and machine) and the call's upper-cased params.
"""
import ast
import dataclasses

from mendel.errors import CommandError


class MacroError(CommandError):
    """A macro could not run; the message names the macro chain and why."""


@dataclasses.dataclass
class GcodeState:
    """The interpreter's modes and position at SAVE_GCODE_STATE (mm, mm/s)."""
    absolute: bool
    absolute_e: bool
    base: list
    logical_e: float
    position: list
    feed: float
    speed_factor: float
    extrude_factor: float
    scale: float
    homing_origin: list = None      # SET_GCODE_OFFSET's offset (restored with base, as Klipper)


def set_gcode_variable(macros, _interpreter, params):
    """SET_GCODE_VARIABLE MACRO=NAME VARIABLE=var VALUE=literal."""
    for key in ("MACRO", "VARIABLE", "VALUE"):
        if key not in params:
            raise MacroError("SET_GCODE_VARIABLE needs %s=" % key)
    macro = macros.macros.get(params["MACRO"].upper())
    if macro is None:
        raise MacroError("SET_GCODE_VARIABLE: no macro %s" % params["MACRO"])
    variable = params["VARIABLE"].lower()
    if variable not in macro.variables:
        raise MacroError("SET_GCODE_VARIABLE: macro %s has no variable %s (variables: %s)"
                         % (macro.name, variable, ", ".join(sorted(macro.variables)) or "none"))
    try:
        macro.variables[variable] = ast.literal_eval(params["VALUE"])
    except (ValueError, SyntaxError):
        raise MacroError("SET_GCODE_VARIABLE: VALUE=%s is not a Python literal (quote text: "
                         "VALUE=\"'PLA'\")" % params["VALUE"]) from None


def save_gcode_state(macros, interpreter, params):
    """SAVE_GCODE_STATE NAME=name."""
    macros.saved_states[params.get("NAME", "default")] = GcodeState(
        interpreter.absolute, interpreter.absolute_e, list(interpreter.base),
        interpreter.logical_e, list(interpreter.position), interpreter.feed,
        interpreter.speed_factor, interpreter.extrude_factor, interpreter.scale,
        list(interpreter.homing_origin))


def restore_gcode_state(macros, interpreter, params):
    """RESTORE_GCODE_STATE NAME=name MOVE=0|1 MOVE_SPEED=mm/s."""
    name = params.get("NAME", "default")
    state = macros.saved_states.get(name)
    if state is None:
        raise MacroError("RESTORE_GCODE_STATE: no state %r was saved (SAVE_GCODE_STATE "
                         "NAME=%s first)" % (name, name))
    if _number(params, "MOVE", 0.0):
        speed = _number(params, "MOVE_SPEED", state.feed)
        if not speed > 0:
            raise MacroError("RESTORE_GCODE_STATE: MOVE_SPEED must be above 0 mm/s")
        target = state.position[:3] + [interpreter.position[3]]
        if target != interpreter.position:
            interpreter.machine.move(target, speed)
            interpreter.moves += 1
            interpreter.position = target
    interpreter.absolute, interpreter.absolute_e = state.absolute, state.absolute_e
    interpreter.base = list(state.base)
    interpreter.homing_origin = list(state.homing_origin)
    interpreter.logical_e = state.logical_e
    interpreter.feed, interpreter.scale = state.feed, state.scale
    interpreter.speed_factor = state.speed_factor
    interpreter.extrude_factor = state.extrude_factor


def respond(_macros, interpreter, params):
    """RESPOND MSG= PREFIX= TYPE=: show a message (TYPE=error marks it ``!!``)."""
    kind = params.get("TYPE", "echo").lower()
    if kind not in ("echo", "command", "error"):
        raise MacroError("RESPOND: TYPE=%s is not echo, command or error" % kind)
    prefix = params.get("PREFIX", {"echo": "", "command": "//", "error": "!!"}[kind])
    interpreter.machine.respond((prefix + " " if prefix else "") + params.get("MSG", ""))


def _number(params, key, default):
    try:
        return float(params.get(key, default))
    except ValueError:
        raise MacroError("%s=%s is not a number" % (key, params[key])) from None


COMMANDS = {
    "SET_GCODE_VARIABLE": set_gcode_variable,
    "SAVE_GCODE_STATE": save_gcode_state,
    "RESTORE_GCODE_STATE": restore_gcode_state,
    "RESPOND": respond,
}
