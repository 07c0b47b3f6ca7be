# Mendel host: the G-code offset (SET_GCODE_OFFSET, M290) and GET_POSITION.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The G-code offset, kept apart from G92 as Klipper keeps them. Units: mm, mm/s.

The interpreter maps ``machine = logical + base`` for X, Y, Z. Two things
change ``base``:

* ``G92`` sets it so the current position gets the given logical value;
* ``SET_GCODE_OFFSET`` adds its change of offset to it and remembers the
  offset itself in ``homing_origin`` (Klipper's name).

``G28`` sets ``base`` of each homed axis back to ``homing_origin``: a G92
shift ends at homing, the G-code offset stays. M114 reports the logical
(G-code) position, so it shows the offset as a shift of the G-code's Z.

``SET_GCODE_OFFSET [X=|X_ADJUST=] [Y=|Y_ADJUST=] [Z=|Z_ADJUST=] [MOVE=0|1]
[MOVE_SPEED=]``: ``Z=`` sets the offset, ``Z_ADJUST=`` adds to it; with
``MOVE=1`` the toolhead moves by the change at once (at ``MOVE_SPEED``,
else the current feed rate), otherwise the next move of the axis takes it.
``M290 Z<mm>`` (or ``S<mm>``; Marlin's babystep) is
``SET_GCODE_OFFSET Z_ADJUST=<mm> MOVE=1``.

``GET_POSITION`` reports, as Klipper does: ``mcu:`` the board's step
counters (when the machine has a toolhead), ``toolhead:`` the machine
position, ``gcode:`` the G-code position, ``gcode base:`` the offset G92
and SET_GCODE_OFFSET made, ``gcode homing:`` the SET_GCODE_OFFSET offset.
"""
from mendel.errors import CommandError
from mendel.gcode.params import Params

OFFSET_KEYS = ("X", "Y", "Z", "X_ADJUST", "Y_ADJUST", "Z_ADJUST", "MOVE", "MOVE_SPEED")


class OffsetError(CommandError):
    """A SET_GCODE_OFFSET / M290 that cannot be done."""


def handlers(interpreter):
    """{command: handler(command)} of these commands for ``interpreter``."""
    return {"SET_GCODE_OFFSET": lambda command: set_gcode_offset(interpreter, command),
            "M290": lambda command: m290(interpreter, command),
            "GET_POSITION": lambda command: get_position(interpreter, command)}


def set_gcode_offset(interpreter, command):
    params = Params(command, OFFSET_KEYS)
    offsets = {}
    for i, axis in enumerate("XYZ"):
        value = params.get_float(axis)
        adjust = params.get_float(axis + "_ADJUST")
        if value is not None and adjust is not None:
            raise OffsetError("SET_GCODE_OFFSET: give %s= or %s_ADJUST=, not both"
                              % (axis, axis))
        if value is not None:
            offsets[i] = value
        elif adjust is not None:
            offsets[i] = interpreter.homing_origin[i] + adjust
    move = params.get_int("MOVE", 0, minval=0, maxval=1)
    speed = params.get_float("MOVE_SPEED", None, above=0.0)
    apply_offsets(interpreter, offsets, move, speed)


def m290(interpreter, command):
    """M290 Z<mm> (S<mm>): babystep Z by that much now."""
    params = command.params
    for letter in params:
        if letter not in "ZS":
            raise OffsetError("M290 %s: Mendel babysteps Z only (M290 Z<mm>)" % letter)
    adjust = params.get("Z") if params.get("Z") is not None else params.get("S")
    if adjust is None:
        raise OffsetError("M290 needs Z<mm>, the babystep")
    apply_offsets(interpreter, {2: interpreter.homing_origin[2] + adjust}, True, None)


def apply_offsets(interpreter, offsets, move, speed):
    """Set the G-code offset of axes ``offsets`` ({index: mm}); with
    ``move`` the toolhead moves by the change at ``speed`` mm/s (None: the
    feed rate)."""
    target = list(interpreter.position)
    for i, offset in offsets.items():
        delta = offset - interpreter.homing_origin[i]
        target[i] += delta
    if move and target != interpreter.position:
        interpreter.machine.move(target, speed or interpreter.feed * interpreter.speed_factor)
        interpreter.moves += 1
        interpreter.position = target
    for i, offset in offsets.items():
        interpreter.base[i] += offset - interpreter.homing_origin[i]
        interpreter.homing_origin[i] = offset


def get_position(interpreter, command):
    Params(command)
    machine = interpreter.machine
    machine.wait_moves()                # the step counters of every move so far
    respond = machine.respond
    toolhead = getattr(machine, "toolhead", None)
    if toolhead is not None:
        names = [stepper.name for stepper in machine.config.steppers.values()]
        respond("mcu: " + " ".join("%s:%d" % (name, steps) for name, steps
                                   in zip(names, toolhead.motor_positions())))
    # The toolhead's own position: where a bed mesh has taken the nozzle
    # (the machine reports G-code coordinates).
    position = list(toolhead.position if toolhead is not None else machine.position)
    gcode = [interpreter.position[i] - interpreter.base[i] for i in range(3)]
    base = list(interpreter.base) + [interpreter.position[3] - interpreter.logical_e]
    respond("toolhead: " + _xyze(position))
    respond("gcode: " + _xyze(gcode + [interpreter.logical_e]))
    respond("gcode base: " + _xyze(base))
    respond("gcode homing: " + _xyze(list(interpreter.homing_origin) + [0.0]))


def _xyze(values):
    return " ".join("%s:%.6f" % (axis, value) for axis, value in zip("XYZE", values))
