# Mendel firmware: heater supervision (heating progress, error integral, stuck on).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks that a heater does what it is told; any failure shuts the board down.

Units: degC, seconds; the error integral in degC*s.

The model is Klipper's ``verify_heater`` (its keys and defaults: max_error
120 degC*s, check_gain_time 20 s or 60 s for a bed, hysteresis 5 degC,
heating_gain 2 degC), run here on the board every control period:

* Error integral: while the heater is *driven hard* (output at max_power) and
  the reading is more than ``hysteresis`` below its reference, the gap below
  ``reference - hysteresis`` is integrated over time; past ``max_error`` the
  board trips ("Thermal runaway"). A reading back within ``hysteresis`` of the
  reference clears the integral. The reference is the target once it has been
  reached; while approaching it, the highest reading since the approach began.
* Heating progress: while approaching a target (set more than ``hysteresis``
  above the reading), the reading must rise by ``heating_gain`` within each
  ``check_gain_time`` of being driven hard ("Heating failed").
* Falling at full power (ours, PID only): while the PID holds the output at
  max_power, the reading must not fall more than ``hysteresis`` below the
  highest reading since it got there ("Thermal runaway"). A PID saturates
  only when the load is more than the heater can give; whatever load it can
  hold, the reading stops falling once the heater is at full power (0.3 degC
  in a fan kick needing 97 % of a 40 W hot end). A thermistor that falls out
  slowly (half out of its bore) falls on: the error integral, which grows
  with the square of the time, would let the block pass target + 15 degC
  (with a 20 s sensor lag: +16.6 degC; 60 s: +28.9 degC). Not for bang-bang
  heaters or the autotune's relay, whose reading goes on falling for a sensor
  lag after every switch-on.
* Stuck on (ours): while the output is 0 the reading must not rise more than
  ``stuck_rise`` (default 10 degC) above its lowest value since the output
  went to 0 -- a heater MOSFET that failed short heats with the output off.

Two changes from Klipper, each for a case it misses (README "Thermal safety"):

* The integral runs while approaching too, against the best reading so far: a
  heater heating at full power must not lose ground. Klipper checks only the
  heating gain then, so a thermistor that falls out a few degC short of the
  target leaves the heater at full power for check_gain_time (20 s, about
  +55 degC on a 40 W hot end).
* Both checks count only while the output is at max_power. A reading below
  target while the controller holds back (a PID recovering from a fan kick at
  97 % of the heater's power) is the controller's choice, not a fault; every
  fault (heater dead, thermistor out of the block, a load the heater cannot
  hold) saturates the controller within a second or two. In that fan kick
  (40 W hot end, default gains) the integral reaches 57.5 of its 120 degC*s
  when counted always, 2.8 when counted at full power only.

The integral is continuous (Klipper adds the gap once a second: the same
degC*s).
"""
from micropython import const

IDLE = const(0)
APPROACHING = const(1)   # target set above the reading, not reached yet
HOLDING = const(2)       # within hysteresis of the target once

# (max_error_cs, check_gain_time_s, hysteresis_c, heating_gain_c, stuck_rise_c)
HOTEND_DEFAULTS = (120.0, 20.0, 5.0, 2.0, 10.0)
BED_DEFAULTS = (120.0, 60.0, 5.0, 2.0, 10.0)
_DEG = "\u00b0C"


class Guard:
    """Supervision state of one heater named ``name``. Allocates only on a trip."""

    def __init__(self, name, defaults=HOTEND_DEFAULTS):
        self.name = name
        (self.max_error, self.check_gain_time, self.hysteresis,
         self.heating_gain, self.stuck_rise) = defaults
        self.state = IDLE
        self.target = 0.0
        self.error = 0.0              # degC*s below reference - hysteresis
        self._best = 0.0              # highest reading while approaching
        self._goal = 0.0              # reading the approach must reach next
        self._gain_left = 0.0         # s driven hard left to reach _goal
        self._off_min = None          # lowest temperature since the output went to 0
        self._hard_peak = None        # highest reading since the PID saturated

    def set_target(self, target, temp):
        """A new target (degC, 0 = off) was set while the heater reads ``temp``."""
        self.target = target
        self.error = 0.0
        self._hard_peak = None
        if target <= 0.0:
            self.state = IDLE
        elif temp < target - self.hysteresis:
            self.state = APPROACHING
            self._best = temp
            self._next_goal(temp)
        else:
            self.state = HOLDING

    def _next_goal(self, temp):
        self._goal = temp + self.heating_gain
        self._gain_left = self.check_gain_time

    def check(self, temp, output, hard, dt, pid=False):
        """Advance ``dt`` s with reading ``temp``, output fraction ``output``;
        ``hard``: the output is at max_power; ``pid``: a PID is driving it
        (the falling check). Returns None or a trip reason."""
        reason = self._check_stuck(temp, output)
        if reason is not None or self.state == IDLE:
            self._hard_peak = None
            return reason
        reason = self._check_fall(temp, hard and pid)
        if reason is not None:
            return reason
        if self.state == APPROACHING:
            reason = self._check_approach(temp, hard, dt)
            if reason is not None:
                return reason
            reference = self._best if self.state == APPROACHING else self.target
        else:
            reference = self.target
        floor = reference - self.hysteresis
        if temp >= floor:
            self.error = 0.0
        elif hard:
            self.error += (floor - temp) * dt
            if self.error > self.max_error:
                return self._reason("Thermal runaway", temp)
        return None

    def _check_approach(self, temp, hard, dt):
        if temp >= self.target - self.hysteresis:
            self.state = HOLDING
            return None
        if temp > self._best:
            self._best = temp
        if temp >= self._goal:
            self._next_goal(temp)
        elif hard:
            self._gain_left -= dt
            if self._gain_left < 0.0:
                return self._reason("Heating failed", temp)
        return None

    def _check_fall(self, temp, saturated):
        peak = self._hard_peak
        if not saturated:
            self._hard_peak = None
        elif peak is None or temp > peak:
            self._hard_peak = temp
        elif temp < peak - self.hysteresis:
            return self._reason("Thermal runaway", temp)
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
