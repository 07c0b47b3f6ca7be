# Mendel firmware: the simulated board's switches (endstops and a probe).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Endstops and a bed probe of the simulated printer, from its motors' steps.

The simulated board knows where the carriages are from the steps it took, so
its switches are physical: each one maps the motors' step positions to a
coordinate (mm) with a linear map that the host derives from printer.cfg
(``rows``: mm per step of each motor, ``origin``: mm at step 0), and is
triggered on one side of a plane:

* an endstop (``"kind": "endstop"``, one row) is triggered when its
  carriage coordinate is at or beyond ``at`` in direction ``dir`` (+1 or -1);
* a probe (``"kind": "probe"``, three rows: the nozzle's x, y, z) is
  triggered when the nozzle is at most ``trigger`` mm above the bed under the
  probe tip (nozzle + ``offset``); the bed's height is
  ``tilt_x*x + tilt_y*y + warp_amplitude*sin(2*pi*x/warp_period)*sin(2*pi*y/warp_period)``
  (``surface``: those four numbers). A probe with ``needs_deploy`` (a
  BLTouch) triggers only while its pin is deployed.

Each switch triggers a little early or late, by up to ``spread`` mm, drawn
anew (seeded) each time it is armed: a real switch's repeatability. The
level a pin reads is the trigger state, inverted when the host configured
the pin inverted (``^!`` in printer.cfg): a wrong setting shows as a switch
that reads triggered at rest.
"""
import math
import random

_TWO_PI = 2.0 * math.pi


class Switch:
    """One simulated switch (``spec`` from the board file's endstop "sim")."""

    def __init__(self, spec, seed):
        self.kind = spec.get("kind", "endstop")
        self.rows = spec["rows"]
        self.origin = spec["origin"]
        self.spread = spec.get("spread", 0.0)
        if self.kind == "probe":
            self.offset = spec["offset"]
            self.trigger = spec["trigger"]
            self.surface = spec.get("surface", (0.0, 0.0, 0.0, 100.0))
        else:
            self.at = spec["at"]
            self.dir = spec["dir"]
        self.deployed = not spec.get("needs_deploy", False)
        self.inverted = False
        self.jitter = 0.0
        random.seed(seed)

    def rearm(self):
        """Draw this trigger's error (mm, within +-spread)."""
        self.jitter = (2.0 * random.random() - 1.0) * self.spread

    def _coord(self, row, origin, steps):
        total = origin
        for k in range(len(steps)):
            total += row[k] * steps[k]
        return total

    def margin(self, steps):
        """mm left before the switch triggers (<= 0: triggered), at motor
        positions ``steps``."""
        if self.kind != "probe":
            here = self._coord(self.rows[0], self.origin[0], steps)
            return self.dir * (self.at - here) + self.jitter
        x = self._coord(self.rows[0], self.origin[0], steps) + self.offset[0]
        y = self._coord(self.rows[1], self.origin[1], steps) + self.offset[1]
        z = self._coord(self.rows[2], self.origin[2], steps)
        return z - bed_height(self.surface, x, y) - self.trigger + self.jitter

    def triggered(self, steps):
        return self.deployed and self.margin(steps) <= 0.0

    def level(self, steps):
        """The pin's level as the firmware reads it (1/0)."""
        return 1 if self.triggered(steps) != self.inverted else 0


def bed_height(surface, x, y):
    """Height (mm) of the simulated bed at (x, y) mm; ``surface`` is
    (tilt_x, tilt_y, warp_amplitude, warp_period)."""
    tilt_x, tilt_y, amplitude, period = surface
    height = tilt_x * x + tilt_y * y
    if amplitude:
        height += amplitude * math.sin(_TWO_PI * x / period) * math.sin(_TWO_PI * y / period)
    return height
