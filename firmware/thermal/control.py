# Mendel firmware: heater control laws.
# SPDX-License-Identifier: GPL-3.0-or-later
"""PID and bang-bang control of one heater.

Units: temperatures in degC, time in s, output as a fraction of full heater
power (0..``max_power``, which is itself at most 1).

PID (Astrom & Murray, "Feedback Systems", ch. 10/11):
``u = Kp e + Ki * integral(e dt) - Kd dT/dt`` with e = target - T.

* Derivative on measurement (not on error): a target change gives no kick.
  The measured slope is low-pass filtered (time constant ``_D_SMOOTH_S``) so
  sensor noise does not reach the heater.
* Anti-windup: the integral is updated only while the output is not saturated
  in the direction of the error (conditional integration), and clamped to
  [0, max_power]; so a long heat-up at full power cannot store an overshoot.
* Output limits: [0, max_power]; ``max_power`` is the heater max power.

Bang-bang with hysteresis (Klipper's "watermark" control): full power below
``target - max_delta``, off above ``target + max_delta``, unchanged between.
"""
_D_SMOOTH_S = 0.5


class Pid:
    """PID state of one heater. Allocation: float results only."""

    def __init__(self, max_power=1.0):
        self.kp = self.ki = self.kd = 0.0
        self.max_power = max_power
        self.integral = 0.0
        self._last = None
        self._slope = 0.0

    def reset(self):
        """Forget the integral and the slope (target off, new control mode)."""
        self.integral = 0.0
        self._last = None
        self._slope = 0.0

    def update(self, target, temp, dt):
        """Output fraction for measured ``temp`` over the last ``dt`` s."""
        last = self._last if self._last is not None else temp
        self._last = temp
        alpha = dt / (_D_SMOOTH_S + dt)
        self._slope += alpha * ((temp - last) / dt - self._slope)
        error = target - temp
        proportional = self.kp * error - self.kd * self._slope
        integral = self.integral + self.ki * error * dt
        top = self.max_power
        out = proportional + integral
        if not ((out > top and error > 0.0) or (out < 0.0 and error < 0.0)):
            self.integral = min(max(integral, 0.0), top)
        out = proportional + self.integral
        return top if out > top else (0.0 if out < 0.0 else out)


class BangBang:
    """On/off control with a hysteresis band of +-``max_delta`` degC."""

    def __init__(self, max_delta=2.0, max_power=1.0):
        self.max_delta = max_delta
        self.max_power = max_power
        self._on = False

    def reset(self):
        self._on = False

    def update(self, target, temp, dt):
        """Output fraction: max_power or 0 (``dt`` unused)."""
        if temp < target - self.max_delta:
            self._on = True
        elif temp > target + self.max_delta:
            self._on = False
        return self.max_power if self._on else 0.0
