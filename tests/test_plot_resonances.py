"""The CSV files of the resonance commands and `mendel plot --resonances`."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from mendel.shaping import calibrate, csvfiles
from mendel.ux import plot_resonances
from test_shaper_calibrate import sweep_samples


@pytest.fixture(scope="module")
def samples():
    return sweep_samples(37.0, 0.08, 0)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_spectrum_csv_round_trip_is_klippers_format(tmp_path, samples):
    spectrum = calibrate.frequency_response(samples).normalized()
    best, fits = calibrate.find_best_shaper(spectrum)
    path = str(tmp_path / "calibration_data_x_t.csv")
    csvfiles.write_spectrum(path, spectrum, fits, max_freq_hz=200.0)
    lines = open(path).read().splitlines()
    assert lines[0] == ("freq,psd_x,psd_y,psd_z,psd_xyz,shapers:," + ",".join(
        "%s(%.1f)" % (fit.name, fit.freq_hz) for fit in fits))
    assert lines[1].split(",")[5] == ""
    assert len(lines) - 1 == int((spectrum.freqs_hz < 200.0).sum())
    back, shapers = csvfiles.read(path)
    n = len(back.freqs_hz)
    assert np.allclose(back.freqs_hz, spectrum.freqs_hz[:n], atol=0.05)
    assert np.allclose(back.psd_sum, spectrum.psd_sum[:n], rtol=1e-3)
    assert [(name, freq) for name, freq, _r in shapers] == \
        [(fit.name, round(fit.freq_hz, 1)) for fit in fits]
    assert np.allclose(shapers[1][2], fits[1].response[:n], atol=5e-4)


def test_raw_data_csv_reads_back_as_its_spectrum(tmp_path, samples):
    path = str(tmp_path / "raw_data_x_t.csv")
    csvfiles.write_raw(path, samples[:20000])
    assert open(path).readline() == "#time,accel_x,accel_y,accel_z\n"
    spectrum, shapers = csvfiles.read(path)
    direct = calibrate.frequency_response(samples[:20000])
    assert shapers == [] and np.allclose(spectrum.psd_x, direct.psd_x, rtol=1e-4, atol=1e-9)


def test_bad_csv_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,a,b\n1,2,3\n")
    with pytest.raises(calibrate.CalibrationError, match=r"bad.csv:1: 'time,a,b' is not"):
        csvfiles.read(str(path))


def test_chart_data_by_numbers(tmp_path, samples):
    path = str(tmp_path / "resonances_x_t.csv")
    csvfiles.write_spectrum(path, calibrate.frequency_response(samples))
    chart = plot_resonances.resonance_chart(path)
    assert chart["lines"][-1].startswith("Recommended shaper is %s @ " % chart["recommended"])
    rec = [s for s in chart["shapers"] if s[1] == chart["recommended"]][0]
    assert float(rec[0].split("(")[1].split(" Hz")[0]) == pytest.approx(37.0, rel=0.05)
    freqs, total = chart["freqs_hz"], chart["psd"]["all"]
    assert freqs[-1] <= 200.0
    assert np.allclose(total, chart["psd"]["x"] + chart["psd"]["y"] + chart["psd"]["z"],
                       rtol=2e-3)
    peak = int(np.argmax(total))
    assert freqs[peak] == pytest.approx(37.0, abs=1.6)
    # After the recommended shaper the resonance is nearly gone.
    assert chart["after_shaper"][peak] < 0.1 * total[peak]
    assert np.allclose(chart["after_shaper"], total * np.interp(freqs, rec[2], rec[3]))


def test_cli_writes_the_png(tmp_path, samples):
    csv = str(tmp_path / "resonances_x_t.csv")
    csvfiles.write_spectrum(csv, calibrate.frequency_response(samples))
    out = str(tmp_path / "chart.png")
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-m", "mendel", "plot", "--resonances", csv, "-o", out],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("Fitted shaper '") for line in lines) == 5
    assert lines[-2].startswith("Recommended shaper is ") and lines[-1] == "wrote " + out
    assert png_size(out) == (800, 600)
    bad = subprocess.run([sys.executable, "-m", "mendel", "plot", "--resonances", csv,
                          "--max-smoothing", "0.01"], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "--max-smoothing must be at least 0.05" in bad.stderr
