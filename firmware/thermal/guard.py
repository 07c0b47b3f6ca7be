# Mendel firmware: heater supervision (heating watch, thermal runaway, stuck on).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks that a heater does what it is told; any failure shuts the board down.

Units: degC, seconds. The model is Marlin's (Configuration_adv.h,
"Thermal Runaway Protection"), with its defaults:

* Heating watch: while the temperature is more than ``increase + hysteresis
  + 1`` below a target it has not reached yet, it must rise by
  ``watch_increase`` within each ``watch_period``. Else: "Heating failed".
  (Marlin arms the watch only when the target is set; we re-arm it whenever
  the temperature falls that far below, so a heater that dies just short of
  its target is caught too.)
  Defaults: hot end 2 degC in 20 s (WATCH_TEMP_PERIOD/INCREASE), bed 2 degC in
  60 s (WATCH_BED_TEMP_PERIOD/INCREASE).
* Thermal runaway: once the temperature has reached the target (within
  ``REACHED_C``: a PID closing in from below under sensor noise may settle a
  hair short of it), it may stay
  more than ``runaway_hysteresis`` below it for at most ``runaway_period``.
  Defaults: hot end 4 degC for 40 s (THERMAL_PROTECTION_HYSTERESIS/PERIOD),
  bed 2 degC for 20 s (THERMAL_PROTECTION_BED_HYSTERESIS/PERIOD). A fan kick
  the heater recovers from within the period does not trip.
* Stuck on (ours; Marlin leaves this to MAXTEMP): while the controller's output
  is 0 the temperature must not rise more than ``stuck_rise`` (default 10 degC)
  above its lowest value since the output went to 0 -- a heater MOSFET that
  failed short heats with the output off.

Klipper's verify_heater (max_error 120 degC*s, check_gain_time 20 s / 60 s bed,
hysteresis 5 degC) integrates the error instead; we keep one model, Marlin's,
because its two numbers are easy to state and to check.
"""
from micropython import const

IDLE = const(0)
HEATING = const(1)     # target set, not reached yet
HOLDING = const(2)     # target reached once: runaway check armed

# (watch_period_s, watch_increase_c, runaway_period_s, runaway_hysteresis_c, stuck_rise_c)
HOTEND_DEFAULTS = (20.0, 2.0, 40.0, 4.0, 10.0)
BED_DEFAULTS = (60.0, 2.0, 20.0, 2.0, 10.0)
_DEG = "\u00b0C"
REACHED_C = 0.5


class Guard:
    """Supervision state of one heater named ``name``. Allocates only on a trip."""

    def __init__(self, name, defaults=HOTEND_DEFAULTS):
        self.name = name
        (self.watch_period, self.watch_increase, self.runaway_period,
         self.runaway_hysteresis, self.stuck_rise) = defaults
        self.state = IDLE
        self.target = 0.0
        self._watch_left = -1.0       # < 0: not watching
        self._watch_temp = 0.0
        self._runaway_left = 0.0
        self._off_min = None          # lowest temperature since the output went to 0

    def set_target(self, target, temp):
        """A new target (degC, 0 = off) was set while the heater reads ``temp``."""
        self.target = target
        self._watch_left = -1.0
        if target <= 0.0:
            self.state = IDLE
            return
        self.state = HEATING
        self._runaway_left = self.runaway_period
        self._arm_watch(temp)

    def _arm_watch(self, temp):
        if temp < self.target - (self.watch_increase + self.runaway_hysteresis + 1.0):
            self._watch_left = self.watch_period
            self._watch_temp = temp + self.watch_increase
        else:
            self._watch_left = -1.0

    def check(self, temp, output, dt):
        """Advance ``dt`` s; returns None or the reason of a trip (words)."""
        reason = self._check_stuck(temp, output)
        if reason is not None or self.state == IDLE:
            return reason
        if self.state == HEATING:
            return self._check_heating(temp, dt)
        if temp >= self.target - self.runaway_hysteresis:
            self._runaway_left = self.runaway_period
            return None
        self._runaway_left -= dt
        if self._runaway_left < 0.0:
            return self._reason("Thermal runaway", temp)
        return None

    def _check_heating(self, temp, dt):
        if temp >= self.target - REACHED_C:
            self.state = HOLDING
            self._watch_left = -1.0
            return None
        if self._watch_left < 0.0:
            self._arm_watch(temp)
            return None
        self._watch_left -= dt
        if self._watch_left < 0.0:
            if temp < self._watch_temp:
                return self._reason("Heating failed", temp)
            self._arm_watch(temp)
        return None

    def _check_stuck(self, temp, output):
        if output > 0.0:
            self._off_min = None
            return None
        if self._off_min is None or temp < self._off_min:
            self._off_min = temp
            return None
        if temp > self._off_min + self.stuck_rise:
            return "Heater %s stuck on: %.1f %s with output off" % (self.name, temp, _DEG)
        return None

    def _reason(self, what, temp):
        return "%s on %s: %.1f %s, target %g %s" % (
            what, self.name, temp, _DEG, round(self.target, 1), _DEG)
