# Mendel host: accelerometer noise as a mean power spectral density.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The mean power spectral density of each axis at rest, for MEASURE_AXES_NOISE.

Units: samples in mm/s^2, PSD in (mm/s^2)^2/Hz, one-sided: Welch's method of
the shaper fit (:func:`mendel.shaping.calibrate.welch_psd`) with segments of
``SEGMENT_S`` seconds. White noise of standard deviation s gives a flat
``2 s^2 / rate``.
"""
from mendel.shaping.calibrate import welch_psd

SEGMENT_S = 0.32         # 1024 samples at 3200 Hz: 3.1 Hz resolution


def axes_noise(samples, rate):
    """Mean PSD of each of x, y, z of ``samples`` (N, 4: time, ax, ay, az)
    sampled at ``rate`` Hz; ValueError with fewer samples than one segment."""
    size = max(int(round(SEGMENT_S * rate)), 4)
    return tuple(float(welch_psd(samples[:, 1 + axis], rate, size)[1].mean())
                 for axis in range(3))
