"""[resonance_tester], TEST_RESONANCES and SHAPER_CALIBRATE on the simulated
printer, measured by a fake accelerometer (tests/shaper_fakes.py) that
rings like a damped toolhead at 37 Hz / zeta 0.08 on X and 52 Hz / zeta
0.12 on Y, driven by the moves the toolhead really planned."""
import re

import numpy as np
import pytest

from mendel import config as config_mod
from mendel.config.section import ConfigError
from mendel.machine.printer import PrintError
from mendel.resources import default_config
from mendel.shaping import csvfiles, vibration_test

from shaper_fakes import FakeAccelerometer
from sim_printer import printer_on_sim, run, write_cfg

TESTER = "[resonance_tester]\nprobe_points = 125, 105, 20\naccel_chip = adxl345\n"
PLANT = {0: (37.0, 0.08), 1: (52.0, 0.12)}


def echoes(said):
    return [line[len("echo: "):] for line in said if line.startswith("echo: ")]


def rig(printer):
    """A fake accelerometer on ``printer``; returns the list of the shapers
    set (set_input_shaper calls with a frequency)."""
    calls = []
    toolhead = printer.toolhead
    real = toolhead.set_input_shaper

    def set_input_shaper(axis, shaper_type, freq, damping):
        if freq:
            calls.append((axis, shaper_type, freq, damping))
        real(axis, shaper_type, freq, damping)
    toolhead.set_input_shaper = set_input_shaper
    printer.accelerometers = {"adxl345": FakeAccelerometer(toolhead, PLANT)}
    return calls


def test_resonance_tester_config(tmp_path):
    cfg = write_cfg(tmp_path, default_config(), TESTER)
    rt = cfg.resonance_tester
    assert rt.probe_points == [[125.0, 105.0, 20.0]]
    assert rt.chips == {"x": "adxl345", "y": "adxl345"}
    assert (rt.min_freq, rt.max_freq, rt.accel_per_hz, rt.hz_per_sec, rt.max_smoothing) == \
        (5.0, 133.33, 75.0, 1.0, None)
    cfg = write_cfg(tmp_path, default_config(),
                    "[resonance_tester]\nprobe_points =\n  10, 20, 30\n  40,50,60\n"
                    "accel_chip_x = adxl345 a\naccel_chip_y = adxl345 b\nmax_smoothing = 0.2\n"
                    "hz_per_sec = 2\n")
    rt = cfg.resonance_tester
    assert rt.probe_points == [[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]]
    assert rt.chips == {"x": "adxl345 a", "y": "adxl345 b"}
    assert (rt.max_smoothing, rt.hz_per_sec) == (0.2, 2.0)


@pytest.mark.parametrize("text, message", [
    ("probe_points = 1, 2\naccel_chip = adxl345\n",
     r"printer.cfg:\d+: \[resonance_tester\] probe_points: '1, 2' is not a point x, y, z"),
    ("probe_points = 1, 2, 3\n", r"\[resonance_tester\] accel_chip: required key is missing"),
    ("probe_points = 1,2,3\naccel_chip = a\naccel_chip_x = b\naccel_chip_y = c\n",
     "accel_chip: give accel_chip or accel_chip_x and accel_chip_y, not both"),
    ("probe_points = 1,2,3\naccel_chip = a\nhz_per_sec = 3\n", "hz_per_sec: 3 is above the maximum 2"),
    ("probe_points = 1,2,3\naccel_chip = a\nmax_freq = 2\n", "max_freq: 2 is below the minimum 5"),
])
def test_resonance_tester_config_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        write_cfg(tmp_path, default_config(), "[resonance_tester]\n" + text)


@pytest.mark.parametrize("extra, line, message", [
    ("", "TEST_RESONANCES AXIS=X", "this printer has no \\[resonance_tester\\] section"),
    (TESTER, "TEST_RESONANCES", "AXIS=X or AXIS=Y is required"),
    (TESTER, "TEST_RESONANCES AXIS=Z", "AXIS=Z is not X or Y"),
    (TESTER, "TEST_RESONANCES AXIS=X OUTPUT=pictures", "OUTPUT=pictures: only resonances"),
    (TESTER, "TEST_RESONANCES AXIS=X NAME=a/b", "NAME=a/b: use letters, digits"),
    (TESTER, "TEST_RESONANCES AXIS=X FREQ_END=400", "FREQ_END must have maximum of 300"),
    (TESTER, "SHAPER_CALIBRATE MAX_SMOOTHING=0.01", "MAX_SMOOTHING must have minimum of 0.05"),
    (TESTER, "SHAPER_CALIBRATE CHIPS=x", "SHAPER_CALIBRATE has no parameter CHIPS"),
    (TESTER, "TEST_RESONANCES AXIS=X", "'adxl345' is not an accelerometer of this printer "
                                       "\\(it has: none; add an \\[adxl345\\] section\\)"),
])
def test_command_errors(tmp_path, extra, line, message):
    cfg = write_cfg(tmp_path, default_config(), extra)
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match=message):
            run(printer, tmp_path, "G28\n" + line + "\n")


def test_test_limits_are_restored_and_moves_make_the_sweep(tmp_path):
    """The test's moves reach accel_per_hz * f even past max_accel (3000),
    and the limits are the config's again afterwards."""
    cfg = write_cfg(tmp_path, default_config(), TESTER)
    with printer_on_sim(cfg) as (printer, said):
        rig(printer)
        seen = []
        hook = printer.toolhead.scheduled

        def keep(moves, start):
            if hook is not None:
                hook(moves, start)
            if moves is not None:
                seen.append(moves.copy())
        printer.toolhead.scheduled = keep
        run(printer, tmp_path, "G28\nTEST_RESONANCES AXIS=Y FREQ_START=40 FREQ_END=60 "
                               "HZ_PER_SEC=2 OUTPUT=raw_data NAME=limits\n")
        limits = printer.toolhead.limits
        assert (limits.max_accel, limits.max_velocity, limits.minimum_cruise_ratio) == \
            (3000.0, 300.0, 0.5)
    moves = np.concatenate(seen)
    shake = moves[np.abs(moves["accel"] - 75 * 40) < 75 * 21]
    sweep = vibration_test.sweep(40, 60, 75, 2)
    shake = shake[-len(sweep.freq_hz):]
    assert np.allclose(shake["accel"], sweep.accel_mm_s2)
    assert np.allclose(shake["accel_t"], 0.25 / sweep.freq_hz)
    assert np.allclose(shake["decel_t"], 0.25 / sweep.freq_hz)
    assert np.all(shake["cruise_t"] < 1e-9)
    assert np.allclose(shake["end"][:, 1] - shake["start"][:, 1], sweep.distance_mm)
    lines = echoes(said)
    assert lines[:20] == ["Testing frequency %d Hz" % f for f in range(40, 60)]
    assert lines[-1] == "Writing raw accelerometer data to /tmp/raw_data_y_limits.csv file"
    raw = np.loadtxt("/tmp/raw_data_y_limits.csv", delimiter=",", comments="#")
    assert raw.shape[1] == 4 and len(raw) > 3200 * 10


def test_shaper_calibrate_finds_both_axes_applies_and_saves(tmp_path):
    cfg = write_cfg(tmp_path, default_config(), TESTER)
    with printer_on_sim(cfg) as (printer, said):
        calls = rig(printer)
        run(printer, tmp_path, "G28\nSHAPER_CALIBRATE NAME=e2e\n")
        lines = echoes(said)
        fitted = {axis: re.search(r"Recommended shaper_type_%s = (\w+), shaper_freq_%s = "
                                  r"([0-9.]+) Hz" % (axis, axis), "\n".join(lines))
                  for axis in "xy"}
        for axis, freq in (("x", 37.0), ("y", 52.0)):
            assert float(fitted[axis].group(2)) == pytest.approx(freq, rel=0.05)
        assert calls == [(axis, fitted[axis].group(1), float(fitted[axis].group(2)), 0.1)
                         for axis in "xy"]
        assert printer.pending.changes == {"input_shaper": {
            "shaper_type_x": fitted["x"].group(1), "shaper_freq_x": fitted["x"].group(2),
            "shaper_type_y": fitted["y"].group(1), "shaper_freq_y": fitted["y"].group(2)}}
        run(printer, tmp_path, "SAVE_CONFIG\n", "save.gcode")
        assert printer.config.input_shaper.axes() == [
            (axis, fitted[axis].group(1), float(fitted[axis].group(2)), 0.1) for axis in "xy"]
    assert "Testing axis x" in lines and "Testing axis y" in lines
    assert lines.count("Calculating the best input shaper parameters for x axis") == 1
    assert sum(line.startswith("Fitted shaper '") for line in lines) == 10
    assert lines[-2:] == ["The SAVE_CONFIG command will update the printer config file",
                          "with these parameters (Mendel reads it back at once: no restart)."]
    block = config_mod.autosave.read_block(str(tmp_path / "printer.cfg"))
    assert block["input_shaper"]["shaper_freq_x"] == fitted["x"].group(2)
    for axis, freq in (("x", 37.0), ("y", 52.0)):
        spectrum, fits = csvfiles.read("/tmp/calibration_data_%s_e2e.csv" % axis)
        # 3 %, not 2: the toolhead pauses between some batches of the test's
        # moves (its restart after a full step queue), and the plant rings down.
        assert spectrum.peak_frequency() == pytest.approx(freq, rel=0.03)
        assert [name for name, _f, _r in fits] == ["zv", "mzv", "ei", "2hump_ei", "3hump_ei"]


def test_mendel_check_reads_the_arguments_and_moves_nothing(tmp_path):
    from mendel.machine.check import check_file
    cfg = write_cfg(tmp_path, default_config(), TESTER)
    path = tmp_path / "tune.gcode"
    path.write_text("G28\nSHAPER_CALIBRATE AXIS=X MAX_SMOOTHING=0.2\nTEST_RESONANCES AXIS=Q\n"
                    "TEST_RESONANCES AXIS=Y OUTPUT=raw_data FREQ_END=50\n")
    report = check_file(str(path), cfg)
    assert [(e["line"], e["reason"]) for e in report["errors"]] == [
        (3, "TEST_RESONANCES: AXIS=Q is not X or Y (Mendel tests X and Y)")]
