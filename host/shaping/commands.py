# Mendel host: TEST_RESONANCES and SHAPER_CALIBRATE.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The G-code commands of ``[resonance_tester]``, as Klipper's G-Codes.md
and Measuring_Resonances.md describe them, with its reply lines.

* ``TEST_RESONANCES AXIS=X|Y [OUTPUT=resonances,raw_data] [NAME=]
  [FREQ_START=] [FREQ_END=] [ACCEL_PER_HZ=] [HZ_PER_SEC=]``: runs the test
  (:mod:`mendel.shaping.resonance`) and writes the measured PSD to
  ``/tmp/resonances_<axis>_<NAME>.csv`` and/or the samples to
  ``/tmp/raw_data_<axis>_<NAME>.csv`` (:mod:`mendel.shaping.csvfiles`).
* ``SHAPER_CALIBRATE [AXIS=X|Y] [NAME=] [MAX_SMOOTHING=]`` (and the test's
  FREQ_*/ACCEL_PER_HZ/HZ_PER_SEC): tests X and Y (or AXIS), fits the
  shapers (:mod:`mendel.shaping.calibrate`), prints each and the
  recommendation, writes ``/tmp/calibration_data_<axis>_<NAME>.csv``, puts
  the recommended shaper into use (``toolhead.set_input_shaper``) and
  stages ``[input_shaper] shaper_type_<axis>``/``shaper_freq_<axis>`` for
  SAVE_CONFIG.

NAME defaults to the date and time (``YYYYmmdd_HHMMSS``). With several
probe points, the spectra measured at them are averaged. A machine without
a toolhead (``mendel check``'s) gets the argument checks only.
"""
import time

import numpy as np

from mendel.errors import CommandError
from mendel.gcode.params import Params, ParamError
from mendel.shaping import calibrate, csvfiles, resonance, shapers, vibration_test

TEST_KEYS = ("FREQ_START", "FREQ_END", "ACCEL_PER_HZ", "HZ_PER_SEC")
MAX_TEST_FREQ_HZ = 300.0
CALIBRATION_FREQ_FACTOR = 1.5   # the fit weighs the PSD up to 1.5 x the test's end frequency
OUTPUTS = ("resonances", "raw_data")
SAVE_LINES = ("The SAVE_CONFIG command will update the printer config file",
              "with these parameters (Mendel reads it back at once: no restart).")


def handlers(interpreter):
    """{command: handler(command)} of these commands for ``interpreter``."""
    return {"TEST_RESONANCES": lambda command: test_resonances(interpreter, command),
            "SHAPER_CALIBRATE": lambda command: shaper_calibrate(interpreter, command)}


def _config(interpreter, code):
    cfg = getattr(interpreter.machine.config, "resonance_tester", None)
    if cfg is None:
        raise CommandError("%s: this printer has no [resonance_tester] section (probe_points, "
                           "accel_chip)" % code)
    return cfg


def _sweep(params, cfg):
    start = params.get_float("FREQ_START", cfg.min_freq, minval=1.0)
    end = params.get_float("FREQ_END", cfg.max_freq, minval=start, maxval=MAX_TEST_FREQ_HZ)
    return vibration_test.sweep(
        start, end, params.get_float("ACCEL_PER_HZ", cfg.accel_per_hz, above=0.0),
        params.get_float("HZ_PER_SEC", cfg.hz_per_sec, above=0.0, maxval=2.0))


def _axis(params, required):
    raw = params.get("AXIS")
    if raw is None:
        if required:
            raise ParamError("%s: AXIS=X or AXIS=Y is required" % params.code)
        return list(resonance.AXES)
    if raw.lower() not in ("x", "y"):
        raise ParamError("%s: AXIS=%s is not X or Y (Mendel tests X and Y)" % (params.code, raw))
    return [raw.lower()]


def _name(params):
    name = params.get("NAME", time.strftime("%Y%m%d_%H%M%S"))
    if not csvfiles.valid_name(name):
        raise ParamError("%s: NAME=%s: use letters, digits, - and _" % (params.code, name))
    return name


def _outputs(params):
    outputs = [word.strip().lower() for word in params.get("OUTPUT", "resonances").split(",")]
    for output in outputs:
        if output not in OUTPUTS:
            raise ParamError("%s: OUTPUT=%s: only resonances and raw_data are supported"
                             % (params.code, output))
    return outputs


def _spectrum(samples_list, name):
    """The Spectrum of the samples of each probe point, averaged."""
    spectra = [calibrate.frequency_response(samples, name) for samples in samples_list]
    if len(spectra) == 1:
        return spectra[0]
    mean = [np.mean([getattr(s, field) for s in spectra], axis=0)
            for field in ("psd_x", "psd_y", "psd_z", "psd_sum")]
    return calibrate.Spectrum(spectra[0].freqs_hz, *mean, name=name)


def _measure(interpreter, cfg, axis, moves):
    machine = interpreter.machine
    try:
        return resonance.measure(machine, cfg, axis, moves, machine.respond)
    finally:
        interpreter.position[:3] = machine.position[:3]


def test_resonances(interpreter, command):
    """TEST_RESONANCES (see the module docstring)."""
    params = Params(command, ("AXIS", "OUTPUT", "NAME") + TEST_KEYS)
    cfg = _config(interpreter, command.code)
    axis = _axis(params, required=True)[0]
    outputs, name, moves = _outputs(params), _name(params), _sweep(params, cfg)
    machine = interpreter.machine
    if getattr(machine, "toolhead", None) is None:
        return
    recorded = _measure(interpreter, cfg, axis, moves)
    if "raw_data" in outputs:
        for i, samples in enumerate(recorded):
            path = csvfiles.filename("raw_data", axis, name if len(recorded) == 1
                                     else "%s_%d" % (name, i))
            csvfiles.write_raw(path, samples)
            machine.respond("Writing raw accelerometer data to %s file" % path)
    if "resonances" in outputs:
        path = csvfiles.filename("resonances", axis, name)
        csvfiles.write_spectrum(path, _spectrum(recorded, path),
                                max_freq_hz=CALIBRATION_FREQ_FACTOR * moves.freq_hz[-1])
        machine.respond("Resonances data written to %s file" % path)


def shaper_calibrate(interpreter, command):
    """SHAPER_CALIBRATE (see the module docstring)."""
    params = Params(command, ("AXIS", "NAME", "MAX_SMOOTHING") + TEST_KEYS)
    cfg = _config(interpreter, command.code)
    axes = _axis(params, required=False)
    name, moves = _name(params), _sweep(params, cfg)
    max_smoothing = params.get_float("MAX_SMOOTHING", cfg.max_smoothing, minval=0.05)
    machine = interpreter.machine
    if getattr(machine, "toolhead", None) is None:
        return
    measured = {}
    for axis in axes:
        if len(axes) > 1:
            machine.respond("Testing axis %s" % axis)
        measured[axis] = _measure(interpreter, cfg, axis, moves)
    max_freq = CALIBRATION_FREQ_FACTOR * moves.freq_hz[-1]
    for axis in axes:
        _fit_and_apply(machine, axis, measured[axis], name, max_smoothing, max_freq)
    for line in SAVE_LINES:
        machine.respond(line)


def _fit_and_apply(machine, axis, recorded, name, max_smoothing, max_freq):
    """Fit, answer, write the calibration data, apply and stage one axis."""
    respond = machine.respond
    respond("Calculating the best input shaper parameters for %s axis" % axis)
    path = csvfiles.filename("calibration_data", axis, name)
    try:
        spectrum = _spectrum(recorded, path).normalized()
        best, fits = calibrate.find_best_shaper(
            spectrum, max_smoothing=max_smoothing, logger=respond,
            scv_mm_s=machine.toolhead.limits.square_corner_velocity, max_freq_hz=max_freq)
    except calibrate.CalibrationError as exc:
        raise CommandError("SHAPER_CALIBRATE: %s axis: %s" % (axis, exc)) from None
    respond("Recommended shaper_type_%s = %s, shaper_freq_%s = %.1f Hz"
            % (axis, best.name, axis, best.freq_hz))
    current = (getattr(machine.toolhead, "input_shaper", None) or {}).get(axis)
    damping = current[2] if current else shapers.DEFAULT_DAMPING_RATIO
    machine.toolhead.set_input_shaper(axis, best.name, round(best.freq_hz, 1), damping)
    machine.pending.set("input_shaper", "shaper_type_" + axis, best.name)
    machine.pending.set("input_shaper", "shaper_freq_" + axis, "%.1f" % best.freq_hz)
    csvfiles.write_spectrum(path, spectrum, fits, max_freq_hz=max_freq)
    respond("Shaper calibration data written to %s file" % path)
