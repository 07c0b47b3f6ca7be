# Mendel firmware: one heater's control period.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sensor, limits, control law and supervision of one heater.

Units: degC, seconds, output as a fraction of full power (0..max_power).

Every control period: sample the sensor (reading.py: open/short range check,
median, IIR), check MINTEMP/MAXTEMP on the median, run the control law (PID or
bang-bang, control.py) or the relay autotune (autotune.py), run the heating
progress / error integral / stuck-on checks (guard.py), and set the PWM duty.
A fault returns its reason in words; the caller shuts the board down.

MINTEMP defaults to 5 degC (a 12 degC workshop is fine; an open or unplugged
thermistor reads far colder), MAXTEMP to 300 degC until ``config_heater``.
"""
from thermal import reading
from thermal.control import BangBang, Pid
from thermal.guard import BED_DEFAULTS, HOTEND_DEFAULTS, Guard
from thermal.sensor import make_sensor

_DEG = "\u00b0C"
DEFAULT_MIN_TEMP_C = 5.0
DEFAULT_MAX_TEMP_C = 300.0
DEFAULT_PWM_PERIOD_S = 0.1


class Heater:
    """One heater named in the board file (``spec``: name, pins, pull-up, kind)."""

    def __init__(self, hal, spec, adc_max, dt_s):
        self.hal = hal
        self.name = spec["name"]
        self.sensor_pin = spec["sensor_pin"]
        self.heater_pin = spec["heater_pin"]
        self.pullup = spec["pullup_ohm"]
        self.adc_max = adc_max
        self.dt_s = dt_s
        self.reader = None
        self.min_temp = DEFAULT_MIN_TEMP_C
        self.max_temp = DEFAULT_MAX_TEMP_C
        self.max_power = 1.0
        self.pwm_period_s = DEFAULT_PWM_PERIOD_S
        self.pid = Pid()
        self.bang = BangBang()
        self.control = self.pid
        bed = spec.get("kind") == "bed"
        self.guard = Guard(self.name, BED_DEFAULTS if bed else HOTEND_DEFAULTS)
        self.tune = None
        self.target = 0.0
        self.temp = 0.0
        self.duty = 0.0

    # -- configuration (commands; may allocate) -------------------------
    def configure(self, sensor_name, min_temp, max_temp):
        """Sensor type and MINTEMP/MAXTEMP (degC); KeyError for an unknown sensor."""
        sensor = make_sensor(sensor_name, self.pullup, self.adc_max)
        self.reader = reading.SensorReader(self.hal, self.sensor_pin, sensor, self.dt_s)
        self.min_temp = min_temp
        self.max_temp = max_temp

    def configure_control(self, bang_bang, max_power, pwm_period_s, max_delta):
        """Control law, heater max power (0..1), PWM period (s), bang-bang band (degC)."""
        self.max_power = max_power
        self.pid.max_power = max_power
        self.bang.max_power = max_power
        self.bang.max_delta = max_delta
        self.control = self.bang if bang_bang else self.pid
        self.control.reset()
        self.pwm_period_s = pwm_period_s
        self.hal.pwm_config(self.heater_pin, pwm_period_s)

    def set_target(self, target):
        """New target (degC, 0 = off); cancels an autotune."""
        self.tune = None
        if target == self.target:
            return
        if target <= 0.0:
            self.control.reset()
        self.target = target
        self.guard.set_target(target, self.temp)

    def start_tune(self, target, cycles):
        """Run the relay autotune at ``target`` degC for ``cycles`` cycles."""
        self.set_target(target)
        from thermal.autotune import RelayTune     # (its code only when tuning)
        self.tune = RelayTune(target, cycles, self.max_power)

    # -- control period (main loop; allocates float results only) -----
    def update(self, dt):
        """One control period of ``dt`` s; returns None or a shutdown reason."""
        kind = self.reader.sample()
        if kind != reading.OK:
            self.output(0.0)
            what = "open" if kind == reading.OPEN else "short"
            return "Thermistor %s on %s" % (what, self.name)
        fast = self.reader.median_c
        if fast > self.max_temp:
            return self._limit("MAXTEMP", fast, "max", self.max_temp)
        if fast < self.min_temp:
            return self._limit("MINTEMP", fast, "min", self.min_temp)
        temp = self.reader.temp_c
        self.temp = temp
        out = self._law(temp, dt)
        self.output(out)
        return self.guard.check(temp, out, self._driven_hard(out), dt,
                                self.tune is None and self.control is self.pid)

    def _driven_hard(self, out):
        # The control law asks for all it may: the PID or bang-bang at
        # max_power, or the relay autotune in its heating half.
        tune = self.tune
        if tune is not None and tune.running:
            return tune.heating
        return out >= self.max_power

    def _law(self, temp, dt):
        tune = self.tune
        if tune is not None:
            out = tune.update(temp, dt)
            if not tune.running:
                self.target = 0.0
                self.guard.set_target(0.0, temp)
            return out
        if self.target <= 0.0:
            return 0.0
        return self.control.update(self.target, temp, dt)

    def _limit(self, what, temp, side, limit):
        self.output(0.0)
        return "%s on %s: %.1f %s, %s %g %s" % (what, self.name, temp, _DEG, side, limit, _DEG)

    def output(self, duty):
        """Drive the heater at ``duty`` (fraction of full power)."""
        self.duty = duty
        self.hal.pwm_write(self.heater_pin, duty)

    def off(self):
        """Target 0 and output 0 now (shutdown and disconnect path)."""
        self.tune = None
        self.target = 0.0
        self.guard.set_target(0.0, self.temp)
        self.control.reset()
        self.output(0.0)
