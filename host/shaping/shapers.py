# Mendel host: input shapers as impulse trains.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The input shapers Klipper offers, as impulse trains (amplitudes, times).

A shaper replaces the commanded position ``x(t)`` of an axis by
``sum_i A_i x(t - T_i)``: the toolhead is driven by several time-shifted,
scaled copies of the motion whose vibrations at the shaper's frequency cancel.
With ``K = exp(-zeta pi / sqrt(1 - zeta^2))`` and the damped period
``t_d = 1 / (f sqrt(1 - zeta^2))`` (f in Hz, zeta the damping ratio):

==========  ==================================================  ================
type        amplitudes (before normalising to a sum of 1)        times / t_d
==========  ==================================================  ================
zv          1, K                                                 0, 1/2
mzv         see :func:`_mzv` (K taken at 3/4 of zeta's exponent) 0, 3/8, 3/4
zvd         1, 2K, K^2                                           0, 1/2, 1
ei          see :func:`_ei` (vibration tolerance 5 %)             0, 1/2, 1
2hump_ei    see :func:`_two_hump_ei`                             0, 1/2, 1, 3/2
3hump_ei    see :func:`_three_hump_ei`                           0, 1/2, 1, 3/2, 2
==========  ==================================================  ================

Sources: Singer & Seering, "Preshaping command inputs to reduce system
vibration" (1990) for zv and zvd; Singhose, Seering & Singer, "Residual
vibration reduction using vector diagrams to generate shaped inputs" (1994)
and Singhose's extra-insensitive shapers (1996) for the ei family; mzv as
Klipper's Resonance_Compensation.md describes it. Our code.

The times are centred (``sum A_i T_i = 0``), as Klipper does, so that the
shaped motion stays in step with the unshaped extruder: it starts up to
``-T[0]`` s before and ends up to ``T[-1]`` s after the commanded motion.
"""
import math

import numpy as np

SHAPER_TYPES = ("zv", "mzv", "zvd", "ei", "2hump_ei", "3hump_ei")
DEFAULT_DAMPING_RATIO = 0.1
# The vibration tolerance of the extra-insensitive shapers (5 %).
EI_VIBRATION_TOLERANCE = 0.05


def _k_and_period(freq, damping_ratio, exponent_scale=1.0):
    root = math.sqrt(1.0 - damping_ratio * damping_ratio)
    k = math.exp(-exponent_scale * damping_ratio * math.pi / root)
    return k, 1.0 / (freq * root)


def _zv(freq, zeta):
    k, td = _k_and_period(freq, zeta)
    return [1.0, k], [0.0, 0.5 * td]


def _mzv(freq, zeta):
    k, td = _k_and_period(freq, zeta, 0.75)
    a1 = 1.0 - 1.0 / math.sqrt(2.0)
    return [a1, (math.sqrt(2.0) - 1.0) * k, a1 * k * k], [0.0, 0.375 * td, 0.75 * td]


def _zvd(freq, zeta):
    k, td = _k_and_period(freq, zeta)
    return [1.0, 2.0 * k, k * k], [0.0, 0.5 * td, td]


def _ei(freq, zeta):
    k, td = _k_and_period(freq, zeta)
    v = EI_VIBRATION_TOLERANCE
    a1 = 0.25 * (1.0 + v)
    return [a1, 0.5 * (1.0 - v) * k, a1 * k * k], [0.0, 0.5 * td, td]


def _two_hump_ei(freq, zeta):
    k, td = _k_and_period(freq, zeta)
    v2 = EI_VIBRATION_TOLERANCE ** 2
    x = (v2 * (math.sqrt(1.0 - v2) + 1.0)) ** (1.0 / 3.0)
    a1 = (3.0 * x * x + 2.0 * x + 3.0 * v2) / (16.0 * x)
    a2 = (0.5 - a1) * k
    return [a1, a2, a2 * k, a1 * k ** 3], [0.0, 0.5 * td, td, 1.5 * td]


def _three_hump_ei(freq, zeta):
    k, td = _k_and_period(freq, zeta)
    v = EI_VIBRATION_TOLERANCE
    k2 = k * k
    a1 = 0.0625 * (1.0 + 3.0 * v + 2.0 * math.sqrt(2.0 * (v + 1.0) * v))
    a2 = 0.25 * (1.0 - v) * k
    a3 = (0.5 * (1.0 + v) - 2.0 * a1) * k2
    return [a1, a2, a3, a2 * k2, a1 * k2 * k2], [0.0, 0.5 * td, td, 1.5 * td, 2.0 * td]


_BUILDERS = {"zv": _zv, "mzv": _mzv, "zvd": _zvd, "ei": _ei,
             "2hump_ei": _two_hump_ei, "3hump_ei": _three_hump_ei}


def pulses(shaper_type, freq, damping_ratio=DEFAULT_DAMPING_RATIO):
    """Impulse train of a shaper: ``(A, T)``, two (n,) float64 arrays.

    ``A``: amplitudes, summing to 1; ``T``: times (s), increasing and centred
    (``sum A T == 0``). ``freq`` Hz > 0, ``damping_ratio`` in [0, 1).
    Raises ValueError for an unknown ``shaper_type`` (one of SHAPER_TYPES) or
    a frequency or damping ratio out of range.
    """
    builder = _BUILDERS.get(shaper_type)
    if builder is None:
        raise ValueError("unknown shaper_type %r: one of %s" % (shaper_type, ", ".join(SHAPER_TYPES)))
    if not freq > 0.0:
        raise ValueError("shaper frequency must be > 0 Hz, not %r" % (freq,))
    if not 0.0 <= damping_ratio < 1.0:
        raise ValueError("damping_ratio must be in [0, 1), not %r" % (damping_ratio,))
    amplitudes, times = builder(float(freq), float(damping_ratio))
    a = np.array(amplitudes, dtype=np.float64)
    t = np.array(times, dtype=np.float64)
    a /= a.sum()
    t -= float(np.dot(a, t))
    return a, t


def duration(shaper_type, freq, damping_ratio=DEFAULT_DAMPING_RATIO):
    """Time (s) from a shaper's first impulse to its last."""
    _a, t = pulses(shaper_type, freq, damping_ratio)
    return float(t[-1] - t[0])


def residual_vibration(a, t, freq, damping_ratio):
    """Fraction (0..1+) of the vibration of an oscillator at ``freq`` Hz with
    ``damping_ratio`` that impulses ``(a, t)`` leave, relative to a single
    impulse: the magnitude of ``sum a_i exp(-zeta w (t_n - t_i)) exp(j wd t_i)``
    (the standard residual-vibration expression of the shaping literature).
    ``freq`` may be an array of frequencies (then so is the result)."""
    freq = np.asarray(freq, dtype=np.float64)
    omega = 2.0 * math.pi * freq
    zeta = damping_ratio
    omega_d = omega * math.sqrt(1.0 - zeta * zeta)
    decay = np.exp(-zeta * omega[..., None] * (t[-1] - t)[None, :] if freq.ndim else
                   -zeta * omega * (t[-1] - t))
    if freq.ndim:
        phase = omega_d[..., None] * t[None, :]
        re = (a * decay * np.cos(phase)).sum(axis=-1)
        im = (a * decay * np.sin(phase)).sum(axis=-1)
    else:
        re = float((a * decay * np.cos(omega_d * t)).sum())
        im = float((a * decay * np.sin(omega_d * t)).sum())
    return np.sqrt(re * re + im * im)
