# Mendel host: the accelerometer G-code commands.
# SPDX-License-Identifier: GPL-3.0-or-later
"""ACCELEROMETER_QUERY and MEASURE_AXES_NOISE, as Klipper's G-Codes.md names
them, with its reply lines. Units: mm/s^2, s.

* ``ACCELEROMETER_QUERY [CHIP=<name>] [RATE=<Hz>]``: once the moves are
  done, measures :data:`QUERY_S` and answers with the last sample:
  ``accelerometer values (x, y, z): X, Y, Z``. CHIP is the section's name
  after ``adxl345`` (``[adxl345 bed]``: ``CHIP=bed``; the whole section name
  works too); without it, ``[adxl345]``.
* ``MEASURE_AXES_NOISE``: every accelerometer measures :data:`NOISE_S` at
  rest; one line per chip, ``Axes noise for xy-axis accelerometer: X (x),
  Y (y), Z (z)``, each the mean power spectral density, (mm/s^2)^2/Hz
  (:mod:`mendel.accel.noise`). The chip ``[adxl345]`` is the xy one; a named
  chip is named by its NAME.

A machine without ``accelerometers`` (``mendel check``'s) gets the argument
checks only. A printer without ``[adxl345]`` gets an error naming it.
"""
from mendel.accel import AccelError
from mendel.accel.noise import axes_noise
from mendel.config.accel import RATES
from mendel.errors import CommandError
from mendel.gcode.params import Params

QUERY_S = 0.1
NOISE_S = 2.0
DEFAULT_CHIP = "adxl345"


def handlers(interpreter):
    """{command: handler(command)} for ``interpreter``."""
    return {"ACCELEROMETER_QUERY": lambda command: accelerometer_query(interpreter, command),
            "MEASURE_AXES_NOISE": lambda command: measure_axes_noise(interpreter, command)}


def _configured(interpreter, code):
    """The printer's accelerometer configs; CommandError when there are none."""
    found = getattr(interpreter.machine.config, "accelerometers", None) or {}
    if not found:
        raise CommandError("%s: this printer has no accelerometer: add an [adxl345] section "
                           "(cs_pin: the chip select the board file wires it to)" % code)
    return found


def _chip_name(chip):
    chip = chip.strip()
    if chip.lower() == DEFAULT_CHIP:
        return DEFAULT_CHIP
    return chip if chip.startswith(DEFAULT_CHIP + " ") else DEFAULT_CHIP + " " + chip


def _measure(machine, accels, seconds):
    """Start ``accels``, let ``seconds`` of board time pass, stop; the samples of each."""
    machine.wait_moves()
    started = []
    try:
        for accel in accels:
            accel.start()
            started.append(accel)
        machine.dwell(seconds)
        return [accel.stop() for accel in accels]
    except AccelError as exc:
        for accel in started:
            if accel.measuring:
                accel.stop()
        raise CommandError(str(exc)) from None


def accelerometer_query(interpreter, command):
    """ACCELEROMETER_QUERY [CHIP=] [RATE=]."""
    params = Params(command, ("CHIP", "RATE"))
    name = _chip_name(params.get("CHIP", DEFAULT_CHIP))
    rate = params.get_int("RATE", None, minval=1)
    configured = _configured(interpreter, command.code)
    if name not in configured:
        raise CommandError("ACCELEROMETER_QUERY: no accelerometer %r (this printer has: %s)"
                           % (name, ", ".join(sorted(configured))))
    if rate is not None and rate not in RATES:
        raise CommandError("ACCELEROMETER_QUERY: RATE=%d is not an ADXL345 rate (%s)"
                           % (rate, ", ".join(str(r) for r in sorted(RATES))))
    accels = getattr(interpreter.machine, "accelerometers", None)
    if accels is None:
        return
    accel = accels[name]
    saved = accel.config.rate, accel.config.rate_code
    if rate is not None:
        accel.config.rate, accel.config.rate_code = rate, RATES[rate]
    try:
        samples = _measure(interpreter.machine, [accel],
                           max(QUERY_S, 4.0 / accel.config.rate))[0]
    finally:
        accel.config.rate, accel.config.rate_code = saved
    if not len(samples):
        raise CommandError("ACCELEROMETER_QUERY: %s measured no data" % name)
    x, y, z = samples[-1, 1:]
    interpreter.machine.respond("accelerometer values (x, y, z): %.6f, %.6f, %.6f" % (x, y, z))


def measure_axes_noise(interpreter, command):
    """MEASURE_AXES_NOISE: noise of every accelerometer at rest."""
    Params(command)
    _configured(interpreter, command.code)
    accels = getattr(interpreter.machine, "accelerometers", None)
    if accels is None:
        return
    names = sorted(accels)
    results = _measure(interpreter.machine, [accels[n] for n in names], NOISE_S)
    for name, samples in zip(names, results):
        rate = accels[name].config.rate
        try:
            vx, vy, vz = axes_noise(samples, rate)
        except ValueError as exc:
            raise CommandError("MEASURE_AXES_NOISE: %s: %s" % (name, exc)) from None
        label = "xy" if name == DEFAULT_CHIP else name.split(None, 1)[1]
        interpreter.machine.respond("Axes noise for %s-axis accelerometer: %.6f (x), %.6f (y), "
                                    "%.6f (z)" % (label, vx, vy, vz))
