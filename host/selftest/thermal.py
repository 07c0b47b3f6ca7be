# Mendel host: selftest checks of the thermistors and heaters.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Thermistor plausibility and heater response, within safety limits.

Suffixes: ``_c`` degC, ``_s`` seconds of board time, ``_c_s`` degC per s.

The board's own protection (min/max temperature, heating verification,
thermal runaway) stays on throughout: the host configured it before any
check ran. A check that trips it fails with the board's reason.
"""
from mendel.selftest.checks import Result
from mendel.thermal.heaters import HEATERS

# A bench at room temperature: every thermistor reads in this range, the
# readings of one heater spread by at most NOISE_C, and the heaters agree
# within AGREE_C (both sit at the same ambient before any heating).
AMBIENT_MIN_C = 5.0
AMBIENT_MAX_C = 40.0
NOISE_C = 2.0
AGREE_C = 5.0
READINGS = 5
READ_EVERY_S = 0.2
# Heater response: a rise of RISE_C over the reading at the start, within a
# timeout by kind (a 40 W hotend rises 10 C in seconds, a bed in a minute or
# two); more than OVERSHOOT_C above the target switches it off and fails.
RISE_C = 10.0
REACHED_WITHIN_C = 1.0
OVERSHOOT_C = 15.0
TIMEOUT_S = {"extruder": 60.0, "heater_bed": 240.0}
POLL_S = 0.5


def _wait(mcu, seconds):
    mcu.wait_until(mcu.estimated_clock() + int(seconds * mcu.clock_freq))


def thermistors(bench):
    """Both thermistors read ambient, steadily and alike, with heaters off."""
    heaters = bench.printer.heaters
    series = {name: [] for name in HEATERS}
    for _ in range(READINGS):
        for name, temp in heaters.poll().items():
            series[name].append(round(temp, 2))
        _wait(bench.mcu, READ_EVERY_S)
    figures = {"readings_c": series, "ambient_range_c": [AMBIENT_MIN_C, AMBIENT_MAX_C]}
    problems = []
    for name, temps in series.items():
        if not all(AMBIENT_MIN_C <= t <= AMBIENT_MAX_C for t in temps):
            problems.append("%s reads %s C, not a room's %g..%g C (open or shorted "
                            "thermistor, wrong sensor_type or pull-up?)"
                            % (name, temps, AMBIENT_MIN_C, AMBIENT_MAX_C))
        elif max(temps) - min(temps) > NOISE_C:
            problems.append("%s wanders %.1f C at rest (limit %g C)"
                            % (name, max(temps) - min(temps), NOISE_C))
    means = {name: sum(t) / len(t) for name, t in series.items()}
    if not problems and max(means.values()) - min(means.values()) > AGREE_C:
        problems.append("the heaters disagree at rest: %s" % ", ".join(
            "%s %.1f C" % item for item in means.items()))
    if problems:
        return Result("thermistors", False, "; ".join(problems), figures)
    return Result("thermistors", True, ", ".join("%s %.1f C" % item for item in means.items())
                  + " at rest", figures)


def heaters(bench):
    """Heat each heater in turn RISE_C above where it starts, off after."""
    figures, problems = {}, []
    for name in HEATERS:
        try:
            figures[name] = _heat(bench, name)
        finally:
            bench.printer.heaters.set_target(name, 0.0)
        off = _off_duty(bench, name)
        figures[name]["duty_after_off"] = off
        if figures[name]["problem"]:
            problems.append(figures[name]["problem"])
        elif off:
            problems.append("%s still drives %.0f%% power after it was switched off"
                            % (name, 100 * off))
    if problems:
        return Result("heaters", False, "; ".join(problems), figures)
    return Result("heaters", True, "; ".join(
        "%s +%g C in %.1f s (%.2f C/s), off after" % (name, RISE_C, f["reached_s"],
                                                      f["rate_c_s"])
        for name, f in figures.items()), figures)


def _heat(bench, name):
    """One heater's response: figures, ``problem`` None when it passed."""
    mcu, heaters = bench.mcu, bench.printer.heaters
    start_c = heaters.poll()[name]
    target_c = round(start_c + RISE_C, 1)
    timeout_s = TIMEOUT_S.get(name, max(TIMEOUT_S.values()))
    heaters.set_target(name, target_c)
    begin = mcu.estimated_clock()
    elapsed_s, temp, peak = 0.0, start_c, start_c
    while elapsed_s < timeout_s:
        _wait(mcu, POLL_S)
        temp = heaters.poll()[name]
        peak = max(peak, temp)
        elapsed_s = (mcu.estimated_clock() - begin) / mcu.clock_freq
        if temp > target_c + OVERSHOOT_C:
            heaters.set_target(name, 0.0)
            return _figures(start_c, target_c, None, peak, timeout_s,
                            "%s overshot to %.1f C (target %.1f C): switched off"
                            % (name, temp, target_c))
        if temp >= target_c - REACHED_WITHIN_C:
            return _figures(start_c, target_c, elapsed_s, peak, timeout_s, None)
    return _figures(start_c, target_c, None, peak, timeout_s,
                    "%s rose from %.1f to %.1f C in %.0f s, not to %.1f C (heater, wiring "
                    "or heater_pin?)" % (name, start_c, temp, timeout_s, target_c))


def _figures(start_c, target_c, reached_s, peak_c, timeout_s, problem):
    rate = (target_c - REACHED_WITHIN_C - start_c) / reached_s if reached_s else 0.0
    return {"start_c": round(start_c, 2), "target_c": target_c, "reached_s": reached_s,
            "rate_c_s": rate, "peak_c": round(peak_c, 2), "timeout_s": timeout_s,
            "problem": problem}


def _off_duty(bench, name):
    """The heater's power (0..1) once the board has applied the switch-off."""
    _wait(bench.mcu, POLL_S)
    bench.printer.heaters.poll()
    return bench.printer.heaters.readings[name][2]
