# Mendel firmware, simulated board: heater physics.
# SPDX-License-Identifier: GPL-3.0-or-later
"""A heater block as one thermal mass (first-order lag).

``C dT/dt = P*duty - (h + h_fan*fan) * (T - T_ambient)`` with C the heat
capacity (J/K), P the heater power (W), h the loss to ambient (W/K) and h_fan
the extra loss at full part-cooling fan. Integrated with explicit Euler steps
of at most ``_MAX_DT`` s, which is stable while ``_MAX_DT < C / (h + h_fan)``.
"""
_MAX_DT = 0.05


class ThermalPlant:
    """State of one simulated heater block; temperatures in degC."""

    def __init__(self, spec):
        self.capacity = spec["heat_capacity_j_per_k"]
        self.power = spec["power_w"]
        self.loss = spec["loss_w_per_k"]
        self.fan_loss = spec.get("fan_loss_w_per_k", 0.0)
        self.ambient = spec["ambient_c"]
        self.temp = self.ambient
        self.duty = 0.0
        self.fan = 0.0
        self.peak = self.temp

    def advance(self, dt):
        """Integrate ``dt`` seconds with the current duty and fan."""
        while dt > 0.0:
            step = dt if dt < _MAX_DT else _MAX_DT
            loss = (self.loss + self.fan_loss * self.fan) * (self.temp - self.ambient)
            self.temp += (self.power * self.duty - loss) * step / self.capacity
            dt -= step
        if self.temp > self.peak:
            self.peak = self.temp
