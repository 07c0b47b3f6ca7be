# Mendel host: accelerometer noise as a mean power spectral density.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Welch's averaged periodogram (numpy), for MEASURE_AXES_NOISE.

Units: samples in mm/s^2, PSD in (mm/s^2)^2/Hz, one-sided. Segments of
``SEGMENT_S`` seconds, Hann window, half overlapping, each less its mean;
density scaling ``|FFT|^2 / (rate * sum(window^2))``, doubled except at 0
and Nyquist (Welch 1967; the usual ``scipy.signal.welch`` defaults). White
noise of standard deviation s gives a flat ``2 s^2 / rate``.
"""
import numpy as np

SEGMENT_S = 0.32         # 1024 samples at 3200 Hz: 3.1 Hz resolution


def psd(values, rate):
    """(freqs Hz, psd) of 1-D ``values`` sampled at ``rate`` Hz; ValueError
    with fewer samples than one segment."""
    values = np.asarray(values, dtype=np.float64)
    size = int(round(SEGMENT_S * rate))
    if len(values) < size or size < 4:
        raise ValueError("%d samples are fewer than one %.2f s segment" % (len(values),
                                                                           SEGMENT_S))
    window = np.hanning(size)
    step = size // 2
    starts = range(0, len(values) - size + 1, step)
    total = np.zeros(size // 2 + 1)
    for start in starts:
        segment = values[start:start + size]
        spectrum = np.fft.rfft((segment - segment.mean()) * window)
        total += np.abs(spectrum) ** 2
    density = total / len(starts) / (rate * float(np.sum(window ** 2)))
    density[1:-1] *= 2.0
    return np.fft.rfftfreq(size, 1.0 / rate), density


def axes_noise(samples, rate):
    """Mean PSD of each of x, y, z of ``samples`` (N, 4: time, ax, ay, az)."""
    return tuple(float(psd(samples[:, 1 + axis], rate)[1].mean()) for axis in range(3))
