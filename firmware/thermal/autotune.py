# Mendel firmware: relay autotune of one heater (M303).
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay experiment of Astrom & Hagglund (Automatica 20(5), 1984).

Units: degC, seconds, output as a fraction of full power.

The heater output switches between ``bias + d`` and ``bias - d`` whenever the
temperature crosses ``target +- hysteresis``; the loop settles into a limit
cycle of amplitude ``a`` (half the peak-to-peak swing) and period ``Tu``. The
describing function of a relay with hysteresis eps gives the ultimate gain
``Ku = 4 d / (pi * sqrt(a^2 - eps^2))``; the host turns (Ku, Tu) into PID
gains (host/thermal/autotune.py).

The cycle is made symmetric by moving the bias after each cycle by
``d * (t_high - t_low) / (t_high + t_low)`` (the longer half needs more
help), the usual refinement of the method; the first ``_SKIP`` cycles (heat-up
from cold and bias settling) are left out of the averages.

Why on the board: switching must follow the temperature at the control rate
whatever the link does, and the safety checks keep running around it; the host
only starts it and reads the result.
"""
import math

from micropython import const

RUNNING = const(0)
DONE = const(1)
FAILED = const(2)
_SKIP = const(2)
HYSTERESIS_C = 0.5
# A cycle longer than this means the heater cannot reach the target.
_MAX_HALF_CYCLE_S = 600.0


class RelayTune:
    """One relay experiment at ``target`` degC for ``cycles`` full cycles.

    heater.py imports this module only when an autotune starts, so its code
    stays out of RAM otherwise; heaters ask :attr:`running`."""

    def __init__(self, target, cycles, max_power):
        self.target = target
        self.cycles = max(cycles, _SKIP + 1)
        self.max_power = max_power
        self.bias = self.d = max_power / 2.0
        self.state = RUNNING
        self.done_cycles = 0
        self.heating = True
        self.time = 0.0
        self._switched = 0.0     # time of the last switch
        self._t_high = 0.0
        self._peak_high = -1e9
        self._peak_low = 1e9
        self._cycle_start = -1.0
        self._sum_ku = 0.0
        self._sum_tu = 0.0
        self._counted = 0
        self.ku = 0.0
        self.tu = 0.0


    @property
    def running(self):
        """True until the tune is done or failed."""
        return self.state == RUNNING
    def update(self, temp, dt):
        """Output fraction for ``temp`` (degC) after ``dt`` s."""
        self.time += dt
        if self.state != RUNNING:
            return 0.0
        if temp > self._peak_high:
            self._peak_high = temp
        if temp < self._peak_low:
            self._peak_low = temp
        if self.time - self._switched > _MAX_HALF_CYCLE_S:
            self.state = FAILED
            return 0.0
        if self.heating and temp > self.target + HYSTERESIS_C:
            self.heating = False
            self._t_high = self.time - self._switched
            self._switched = self.time
            self._peak_low = temp
        elif not self.heating and temp < self.target - HYSTERESIS_C:
            self.heating = True
            self._end_cycle()
            self._switched = self.time
            self._peak_high = temp
        if self.state != RUNNING:
            return 0.0
        return self.bias + self.d if self.heating else self.bias - self.d

    def _end_cycle(self):
        t_low = self.time - self._switched
        if self._cycle_start >= 0.0:
            self.done_cycles += 1
            if self.done_cycles > _SKIP:
                self._count(self.time - self._cycle_start)
            self._balance(self._t_high, t_low)
        self._cycle_start = self.time
        if self.done_cycles >= self.cycles:
            self.ku = self._sum_ku / self._counted
            self.tu = self._sum_tu / self._counted
            self.state = DONE

    def _count(self, period):
        amplitude = (self._peak_high - self._peak_low) / 2.0
        spread = amplitude * amplitude - HYSTERESIS_C * HYSTERESIS_C
        self._sum_ku += 4.0 * self.d / (math.pi * math.sqrt(spread if spread > 1e-4 else 1e-4))
        self._sum_tu += period
        self._counted += 1

    def _balance(self, t_high, t_low):
        top = self.max_power
        bias = self.bias + self.d * (t_high - t_low) / (t_high + t_low)
        bias = min(max(bias, 0.1 * top), 0.9 * top)
        self.bias = bias
        self.d = bias if bias < top - bias else top - bias
