# Mendel firmware, simulated board: the toolhead as a ringing mass.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nozzle of the simulated printer, a damped oscillator on its carriage.

Units: mm, s, mm/s, mm/s^2, Hz.

Each axis (x, y) is a base-excited second-order system: the carriage
position ``c(t)`` (from the motors' steps) drives the nozzle ``n(t)``::

    n'' = w^2 (c - n) + 2 zeta w (c' - n')        w = 2 pi f

(a mass on a spring and a damper to its carriage). A frequency of 0 is a
rigid toolhead: ``n = c``. Z is always rigid.

Discretisation: the carriage is sampled every ``T`` seconds (the
accelerometer's sample period) and held first-order between samples (its
velocity constant over each interval). In the relative coordinate
``u = n - c`` the system is then free within an interval,
``u'' = -w^2 u - 2 zeta w u'``, so the state moves by the exact transition
matrix ``Phi = expm(A T)``, ``A = [[0, 1], [-w^2, -2 zeta w]]``, computed
once (underdamped closed form, zeta < 1); at each sample the carriage's
velocity change ``dv`` enters as ``u' -= dv`` (the nozzle's velocity is
continuous). The reported acceleration of an interval is its mean,
``(n'(end) - n'(start)) / T``: what a sensor with a box anti-alias filter of
one sample period reads. For a rigid axis this is the second difference of
the sampled carriage position.
"""
import math


class Axis:
    """One axis: ``freq`` Hz (0 = rigid), damping ratio ``zeta`` (0 <= zeta
    < 1), sample period ``period`` s. Allocates nothing per sample."""

    def __init__(self, freq, zeta, period):
        self.period = period
        self.rigid = freq <= 0.0
        self.u = 0.0          # nozzle - carriage, mm
        self.du = 0.0         # its rate, mm/s
        self.c = None         # carriage position at the last sample, mm
        self.v = 0.0          # carriage velocity over the last interval, mm/s
        if self.rigid:
            return
        w = 2.0 * math.pi * freq
        sigma = zeta * w
        wd = w * math.sqrt(1.0 - zeta * zeta)
        decay = math.exp(-sigma * period)
        cos_t = math.cos(wd * period)
        sin_t = math.sin(wd * period)
        self.p11 = decay * (cos_t + sigma / wd * sin_t)
        self.p12 = decay * sin_t / wd
        self.p21 = -decay * w * w / wd * sin_t
        self.p22 = decay * (cos_t - sigma / wd * sin_t)

    def sample(self, c):
        """Carriage at ``c`` mm at the end of this interval: returns the
        nozzle's mean acceleration over the interval (mm/s^2)."""
        if self.c is None:
            self.c = c
            return 0.0
        v = (c - self.c) / self.period
        self.c = c
        start = self.du + self.v           # nozzle velocity before the change
        if self.rigid:
            accel = (v - self.v) / self.period
            self.v = v
            return accel
        du = self.du - (v - self.v)        # carriage velocity changes, nozzle's does not
        u = self.u
        self.u = self.p11 * u + self.p12 * du
        self.du = self.p21 * u + self.p22 * du
        self.v = v
        return (self.du + v - start) / self.period

    def nozzle(self):
        """Nozzle position (mm) at the last sample."""
        return (self.c or 0.0) + self.u


class ToolheadPlant:
    """The toolhead's x, y (ringing) and z (rigid) axes, fed carriage
    positions (mm) every ``period`` s. ``spec``: the board file's
    "sim_toolhead" ("freq": [fx, fy] Hz, "damping": [zx, zy])."""

    def __init__(self, spec, period):
        freq = spec.get("freq", (0.0, 0.0))
        damping = spec.get("damping", (0.0, 0.0))
        self.axes = (Axis(freq[0], damping[0], period), Axis(freq[1], damping[1], period),
                     Axis(0.0, 0.0, period))

    def reset(self):
        """Forget the state: the next sample starts at rest where the carriage is."""
        for axis in self.axes:
            axis.c = None
            axis.u = axis.du = axis.v = 0.0

    def sample(self, xyz, out):
        """Carriage ``xyz`` mm (3 values) at the end of an interval: writes
        the nozzle's mean acceleration (mm/s^2) into list ``out``."""
        axes = self.axes
        for i in range(3):
            out[i] = axes[i].sample(xyz[i])


def motor_position(position, prev, following, now):
    """A motor's position (steps, float) at clock ``now`` from its steps
    around it (``RunLog.around``): a step of direction s at clock t is where
    the motion crosses the half step, so the position runs linearly through
    (t, p - s/2) between steps taken in a row. A motion from rest at constant
    acceleration crosses its first half step 1/(sqrt(3) - 1) = 1.37 of the
    first interval after it starts (x = a t^2 / 2 reaches 1/2 and 3/2): the
    position leaves rest that long before the first step, and settles as long
    after the last. Steps further apart than ``_REST`` intervals are
    separate motions."""
    p = float(position)
    if prev is not None:
        t, s, h = prev
        if following is not None and following[0] - t <= _REST * min(h, following[2]):
            tn, sn, _hn = following
            return p - 0.5 * s + 0.5 * (s + sn) * (now - t) / (tn - t)
        ramp = _FROM_REST * max(h, 1)
        if now < t + ramp:
            return p - 0.5 * s + 0.5 * s * (now - t) / ramp
    if following is not None:
        tn, sn, hn = following
        ramp = _FROM_REST * max(hn, 1)
        if now > tn - ramp:
            return p + 0.5 * sn * (now - (tn - ramp)) / ramp
    return p


_REST = 4
_FROM_REST = 1.366          # 1 / (sqrt(3) - 1)
