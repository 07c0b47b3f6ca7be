# Mendel host: the physical simulated printer ([sim_plant bed|probe|STEPPER]).
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the simulated board's printer differs from its printer.cfg.

Only the simulated board uses these sections (a real printer is what it
is); they let tests put switches, probe and bed where the config does not
say, so that homing and probing have something to find. Units: mm.

``[sim_plant bed]``: the bed surface height(x, y) = tilt_x*x + tilt_y*y +
warp_amplitude*sin(2*pi*x/warp_period)*sin(2*pi*y/warp_period); keys
``tilt_x``, ``tilt_y`` (mm per mm), ``warp_amplitude`` (mm), all 0 by
default, ``warp_period`` (mm, > 0; 100) -> ``config.sim_bed``.

``[sim_plant STEPPER]`` (any stepper section name, e.g. ``stepper_x`` or
``stepper_a``): ``endstop_offset`` (where the real switch is relative to
position_endstop, within +-the travel; 0), ``endstop_repeatability``
(spread of the trigger point, 0..1; 0.002), ``start_position`` (where the
carriage is at power-on, within position_min..position_max; default their
middle, for a delta tower position_endstop - 20) -> ``config.sim_steppers[stepper name]``.

``[sim_plant probe]``: ``z_offset_error`` (the real probe triggers at
z_offset + this, -5..5; 0), ``repeatability`` (0..1; 0.002) -> ``config.sim_probe``.

``[sim_plant HEATER]`` (the heater's plant) is read with the heater
(:mod:`mendel.thermal.settings`).
"""
BED_DEFAULTS = {"tilt_x": 0.0, "tilt_y": 0.0, "warp_amplitude": 0.0, "warp_period": 100.0}
DELTA_START_BELOW_ENDSTOP_MM = 20.0   # a delta carriage starts this far below its switch


def bed(sec):
    """``[sim_plant bed]`` Section (or None) -> dict of BED_DEFAULTS' keys."""
    if sec is None:
        return dict(BED_DEFAULTS)
    values = {key: sec.getfloat(key, default) for key, default in BED_DEFAULTS.items()
              if key != "warp_period"}
    values["warp_period"] = sec.getfloat("warp_period", 100.0, above=0.0)
    return values


def stepper(sec, stepper_config, delta):
    """``[sim_plant STEPPER]`` Section (or None) for a StepperConfig -> dict
    with endstop_offset, endstop_repeatability, start_position (mm) and
    motor_reversed (the motor wired the other way round: ``dir_pin: !``
    in printer.cfg must undo it)."""
    if delta:
        start = stepper_config.position_endstop - DELTA_START_BELOW_ENDSTOP_MM
    else:
        start = (stepper_config.position_min + stepper_config.position_max) / 2.0
    if sec is None:
        return {"endstop_offset": 0.0, "endstop_repeatability": 0.002, "start_position": start,
                "motor_reversed": False}
    low, high = stepper_config.position_min, stepper_config.position_max
    travel = high - low
    return {"endstop_offset": sec.getfloat("endstop_offset", 0.0, minval=-travel,
                                           maxval=travel),
            "endstop_repeatability": sec.getfloat("endstop_repeatability", 0.002, minval=0.0,
                                                  maxval=1.0),
            "start_position": sec.getfloat("start_position", start, minval=low, maxval=high),
            "motor_reversed": sec.getboolean("motor_reversed", False)}


def probe(sec):
    """``[sim_plant probe]`` Section (or None) -> dict with z_offset_error and
    repeatability (mm)."""
    if sec is None:
        return {"z_offset_error": 0.0, "repeatability": 0.002}
    return {"z_offset_error": sec.getfloat("z_offset_error", 0.0, minval=-5.0, maxval=5.0),
            "repeatability": sec.getfloat("repeatability", 0.002, minval=0.0, maxval=1.0)}


TOOLHEAD_KEYS = ("resonance_freq_x", "resonance_freq_y", "damping_ratio_x", "damping_ratio_y")


def toolhead(sec):
    """``[sim_plant toolhead]`` Section (or None) -> dict of TOOLHEAD_KEYS:
    each axis's resonance (Hz, 0 = rigid, the default; at most 500) and
    damping ratio (0 <= zeta < 1; 0). The sim board's nozzle rings on its
    carriage with these (firmware/hal/simtoolhead.py)."""
    if sec is None:
        return dict.fromkeys(TOOLHEAD_KEYS, 0.0)
    values = {key: sec.getfloat(key, 0.0, minval=0.0, maxval=500.0)
              for key in TOOLHEAD_KEYS[:2]}
    values.update({key: sec.getfloat(key, 0.0, minval=0.0, below=1.0)
                   for key in TOOLHEAD_KEYS[2:]})
    return values
