"""mendel.shaping.calibrate: PSD, shaper fit and recommendation, by numbers."""
import math

import numpy as np
import pytest

from mendel.shaping import calibrate, shapers, vibration_test
from shaper_fakes import oscillator_accel, samples_from_velocity


def sweep_samples(freq_hz, zeta, axis):
    """What an accelerometer reads over the default test (5..133.33 Hz,
    75 mm/s^2 per Hz, 1 Hz/s) on a plant ringing at freq_hz/zeta on ``axis``."""
    moves = vibration_test.sweep(5.0, 133.33, 75.0, 1.0)
    times, speeds = moves.velocity_knots(0.5)
    return samples_from_velocity(times, speeds, axis, {axis: (freq_hz, zeta)}, 0.0,
                                 times[-1] + 0.5)


def test_oscillator_rings_at_its_damped_frequency_and_settles():
    dt = 1.0 / 3200.0
    u = np.zeros(6400)
    u[100:] = 1000.0                       # a step of carriage acceleration
    y = oscillator_accel(u, dt, 40.0, 0.05)
    assert y[-1] == pytest.approx(1000.0, rel=1e-6)
    crossings = np.flatnonzero(np.diff(np.sign(y[100:1200] - 1000.0)) != 0)
    period = 2.0 * np.mean(np.diff(crossings)) * dt
    assert 1.0 / period == pytest.approx(40.0 * math.sqrt(1 - 0.05 ** 2), rel=0.01)


def test_welch_psd_of_a_sine_has_its_power_at_its_frequency():
    rate = 3200.0
    t = np.arange(0, 4.0, 1.0 / rate)
    x = 300.0 * np.sin(2 * np.pi * 50.0 * t) + 7.0
    freqs, psd = calibrate.welch_psd(x, rate, 2048)
    assert freqs[1] == pytest.approx(rate / 2048)
    assert abs(freqs[np.argmax(psd)] - 50.0) <= rate / 2048
    # Parseval: the PSD integrates to the variance (300^2 / 2); the mean is removed.
    assert np.sum(psd) * (freqs[1] - freqs[0]) == pytest.approx(300.0 ** 2 / 2, rel=0.01)
    with pytest.raises(calibrate.CalibrationError, match="fewer than one"):
        calibrate.welch_psd(x[:100], rate, 2048)


def test_frequency_response_segments_and_bad_samples():
    samples = np.zeros((3200 * 2, 4))
    samples[:, 0] = np.arange(len(samples)) / 3200.0
    spectrum = calibrate.frequency_response(samples)
    assert len(spectrum.freqs_hz) == 2048 // 2 + 1       # 0.5 s at 3200 Hz -> 2048
    assert calibrate.segment_length(400.0) == 256
    with pytest.raises(calibrate.CalibrationError, match=r"\(N, 4\)"):
        calibrate.frequency_response(np.zeros((10, 3)))
    with pytest.raises(calibrate.CalibrationError, match="too few"):
        calibrate.frequency_response(samples[:1000])


@pytest.mark.parametrize("freq_hz, zeta, axis", [(37.0, 0.08, 0), (52.0, 0.12, 1)])
def test_calibration_recovers_the_resonance(freq_hz, zeta, axis):
    lines = []
    spectrum, best, fits = calibrate.calibrate(sweep_samples(freq_hz, zeta, axis),
                                               logger=lines.append)
    assert spectrum.peak_frequency() == pytest.approx(freq_hz, rel=0.02)
    assert spectrum.peak_frequency("xy"[axis]) == pytest.approx(freq_hz, rel=0.02)
    assert best.freq_hz == pytest.approx(freq_hz, rel=0.05)
    assert best.vibrations < 0.01
    assert [fit.name for fit in fits] == list(calibrate.AUTOTUNE_SHAPERS)
    assert len(lines) == 10 and lines[0].startswith("Fitted shaper 'zv' frequency = ")
    # The remaining vibrations of the recommended shaper, recomputed here:
    # at the resonance the shaper leaves (almost) nothing.
    a, t = shapers.pulses(best.name, best.freq_hz)
    assert shapers.residual_vibration(a, t, freq_hz, zeta) < 0.1


def test_smoothing_and_max_accel_of_zv_by_hand():
    a, t = shapers.pulses("zv", 40.0)
    k = a[1] / a[0]
    half = t[1] - t[0]
    # Centre at k/(1+k) of the way; the later impulse is (1/(1+k)) half after it.
    dt_late = half / (1 + k)
    dt_early = -half * k / (1 + k)
    a1 = k / (1 + k)
    accel, scv = 5000.0, 5.0
    offset_90 = math.sqrt(2) * a1 * (scv + accel / 2 * dt_late) * dt_late
    offset_180 = accel / 2 * (a[0] * dt_early ** 2 + a1 * dt_late ** 2)
    assert calibrate.smoothing(a, t) == pytest.approx(max(offset_90, offset_180), rel=1e-12)
    limit = calibrate.max_accel(a, t, scv)
    assert calibrate.smoothing(a, t, limit, scv) == pytest.approx(0.12, rel=1e-9)
    assert calibrate.smoothing(a, t, limit * 1.001, scv) > 0.12
    # A square corner velocity alone past the target: no acceleration is fine.
    assert calibrate.max_accel(a, t, scv_mm_s=1e4) == 0.0


def test_fitted_lines_are_klippers():
    fit = calibrate.ShaperFit("mzv", 36.8, 0.0123, 0.0731, 0.0, 9678.0, None, None)
    assert fit.lines() == [
        "Fitted shaper 'mzv' frequency = 36.8 Hz (vibrations = 1.2%, smoothing ~= 0.073)",
        "To avoid too much smoothing with 'mzv', suggested max_accel <= 9700 mm/sec^2"]


def test_max_smoothing_limits_the_scan():
    spectrum = calibrate.frequency_response(sweep_samples(37.0, 0.08, 0)).normalized()
    best, _fits = calibrate.find_best_shaper(spectrum, max_smoothing=0.1)
    free, _ = calibrate.find_best_shaper(spectrum)
    assert best.smoothing <= 0.1 < free.smoothing
    with pytest.raises(calibrate.CalibrationError, match="unknown shaper 'zz'"):
        calibrate.find_best_shaper(spectrum, shaper_types=("zz",))


def test_the_fit_weighs_the_psd_up_to_the_highest_shaper_frequency_tried():
    """As Klipper: a low max_freq (a short test) still weighs the spectrum up
    to the last shaper frequency tried (149.8 Hz)."""
    spectrum = calibrate.frequency_response(sweep_samples(37.0, 0.08, 0)).normalized()
    low, _ = calibrate.fit_shaper("mzv", spectrum, max_freq_hz=50.0)
    high, _ = calibrate.fit_shaper("mzv", spectrum, max_freq_hz=149.8)
    assert (low.freq_hz, low.vibrations) == (high.freq_hz, high.vibrations)
    assert low.freqs_hz[-1] > 148.0
