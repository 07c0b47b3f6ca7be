# Mendel firmware, simulated board: heater physics.
# SPDX-License-Identifier: GPL-3.0-or-later
"""A heater block as one thermal mass, read by a lagging, noisy sensor.

Units: degC, seconds, W, J/K, W/K.

Block: ``C dT/dt = P*duty - (h + h_fan*fan) * (T - T_ambient)`` with C the heat
capacity, P the heater power, h the loss to ambient and h_fan the extra loss
at full part-cooling fan. Sensor: first-order lag behind the block,
``dS/dt = (T - S) / tau``, plus noise of standard deviation ``noise`` degC per
reading (sum of three uniforms from a fixed-seed xorshift generator, so runs
repeat exactly on CPython and MicroPython). Explicit Euler steps of at most
``_MAX_DT`` s, stable while ``_MAX_DT < min(C / (h + h_fan), tau)``.

Faults (:meth:`inject`), each a word the tests and ``--sim-fault`` use:

=================  ==========================================================
thermistor_loose   the thermistor falls out of the block: it follows ambient
                   air with ``loose_lag_s`` (default 8 s) instead
heater_failed      the cartridge stops heating (open circuit)
thermistor_open    the sensor wire is open: the ADC reads full scale
thermistor_short   the sensor is shorted: the ADC reads 0
mosfet_stuck_on    the heater runs at full power whatever the PWM says
fan_full           the part-cooling fan runs at full speed whatever it is told
=================  ==========================================================

Defaults (boards/sim.json, overridable per printer in printer.cfg): an E3D V6
class hot end, 40 W cartridge, ~10 J/K block, 0.06 W/K loss (about 11 W to
hold 210 degC, E3D's published ~30-40 % duty), sensor lag 1.5 s; a 24 V
bed, 200 W, 500 J/K, 1.5 W/K, sensor lag 3 s.
"""
_MAX_DT = 0.05
FAULTS = ("thermistor_loose", "heater_failed", "thermistor_open",
          "thermistor_short", "mosfet_stuck_on", "fan_full")


class ThermalPlant:
    """State of one simulated heater block and its sensor."""

    def __init__(self, spec, seed=1):
        self.capacity = spec["heat_capacity_j_per_k"]
        self.power = spec["power_w"]
        self.loss = spec["loss_w_per_k"]
        self.fan_loss = spec.get("fan_loss_w_per_k", 0.0)
        self.ambient = spec["ambient_c"]
        self.sensor_lag = spec.get("sensor_lag_s", 0.0)
        self.noise = spec.get("sensor_noise_c", 0.0)
        self.loose_lag = spec.get("loose_lag_s", 8.0)
        self.temp = self.ambient
        self.sensor = self.ambient
        self.duty = 0.0
        self.fan = 0.0
        self.peak = self.temp
        self.faults = []
        self._rng = (seed * 2654435761) & 0xFFFFFFFF or 1

    def inject(self, fault):
        """Start fault ``fault`` (one of FAULTS); ValueError for another word."""
        if fault not in FAULTS:
            raise ValueError("unknown sim fault %s" % fault)
        if fault not in self.faults:
            self.faults.append(fault)

    def advance(self, dt):
        """Integrate ``dt`` seconds with the current duty and fan."""
        faults = self.faults
        duty = 1.0 if "mosfet_stuck_on" in faults else self.duty
        power = 0.0 if "heater_failed" in faults else self.power * duty
        fan = 1.0 if "fan_full" in faults else self.fan
        loose = "thermistor_loose" in faults
        while dt > 0.0:
            step = dt if dt < _MAX_DT else _MAX_DT
            loss = (self.loss + self.fan_loss * fan) * (self.temp - self.ambient)
            self.temp += (power - loss) * step / self.capacity
            self._follow(self.ambient if loose else self.temp,
                         self.loose_lag if loose else self.sensor_lag, step)
            dt -= step
        if self.temp > self.peak:
            self.peak = self.temp

    def _follow(self, source, lag, step):
        if lag <= step:
            self.sensor = source
        else:
            self.sensor += (source - self.sensor) * step / lag

    def reading(self):
        """Sensor temperature (degC) as one ADC sample sees it, noise included."""
        if self.noise <= 0.0:
            return self.sensor
        # Sum of three uniforms on [-1, 1] has variance 1: scale to ``noise``.
        total = self._uniform() + self._uniform() + self._uniform()
        return self.sensor + self.noise * total

    def _uniform(self):
        x = self._rng
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._rng = x
        return x / 2147483647.5 - 1.0


def sensor_mode(plant):
    """'open', 'short' or None: what the sensor wire does under the plant's faults."""
    if "thermistor_open" in plant.faults:
        return "open"
    if "thermistor_short" in plant.faults:
        return "short"
    return None

