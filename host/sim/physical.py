# Mendel host: the simulated printer's switches and bed, from printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the simulated printer's endstops and probe are, for the sim board.

The simulated board (firmware/hal/simswitch.py) takes each switch as a
linear map from its motors' step counts to a coordinate (mm) and a plane on
which it triggers. This module places them from a printer.cfg:

* The physical frame is the printer's own with every offset zero: an
  endstop closes at ``position_endstop + endstop_offset`` of its axis (a
  delta's at the carriage height of ``position_endstop``, plus the offset),
  and the bed's surface is ``z = height(x, y)`` of ``[sim_plant bed]``.
* At power-on the board's step counts are 0 and each carriage is at its
  ``start_position`` (``[sim_plant stepper_x]``; by default the middle of
  the travel; a delta's, in position_endstop's units, 20 mm below its
  endstop): the host
  does not know it and must home.
* The probe triggers when the nozzle is ``z_offset + z_offset_error`` mm
  above the surface under the probe tip (nozzle + x_offset, y_offset).

Keys (all optional): ``[sim_plant stepper_x]`` endstop_offset (mm),
endstop_repeatability (mm), start_position (mm), motor_reversed (wired the
other way round: ``dir_pin: !`` must undo it); ``[sim_plant probe]``
z_offset_error (mm), repeatability (mm); ``[sim_plant bed]`` tilt_x, tilt_y
(mm/mm), warp_amplitude (mm), warp_period (mm).
"""
import numpy as np

from mendel.planner import kinematics as kinematics_mod

DELTA_START_BELOW = 20.0     # mm: a delta's carriages start this far below their endstops
DEFAULT_REPEATABILITY = 0.002


def _sim_stepper(config, name):
    """``[sim_plant stepper_NAME]`` keys of config stepper ``name`` ("x", "a")."""
    section = config.steppers[name].name
    return dict(getattr(config, "sim_steppers", {}).get(section, {}))


def bed_surface(config):
    """(tilt_x, tilt_y, warp_amplitude, warp_period) of ``[sim_plant bed]``."""
    bed = getattr(config, "sim_bed", None) or {}
    return (float(bed.get("tilt_x", 0.0)), float(bed.get("tilt_y", 0.0)),
            float(bed.get("warp_amplitude", 0.0)), float(bed.get("warp_period", 100.0)))


def start_carriages(config, kinematics=None):
    """Carriage (motor) positions mm of the kinematic motors at power-on,
    config order (x, y, z or a, b, c)."""
    kinematics = kinematics or kinematics_mod.from_config(config)
    names = [n for n in config.steppers if n != "e"]
    if kinematics.is_linear:
        start = []
        for name in names:
            stepper = config.steppers[name]
            middle = (stepper.position_min + stepper.position_max) / 2.0
            start.append(float(_sim_stepper(config, name).get("start_position", middle)))
        return [float(v) for v in kinematics.calc_motor_positions([start])[0]]
    # A delta's start_position is in position_endstop's units: the carriage
    # starts that much below its endstop.
    home = kinematics.calc_motor_positions([kinematics.home_position()])[0]
    starts = []
    for m, name in enumerate(names):
        endstop = config.steppers[name].position_endstop
        start = float(_sim_stepper(config, name).get("start_position",
                                                     endstop - DELTA_START_BELOW))
        starts.append(float(home[m]) - (endstop - start))
    return starts


def switch_specs(config, motor_names):
    """``{endstop name: sim spec}`` for the board file's endstops.

    ``motor_names``: the board's motors in order (a spec's rows index them).
    Raises ValueError when the printer has a probe the simulation cannot
    place (a delta's)."""
    kinematics = kinematics_mod.from_config(config)
    names = [n for n in config.steppers if n != "e"]
    oids = [motor_names.index(config.steppers[n].motor) for n in names]
    spm = [config.steppers[n].steps_per_mm for n in names]
    carriages = start_carriages(config, kinematics)
    specs = {}
    if kinematics.is_linear:
        rows, origin = _xyz_map(kinematics, carriages, oids, spm, len(motor_names))
        for i, name in enumerate(names):
            stepper = config.steppers[name]
            if getattr(stepper, "endstop", None) in (None, "probe"):
                continue                # none, or probe:z_virtual_endstop: the probe is its switch
            sim = _sim_stepper(config, name)
            positive = getattr(stepper, "homing_positive_dir", None)
            if positive is None:
                positive = stepper.position_endstop >= stepper.position_max
            specs[stepper.endstop] = {
                "kind": "endstop", "rows": [rows[i]], "origin": [origin[i]],
                "at": stepper.position_endstop + float(sim.get("endstop_offset", 0.0)),
                "dir": 1 if positive else -1,
                "spread": float(sim.get("endstop_repeatability", DEFAULT_REPEATABILITY))}
        probe = getattr(config, "probe", None)
        if probe is not None:
            sim = dict(getattr(config, "sim_probe", None) or {})
            specs[probe.pin] = {
                "kind": "probe", "rows": rows, "origin": origin,
                "offset": [probe.x_offset, probe.y_offset],
                "trigger": probe.z_offset + float(sim.get("z_offset_error", 0.0)),
                "surface": list(bed_surface(config)),
                "needs_deploy": probe.kind == "bltouch",
                "spread": float(sim.get("repeatability", DEFAULT_REPEATABILITY))}
        return specs
    home = kinematics.calc_motor_positions([kinematics.home_position()])[0]
    for m, name in enumerate(names):
        stepper = config.steppers[name]
        if getattr(stepper, "endstop", None) is None:
            continue
        sim = _sim_stepper(config, name)
        row = [0.0] * len(motor_names)
        row[oids[m]] = 1.0 / spm[m]
        specs[stepper.endstop] = {
            "kind": "endstop", "rows": [row], "origin": [carriages[m]],
            "at": float(home[m]) + float(sim.get("endstop_offset", 0.0)), "dir": 1,
            "spread": float(sim.get("endstop_repeatability", DEFAULT_REPEATABILITY))}
    if getattr(config, "probe", None) is not None:
        raise ValueError("the simulated printer cannot place a probe on a delta yet")
    return specs


def _xyz_map(kinematics, carriages, oids, spm, motors):
    """Rows (mm of x, y, z per step of each board motor) and origin (mm at
    0 steps) of a linear kinematics: xyz = inverse @ motor_mm."""
    inverse = np.linalg.inv(kinematics.matrix)
    rows = []
    for i in range(3):
        row = [0.0] * motors
        for m in range(3):
            row[oids[m]] = float(inverse[i][m]) / spm[m]
        rows.append(row)
    return rows, [float(v) for v in inverse @ np.array(carriages)]


def toolhead_spec(config, motor_names):
    """The board file's "sim_toolhead": the carriage's x, y, z from the
    motors' steps ("rows", "origin", as a switch's) and each axis's
    resonance ("freq" Hz, "damping") from ``[sim_plant toolhead]``.
    ValueError for a ringing delta (not simulated yet)."""
    plant = dict(getattr(config, "sim_toolhead", None) or {})
    freq = [float(plant.get("resonance_freq_x", 0.0)), float(plant.get("resonance_freq_y", 0.0))]
    damping = [float(plant.get("damping_ratio_x", 0.0)), float(plant.get("damping_ratio_y", 0.0))]
    kinematics = kinematics_mod.from_config(config)
    if not kinematics.is_linear:
        if any(freq):
            raise ValueError("[sim_plant toolhead]: the simulated printer rings only on "
                             "cartesian and corexy kinematics yet")
        return {"rows": [[0.0] * len(motor_names)] * 3, "origin": [0.0] * 3,
                "freq": freq, "damping": damping}
    names = [n for n in config.steppers if n != "e"]
    oids = [motor_names.index(config.steppers[n].motor) for n in names]
    spm = [config.steppers[n].steps_per_mm for n in names]
    rows, origin = _xyz_map(kinematics, start_carriages(config, kinematics), oids, spm,
                            len(motor_names))
    return {"rows": rows, "origin": origin, "freq": freq, "damping": damping}


def place_switches(board, config):
    """Add the switches of printer ``config`` to ``board`` (a board file's
    dict, changed in place): endstops the board lacks are added by name."""
    specs = switch_specs(config, [m["name"] for m in board["motors"]])
    for name, stepper in config.steppers.items():
        if name != "e" and _sim_stepper(config, name).get("motor_reversed"):
            for motor in board["motors"]:
                if motor["name"] == stepper.motor:
                    motor["sim_reversed"] = True
    endstops = board.setdefault("endstops", [])
    known = {e["name"]: e for e in endstops}
    for name, spec in specs.items():
        entry = known.get(name)
        if entry is None:
            entry = {"name": name, "pin": "sim_%s_stop" % name}
            endstops.append(entry)
        entry["sim"] = spec
