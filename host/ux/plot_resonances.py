# Mendel host: the frequency response and the shapers (`mendel plot --resonances`).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Draw a resonance measurement as Klipper's calibrate_shaper.py charts it
(our code): the power spectral density of X, Y, Z and their sum against
frequency, each fitted shaper's vibration reduction (on a second axis,
0..1), and the sum after the recommended shaper. PNG, matplotlib Agg,
800 x 600 pixels.

Input: a TEST_RESONANCES / SHAPER_CALIBRATE CSV or raw accelerometer data
(:mod:`mendel.shaping.csvfiles`). The shapers are fitted anew
(:func:`mendel.shaping.calibrate.find_best_shaper`); a file without shaper
columns holds the PSD as measured and is normalised first.

Units: ``_hz`` Hz; PSD as in the file.
"""
import os

import numpy as np

from mendel.shaping import calibrate, csvfiles

FIGURE_IN = (8, 6)
DPI = 100


def resonance_chart(path, max_smoothing=None):
    """What the chart of ``path`` shows: ``{"name", "freqs_hz", "psd": {"x",
    "y", "z", "all"} (n,), "shapers": [(label, name, freqs_hz, response)],
    "recommended": name, "after_shaper": (n,), "lines": the printed lines}``,
    frequencies up to :data:`mendel.shaping.calibrate.MAX_FREQ_HZ`. Raises
    CalibrationError, OSError."""
    spectrum, stored = csvfiles.read(path)
    if not stored:
        spectrum = spectrum.normalized()
    lines = []
    best, fits = calibrate.find_best_shaper(spectrum, max_smoothing=max_smoothing,
                                            logger=lines.append)
    lines.append("Recommended shaper is %s @ %.1f Hz" % (best.name, best.freq_hz))
    keep = spectrum.freqs_hz <= calibrate.MAX_FREQ_HZ
    freqs = spectrum.freqs_hz[keep]
    shapers = []
    for fit in fits:
        label = "%s (%.1f Hz, vibr=%.1f%%, sm~=%.2f, accel<=%.f)" % (
            fit.name.upper(), fit.freq_hz, fit.vibrations * 100.0, fit.smoothing,
            round(fit.max_accel_mm_s2 / 100.0) * 100.0)
        shapers.append((label, fit.name, fit.freqs_hz, fit.response))
    return {"name": os.path.basename(path), "freqs_hz": freqs,
            "psd": {axis: spectrum.axis(axis)[keep] for axis in ("x", "y", "z", "all")},
            "shapers": shapers, "recommended": best.name,
            "after_shaper": spectrum.psd_sum[keep] * np.interp(freqs, best.freqs_hz,
                                                               best.response),
            "lines": lines}


def render_resonances(out, chart):
    """Draw ``chart`` (:func:`resonance_chart`) into PNG file ``out``;
    returns the figure's size in pixels (width, height)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    figure, ax = pyplot.subplots(figsize=FIGURE_IN)
    freqs = chart["freqs_hz"]
    for axis, label, colour in (("all", "X+Y+Z", "purple"), ("x", "X", "red"),
                                ("y", "Y", "green"), ("z", "Z", "blue")):
        ax.plot(freqs, chart["psd"][axis], label=label, color=colour)
    ax.plot(freqs, chart["after_shaper"], label="After\nshaper", color="cyan")
    ax.set_xlim(0, freqs[-1])
    ax.set_xlabel("Frequency, Hz")
    ax.set_ylabel("Power spectral density")
    ax.ticklabel_format(axis="y", style="scientific", scilimits=(0, 0))
    ax.grid(which="major", color="grey")
    ax.set_title("Frequency response and shapers (%s)" % chart["name"], fontsize="medium")
    ratio = ax.twinx()
    ratio.set_ylabel("Shaper vibration reduction (ratio)")
    for label, name, shaper_freqs, response in chart["shapers"]:
        ratio.plot(shaper_freqs, response, label=label,
                   linestyle="dashdot" if name == chart["recommended"] else "dotted")
    ratio.plot([], [], " ", label="Recommended shaper: %s" % chart["recommended"].upper())
    ax.legend(loc="upper left", fontsize="x-small")
    ratio.legend(loc="upper right", fontsize="x-small")
    figure.tight_layout()
    figure.savefig(out, dpi=DPI)
    size = tuple(int(v) for v in figure.get_size_inches() * DPI)
    pyplot.close(figure)
    return size
