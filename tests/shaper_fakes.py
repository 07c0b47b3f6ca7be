"""Test doubles for resonance calibration: a damped toolhead (numpy) and a
fake accelerometer that measures it from the toolhead's planned motion.

The nozzle y follows the carriage x through a spring and damper:
``y'' = -w^2 (y - x) - 2 zeta w (y' - x')``. With z = y - x,
``z'' + 2 zeta w z' + w^2 z = -x''`` and the accelerometer reads
``y'' = -(w^2 z + 2 zeta w z')``. The carriage acceleration is held over
each sample period (its average there, from the velocity at the sample
times), and the oscillator is stepped exactly for such an input through its
complex mode, a block of samples at a time."""
import cmath

import numpy as np

RATE_HZ = 3200.0
BLOCK = 64          # samples solved at once (keeps p^-k well within float range)


def oscillator_accel(carriage_accel, dt, freq_hz, zeta):
    """Nozzle acceleration (n,) of a plant at ``freq_hz``/``zeta`` driven by
    carriage acceleration ``carriage_accel`` (n,) held over steps of ``dt`` s;
    the plant starts at rest. zeta 0 or freq 0: rigid (returns the input)."""
    u = np.asarray(carriage_accel, dtype=np.float64)
    if not freq_hz or not zeta:
        return u.copy()
    w = 2.0 * np.pi * freq_hz
    lam = complex(-zeta * w, w * np.sqrt(1.0 - zeta * zeta))
    p = cmath.exp(lam * dt)
    # State s = [z, z'] = 2 Re(v q), v = [1, lam]; input B = [0, -1]
    # projects onto the mode as b = -1 / (lam - conj(lam)).
    b = -1.0 / (lam - lam.conjugate()) * (p - 1.0) / lam
    k = np.arange(BLOCK)
    powers = p ** k
    inverse = p ** -(k + 1.0)
    q = np.empty(len(u), dtype=np.complex128)
    q0 = 0j
    for start in range(0, len(u), BLOCK):
        chunk = u[start:start + BLOCK]
        n = len(chunk)
        sums = np.concatenate([[0j], np.cumsum(chunk * inverse[:n])[:-1]])
        q[start:start + n] = powers[:n] * (q0 + b * sums)
        q0 = q[start + n - 1] * p + b * chunk[-1]
    z = 2.0 * q.real
    dz = 2.0 * (lam * q).real
    return -(w * w * z + 2.0 * zeta * w * dz)


def samples_from_velocity(times_s, velocity, axis, plant, t0, t1, rate_hz=RATE_HZ,
                          noise=50.0, seed=1):
    """Accelerometer samples (N, 4) from t0 to t1 s of a toolhead whose
    velocity along ``axis`` (0 x, 1 y) is piecewise linear through
    (``times_s``, ``velocity``) (rest outside); ``plant``: {axis index:
    (freq Hz, zeta)}; ``noise`` mm/s^2 (rms, Gaussian) on every axis."""
    t = np.arange(t0, t1, 1.0 / rate_hz)
    v = np.interp(t, times_s, velocity, left=0.0, right=0.0)
    v_next = np.interp(t + 1.0 / rate_hz, times_s, velocity, left=0.0, right=0.0)
    carriage = (v_next - v) * rate_hz
    rng = np.random.default_rng(seed)
    out = np.zeros((len(t), 4))
    out[:, 0] = t
    freq, zeta = plant.get(axis, (0.0, 0.0))
    out[:, 1 + axis] = oscillator_accel(carriage, 1.0 / rate_hz, freq, zeta)
    out[:, 1:] += rng.normal(0.0, noise, size=(len(t), 3))
    return out


class FakeAccelerometer:
    """``start()``/``stop() -> (N, 4)`` as Part ACCEL's Accelerometer, made
    from the moves ``toolhead`` schedules between them (its ``scheduled``
    hook: PLANNED_DTYPE rows and their start time) through ``plant``
    ({0: (freq, zeta), 1: ...})."""

    def __init__(self, toolhead, plant, noise=50.0):
        self.toolhead = toolhead
        self.plant = plant
        self.noise = noise
        self._moves = None
        self._t0 = None
        self.started = 0
        chained = toolhead.scheduled

        def hook(moves, start):
            if chained is not None:
                chained(moves, start)
            if self._moves is not None and moves is not None and len(moves):
                self._moves.append((moves.copy(), start))
        toolhead.scheduled = hook

    def start(self):
        self.started += 1
        self._moves = []
        self._t0 = self.toolhead.print_time

    def stop(self):
        self.toolhead.wait_moves()
        t1 = self.toolhead.print_time + 0.1
        knots = {0: ([], []), 1: ([], [])}
        for moves, start in self._moves:
            t = start
            for move in moves:
                for axis in (0, 1):
                    r = move["axes_r"][axis]
                    times, speeds = knots[axis]
                    ta = t + move["accel_t"]
                    tc = ta + move["cruise_t"]
                    td = tc + move["decel_t"]
                    times += [t, ta, tc, td]
                    speeds += [r * move["start_v"], r * move["cruise_v"], r * move["cruise_v"],
                               r * move["end_v"]]
                t += move["accel_t"] + move["cruise_t"] + move["decel_t"]
        self._moves = None
        out = None
        for axis in (0, 1):
            times, speeds = knots[axis]
            part = samples_from_velocity(np.array(times), np.array(speeds), axis, self.plant,
                                         self._t0, t1, noise=self.noise if axis == 0 else 0.0)
            if out is None:
                out = part
            else:
                out[:, 1:] += part[:, 1:]
        return out
