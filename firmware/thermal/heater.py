# Mendel firmware: heater control and its safety limits.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Closed-loop heaters run on the board, so they hold when the host is gone.

Each heater samples its sensor every control period, runs a PID loop (derivative
on measurement so a target change gives no kick; the integral term is clamped
only while the output is not saturated, so it cannot wind up) and sets
its PWM duty. A reading outside [min_temp, max_temp] while the heater is
configured shuts the board down: that is how an open or shorted thermistor
shows (see sensor.py).
"""
import link
from thermal.sensor import BetaThermistor

TEMPS = link.response("temps", "iiii")

# Fixed-point scale of temperatures and gains on the wire.
_CENTI = 100.0
_MILLI = 1000.0


class Heater:
    """One heater: sensor, PID state and output. Allocates nothing per update."""

    def __init__(self, spec, adc_max):
        self.name = spec["name"]
        self.sensor_pin = spec["sensor_pin"]
        self.heater_pin = spec["heater_pin"]
        self.pullup = spec["pullup_ohm"]
        self.adc_max = adc_max
        self.sensor = None
        self.min_temp = 0.0
        self.max_temp = 0.0
        self.kp = self.ki = self.kd = 0.0
        self.target = 0.0
        self.temp = 0.0
        self.duty = 0.0
        self._integral = 0.0
        self._last_temp = None

    def configure(self, sensor_name, min_temp, max_temp):
        self.sensor = BetaThermistor(sensor_name, self.pullup, self.adc_max)
        self.min_temp = min_temp
        self.max_temp = max_temp

    def control(self, temp, dt):
        """PID output in [0, 1] for measured ``temp`` (degC) over ``dt`` s."""
        if self.target <= 0.0:
            self._integral = 0.0
            self._last_temp = temp
            return 0.0
        error = self.target - temp
        last = self._last_temp if self._last_temp is not None else temp
        derivative = (temp - last) / dt
        self._last_temp = temp
        proportional = self.kp * error - self.kd * derivative
        integral = self._integral + self.ki * error * dt
        out = proportional + integral
        # Conditional integration: while the output saturates, the integral
        # keeps its value instead of winding up (classic anti-windup).
        if not ((out > 1.0 and error > 0.0) or (out < 0.0 and error < 0.0)):
            self._integral = min(max(integral, 0.0), 1.0)
        return min(max(proportional + self._integral, 0.0), 1.0)


class Heaters:
    """Every heater of the board, updated by the MCU's control timer."""

    def __init__(self, mcu, specs, adc_max):
        self.mcu = mcu
        self.hal = mcu.hal
        self.heaters = [Heater(spec, adc_max) for spec in specs]

    @link.command("config_heater", "isii")
    def cmd_config_heater(self, hid, sensor_name, min_temp, max_temp):
        """Select the sensor type and the MINTEMP/MAXTEMP limits (degC)."""
        try:
            self.heaters[hid].configure(sensor_name.decode(), min_temp, max_temp)
        except KeyError:
            self.mcu.shutdown("unknown sensor type %s" % sensor_name)

    @link.command("set_pid", "iiii")
    def cmd_set_pid(self, hid, kp, ki, kd):
        """Set PID gains, each x1000 (output fraction per degC, per degC*s, per degC/s)."""
        heater = self.heaters[hid]
        heater.kp = kp / _MILLI
        heater.ki = ki / _MILLI
        heater.kd = kd / _MILLI

    @link.command("set_heater", "ii")
    def cmd_set_heater(self, hid, target_centi):
        """Set the target temperature (degC x100); 0 turns the heater off."""
        heater = self.heaters[hid]
        target = target_centi / _CENTI
        if target > 0.0 and heater.sensor is None:
            self.mcu.shutdown("heater %s used before config_heater" % heater.name)
            return
        if target > heater.max_temp and target > 0.0:
            self.mcu.shutdown("target %.1f above max_temp of %s" % (target, heater.name))
            return
        if self.mcu.shutdown_reason is None:
            heater.target = target

    @link.command("get_temps", "i")
    def cmd_get_temps(self, hid):
        """Report temperature and target (degC x100) and duty (x1000)."""
        heater = self.heaters[hid]
        self.mcu.link.send(TEMPS, hid, int(heater.temp * _CENTI),
                           int(heater.target * _CENTI), int(heater.duty * _MILLI))

    def update(self, dt):
        """Sample, check limits and drive every heater (control timer)."""
        hal = self.hal
        for heater in self.heaters:
            if heater.sensor is None:
                continue
            temp = heater.sensor.temperature(hal.adc_read(heater.sensor_pin))
            heater.temp = temp
            if temp < heater.min_temp or temp > heater.max_temp:
                self.mcu.shutdown("%s temperature %.1f outside %d..%d C"
                                  % (heater.name, temp, heater.min_temp, heater.max_temp))
                return
            heater.duty = heater.control(temp, dt)
            hal.pwm_write(heater.heater_pin, heater.duty)

    def active(self):
        """True while any heater has a target."""
        for heater in self.heaters:
            if heater.target > 0.0:
                return True
        return False

    def off(self):
        """Turn every heater off now (shutdown and disconnect path)."""
        for heater in self.heaters:
            heater.target = 0.0
            heater.duty = 0.0
            self.hal.pwm_write(heater.heater_pin, 0.0)
