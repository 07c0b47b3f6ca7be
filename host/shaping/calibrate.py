# Mendel host: fitting input shapers to a measured frequency response.
# SPDX-License-Identifier: GPL-3.0-or-later
"""From accelerometer samples to a recommended input shaper, as Klipper's
Measuring_Resonances.md describes SHAPER_CALIBRATE (our code).

Units: ``_hz`` Hz, ``_s`` s, ``_mm_s`` mm/s, ``_mm_s2`` mm/s^2; a PSD is in
(mm/s^2)^2/Hz; vibrations and shaper responses are fractions (0..1).

1. :func:`frequency_response`: the power spectral density of each axis of
   the samples (Welch's method: segments of :data:`WINDOW_S` rounded up to a
   power of two, half overlapping, each less its mean, Hann-windowed, the
   one-sided periodograms averaged), and their sum.
2. :meth:`Spectrum.normalized`: the PSD divided by ``f + 0.1`` (the test
   drives with an acceleration proportional to the frequency) and the part
   below ``2 * MIN_FREQ_HZ`` damped (the test's low-frequency motion).
3. :func:`fit_shaper`: each shaper frequency from the shaper's minimum to
   :data:`MAX_SHAPER_FREQ_HZ` in :data:`FREQ_STEP_HZ` steps; the vibrations
   left are the PSD above 1/:data:`VIBRATION_REDUCTION` of its peak, weighted
   by the shaper's residual vibration at each frequency (the worst of the
   :data:`TEST_DAMPING_RATIOS`), over the same without shaper. The best
   frequency leaves the least; the one chosen may trade up to 10 % (+0.05
   points) more vibration for a lower score ``smoothing * (v^1.5 + 0.2 v +
   0.01)``, Klipper's empirical score.
4. :func:`smoothing`: the shaper's offset of the toolhead path after a 90 deg
   corner (at square corner velocity) or a 180 deg turn, at 5000 mm/s^2;
   :func:`max_accel`: the acceleration at which it reaches
   :data:`TARGET_SMOOTHING_MM` (the offset is linear in the acceleration, so
   this is solved exactly rather than by bisection).
5. :func:`find_best_shaper`: Klipper's choice among the shapers.
"""
import dataclasses
import math

import numpy as np

from mendel.shaping import shapers

MIN_FREQ_HZ = 5.0            # lowest frequency the test drives
MAX_FREQ_HZ = 200.0          # highest PSD frequency the fit weighs (default)
WINDOW_S = 0.5               # Welch segment length, rounded up to 2^k samples
MAX_SHAPER_FREQ_HZ = 150.0   # highest shaper frequency tried
FREQ_STEP_HZ = 0.2           # shaper frequency scan step
TEST_DAMPING_RATIOS = (0.075, 0.1, 0.15)   # the printer's damping is not known: the worst
VIBRATION_REDUCTION = 20.0   # a shaper cuts vibrations at most this much: PSD below peak/20 ignored
TARGET_SMOOTHING_MM = 0.12   # smoothing at the suggested max_accel (Klipper's empirical choice)
SMOOTHING_ACCEL_MM_S2 = 5000.0   # the acceleration smoothing is reported at
DEFAULT_SCV_MM_S = 5.0       # square corner velocity, Klipper's default
AUTOTUNE_SHAPERS = ("zv", "mzv", "ei", "2hump_ei", "3hump_ei")   # zvd is never better than these
# The lowest frequency each shaper is tried at: about where its max_accel is 1500 mm/s^2.
SHAPER_MIN_FREQ_HZ = {"zv": 21.0, "mzv": 23.0, "zvd": 29.0, "ei": 29.0,
                      "2hump_ei": 39.0, "3hump_ei": 48.0}


class CalibrationError(ValueError):
    """The samples or the fit's inputs cannot give a result; says why."""


@dataclasses.dataclass
class Spectrum:
    """PSD of one measurement: ``freqs_hz`` (n,) and ``psd_x``, ``psd_y``,
    ``psd_z``, ``psd_sum`` (n,) in (mm/s^2)^2/Hz (after :meth:`normalized`,
    divided by Hz as well)."""
    freqs_hz: np.ndarray
    psd_x: np.ndarray
    psd_y: np.ndarray
    psd_z: np.ndarray
    psd_sum: np.ndarray
    name: str = ""

    def axis(self, axis):
        """The PSD of ``axis``: "x", "y", "z" or "all" (the sum)."""
        return {"x": self.psd_x, "y": self.psd_y, "z": self.psd_z, "all": self.psd_sum}[axis]

    def normalized(self):
        """A copy divided by ``f + 0.1`` Hz, the part below ``2 * MIN_FREQ_HZ``
        damped by ``exp(1 - (2 MIN_FREQ_HZ / (f + 0.1))^2)`` (Klipper's
        normalisation before the fit)."""
        f = self.freqs_hz
        factor = 1.0 / (f + 0.1)
        low = f < 2.0 * MIN_FREQ_HZ
        factor[low] *= np.exp(1.0 - (2.0 * MIN_FREQ_HZ / (f[low] + 0.1)) ** 2)
        return Spectrum(f.copy(), self.psd_x * factor, self.psd_y * factor,
                        self.psd_z * factor, self.psd_sum * factor, self.name)

    def peak_frequency(self, axis="all", max_freq_hz=MAX_FREQ_HZ):
        """Frequency (Hz) of the PSD's highest peak at or below ``max_freq_hz``,
        refined between bins by a parabola through the log-PSD of the peak
        bin and its neighbours."""
        keep = self.freqs_hz <= max_freq_hz
        psd = self.axis(axis)[keep]
        k = int(np.argmax(psd))
        if k == 0 or k == len(psd) - 1 or min(psd[k - 1], psd[k + 1]) <= 0.0:
            return float(self.freqs_hz[k])
        a, b, c = np.log(psd[k - 1:k + 2])
        shift = 0.5 * (a - c) / (a - 2.0 * b + c)
        step = self.freqs_hz[1] - self.freqs_hz[0]
        return float(self.freqs_hz[k] + shift * step)


@dataclasses.dataclass
class ShaperFit:
    """One shaper at one frequency against a spectrum: ``vibrations`` (fraction
    left), ``smoothing`` (mm at 5000 mm/s^2), ``score``, ``max_accel_mm_s2``,
    ``response`` (n,) the shaper's residual vibration at the spectrum's
    frequencies ``freqs_hz`` (worst test damping ratio)."""
    name: str
    freq_hz: float
    vibrations: float
    smoothing: float
    score: float
    max_accel_mm_s2: float
    freqs_hz: np.ndarray
    response: np.ndarray

    def lines(self):
        """Klipper's two lines for a fitted shaper."""
        return ["Fitted shaper '%s' frequency = %.1f Hz (vibrations = %.1f%%, smoothing ~= %.3f)"
                % (self.name, self.freq_hz, self.vibrations * 100.0, self.smoothing),
                "To avoid too much smoothing with '%s', suggested max_accel <= %.0f mm/sec^2"
                % (self.name, round(self.max_accel_mm_s2 / 100.0) * 100.0)]


# -- 1. power spectral density ------------------------------------------------
def welch_psd(x, rate_hz, nfft):
    """One-sided PSD of signal ``x`` (n,) sampled at ``rate_hz``: Welch's
    method with Hann-windowed segments of ``nfft`` samples overlapping by
    half, each less its mean. Returns ``(freqs_hz, psd)``, each
    (nfft // 2 + 1,). Raises CalibrationError if ``x`` is shorter than one
    segment."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    step = nfft // 2
    count = (len(x) - nfft) // step + 1
    if len(x) < nfft or count < 1:
        raise CalibrationError("%d samples are fewer than one %d-sample PSD segment"
                               % (len(x), nfft))
    segments = np.lib.stride_tricks.sliding_window_view(x, nfft)[::step][:count]
    window = np.hanning(nfft)
    segments = (segments - segments.mean(axis=1, keepdims=True)) * window
    spectra = np.fft.rfft(segments, axis=1)
    power = (spectra.real ** 2 + spectra.imag ** 2) / (rate_hz * float(np.dot(window, window)))
    # One-sided: double every bin but DC and (nfft even) the Nyquist one.
    power[:, 1:nfft - nfft // 2] *= 2.0
    return np.fft.rfftfreq(nfft, 1.0 / rate_hz), power.mean(axis=0)


def segment_length(rate_hz):
    """Samples per Welch segment: ``WINDOW_S`` s rounded up to a power of two."""
    return 1 << int(rate_hz * WINDOW_S - 1).bit_length()


def frequency_response(samples, name=""):
    """Spectrum of accelerometer ``samples`` (N, 4): time s, ax, ay, az
    mm/s^2. The sample rate is N over the time span. Raises CalibrationError
    for too few samples or a bad shape."""
    data = np.asarray(samples, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != 4:
        raise CalibrationError("accelerometer samples must be (N, 4) (time, ax, ay, az), not %s"
                               % (data.shape,))
    span_s = data[-1, 0] - data[0, 0] if len(data) > 1 else 0.0
    if not span_s > 0.0:
        raise CalibrationError("%d accelerometer samples span no time" % len(data))
    rate_hz = len(data) / span_s
    nfft = segment_length(rate_hz)
    if len(data) <= nfft:
        raise CalibrationError("%d accelerometer samples (%.2f s) are too few for a spectrum: "
                               "need more than %d" % (len(data), span_s, nfft))
    freqs, px = welch_psd(data[:, 1], rate_hz, nfft)
    _f, py = welch_psd(data[:, 2], rate_hz, nfft)
    _f, pz = welch_psd(data[:, 3], rate_hz, nfft)
    return Spectrum(freqs, px, py, pz, px + py + pz, name)


# -- 3. and 4. one shaper --------------------------------------------------------
def remaining_vibrations(a, t, damping_ratio, freqs_hz, psd):
    """``(fraction, response)``: the share of ``psd`` (above 1/20 of its
    peak) that impulses ``(a, t)`` leave at ``damping_ratio``, and their
    residual vibration at each of ``freqs_hz``."""
    response = shapers.residual_vibration(a, t, freqs_hz, damping_ratio)
    threshold = psd.max() / VIBRATION_REDUCTION
    left = np.maximum(response * psd - threshold, 0.0).sum()
    total = np.maximum(psd - threshold, 0.0).sum()
    return (float(left / total) if total > 0.0 else 0.0), response


def _offset_terms(a, t):
    """Sums of the smoothing offsets per unit (see :func:`smoothing`): for the
    90 deg corner ``(sum A dt, sum A dt^2)`` over the impulses at or after the
    shaper's centre, and for the 180 deg turn ``sum A dt^2`` over all."""
    a = np.asarray(a, dtype=np.float64) / np.sum(a)
    dt = np.asarray(t, dtype=np.float64) - float(np.dot(a, t))
    late = dt >= 0.0
    return float((a * dt)[late].sum()), float((a * dt * dt)[late].sum()), float((a * dt * dt).sum())


def smoothing(a, t, accel_mm_s2=SMOOTHING_ACCEL_MM_S2, scv_mm_s=DEFAULT_SCV_MM_S):
    """Smoothing (mm) of impulses ``(a, t)``: the larger of the path offset
    after a 90 deg corner, ``sqrt(2) sum A dt (scv + accel dt / 2)``
    over the impulses at or after the centre, and after a 180 deg turn,
    ``sum A accel dt^2 / 2`` (dt from the shaper's centre)."""
    s1, s2_late, s2 = _offset_terms(a, t)
    offset_90 = math.sqrt(2.0) * (scv_mm_s * s1 + 0.5 * accel_mm_s2 * s2_late)
    return max(offset_90, 0.5 * accel_mm_s2 * s2)


def max_accel(a, t, scv_mm_s=DEFAULT_SCV_MM_S, target_mm=TARGET_SMOOTHING_MM):
    """The largest acceleration (mm/s^2) whose :func:`smoothing` stays within
    ``target_mm``; 0 when the square corner velocity alone exceeds it."""
    s1, s2_late, s2 = _offset_terms(a, t)
    budget_90 = target_mm / math.sqrt(2.0) - scv_mm_s * s1
    if budget_90 < 0.0:
        return 0.0
    limits = [2.0 * target_mm / s2 if s2 > 0.0 else math.inf,
              2.0 * budget_90 / s2_late if s2_late > 0.0 else math.inf]
    return min(limits)


def _score(smoothing_mm, vibrations):
    """Klipper's empirical score (lower is better): smoothing weighted by the
    vibrations left."""
    return smoothing_mm * (vibrations ** 1.5 + vibrations * 0.2 + 0.01)


def evaluate(shaper_type, freq_hz, spectrum, damping_ratio=shapers.DEFAULT_DAMPING_RATIO,
             scv_mm_s=DEFAULT_SCV_MM_S, test_damping_ratios=TEST_DAMPING_RATIOS,
             max_freq_hz=MAX_FREQ_HZ):
    """ShaperFit of ``shaper_type`` at ``freq_hz`` against ``spectrum``'s
    summed PSD up to ``max_freq_hz`` (normalise the spectrum first)."""
    a, t = shapers.pulses(shaper_type, freq_hz, damping_ratio)
    keep = spectrum.freqs_hz <= max_freq_hz
    freqs, psd = spectrum.freqs_hz[keep], spectrum.psd_sum[keep]
    vibrations = 0.0
    response = np.zeros_like(freqs)
    for ratio in test_damping_ratios:
        left, values = remaining_vibrations(a, t, ratio, freqs, psd)
        vibrations = max(vibrations, left)
        response = np.maximum(response, values)
    smooth = smoothing(a, t, scv_mm_s=scv_mm_s)
    return ShaperFit(shaper_type, float(freq_hz), vibrations, smooth, _score(smooth, vibrations),
                     max_accel(a, t, scv_mm_s), freqs, response)


def fit_shaper(shaper_type, spectrum, max_smoothing=None, **options):
    """``(chosen, tried)``: ShaperFits of ``shaper_type`` scanned from its
    :data:`SHAPER_MIN_FREQ_HZ` to :data:`MAX_SHAPER_FREQ_HZ`, highest first,
    stopping once smoothing passes ``max_smoothing`` (mm) after a first
    result; ``chosen`` as the module docstring says. ``options``: those of
    :func:`evaluate` (``max_freq_hz`` raised to the highest frequency tried)."""
    freqs = np.arange(SHAPER_MIN_FREQ_HZ[shaper_type], MAX_SHAPER_FREQ_HZ, FREQ_STEP_HZ)
    # The PSD is weighed at least up to the highest shaper frequency tried.
    options["max_freq_hz"] = max(options.get("max_freq_hz", MAX_FREQ_HZ), freqs[-1])
    best = None
    tried = []
    for freq in freqs[::-1]:
        fit = evaluate(shaper_type, freq, spectrum, **options)
        if max_smoothing and fit.smoothing > max_smoothing and best is not None:
            break
        tried.append(fit)
        if best is None or fit.vibrations < best.vibrations:
            best = fit
    chosen = best
    for fit in tried[::-1]:
        if fit.vibrations < best.vibrations * 1.1 + 0.0005 and fit.score < chosen.score:
            chosen = fit
    return chosen, tried


# -- 5. the recommendation ---------------------------------------------------------
def find_best_shaper(spectrum, shaper_types=AUTOTUNE_SHAPERS, max_smoothing=None,
                     logger=None, **options):
    """``(best, fits)``: the recommended ShaperFit and the chosen fit of each
    of ``shaper_types``, Klipper's way: a shaper replaces the best so far when
    its score is 20 % lower, or 5 % lower with 10 % less smoothing; a fit of
    the same type at another frequency with both fewer vibrations and less
    smoothing replaces it; a recommended zv gives way to the first other
    shaper with 10 % fewer vibrations. ``logger(line)`` gets the two
    "Fitted shaper" lines of each. ``spectrum`` should be normalised."""
    best = None
    fits = []
    for shaper_type in shaper_types:
        if shaper_type not in SHAPER_MIN_FREQ_HZ:
            raise CalibrationError("unknown shaper %r: one of %s"
                                   % (shaper_type, ", ".join(shapers.SHAPER_TYPES)))
        fit, tried = fit_shaper(shaper_type, spectrum, max_smoothing, **options)
        if (best is None or fit.score * 1.2 < best.score
                or (fit.score * 1.05 < best.score and fit.smoothing * 1.1 < best.smoothing)):
            best = fit
        for other in tried[::-1]:
            if other.vibrations < best.vibrations and other.smoothing < best.smoothing:
                best = fit = other
        if logger is not None:
            for line in fit.lines():
                logger(line)
        fits.append(fit)
    if best.name == "zv":
        for fit in fits:
            if fit.name != "zv" and fit.vibrations * 1.1 < best.vibrations:
                best = fit
                break
    return best, fits


def calibrate(samples, name="", max_smoothing=None, logger=None, **options):
    """``(spectrum, best, fits)`` of accelerometer ``samples`` (N, 4): the
    normalised Spectrum and :func:`find_best_shaper`'s result."""
    spectrum = frequency_response(samples, name).normalized()
    best, fits = find_best_shaper(spectrum, max_smoothing=max_smoothing, logger=logger,
                                  **options)
    return spectrum, best, fits
