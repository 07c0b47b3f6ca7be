"""SET_INPUT_SHAPER, SET_PRESSURE_ADVANCE, M900 and M572 on the simulated
printer; printer.cfg's [input_shaper] and pressure_advance applied to a
whole corpus file."""
import os

import pytest

from mendel.machine.check import check_file
from mendel.machine.printer import PrintError
from mendel.resources import default_config

from sim_printer import board_steps, printer_on_sim, run, write_cfg


def echoes(said):
    return [line[len("echo: "):] for line in said if line.startswith("echo: ")]


def test_set_input_shaper_changes_what_it_is_given_and_reports_both_axes(tmp_path):
    cfg = write_cfg(tmp_path, default_config(), "")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "SET_INPUT_SHAPER SHAPER_FREQ_X=37.5 SHAPER_TYPE_X=ei "
                               "SHAPER_FREQ_Y=52 DAMPING_RATIO_Y=0.12\n")
        assert printer.toolhead.input_shaper == {"x": ("ei", 37.5, 0.1),
                                                 "y": ("mzv", 52.0, 0.12)}
        assert echoes(said)[-2:] == [
            "shaper_type_x:ei shaper_freq_x:37.500 damping_ratio_x:0.100000",
            "shaper_type_y:mzv shaper_freq_y:52.000 damping_ratio_y:0.120000"]
        # Bad values change nothing.
        for text, message in (("SHAPER_TYPE=zvv", "'zvv' is not one of zv, mzv"),
                              ("SHAPER_FREQ_X=-3", "SHAPER_FREQ_X must have minimum of 0"),
                              ("DAMPING_RATIO_Y=1", "DAMPING_RATIO_Y must be below 1"),
                              ("FREQ=3", "SET_INPUT_SHAPER has no parameter FREQ")):
            with pytest.raises(PrintError, match=message):
                run(printer, tmp_path, "SET_INPUT_SHAPER SHAPER_FREQ_Y=40 %s\n" % text)
            assert printer.toolhead.input_shaper["y"] == ("mzv", 52.0, 0.12)
        run(printer, tmp_path, "SET_INPUT_SHAPER SHAPER_FREQ_X=0\n")
        assert printer.toolhead.input_shaper["x"] is None
        assert printer.toolhead.stepgen.shaped


def test_pressure_advance_commands_of_klipper_marlin_and_reprapfirmware(tmp_path):
    cfg = write_cfg(tmp_path, default_config(), "")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "SET_PRESSURE_ADVANCE ADVANCE=0.05 SMOOTH_TIME=0.03\n")
        assert printer.pressure_advance == (0.05, 0.03)
        assert echoes(said)[-2:] == ["pressure_advance: 0.050000",
                                     "pressure_advance_smooth_time: 0.030000"]
        run(printer, tmp_path, "M900 K0.04\n")
        assert printer.pressure_advance == (0.04, 0.03)
        run(printer, tmp_path, "M572 D0 S0.025\n")
        assert printer.pressure_advance == (0.025, 0.03)
        run(printer, tmp_path, "M572 D1 S0.1\n")
        assert said[-1].endswith("M572: D1 is not an extruder drive of this printer (it has "
                                 "D0): ignored")
        for text, message in (("M572 D0", "M572 needs S"),
                              ("M900", "M900 needs K"),
                              ("M900 K-1", "K must not be negative"),
                              ("SET_PRESSURE_ADVANCE SMOOTH_TIME=0.3",
                               "SMOOTH_TIME must have maximum of 0.2"),
                              ("SET_PRESSURE_ADVANCE EXTRUDER=extruder1 ADVANCE=1",
                               "EXTRUDER=extruder1 is not an extruder")):
            with pytest.raises(PrintError, match=message):
                run(printer, tmp_path, text + "\n")
            assert printer.pressure_advance == (0.025, 0.03)
        run(printer, tmp_path, "SET_PRESSURE_ADVANCE ADVANCE=0\n")
        assert printer.pressure_advance == (0.0, 0.03)
        # A new smooth time rebuilds the extruder's stage: with no advance, none.
        run(printer, tmp_path, "SET_PRESSURE_ADVANCE SMOOTH_TIME=0.04\n")
        assert not printer.toolhead.stepgen.shaped


def test_a_corpus_file_prints_shaped_and_advanced_and_ends_on_the_same_steps(tmp_path, corpus):
    source = os.path.join(corpus, "slic3r-1.3-cube-m82.gcode")
    text = open(source).read()
    results = {}
    for name, extra in (("plain", ""),
                        ("tuned", "[input_shaper]\nshaper_type_x = mzv\nshaper_freq_x = 37\n"
                                  "shaper_type_y = ei\nshaper_freq_y = 52\n")):
        cfg = write_cfg(tmp_path, default_config(), extra)
        if name == "tuned":
            cfg.pressure_advance = 0.05
        with printer_on_sim(cfg) as (printer, said):
            assert printer.toolhead.stepgen.shaped == (name == "tuned")
            summary = run(printer, tmp_path, text)
            results[name] = (board_steps(printer), printer.toolhead.runs_sent, summary)
    plain, tuned = results["plain"], results["tuned"]
    # Net motion unchanged: every motor ends on the same step.
    assert tuned[0] == plain[0]
    # ... by other step runs (the shaped positions, the extruder's advance).
    assert tuned[1] != plain[1]


def test_mendel_check_reads_the_commands_and_refuses_shaping_a_delta(tmp_path):
    cfg = write_cfg(tmp_path, default_config(), "")
    path = tmp_path / "tune.gcode"
    path.write_text("SET_INPUT_SHAPER SHAPER_FREQ_X=40\nM900 K0.05\nSET_INPUT_SHAPER "
                    "SHAPER_TYPE=bad\n")
    report = check_file(str(path), cfg)
    assert [(e["line"], e["reason"]) for e in report["errors"]] == [
        (3, "SET_INPUT_SHAPER: shaper type 'bad' is not one of zv, mzv, zvd, ei, 2hump_ei, "
            "3hump_ei")]


def test_short_moves_filling_the_step_queues_run_without_gaps(tmp_path):
    # 0.2 mm zigzags: a full step queue holds under BUFFER_TIME of motion;
    # the toolhead used to restart the motion there 0.25 s later, stopping
    # the motors dead at speed (and the resonance test's sweep with them).
    cfg = write_cfg(tmp_path, default_config(), "")
    lines = ["G1 X%.1f Y%.2f F6000" % (100 + (i % 2) * 0.2, 100 + i * 0.02)
             for i in range(3000)]
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 X100 Y100 F6000\nM400\n")
        toolhead = printer.toolhead
        start, motion = toolhead.print_time, toolhead.motion_time
        run(printer, tmp_path, "\n".join(lines) + "\n")
        planned = toolhead.motion_time - motion
        assert planned > 5.0
        # The board ran the moves back to back: no time but the moves' own.
        assert toolhead.print_time - start == pytest.approx(planned + 0.25, abs=1e-6)


def test_tuning_tower_runs_the_command_as_the_print_rises(tmp_path):
    cfg = write_cfg(tmp_path, default_config(), "")
    cfg.pressure_advance = 0.05
    layers = []
    for z in (0.2, 0.4, 0.6, 1.0):
        layers += ["G1 Z%.1f F600" % z, "G1 X120 Y100 E0.5 F3000", "G1 X120 Y120 E0.5",
                   "G0 X100 Y100"]
    text = ("G28\nM83\nM109 S200\nG1 X100 Y100 Z0.2 F6000\n"
            "TUNING_TOWER COMMAND=SET_PRESSURE_ADVANCE PARAMETER=ADVANCE START=0.01 "
            "FACTOR=0.02 SKIP=0.2\n" + "\n".join(layers) + "\nG28 X Y\nG1 Z3 X110 E1\n")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, text)
        lines = echoes(said)
        assert "Starting tuning test (start=0.010000 factor=0.020000)" in lines
        # h = max(z - SKIP, 0): 0, 0.2, 0.4, 0.8 mm -> 0.01 + 0.02 h.
        assert [line for line in lines if line.startswith("pressure_advance:")] == [
            "pressure_advance: %.6f" % v for v in (0.01, 0.014, 0.018, 0.026)]
        assert "Ending tuning test mode" in lines          # G28 ended it
        assert printer.pressure_advance == (pytest.approx(0.026), 0.04)


def test_tuning_tower_formulas_and_errors(tmp_path):
    from mendel.gcode.tuning_tower import TuningTower
    cfg = write_cfg(tmp_path, default_config(), "")
    with printer_on_sim(cfg) as (printer, said):
        for text, message in (
                ("TUNING_TOWER COMMAND=NOPE PARAMETER=A", "COMMAND=NOPE is not a command"),
                ("TUNING_TOWER COMMAND=M104", "needs COMMAND= and PARAMETER="),
                ("TUNING_TOWER COMMAND=M104 PARAMETER=S FACTOR=1 STEP_DELTA=1 STEP_HEIGHT=1",
                 "not both"),
                ("TUNING_TOWER COMMAND=M104 PARAMETER=S STEP_DELTA=5", "needs STEP_HEIGHT"),
                ("TUNING_TOWER COMMAND=M104 PARAMETER=S BAND=5", "BAND needs FACTOR")):
            with pytest.raises(PrintError, match=message):
                run(printer, tmp_path, text + "\n")
        # A temperature tower through a classic code: M104 S<value>.
        run(printer, tmp_path, "G28\nM83\nM109 S200\nG1 X100 Y100 Z0.2 F6000\nTUNING_TOWER "
            "COMMAND=M104 PARAMETER=S START=215 STEP_DELTA=-5 STEP_HEIGHT=0.2\n"
            "G1 X110 E0.4\nG1 Z0.4\nG1 X100 E0.4\n")
        assert printer.targets["extruder"] == 205.0         # 215 - 5 * floor(0.4 / 0.2)
    tower = TuningTower(None)
    tower._start, tower._factor, tower._band = 200.0, -1.0, 5.0
    assert [tower.value_at(z) for z in (0.0, 4.9, 5.0, 12.0)] == [197.5, 197.5, 192.5, 187.5]
    tower._factor = tower._band = 0.0
    tower._step_delta, tower._step_height, tower._skip = -5.0, 10.0, 1.0
    assert [tower.value_at(z) for z in (0.5, 10.9, 11.0, 31.0)] == [200.0, 200.0, 195.0, 185.0]
