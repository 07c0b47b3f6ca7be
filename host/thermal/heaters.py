# Mendel host: the printer's heaters as the host drives them.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Configure the board's heaters, set targets, wait for them, autotune them.

Units: degC, seconds; the wire uses degC x100, fractions x1000, ms (see
firmware/thermal/heaters.py). Control and every safety check run on the board;
the host only configures, sets targets, waits and reports.

Waiting follows Marlin's M109/M190 (Marlin G-code reference; Configuration.h
TEMP_RESIDENCY_TIME 10 s, TEMP_WINDOW 1 degC, TEMP_HYSTERESIS 3 degC, and the
same for the bed): ``S`` waits only when heating, ``R`` waits for heating or
cooling; the heater is "at temperature" once it has stayed within
``TEMP_HYSTERESIS`` of the target for ``TEMP_RESIDENCY_S`` after first coming
within ``TEMP_WINDOW`` of it.
"""
from mendel.errors import CommandError
from mendel.thermal import autotune

HEATERS = ("extruder", "heater_bed")
TEMP_WINDOW = 1.0
TEMP_HYSTERESIS = 3.0
TEMP_RESIDENCY_S = 10.0
WAIT_STEP_S = 0.5
TUNE_POLL_S = 2.0
MILLI = 1000.0
CENTI = 100.0


class TemperatureError(CommandError):
    """A temperature request the printer refuses (out of range, unknown heater)."""


def check_target(config, name, temp):
    """TemperatureError unless heater ``name`` of printer ``config`` exists and
    ``temp`` is 0 (off) or within its min_temp..max_temp (degC)."""
    if name not in config.heaters:
        raise TemperatureError("no heater %r on this printer (%s)"
                               % (name, ", ".join(sorted(config.heaters))))
    heater = config.heaters[name]
    if temp and not heater.min_temp < temp <= heater.max_temp:
        raise TemperatureError("%s target %.1f C outside min_temp..max_temp %.1f..%.1f C"
                               % (name, temp, heater.min_temp, heater.max_temp))


class HostHeaters:
    """The heaters of one printer on a connected board (``mcu``: host Mcu)."""

    def __init__(self, config, mcu, outputs=None):
        self.config = config
        self.mcu = mcu
        self.outputs = outputs       # mendel.mcu.timed.TimedOutputs, or None
        self.ids = {name: mcu.info["heaters"].index(h.name)
                    for name, h in config.heaters.items()}
        self.peaks = {name: None for name in HEATERS}
        self.latest = {}             # last reading of each heater, degC
        self.readings = {}           # last (temp degC, target degC, duty 0..1) of each
        self.on_poll = None          # called with ``readings`` after every poll

    def configure(self):
        """Send sensor, limits, control law, gains and supervision of every heater."""
        mcu = self.mcu
        for name, heater in self.config.heaters.items():
            hid = self.ids[name]
            mcu.send("config_heater", hid, heater.sensor_type.encode(),
                     int(heater.min_temp), int(heater.max_temp))
            self.set_gains(name, heater.pid_kp, heater.pid_ki, heater.pid_kd)
            if "set_max_duration" in mcu.commands:
                mcu.send("set_max_duration", hid, round(heater.host_timeout * MILLI))
            if "config_heater_control" in mcu.commands:
                mcu.send("config_heater_control", hid, int(heater.control == "watermark"),
                         round(heater.max_power * MILLI), round(heater.pwm_cycle_time * MILLI),
                         round(heater.max_delta * CENTI))
                guard = heater.guard
                mcu.send("config_heater_verify", hid, round(guard["max_error"] * CENTI),
                         round(guard["check_gain_time"] * MILLI),
                         round(guard["hysteresis"] * CENTI),
                         round(guard["heating_gain"] * CENTI))
                mcu.send("config_heater_stuck", hid, round(guard["stuck_rise"] * CENTI))

    def set_gains(self, name, kp, ki, kd):
        """PID gains in Klipper units (output 0..255) to the board (x1000 fraction)."""
        self.mcu.send("set_pid", self.ids[name],
                      *(round(g / autotune.PID_PARAM_BASE * MILLI) for g in (kp, ki, kd)))

    def set_target(self, name, temp, clock=None):
        """Set heater ``name``'s target (degC, 0 = off); TemperatureError if out of range.

        With ``clock`` (ticks) the board sets it when its clock gets there
        (``queue_heater``; at once on a board without it); without, it sets
        it now and drops the changes it still holds for that heater.
        """
        check_target(self.config, name, temp)
        centi = round(max(temp, 0.0) * CENTI)
        if clock is not None and self.outputs is not None and self.outputs.supported:
            self.outputs.send("queue_heater", clock, self.ids[name], centi)
            return
        self.mcu.send("set_heater", self.ids[name], centi)
        self.mcu.flush()

    def wait(self, name, target, cooling_too=False):
        """Return once ``name`` is at ``target`` (see the module doc for the rule)."""
        mcu = self.mcu
        step = int(WAIT_STEP_S * mcu.clock_freq)
        settled_since = None
        while True:
            temp = self.poll()[name]
            if not cooling_too and temp > target:
                return                              # S: no wait for cooling
            now = mcu.estimated_clock()
            if abs(temp - target) <= TEMP_WINDOW and settled_since is None:
                settled_since = now
            elif settled_since is not None and abs(temp - target) > TEMP_HYSTERESIS:
                settled_since = None
            if (settled_since is not None
                    and now - settled_since >= TEMP_RESIDENCY_S * mcu.clock_freq):
                return
            mcu.wait_until(now + step)

    def wait_range(self, name, minimum=None, maximum=None):
        """Return once ``name`` reads within ``minimum``..``maximum`` degC
        (None: no bound), polled every WAIT_STEP_S; Klipper's
        TEMPERATURE_WAIT, which has no residency time."""
        mcu = self.mcu
        step = int(WAIT_STEP_S * mcu.clock_freq)
        while True:
            temp = self.poll()[name]
            if (minimum is None or temp >= minimum) and (maximum is None or temp <= maximum):
                return
            mcu.wait_until(mcu.estimated_clock() + step)

    def poll(self):
        """Read every heater's temperature (degC), keep the peaks; returns them."""
        temps = {}
        for name in HEATERS:
            reading = self.mcu.temperature(self.ids[name])
            self.readings[name] = reading
            temps[name] = temp = reading[0]
            if self.peaks[name] is None or temp > self.peaks[name]:
                self.peaks[name] = temp
        self.latest = temps
        if self.on_poll is not None:
            self.on_poll(self.readings)
        return temps

    def autotune(self, name, target, cycles=8, rule=autotune.DEFAULT_RULE, apply=True):
        """Relay autotune of ``name`` at ``target`` degC; returns a TuneResult.

        Raises AutotuneError if the board reports a failed experiment, and
        McuShutdown if a safety check trips meanwhile. With ``apply`` the new
        gains are sent to the board for this session.
        """
        if cycles < 3:
            raise autotune.AutotuneError("autotune needs at least 3 cycles, not %d" % cycles)
        if not target > 0:
            raise TemperatureError("autotune needs a target above 0 C")
        check_target(self.config, name, target)
        self.set_target(name, 0.0)
        hid = self.ids[name]
        mcu = self.mcu
        mcu.send("pid_autotune", hid, round(target * CENTI), cycles)
        mcu.flush()
        while True:
            mcu.wait_until(mcu.estimated_clock() + int(TUNE_POLL_S * mcu.clock_freq))
            self.poll()
            _hid, state, done, ku, tu = mcu.query("get_autotune", (hid,), "autotune",
                                                  match=lambda a: a[0] == hid)
            if state == 2:
                raise autotune.AutotuneError("%s: relay autotune at %.0f C failed after %d "
                                             "cycles" % (name, target, done))
            if state == 1:
                break
        ku, tu = ku / 1e6, tu / MILLI
        kp, ki, kd = autotune.gains(ku, tu, rule)
        if apply:
            self.set_gains(name, kp, ki, kd)
            mcu.flush()
        return autotune.TuneResult(name, target, cycles, ku, tu, rule, kp, ki, kd)

    def inject_fault(self, name, fault, at_clock=0):
        """Simulated board only: start plant fault ``fault`` on ``name`` at ``at_clock``."""
        check_target(self.config, name, 0.0)
        self.mcu.send("sim_fault", self.ids[name], fault.encode(), at_clock)
        self.mcu.flush()
