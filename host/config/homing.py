# Mendel host: homing settings of printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The homing keys of ``[stepper_x]``.. (and delta ``[stepper_a]``..),
``[safe_z_home]`` and ``[homing_override]``, as Klipper's Config_Reference
names them. Units: mm, mm/s.

Stepper keys (read by :func:`stepper_homing`, defaults as Klipper's):
``homing_speed`` (5), ``second_homing_speed`` (homing_speed / 2),
``homing_retract_dist`` (5, >= 0), ``homing_retract_speed`` (homing_speed),
``homing_positive_dir``: when absent it is inferred as Klipper does: False
when position_endstop lies in the lowest quarter of position_min..
position_max, True in the highest quarter, otherwise a config error asking
for it; given True with position_endstop at position_min (or False at
position_max) is an error too. A delta tower's is always True (its endstop
is at the top of its travel).
"""
import dataclasses

from mendel.gcode import macros


@dataclasses.dataclass
class SafeZHome:
    """``[safe_z_home]``: where Z homes (x, y mm), the move there (mm/s), the
    Z hop before homing (mm, mm/s) and whether to go back afterwards."""
    home_xy_position: tuple
    speed: float = 50.0
    z_hop: float = 0.0
    z_hop_speed: float = 15.0
    move_to_previous: bool = False


@dataclasses.dataclass
class HomingOverride:
    """``[homing_override]``: G-code run in place of G28 (``macro``: a
    macros.Macro named ``homing_override``), the ``axes`` whose homing it
    replaces, and ``set_position`` (axis -> mm set before it runs)."""
    macro: "macros.Macro"
    axes: str = "xyz"
    set_position: dict = dataclasses.field(default_factory=dict)


def stepper_homing(sec, position_min, position_max, position_endstop, delta=False,
                   default_speed=5.0):
    """The homing keys of stepper Section ``sec`` as a dict of StepperConfig
    fields (``default_speed``: homing_speed when absent); raises ConfigError."""
    speed = sec.getfloat("homing_speed", default_speed, above=0.0)
    keys = {"homing_speed": speed,
            "second_homing_speed": sec.getfloat("second_homing_speed", speed / 2.0, above=0.0),
            "homing_retract_dist": sec.getfloat("homing_retract_dist", 5.0, minval=0.0),
            "homing_retract_speed": sec.getfloat("homing_retract_speed", speed, above=0.0)}
    keys["homing_positive_dir"] = _positive_dir(sec, position_min, position_max,
                                                position_endstop, delta)
    return keys


def _positive_dir(sec, position_min, position_max, position_endstop, delta):
    if sec.has("homing_positive_dir") or delta:
        positive = sec.getboolean("homing_positive_dir", True)
        if (positive and position_endstop == position_min) or (
                not positive and position_endstop == position_max):
            sec._fail("homing_positive_dir", "%s cannot be right with position_endstop %g at "
                      "position_%s: the carriage would home away from its endstop"
                      % (positive, position_endstop, "min" if positive else "max"))
        return positive
    quarter = (position_max - position_min) / 4.0
    if position_endstop <= position_min + quarter:
        return False
    if position_endstop >= position_max - quarter:
        return True
    sec._fail("homing_positive_dir", "required: position_endstop %g is in the middle of "
              "%g..%g, so the homing direction cannot be inferred; set it to True (endstop "
              "at the high end) or False" % (position_endstop, position_min, position_max))


def safe_z_home(sec):
    """SafeZHome from Section ``sec`` (None: no section)."""
    if sec is None:
        return None
    return SafeZHome(
        home_xy_position=sec.getfloats("home_xy_position", 2),
        speed=sec.getfloat("speed", 50.0, above=0.0),
        z_hop=sec.getfloat("z_hop", 0.0, minval=0.0),
        z_hop_speed=sec.getfloat("z_hop_speed", 15.0, above=0.0),
        move_to_previous=sec.getboolean("move_to_previous", False))


def homing_override(sec, problems):
    """HomingOverride from Section ``sec`` (None: no section); a template
    error adds a Problem to ``problems`` and gives None."""
    if sec is None:
        return None
    axes = sec.get("axes", "xyz").lower()
    if not axes or any(axis not in "xyz" for axis in axes):
        sec._fail("axes", "%r: give the axes the override replaces, letters of xyz" % axes)
    set_position = {axis: sec.getfloat("set_position_" + axis) for axis in "xyz"
                    if sec.has("set_position_" + axis)}
    macro = macros.template_macro(sec, "homing_override", problems)
    if macro is None:
        return None
    return HomingOverride(macro, axes, set_position)
