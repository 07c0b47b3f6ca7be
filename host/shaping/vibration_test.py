# Mendel host: the resonance test's motion (back-and-forth at rising frequency).
# SPDX-License-Identifier: GPL-3.0-or-later
"""The vibration test of Klipper's Measuring_Resonances.md (its classic
one; our code): the toolhead moves back and forth along one axis, one
out-and-stop move per half period, at a frequency that rises from
``freq_start`` to ``freq_end`` by ``hz_per_sec`` Hz per second, with an
acceleration of ``accel_per_hz * freq``.

Units: ``_hz`` Hz, ``_s`` s, ``_mm`` mm, ``_mm_s`` mm/s, ``_mm_s2`` mm/s^2.

At frequency f one half period lasts ``1 / (2 f)``: a quarter period
accelerating at ``a = accel_per_hz f`` from rest and a quarter period
decelerating back to rest. It covers ``a (1 / (4 f))^2`` mm at a peak speed
of ``a / (4 f) = accel_per_hz / 4`` mm/s (the same at every frequency); the
next half period goes the other way, so every move starts and ends at rest
and the planner makes it exactly that triangle. After each half period the
frequency rises by ``hz_per_sec / (2 f)``.
"""
import dataclasses

import numpy as np

# The frequency test ends at freq_end plus this much (rounding of the steps).
FREQ_END_SLACK_HZ = 1e-6


@dataclasses.dataclass
class SweepMoves:
    """The test's half periods, as arrays of equal length: ``freq_hz``,
    ``accel_mm_s2``, ``distance_mm`` (signed: + then - alternately, along
    the tested axis), ``duration_s``; ``peak_speed_mm_s``: the speed every
    move peaks at."""
    freq_hz: np.ndarray
    accel_mm_s2: np.ndarray
    distance_mm: np.ndarray
    duration_s: np.ndarray
    peak_speed_mm_s: float

    @property
    def max_accel_mm_s2(self):
        return float(self.accel_mm_s2.max()) if len(self.accel_mm_s2) else 0.0

    def velocity_knots(self, start_s=0.0):
        """``(times_s, velocity_mm_s)``: the piecewise-linear velocity of the
        test along its axis (rest at each move's ends, the peak half way),
        from ``start_s``."""
        quarter = 0.5 * self.duration_s
        ends = start_s + np.cumsum(self.duration_s)
        starts = ends - self.duration_s
        times = np.column_stack([starts, starts + quarter]).ravel()
        peaks = np.sign(self.distance_mm) * self.accel_mm_s2 * quarter
        speeds = np.column_stack([np.zeros_like(peaks), peaks]).ravel()
        return (np.append(times, ends[-1] if len(ends) else start_s),
                np.append(speeds, 0.0))


def sweep(freq_start_hz, freq_end_hz, accel_per_hz, hz_per_sec):
    """The SweepMoves of one test (see the module docstring). Raises
    ValueError for a frequency range or rate that is not positive."""
    if not 0.0 < freq_start_hz <= freq_end_hz:
        raise ValueError("the test's frequencies must satisfy 0 < start <= end, not %g..%g Hz"
                         % (freq_start_hz, freq_end_hz))
    if not (accel_per_hz > 0.0 and hz_per_sec > 0.0):
        raise ValueError("accel_per_hz and hz_per_sec must be above 0")
    freqs = []
    freq = freq_start_hz
    while freq <= freq_end_hz + FREQ_END_SLACK_HZ:
        freqs.append(freq)
        freq += hz_per_sec * 0.5 / freq
    freq = np.array(freqs)
    accel = accel_per_hz * freq
    quarter = 0.25 / freq
    sign = np.where(np.arange(len(freq)) % 2 == 0, 1.0, -1.0)
    return SweepMoves(freq, accel, sign * accel * quarter * quarter, 2.0 * quarter,
                      0.25 * accel_per_hz)
