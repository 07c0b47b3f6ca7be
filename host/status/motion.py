# Mendel host: the toolhead and gcode_move printer objects.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``toolhead`` and ``gcode_move`` with Klipper's fields (Status_Reference.md).

Units: mm, mm/s, mm/s^2; ``print_time`` and ``estimated_print_time`` s on
the board's clock. Positions are :data:`Coord` (x, y, z, e): a template reads
``position.x``, JSON gives ``[x, y, z, e]``.

``toolhead``: position (machine coordinates, the last commanded), extruder
("extruder"), homed_axes ("xyz" after G28, until M84), axis_minimum,
axis_maximum, max_velocity, max_accel, minimum_cruise_ratio,
square_corner_velocity (in effect: M204/SET_VELOCITY_LIMIT may have lowered
them), print_time (where the planned motion ends), estimated_print_time (the
board clock now).

``gcode_move``: gcode_position (as the G-code names it: machine minus
offsets, E as the file counts it), position (machine), homing_origin (the
SET_GCODE_OFFSET offset of X, Y, Z; E 0), speed (mm/s of the last G1 F),
speed_factor (M220), extrude_factor (M221), absolute_coordinates (G90),
absolute_extrude (M82), axis_map (letter -> index).
"""
import collections

Coord = collections.namedtuple("Coord", "x y z e")
AXIS_MAP = {"x": 0, "y": 1, "z": 2, "e": 3}    # G-code letter -> index in a Coord


def objects(sources):
    return {"toolhead": lambda t: toolhead(sources, t),
            "gcode_move": lambda _t: gcode_move(sources.interpreter)}


def toolhead(sources, eventtime):
    """The ``toolhead`` status (see the module docstring)."""
    interpreter, config = sources.interpreter, sources.config
    values = {
        "position": Coord(*interpreter.position),
        "homed_axes": "".join(a for a in "xyz" if a in interpreter.homed_axes),
        "extruder": "extruder",
    }
    if config is None:
        return values
    low, high = axis_range(config)
    values.update(axis_minimum=Coord(*low, 0.0), axis_maximum=Coord(*high, 0.0))
    head = getattr(sources.machine, "toolhead", None)
    limits = getattr(head, "limits", None) or config
    values.update(max_velocity=limits.max_velocity, max_accel=limits.max_accel,
                  minimum_cruise_ratio=limits.minimum_cruise_ratio,
                  square_corner_velocity=limits.square_corner_velocity)
    if head is not None and hasattr(head, "print_time"):
        values["print_time"] = head.print_time
        board_now = board_time(head.mcu)
        if board_now is not None:
            values["estimated_print_time"] = board_now
    return values


def board_time(mcu):
    """The board clock now (s), without asking the board (safe from any
    thread); None before the board's clock is known."""
    estimate = getattr(mcu, "clock_estimate", None)
    if estimate is None:
        return None
    clock = estimate()
    return None if clock is None else clock / mcu.clock_freq


def gcode_move(interpreter):
    """The ``gcode_move`` status (see the module docstring)."""
    position = list(interpreter.position)
    base = list(interpreter.base)
    return {
        "gcode_position": Coord(position[0] - base[0], position[1] - base[1],
                                position[2] - base[2], interpreter.logical_e),
        "position": Coord(*position),
        "homing_origin": Coord(*getattr(interpreter, "homing_origin", base), 0.0),
        "speed": interpreter.feed,
        "speed_factor": interpreter.speed_factor,
        "extrude_factor": interpreter.extrude_factor,
        "absolute_coordinates": interpreter.absolute,
        "absolute_extrude": interpreter.absolute_e,
        "axis_map": dict(AXIS_MAP),
    }


def axis_range(config):
    """Lowest and highest X, Y, Z (mm): the steppers' ranges, or for a delta the
    print radius and the Z from minimum_z_position to the lowest endstop."""
    steppers = config.steppers
    if all(axis in steppers for axis in "xyz"):
        return ([steppers[a].position_min for a in "xyz"],
                [steppers[a].position_max for a in "xyz"])
    params = config.kinematics_params
    radius = params["print_radius"]
    top = min(s.position_endstop for name, s in steppers.items() if name != "e")
    return [-radius, -radius, params["minimum_z_position"]], [radius, radius, top]
