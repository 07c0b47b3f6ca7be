# Mendel firmware: the board's heaters and their commands.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Commands that configure and drive the heaters; the control timer's entry.

Closed-loop control and every safety check run here on the board, so they hold
when the host crashes or the cable is pulled. Wire units are integers:
temperatures in degC x100 ("centi"), fractions and gains x1000 ("milli"),
periods in ms. Any fault of any heater shuts the whole board down
(:meth:`Mcu.shutdown`: heaters off, motors released, motion refused).
"""
import link
from thermal.timed import HEATER

TEMPS = link.response("temps", "iiii")
AUTOTUNE = link.response("autotune", "iiiii")

_CENTI = 100.0
_MILLI = 1000.0
_KU_SCALE = 1000000.0


class Heaters:
    """Every heater of the board, updated by the MCU's control timer."""

    def __init__(self, mcu, specs, adc_max, dt_s):
        from thermal.heater import Heater
        self.mcu = mcu
        self.hal = mcu.hal
        self.heaters = [Heater(mcu.hal, spec, adc_max, dt_s) for spec in specs]

    @link.command("config_heater", "isii")
    def cmd_config_heater(self, hid, sensor_name, min_temp, max_temp):
        """Select the sensor type and the MINTEMP/MAXTEMP limits (degC)."""
        try:
            self.heaters[hid].configure(sensor_name.decode(), min_temp, max_temp)
        except KeyError:
            self.mcu.shutdown("unknown sensor type %s" % sensor_name.decode())

    @link.command("config_heater_control", "iiiii")
    def cmd_config_heater_control(self, hid, bang_bang, max_power_milli, pwm_period_ms,
                                  max_delta_centi):
        """Control law (0 PID, 1 bang-bang), max power x1000, PWM period ms, band x100."""
        self.heaters[hid].configure_control(
            bang_bang != 0, min(max(max_power_milli, 0), 1000) / _MILLI,
            pwm_period_ms / _MILLI, max_delta_centi / _CENTI)

    @link.command("config_heater_verify", "iiiii")
    def cmd_config_heater_verify(self, hid, max_error_centi, check_gain_time_ms,
                                 hysteresis_centi, heating_gain_centi):
        """verify_heater (guard.py): max_error (degC*s x100), check_gain_time (ms),
        hysteresis and heating_gain (degC x100)."""
        guard = self.heaters[hid].guard
        guard.max_error = max_error_centi / _CENTI
        guard.check_gain_time = check_gain_time_ms / _MILLI
        guard.hysteresis = hysteresis_centi / _CENTI
        guard.heating_gain = heating_gain_centi / _CENTI

    @link.command("config_heater_stuck", "ii")
    def cmd_config_heater_stuck(self, hid, stuck_rise_centi):
        """Stuck-on check: the rise (degC x100) with the output off that trips."""
        self.heaters[hid].guard.stuck_rise = stuck_rise_centi / _CENTI

    @link.command("set_pid", "iiii")
    def cmd_set_pid(self, hid, kp, ki, kd):
        """Set PID gains, each x1000 (output fraction per degC, per degC*s, per degC/s)."""
        pid = self.heaters[hid].pid
        pid.kp = kp / _MILLI
        pid.ki = ki / _MILLI
        pid.kd = kd / _MILLI

    def _usable(self, heater, target):
        mcu = self.mcu
        if mcu.shutdown_reason is not None:
            return False
        if target > 0.0 and heater.reader is None:
            mcu.shutdown("heater %s used before config_heater" % heater.name)
            return False
        if target > heater.max_temp:
            mcu.shutdown("target %.1f above max_temp of %s" % (target, heater.name))
            return False
        return True

    @link.command("set_heater", "ii")
    def cmd_set_heater(self, hid, target_centi):
        """Set the target temperature (degC x100) now; 0 turns the heater off.
        Changes queued for this heater (``queue_heater``) are dropped."""
        heater = self.heaters[hid]
        if self._usable(heater, target_centi / _CENTI):
            self.mcu.timed.set_now(HEATER, hid, target_centi)

    @link.command("queue_heater", "iii")
    def cmd_queue_heater(self, clock, hid, target_centi):
        """Set the target (degC x100, 0 = off) when the clock reaches ``clock``
        (ticks); at once if it has passed. Shuts down for an unknown heater, a
        target set_heater would refuse, or a full queue (thermal/timed.py)."""
        mcu = self.mcu
        if not 0 <= hid < len(self.heaters):
            mcu.shutdown("queue_heater: no heater %d on this board" % hid)
            return
        if not self._usable(self.heaters[hid], target_centi / _CENTI):
            return
        mcu.timed.queue(mcu, clock, HEATER, hid, target_centi)

    def apply_target(self, hid, target_centi):
        """Set heater ``hid``'s target (degC x100) now: a change whose time has come."""
        if self.mcu.shutdown_reason is None:
            self.heaters[hid].set_target(target_centi / _CENTI)

    @link.command("get_temps", "i")
    def cmd_get_temps(self, hid):
        """Report temperature and target (degC x100) and duty (x1000)."""
        heater = self.heaters[hid]
        self.mcu.link.send(TEMPS, hid, int(heater.temp * _CENTI),
                           int(heater.target * _CENTI), int(heater.duty * _MILLI))

    @link.command("pid_autotune", "iii")
    def cmd_pid_autotune(self, hid, target_centi, cycles):
        """Start the relay autotune at target (degC x100) for ``cycles`` cycles."""
        heater = self.heaters[hid]
        target = target_centi / _CENTI
        if target > 0.0 and self._usable(heater, target):
            heater.start_tune(target, cycles)

    @link.command("get_autotune", "i")
    def cmd_get_autotune(self, hid):
        """Report state (0 running, 1 done, 2 failed, -1 none), cycles, Ku x1e6, Tu ms."""
        tune = self.heaters[hid].tune
        if tune is None:
            self.mcu.link.send(AUTOTUNE, hid, -1, 0, 0, 0)
            return
        self.mcu.link.send(AUTOTUNE, hid, tune.state, tune.done_cycles,
                           int(tune.ku * _KU_SCALE), int(tune.tu * _MILLI))

    def update(self, dt):
        """Sample, check and drive every heater (control timer)."""
        mcu = self.mcu
        for heater in self.heaters:
            if heater.reader is None:
                continue
            reason = heater.update(dt)
            if mcu.shutdown_reason is not None:
                heater.output(0.0)      # shut down: keep reading, never heat
            elif reason is not None:
                mcu.shutdown(reason)

    def active(self):
        """True while any heater has a target or an autotune runs."""
        for heater in self.heaters:
            if heater.target > 0.0 or (heater.tune is not None and heater.tune.running):
                return True
        return False

    def off(self):
        """Turn every heater off now (shutdown and disconnect path)."""
        for heater in self.heaters:
            heater.off()
