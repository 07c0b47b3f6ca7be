"""`mendel plot`: the data behind the plots, from the planner and a run log."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from paths import EXAMPLE
from mendel import config, resources
from mendel.machine.check import check_file
from mendel.ux import plot

CFG = config.load()
SPM = CFG.steps_per_mm()
MOTORS = list(CFG.steppers)


def _profile(tmp_path, text, layers=None, cfg=CFG):
    gcode = tmp_path / "moves.gcode"
    gcode.write_text(text)
    return plot.motion_profile(plot.planned_moves(str(gcode), cfg), cfg.steps_per_mm(),
                               list(cfg.steppers), layers)


def test_one_straight_move_is_its_trapezoid(tmp_path):
    # 100 mm at 100 mm/s, 3000 mm/s^2: 1/30 s to reach cruise over 5/3 mm each end.
    profile = _profile(tmp_path, "G1 X100 F6000\n")
    assert profile["moves"] == 1
    assert profile["velocity"].tolist() == pytest.approx([0, 100, 100, 0])
    accel_t = 100 / 3000
    cruise_t = (100 - 2 * 100 ** 2 / 6000) / 100
    assert profile["time_s"].tolist() == pytest.approx(
        [0, accel_t, accel_t + cruise_t, 2 * accel_t + cruise_t])
    assert profile["accel"].tolist() == pytest.approx([3000, 3000, 0, 0, -3000, -3000])
    assert max(profile["steprate"]["x"]) == pytest.approx(100 * 80)
    assert max(profile["steprate"]["y"]) == 0


def test_step_rate_is_speed_times_share_times_steps_per_mm(tmp_path):
    # 30-40-50 triangle: X gets 3/5 of the speed, Y 4/5; E 5 mm over 50 mm.
    profile = _profile(tmp_path, "M83\nG1 X30 Y40 E5 F3000\n")
    v = profile["velocity"]
    assert max(v) == pytest.approx(50.0)
    assert profile["steprate"]["x"] == pytest.approx(v * 0.6 * 80)
    assert profile["steprate"]["y"] == pytest.approx(v * 0.8 * 80)
    assert profile["steprate"]["e"] == pytest.approx(v * 0.1 * SPM[3])


def test_corexy_step_rates_follow_its_motors(tmp_path):
    """CoreXY: A = X + Y, B = X - Y (Klipper's Kinematics.md)."""
    cfg = config.load(os.path.join(os.path.dirname(resources.default_config()),
                                   "corexy.cfg"))
    profile = _profile(tmp_path, "G28\nG1 X50 Y50 F3000\nG1 X80 Y50\n", cfg=cfg)
    v = profile["velocity"]
    spm = dict(zip(cfg.steppers, cfg.steps_per_mm()))
    diagonal = slice(0, 4)                   # the X = Y move: only A turns
    assert profile["steprate"]["x"][diagonal] == pytest.approx(
        v[diagonal] * 2 / math.sqrt(2) * spm["x"])
    assert max(profile["steprate"]["y"][diagonal]) == pytest.approx(0.0, abs=1e-6)
    along_x = slice(4, 8)                    # pure X: both turn at the toolhead speed
    assert profile["steprate"]["x"][along_x] == pytest.approx(v[along_x] * spm["x"])
    assert profile["steprate"]["y"][along_x] == pytest.approx(v[along_x] * spm["y"])


def test_extrude_only_moves_step_e_with_the_toolhead_still(tmp_path):
    profile = _profile(tmp_path, "M83\nG1 E-2 F1800\n")
    assert max(profile["velocity"]) == 0 and max(abs(profile["accel"])) == 0
    assert max(profile["steprate"]["e"]) == pytest.approx(30 * SPM[3])


def test_example_stays_within_the_limits_and_matches_the_estimate():
    planned = plot.planned_moves(EXAMPLE, CFG)
    profile = plot.motion_profile(planned, SPM, MOTORS)
    assert max(profile["velocity"]) <= CFG.max_velocity + 1e-9
    assert max(abs(profile["accel"])) <= CFG.max_accel + 1e-9
    # Continuous speed: each move starts at the speed the one before ended at.
    v = profile["velocity"].reshape(-1, 4)
    kinematic = planned["kinematic"]
    both = kinematic[1:] & kinematic[:-1]
    assert v[1:, 0][both] == pytest.approx(v[:-1, 3][both], abs=1e-6)
    # Time runs on, and ends at the preflight's estimate.
    assert np.all(np.diff(profile["time_s"]) >= -1e-9)
    assert profile["time_s"][-1] == pytest.approx(check_file(EXAMPLE, CFG)["estimated_time_s"],
                                                  abs=1e-3)
    z_rate = max(profile["steprate"]["z"])
    assert z_rate <= CFG.max_z_velocity * SPM[2] + 1e-6


def test_layer_range_keeps_only_those_layers():
    planned = plot.planned_moves(EXAMPLE, CFG)
    assert max(planned["layer"]) == check_file(EXAMPLE, CFG)["layers"] == 80
    profile = plot.motion_profile(planned, SPM, MOTORS, layers=(10, 12))
    chosen = np.flatnonzero((planned["layer"] >= 10) & (planned["layer"] <= 12))
    assert profile["moves"] == len(chosen) > 0
    assert profile["time_s"][0] == pytest.approx(planned["start_s"][chosen[0]])
    assert all(np.diff(planned["line"]) >= 0)      # in file order
    with pytest.raises(plot.PlotError, match="layers 90-91"):
        plot.motion_profile(planned, SPM, MOTORS, layers=(90, 91))
    assert plot.parse_layers("3-7") == (3, 7) and plot.parse_layers("4") == (4, 4)
    for bad in ("7-3", "a-b", "-1"):
        with pytest.raises(plot.PlotError):
            plot.parse_layers(bad)


def _plot(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "mendel", "plot", *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_cli_writes_pngs_of_motion_and_temperatures(tmp_path):
    result = _plot(tmp_path, EXAMPLE, "--layers", "5-6")
    assert result.returncode == 0, result.stderr
    png = tmp_path / "mendel-test-block-plot.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "in layers 5-6" in result.stdout and "peak speed 150.0 mm/s" in result.stdout

    log = tmp_path / "run.jsonl"
    entries = [{"kind": "start", "wall_s": 0.0}]
    for second in range(60):
        temp = 20 + 180 * (1 - math.exp(-second / 20))
        entries.append({"kind": "temperature", "wall_s": second * 0.01, "board_s": second,
                        "heaters": {"extruder": [temp, 200.0, 1.0],
                                    "heater_bed": [20.0, 0.0, 0.0]}})
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    series = plot.temperatures(str(log))
    times, temps, targets = series["extruder"]
    assert times == list(range(60)) and targets == [200.0] * 60
    assert max(temps) == pytest.approx(20 + 180 * (1 - math.exp(-59 / 20)))
    result = _plot(tmp_path, "--log", str(log), "--out", "temps.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "temps.png").read_bytes()[:4] == b"\x89PNG"
    assert "extruder 60 readings, peak %.1f C" % max(temps) in result.stdout


def test_cli_refuses_what_it_cannot_plot(tmp_path):
    assert "needs a run log" in _plot(tmp_path, EXAMPLE, "--what", "temperature").stderr
    assert "need a G-code FILE" in _plot(tmp_path, "--log", "x.jsonl",
                                         "--what", "velocity").stderr
    result = _plot(tmp_path, EXAMPLE, "--what", "speed")
    assert result.returncode == 2 and "--what takes" in result.stderr
    result = _plot(tmp_path, EXAMPLE, "--layers", "200-201")
    assert result.returncode == 2 and "no moves to plot in layers 200-201" in result.stderr
    assert not os.path.exists(tmp_path / "mendel-test-block-plot.png")
