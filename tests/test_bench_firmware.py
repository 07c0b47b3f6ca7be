"""`mendel bench firmware`: the need figures and the inputs it builds."""
import json
import subprocess
import sys

import numpy as np
import pytest

from mendel.bench import firmware


def test_peak_rate_finds_the_busiest_window():
    freq = 1000
    clocks = np.array([0, 10, 20, 1500, 1510, 1520, 1530, 1540, 5000], dtype=np.int64)
    assert firmware.peak_rate(clocks, freq, freq) == (5.0, 1500)
    assert firmware.peak_rate(clocks, 100, freq) == (50.0, 1500)
    assert firmware.peak_rate(np.array([], dtype=np.int64), freq, freq) == (0.0, 0)


def test_fast_gcode_triples_feeds_and_drops_the_files_limits(tmp_path):
    src = tmp_path / "in.gcode"
    src.write_text("M204 P800\nM203 X180\nG1 X1 Y2 F1200 ; F99 in a comment\n"
                   "G0 F7800\nG1 X3 E0.1\nM106 S255\nG28\n")
    out = firmware.fast_gcode(str(src), str(tmp_path / "out.gcode"))
    assert open(out).read().splitlines() == [
        "; M204 P800", "; M203 X180", "G1 X1 Y2 F3600.0 ; F99 in a comment",
        "G0 F23400.0", "G1 X3 E0.1", "M106 S255", "G28"]


def test_fast_config_raises_the_printer_limits_only(tmp_path):
    src = tmp_path / "printer.cfg"
    src.write_text("[printer]\nkinematics = cartesian\nmax_velocity = 300\n"
                   "max_accel: 3000\n\n[extruder]\nmax_velocity = 50\n")
    text = open(firmware.fast_config(str(src), str(tmp_path / "fast.cfg"))).read()
    assert "max_velocity = 500\nmax_accel = 10000\n" in text
    assert "[extruder]\nmax_velocity = 50" in text


def test_firmware_bench_on_the_unix_port_takes_every_run_of_a_real_print(tmp_path):
    from paths import EXAMPLE
    log = firmware.step_log(EXAMPLE, None, str(tmp_path / "steps.log"))
    clocks = firmware.first_clocks(log)
    per_s, start = firmware.peak_rate(clocks, 12000000, 12000000)
    assert 300 < per_s < 2000
    part = firmware.busiest_slice(log, str(tmp_path / "busy.log"), start, runs=1500)
    figures = firmware.unix_rate(part, runs=1500)
    for mode in firmware.MODES:
        f = figures[mode]
        assert f["shutdown"] is None and f["runs"] == 1500 and f["late"] == 0
        assert 6 < f["bytes_per_run"] < 10 and f["words"] > f["runs"]
    assert figures["bulk"]["words"] == figures["message"]["words"]


@pytest.mark.skipif(sys.platform != "linux", reason="the simulated board needs a pty")
def test_cli_prints_json_with_the_keys_the_issue_names():
    out = subprocess.run([sys.executable, "-m", "mendel", "bench", "firmware", "--json"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    for key in ("runs_per_s", "bytes_per_run", "heap_free_bytes", "needed_runs_per_s"):
        assert key in figures
    assert figures["needed_runs_per_s"]["example"] > 300
