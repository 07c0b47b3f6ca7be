# Mendel host: Klipper's G-code state and message commands, and macro variables.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Commands of Klipper's gcode_macro and respond modules.

As Klipper's G-Codes document describes them; the first needs macros in
printer.cfg, the others are always there (:func:`handlers`):

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

Parameters are ``KEY=VALUE`` words, shell-quoted when a value has spaces
(``RESPOND MSG="heating done"``); keys are upper-cased. Saved states live in
``interpreter.saved_states`` (NAME -> GcodeState).
"""
import ast
import dataclasses
import shlex

from mendel.errors import CommandError

RESPOND_TYPES = ("echo", "command", "error")
RESPOND_PREFIXES = {"echo": "", "command": "//", "error": "!!"}


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


def keyword_params(text, what):
    """``{KEY: value}`` of shell-quoted ``KEY=VALUE`` words (keys upper-cased);
    ``what`` names the command or macro in a MacroError."""
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise MacroError("%s: cannot read its parameters %r: %s" % (what, text, exc)) from None
    params = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise MacroError("%s: parameter %r is not KEY=VALUE" % (what, word))
        params[key.upper()] = value
    return params


def handlers(interpreter):
    """``{command: handler(command)}`` of the commands that need no macro."""
    def bound(function):
        return lambda command: function(interpreter, keyword_params(command.text, command.code))
    return {name: bound(function) for name, function in BUILT_IN.items()}


def save_gcode_state(interpreter, params):
    """SAVE_GCODE_STATE NAME=name."""
    interpreter.saved_states[params.get("NAME", "default")] = GcodeState(
        interpreter.absolute, interpreter.absolute_e, list(interpreter.base),
        interpreter.logical_e, list(interpreter.position), interpreter.feed,
        interpreter.speed_factor, interpreter.extrude_factor, interpreter.scale,
        list(interpreter.homing_origin))


def restore_gcode_state(interpreter, params):
    """RESTORE_GCODE_STATE NAME=name MOVE=0|1 MOVE_SPEED=mm/s."""
    name = params.get("NAME", "default")
    state = interpreter.saved_states.get(name)
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
    interpreter.rename_e(state.logical_e)
    interpreter.feed, interpreter.scale = state.feed, state.scale
    interpreter.speed_factor = state.speed_factor
    interpreter.extrude_factor = state.extrude_factor


def respond(interpreter, params):
    """RESPOND MSG= PREFIX= TYPE=: show a message (TYPE=error marks it ``!!``)."""
    config = getattr(interpreter.machine, "config", None)
    extras = getattr(config, "gcode_extras", None)          # printer.cfg's [respond]
    kind = params.get("TYPE", extras.respond_type if extras else "echo").lower()
    if kind not in RESPOND_TYPES:
        raise MacroError("RESPOND: TYPE=%s is not echo, command or error" % kind)
    prefix = params.get("PREFIX", extras.default_prefix(kind) if extras
                        else RESPOND_PREFIXES[kind])
    interpreter.machine.respond((prefix + " " if prefix else "") + params.get("MSG", ""))


def _number(params, key, default):
    try:
        return float(params.get(key, default))
    except ValueError:
        raise MacroError("%s=%s is not a number" % (key, params[key])) from None


# Commands of macros: (macros, interpreter, params).
COMMANDS = {"SET_GCODE_VARIABLE": set_gcode_variable}
# Commands of the interpreter: (interpreter, params).
BUILT_IN = {"SAVE_GCODE_STATE": save_gcode_state, "RESTORE_GCODE_STATE": restore_gcode_state,
            "RESPOND": respond}
