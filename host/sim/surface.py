# Mendel host: how far the nozzle was from the bed on the first layer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The first layer's height error, from the steps the simulated board took.

Units: ``_mm``, ``_ticks`` (MCU clock), ``_steps``. Purely physical: only the
board's step log, the carriages' power-on positions, the kinematics and the
bed surface of ``[sim_plant bed]`` (mendel.sim.physical) are used, never the
host's idea of where the nozzle is.

1. **Nozzle.** The step log is replayed (mendel.sim.steplog); each kinematic
   motor's carriage is at ``start_mm + steps / steps_per_mm`` and the
   kinematics' forward map gives the nozzle's physical xyz.
2. **Samples.** One sample per extruder step that pushes out new filament:
   a forward step that takes the extruder past every position it had before
   (an unretraction only gives back what a retraction took, so it is not
   one). The nozzle's height above the bed there is ``z - height(x, y)``.
3. **Stretches.** Consecutive samples belong to one extruding stretch unless
   the nozzle moved more than ``BREAK_MM`` in XY or a quarter of the layer
   height in Z between them (a travel, a layer change, a Z hop).
4. **Layers.** A bed mesh makes Z follow the surface along a line, so a
   layer is not one Z. Its *level* is ``z - c * height(x, y)`` where ``c`` is
   how much of the surface Z followed: the least-squares slope of z against
   height within stretches near the bottom of the print (0 without a mesh,
   about 1 with one; a fade makes it smaller). A stretch's level is its
   samples' median.
5. **The first layer.** The *base* is the lowest level at which stretches
   extrude over ``MIN_TRAVEL_MM`` of XY travel within half a layer height:
   the file's lowest printing Z (``lowest_z``, e.g. a purge line's). The
   first layer's level is expected ``layer_height - lowest_z`` above it; its
   centre is the travel-weighted median level of the stretches within half
   a layer height of that, and its stretches are those within a quarter of
   a layer height of the centre. So a purge line at another height, a prime
   blob with no travel and the second layer are not part of it; an error
   spread across the layer wider than that cannot be told from another layer
   (such a first layer has failed anyway).

Delta printers work through the same forward map (their Z moves with XY
anyway); the first layer's level then rests on the same rule.
"""
import json
import math

import numpy as np

from mendel.planner import kinematics as kinematics_mod
from mendel.sim import physical, steplog

BREAK_MM = 2.0            # XY jump between samples that ends a stretch (a travel)
MIN_TRAVEL_MM = 5.0       # "more than a few mm" of extruding XY travel for a layer


def bed_height_mm(surface, x_mm, y_mm):
    """Height (mm) of the bed ``surface`` = (tilt_x, tilt_y, warp_amplitude,
    warp_period) at ``x_mm``, ``y_mm`` (arrays or floats), as in
    mendel.sim.physical."""
    tilt_x, tilt_y, amplitude, period = surface
    return (tilt_x * x_mm + tilt_y * y_mm + amplitude
            * np.sin(2 * math.pi * x_mm / period) * np.sin(2 * math.pi * y_mm / period))


def first_layer_height_error(step_log_path, config, layer_height, lowest_z=None,
                             surface=None, motor_names=None):
    """The nozzle's height above the bed on the first layer, against the
    file's first-layer height.

    ``step_log_path``: the simulated board's step log; ``config``: the
    printer (PrinterConfig) it ran; ``layer_height``: the file's first-layer
    Z (mm, G-code frame: ``mendel check``'s ``first_layer_z``);
    ``lowest_z``: the lowest Z (mm) at which the file lays filament
    (``print_bounds``; default ``layer_height``), e.g. a purge line's;
    ``surface``: (tilt_x, tilt_y, warp_amplitude, warp_period), by default
    the config's ``[sim_plant bed]``; ``motor_names``: the board's motors in
    oid order (default: the config's board file).

    Returns ``{"max": mm, "rms": mm, "mean": mm, "samples": n, "layer_z": mm}``:
    max |h - layer_height|, its rms and signed mean over the samples (see
    the module docstring), ``layer_z`` = ``layer_height``. With no extruding
    stretch at all, ``samples`` is 0 and the errors are None.
    Raises StepLogError (a ValueError) when the log cannot be replayed.
    """
    if surface is None:
        surface = physical.bed_surface(config)
    nozzle_mm = _extruding_samples(step_log_path, config, motor_names)
    height_mm = bed_height_mm(surface, nozzle_mm[:, 0], nozzle_mm[:, 1])
    chosen = first_layer(nozzle_mm, height_mm, layer_height,
                         layer_height if lowest_z is None else lowest_z)
    error_mm = nozzle_mm[chosen, 2] - height_mm[chosen] - layer_height
    result = {"max": None, "rms": None, "mean": None, "samples": int(error_mm.size),
              "layer_z": float(layer_height)}
    if error_mm.size:
        result.update(max=float(np.abs(error_mm).max()),
                      rms=float(np.sqrt(np.mean(error_mm ** 2))), mean=float(error_mm.mean()))
    return result


def _board_motors(config):
    from mendel.sim.board import board_file
    with open(board_file(config.board)) as stream:
        return [motor["name"] for motor in json.load(stream)["motors"]]


def _extruding_samples(path, config, motor_names=None):
    """Nozzle xyz (mm, physical frame), (N, 3), at each extruder step that
    pushes out new filament, in time order."""
    motor_names = motor_names or _board_motors(config)
    motors = steplog.read(path, len(motor_names))
    kinematics = kinematics_mod.from_config(config)
    names = [n for n in config.steppers if n != "e"]
    clocks, positions = motors[motor_names.index(config.steppers["e"].motor)].steps()
    # New filament: the step takes E past its highest earlier position (0 at power-on).
    reached = np.maximum.accumulate(np.concatenate(([0], positions)))[:-1]
    clocks = clocks[positions > reached]
    start_mm = physical.start_carriages(config, kinematics)
    carriage_mm = np.empty((clocks.size, len(names)))
    for m, name in enumerate(names):
        stepper = config.steppers[name]
        steps = motors[motor_names.index(stepper.motor)].positions_at(clocks)
        carriage_mm[:, m] = start_mm[m] + steps / stepper.steps_per_mm
    return np.asarray(kinematics.calc_toolhead_positions(carriage_mm), dtype=float).reshape(-1, 3)


def first_layer(nozzle_mm, height_mm, layer_height, lowest_z):
    """Boolean mask of the samples on the first layer (module docstring):
    ``nozzle_mm`` (N, 3) physical xyz, ``height_mm`` (N,) bed height under
    each, ``layer_height`` and ``lowest_z`` mm (G-code frame)."""
    count = len(nozzle_mm)
    if count == 0:
        return np.zeros(0, dtype=bool)
    step_mm = np.diff(nozzle_mm, axis=0)
    xy_mm = np.hypot(step_mm[:, 0], step_mm[:, 1])
    breaks = (xy_mm > BREAK_MM) | (np.abs(step_mm[:, 2]) > layer_height / 4)
    stretch = np.concatenate(([0], np.cumsum(breaks)))
    travel_mm = np.bincount(stretch[1:], weights=np.where(breaks, 0.0, xy_mm),
                            minlength=stretch[-1] + 1)
    follow = _surface_follow(nozzle_mm[:, 2], height_mm, stretch)
    level_mm = _stretch_medians(nozzle_mm[:, 2] - follow * height_mm, stretch)
    base = _lowest_level(level_mm, travel_mm, layer_height / 2)
    if base is None:
        return np.zeros(count, dtype=bool)
    expected = base + layer_height - lowest_z
    near = np.abs(level_mm - expected) < layer_height / 2
    if not near.any():
        return np.zeros(count, dtype=bool)
    centre = _weighted_median(level_mm[near], travel_mm[near])
    return (np.abs(level_mm - centre) < layer_height / 4)[stretch]


def _weighted_median(values, weights):
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _stretch_medians(values, stretch):
    order = np.argsort(stretch, kind="stable")
    bounds = np.flatnonzero(np.diff(stretch[order])) + 1
    return np.array([np.median(part) for part in np.split(values[order], bounds)])


def _surface_follow(z_mm, height_mm, stretch):
    """How much of the bed's height Z followed within stretches (the
    least-squares slope of z on height, each stretch about its own means),
    from the stretches near the bottom: those whose median z is within the
    bed's height range (plus 1 mm) of the lowest."""
    z_median = _stretch_medians(z_mm, stretch)
    near = z_median <= z_median.min() + np.ptp(height_mm) + 1.0
    keep = near[stretch]
    z, h, s = z_mm[keep], height_mm[keep], stretch[keep]
    counts = np.bincount(s, minlength=stretch[-1] + 1)
    present = np.maximum(counts, 1)
    dz = z - (np.bincount(s, weights=z, minlength=counts.size) / present)[s]
    dh = h - (np.bincount(s, weights=h, minlength=counts.size) / present)[s]
    spread = float(np.dot(dh, dh))
    return float(np.dot(dz, dh)) / spread if spread > 1e-12 else 0.0


def _lowest_level(level_mm, travel_mm, window_mm):
    """The lowest stretch level whose window [level, level + window_mm)
    holds at least MIN_TRAVEL_MM of extruding travel; None if none does."""
    order = np.argsort(level_mm)
    levels, travel = level_mm[order], np.cumsum(travel_mm[order])
    ends = np.searchsorted(levels, levels + window_mm, side="left")
    inside = travel[ends - 1] - np.concatenate(([0.0], travel[:-1]))
    enough = np.flatnonzero(inside >= MIN_TRAVEL_MM)
    return float(levels[enough[0]]) if enough.size else None


def wants_step_log(config):
    """True when ``mendel print`` on the simulated board should keep a step
    log just for this metric: the printer has a ``[sim_plant bed]`` or a
    probe (writing the log costs about a quarter of the print's wall time)."""
    return bool(getattr(config, "sim_bed", None)) or getattr(config, "probe", None) is not None


def print_figures(step_log_path, config, report):
    """``first_layer_height_error_mm`` of a print summary: ``{"max", "rms"}``
    (mm, rounded to 0.1 µm) and ``samples``, from the step log and the
    preflight ``report`` (mendel.machine.check: ``first_layer_z``, ``print_bounds``);
    None without a report or a first layer."""
    if not report or report.get("first_layer_z") is None:
        return None
    error = first_layer_height_error(step_log_path, config, report["first_layer_z"],
                                     report["print_bounds"]["min"][2])
    if not error["samples"]:
        return None
    return {"max": round(error["max"], 7), "rms": round(error["rms"], 7),
            "samples": error["samples"]}
