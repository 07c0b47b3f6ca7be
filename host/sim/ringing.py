# Mendel host: the simulated printer's nozzle, ringing on its carriage.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nozzle path of the simulated plant (``[sim_plant toolhead]``) from a
step log or a carriage path, and its deviation from the commanded path.

Units: s, mm, Hz; clocks in board ticks.

The model is the sim board's (firmware/hal/simtoolhead.py), computed here
with numpy for whole prints: each motor's position runs linearly through the
half steps (a step at t of direction s puts the motor at p - s/2; a motion
leaves rest 1.366 intervals before its first step and settles as long after
its last); the carriage's x, y, z is the board file's linear map of the
motor positions (mendel.sim.physical.toolhead_spec); each of x, y drives a
damped oscillator ``n'' = w^2 (c - n) + 2 zeta w (c' - n')``, sampled every
``1/rate`` s with the carriage held first-order between samples and the
exact 2x2 transition per sample.

* :func:`motor_positions`: one motor's position (steps, float) at clocks.
* :func:`nozzle_response`: nozzle positions for a sampled carriage path.
* :func:`from_step_log`: times, carriage x/y/z and nozzle x/y/z of a print
  on the simulated board.
* :func:`path_deviation` / :func:`peak_deviation`: the nozzle's distance to
  the commanded polyline (the G-code path): the ringing a print shows.
"""
import math

import numpy as np

from mendel.sim import steplog
from mendel.sim.physical import toolhead_spec

REST_INTERVALS = 4           # steps further apart than this many intervals: separate motions
FROM_REST = 1.0 / (math.sqrt(3.0) - 1.0)     # 1.366: see firmware/hal/simtoolhead.py
DEFAULT_RATE_HZ = 10000.0


def _breakpoints(clocks, positions):
    """(ticks, steps) float arrays of the piecewise-linear motor path through
    its steps (``MotorSteps.steps()``), with rest anchors."""
    if not len(clocks):
        return np.array([0.0]), np.array([0.0])
    t = clocks.astype(np.float64)
    p = positions.astype(np.float64)
    sign = np.diff(np.concatenate(([0.0], p)))
    h = np.diff(t)
    before = np.concatenate(([np.inf], h))            # interval before each step
    after = np.concatenate((h, [np.inf]))             # interval after it
    own = np.where(np.isfinite(before), before, after)
    own = np.where(np.isfinite(own), own, 1.0)
    gap_before = ~(before <= REST_INTERVALS * np.minimum(own, np.roll(own, 1)))
    gap_before[0] = True
    gap_after = np.concatenate((gap_before[1:], [True]))
    # A motion's first step: leaves rest FROM_REST of the next interval before;
    # its last: settles as long after.
    lead = np.where(np.isfinite(after), after, own)
    lag = np.where(np.isfinite(before), before, own)
    times = [t[gap_before] - FROM_REST * lead[gap_before], t, t[gap_after] + FROM_REST *
             lag[gap_after]]
    values = [p[gap_before] - sign[gap_before], p - 0.5 * sign, p[gap_after]]
    order = np.argsort(np.concatenate(times), kind="stable")
    return np.concatenate(times)[order], np.concatenate(values)[order]


def motor_positions(motor, clocks_ticks):
    """Position (steps, float) of a ``steplog.MotorSteps`` at each clock."""
    t, p = _breakpoints(*motor.steps())
    return np.interp(np.asarray(clocks_ticks, dtype=np.float64), t, p, left=p[0], right=p[-1])


def nozzle_response(carriage_mm, rate_hz, freq_hz, damping_ratio):
    """Nozzle positions (mm, same shape) of carriage positions sampled at
    ``rate_hz`` (1-D), starting at rest; ``freq_hz`` 0 is a rigid nozzle.
    ValueError for a damping ratio outside 0..1 (exclusive of 1)."""
    carriage = np.asarray(carriage_mm, dtype=np.float64)
    if freq_hz <= 0.0:
        return carriage.copy()
    if not 0.0 <= damping_ratio < 1.0:
        raise ValueError("damping ratio %g is outside 0 <= zeta < 1" % damping_ratio)
    period = 1.0 / rate_hz
    w = 2.0 * math.pi * freq_hz
    sigma = damping_ratio * w
    wd = w * math.sqrt(1.0 - damping_ratio ** 2)
    decay = math.exp(-sigma * period)
    cos_t, sin_t = math.cos(wd * period), math.sin(wd * period)
    p11 = decay * (cos_t + sigma / wd * sin_t)
    p12 = decay * sin_t / wd
    p21 = -decay * w * w / wd * sin_t
    p22 = decay * (cos_t - sigma / wd * sin_t)
    velocity = np.diff(carriage, prepend=carriage[:1]) * rate_hz   # over the interval before
    change = np.diff(velocity, append=velocity[-1:])               # at each sample
    offset = np.empty_like(carriage)
    u = du = 0.0
    for k, dv in enumerate(change.tolist()):
        offset[k] = u
        du -= dv
        u, du = p11 * u + p12 * du, p21 * u + p22 * du
    return carriage + offset


def from_step_log(path, config, motor_names, rate_hz=DEFAULT_RATE_HZ, clock_freq=12000000):
    """``(times_s, carriage (N, 3), nozzle (N, 3))`` of the print whose sim
    board step log is ``path``, for printer ``config`` (its
    ``[sim_plant toolhead]``) on a board with motors ``motor_names``,
    sampled at ``rate_hz`` from the first step to the last (plus 0.2 s of
    ringing). Raises steplog.StepLogError."""
    motors = steplog.read(path, len(motor_names))
    spec = toolhead_spec(config, motor_names)
    first = min((int(m.start_ticks[0]) for m in motors if m.taken.size), default=0)
    last = max((int(m.end_ticks()[-1]) for m in motors if m.taken.size), default=0)
    clocks = np.arange(first, last + 0.2 * clock_freq, clock_freq / rate_hz)
    steps = np.array([motor_positions(m, clocks) for m in motors])
    carriage = (np.array(spec["rows"]) @ steps).T + np.array(spec["origin"])
    nozzle = carriage.copy()
    for axis in range(2):
        nozzle[:, axis] = nozzle_response(carriage[:, axis], rate_hz, spec["freq"][axis],
                                          spec["damping"][axis])
    return clocks / clock_freq, carriage, nozzle


def path_deviation(points_xy, path_xy):
    """Distance (mm) of each point (N, 2) to the nearest point of the
    polyline ``path_xy`` (M, 2), M >= 1."""
    points = np.asarray(points_xy, dtype=np.float64)
    path = np.asarray(path_xy, dtype=np.float64)
    if len(path) == 1:
        return np.hypot(*(points - path[0]).T)
    best = np.full(len(points), np.inf)
    for a, b in zip(path[:-1], path[1:]):
        d = b - a
        length2 = float(d @ d)
        f = np.zeros(len(points)) if length2 == 0.0 else np.clip((points - a) @ d / length2,
                                                                   0.0, 1.0)
        nearest = a + f[:, None] * d
        best = np.minimum(best, np.hypot(*(points - nearest).T))
    return best


def peak_deviation(points_xy, path_xy):
    """Largest :func:`path_deviation` (mm): the figure of residual ringing."""
    return float(path_deviation(points_xy, path_xy).max())
