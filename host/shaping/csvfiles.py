# Mendel host: the CSV files of TEST_RESONANCES and SHAPER_CALIBRATE.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Klipper's file formats (Measuring_Resonances.md), so its tools and ours
read each other's files.

* resonances / calibration data: header ``freq,psd_x,psd_y,psd_z,psd_xyz``,
  with fitted shapers also ``,shapers:,zv(37.0),mzv(37.4),...``; one row
  per PSD frequency below the maximum, ``%.1f`` Hz then ``%.3e`` PSDs, and
  with shapers an empty column then each shaper's response ``%.3f``.
* raw data: ``#time,accel_x,accel_y,accel_z`` then ``%.6f`` rows (s, mm/s^2).

File names: ``/tmp/<kind>_<axis>_<NAME>.csv`` (kind ``resonances``,
``calibration_data`` or ``raw_data``).
"""
import os
import re

import numpy as np

from mendel.shaping.calibrate import CalibrationError, Spectrum, frequency_response

OUTPUT_DIR = "/tmp"
PSD_HEADER = "freq,psd_x,psd_y,psd_z,psd_xyz"
RAW_HEADER = "#time,accel_x,accel_y,accel_z"
_SHAPER_COLUMN = re.compile(r"^([0-9a-z_]+)\(([0-9.]+)\)$")


def filename(kind, axis, name):
    """``/tmp/<kind>_<axis>_<name>.csv``."""
    return os.path.join(OUTPUT_DIR, "%s_%s_%s.csv" % (kind, axis, name))


def valid_name(name):
    """Is ``name`` a NAME= suffix Klipper accepts (letters, digits, - and _)?"""
    return name.replace("-", "").replace("_", "").isalnum()


def write_spectrum(path, spectrum, fits=(), max_freq_hz=200.0):
    """Write ``spectrum`` (and the ShaperFits ``fits``, whose responses are on
    the spectrum's frequencies) to ``path``, rows below ``max_freq_hz``."""
    rows = spectrum.freqs_hz < max_freq_hz
    columns = [spectrum.freqs_hz[rows], spectrum.psd_x[rows], spectrum.psd_y[rows],
               spectrum.psd_z[rows], spectrum.psd_sum[rows]]
    header = PSD_HEADER
    formats = ["%.1f"] + ["%.3e"] * 4
    if fits:
        header += ",shapers:" + "".join(",%s(%.1f)" % (fit.name, fit.freq_hz) for fit in fits)
        n = int(rows.sum())
        columns += [np.asarray(fit.response[:n]) for fit in fits]
        formats += ["%.3f"] * len(fits)
    with open(path, "w", encoding="utf-8") as out:
        out.write(header + "\n")
        for values in zip(*columns):
            cells = [fmt % value for fmt, value in zip(formats, values)]
            if fits:
                cells.insert(5, "")
            out.write(",".join(cells) + "\n")


def write_raw(path, samples):
    """Write accelerometer ``samples`` (N, 4) to ``path``."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(RAW_HEADER + "\n")
        for row in np.asarray(samples):
            out.write("%.6f,%.6f,%.6f,%.6f\n" % tuple(row))


def read(path):
    """``(spectrum, shapers)`` of a resonances / calibration data file, or of a
    raw data file (its spectrum computed); ``shapers``: [(name, freq Hz,
    response (n,))], empty without. A spectrum read from a file without
    shaper columns is as measured (not normalised). Raises CalibrationError
    naming the file and line, OSError."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip()
    if header.startswith("#"):
        data = _load(path, skip=1)
        return frequency_response(data, name=path), []
    if not header.startswith(PSD_HEADER):
        raise CalibrationError("%s:1: %r is not a resonances CSV header (%s[,shapers:,...]) or "
                               "raw accelerometer data (%s)" % (path, header[:60], PSD_HEADER,
                                                               RAW_HEADER))
    names = header.split(",")[6:] if ",shapers:" in header else []
    shapers = []
    for column in names:
        match = _SHAPER_COLUMN.match(column)
        if match is None:
            raise CalibrationError("%s:1: %r is not a shaper column (name(freq))" % (path, column))
        shapers.append((match.group(1), float(match.group(2))))
    data = _load(path, skip=1)
    if data.shape[1] != 5 + (1 + len(names) if names else 0):
        raise CalibrationError("%s: rows have %d columns, the header %d"
                               % (path, data.shape[1], len(header.split(","))))
    spectrum = Spectrum(data[:, 0], data[:, 1], data[:, 2], data[:, 3], data[:, 4], path)
    return spectrum, [(name, freq, data[:, 6 + i]) for i, (name, freq) in enumerate(shapers)]


def _load(path, skip):
    try:
        data = np.genfromtxt(path, delimiter=",", skip_header=skip, comments="#",
                             filling_values=0.0, invalid_raise=True, dtype=np.float64)
    except ValueError as exc:
        raise CalibrationError("%s: %s" % (path, exc)) from None
    data = np.atleast_2d(data)
    if data.size == 0 or np.isnan(data).any():
        raise CalibrationError("%s: rows must be numbers separated by commas" % path)
    return data
