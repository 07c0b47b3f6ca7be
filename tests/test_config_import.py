"""`mendel config import`: Klipper configs of three well-known printers
(tests/klipper_configs/, written for these tests) become Mendel printer.cfg
files: what Mendel has is carried, pins go through the board file, every
section or key left behind is listed with its reason, and the result loads
(and prints on the simulated board) or fails only on what was listed."""
import configparser
import json
import os

from mendel import cli
from mendel import config as config_mod
from mendel.config import autosave, file as configfile
from mendel.config.klipper_import import import_klipper

from sim_printer import printer_on_sim, run

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "klipper_configs")
ENDER = os.path.join(HERE, "ender3-skr-pico.cfg")
VORON = os.path.join(HERE, "voron24-octopus.cfg")
KOSSEL = os.path.join(HERE, "kossel-trigorilla.cfg")
PICO = "btt-skr-pico-v1.0"
SMALL_JOB = "G28\nG1 X100 Y100 Z5 F6000\nG1 X110 Y105 F3000\n"


def _load(tmp_path, result, name="printer.cfg"):
    path = tmp_path / name
    path.write_text(result.text(str(path)))
    return config_mod.load(str(path)), path


def _klipper_keys(path):
    """(section, key) of every value in a Klipper file, its includes and its block."""
    parser = configfile.read(path, autosave=False)
    keys = {(s, k) for s in parser.sections() for k in parser.options(s)}
    block = autosave.block_parser(path)
    return keys | {(s, k) for s in block.sections() for k in block.options(s)}


def _written(text):
    """(section, key) of every value in the output, its block included."""
    parser = configparser.RawConfigParser(strict=False, inline_comment_prefixes=("#", ";"))
    user, block, _line = autosave.split(text)
    parser.read_string(user + "".join(block))
    return {(s, k) for s in parser.sections() for k in parser.options(s)}


def _gaps(result):
    return {(note.section, note.key) for note in result.gaps}


def _accounted_for(path, result):
    """Every Klipper value is in the output or listed as not carried."""
    written, gaps = _written(result.text()), _gaps(result)
    for section, key in _klipper_keys(path):
        target = "board" if section == "mcu" else section
        assert ((target, key) in written or (section, key) in gaps
                or (section, None) in gaps), (section, key)


def test_an_ender3_on_its_own_board_keeps_its_pins_keys_and_saved_values(tmp_path):
    result = import_klipper(ENDER, PICO)
    assert result.loads and result.refused == []
    cfg, path = _load(tmp_path, result)
    assert cfg.board == PICO
    assert cfg.serial == "/dev/serial/by-id/usb-Klipper_rp2040_E6614C311B7A5E21-if00"
    assert cfg.max_velocity == 250 and cfg.max_accel == 2500
    assert cfg.steppers["x"].steps_per_mm == 80 and cfg.steppers["z"].steps_per_mm == 400
    assert cfg.steppers["x"].dir_inverted and not cfg.steppers["z"].dir_inverted
    assert cfg.steppers["z"].endstop == "probe" and cfg.steppers["z"].position_min == -2
    # Pins are the board's own, Klipper's modifiers kept where they are the config's.
    pins = {key: str(pin) for key, pin in cfg.pins.items()}
    assert pins["[stepper_x] step_pin"] == "gpio11"
    assert pins["[stepper_x] dir_pin"] == "!gpio10"
    assert pins["[stepper_x] enable_pin"] == "!gpio12"
    assert pins["[stepper_x] endstop_pin"] == "^gpio4"
    assert pins["[bltouch] sensor_pin"] == "^gpio22" and pins["[fan] pin"] == "gpio17"
    assert not [note for note in result.changes if note.key.endswith("pin")]
    # The SAVE_CONFIG block is carried as the new file's block.
    assert cfg.probe.kind == "bltouch" and cfg.probe.z_offset == 2.45
    assert cfg.heaters["extruder"].pid_kp == 22.865
    assert set(cfg.mesh_profiles) == {"default"}
    assert autosave.read_block(str(path))["bltouch"] == {"z_offset": "2.450"}
    assert "PRINT_START" in {macro.name for macro in cfg.macros}
    # What Mendel does not have is listed, with the reader's reason.
    gaps = _gaps(result)
    assert {("mcu", "restart_method"), ("tmc2209 stepper_x", None),
            ("tmc2209 stepper_y", None), ("heater_fan hotend_fan", None),
            ("controller_fan electronics", None)} <= gaps
    # Input shaping and pressure advance are carried and applied.
    assert ("input_shaper", None) not in gaps
    assert cfg.input_shaper.x == ("mzv", 52.2, 0.1) and cfg.input_shaper.y == ("mzv", 41.6, 0.1)
    assert cfg.pressure_advance == 0.05
    tmc = next(note for note in result.gaps if note.section == "tmc2209 stepper_x")
    assert tmc.where == (ENDER, 29) and "board file" in tmc.text
    assert ("board", "serial") in _written(result.text())
    _accounted_for(ENDER, result)
    # (The Klipper file's gcodes folder is not on this machine: a warning of its own.)
    assert [w for w in result.warnings if not w.startswith("[virtual_sdcard] path")] == []


def test_the_import_lists_its_gaps_at_the_top_of_the_file(tmp_path):
    result = import_klipper(ENDER, PICO)
    head = result.text().split("\n[", 1)[0].splitlines()
    assert all(line.startswith("#") for line in head if line)
    for note in result.gaps + result.changes:
        assert "#   %s" % note in head
    # The included file's sections are written out, and the header says so.
    assert any("web-client.cfg" in line for line in head[:5])
    assert ("gcode_macro CANCEL_PRINT", "gcode") in _written(result.text())


def test_an_ender3_moved_to_the_simulated_board_is_rewired_by_role_and_prints(tmp_path):
    result = import_klipper(ENDER, "sim")
    cfg, _path = _load(tmp_path, result)
    pins = {key: str(pin) for key, pin in cfg.pins.items()}
    assert pins["[stepper_x] step_pin"] == "sim_x_step"
    assert pins["[stepper_y] endstop_pin"] == "sim_y_stop"
    assert pins["[extruder] sensor_pin"] == "sim_adc0"
    assert pins["[bltouch] control_pin"] == "sim_servo"
    changed = {(note.section, note.key): note.text for note in result.changes}
    assert changed[("stepper_x", "step_pin")].startswith(
        "gpio11 -> sim_x_step: gpio11 is not a pin of the board 'sim'")
    assert "check the motor's direction" in changed[("stepper_x", "dir_pin")]
    assert cfg.serial is None       # the simulated board has no port: mendel serve starts it
    assert ("mcu", "serial") in {(note.section, note.key) for note in result.gaps}
    with printer_on_sim(cfg) as (printer, said):
        report = run(printer, tmp_path, "M104 S200\nM109 S200\n" + SMALL_JOB
                     + "G1 E2 F300\n")
    assert report.position_mm == {"x": 110.0, "y": 105.0, "z": 5.0, "e": 2.0}
    assert report.position_steps == report.expected_steps == {
        "x": 8800, "y": 8400, "z": 2000, "e": 191}
    assert report.peak_temperatures["extruder"] >= 199


def test_a_voron_lists_what_it_cannot_carry_and_check_reports_only_the_listed(tmp_path,
                                                                               capsys):
    result = import_klipper(VORON, PICO)
    gaps = _gaps(result)
    assert {("quad_gantry_level", None), ("stepper_z1", None), ("stepper_z2", None),
            ("stepper_z3", None), ("tmc2209 stepper_x", None), ("tmc2209 stepper_z", None),
            ("temperature_sensor octopus", None), ("fan", "kick_start_time"),
            ("fan", "off_below")} <= gaps
    _accounted_for(VORON, result)
    # A thermistor Mendel has no table for cannot be left out: kept, listed.
    assert not result.loads
    assert [(n.where, n.section, n.key) for n in result.refused] == [
        ((VORON, 113), "extruder", "sensor_type")]
    out = tmp_path / "printer.cfg"
    assert cli.main(["config", "import", VORON, "--board", PICO, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "refused by Mendel, left in: %s:113: [extruder] sensor_type" % VORON in err
    assert "not carried: %s:177: [quad_gantry_level]" % VORON in err
    assert cli.main(["config", "check", str(out), "--json"]) == 1
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert [(e["section"], e["key"]) for e in errors] == [("extruder", "sensor_type")]
    # The Octopus's pins are not the Pico's: each is written as the Pico's pin
    # for the same role, and said so.
    changed = {(note.section, note.key): note.text for note in result.changes}
    assert changed[("probe", "pin")].startswith("~!PG15 -> gpio22: PG15 is not a pin")
    # With that one key fixed, the file loads: saved values and geometry in use.
    out.write_text(out.read_text().replace("ATC Semitec 104NT-4-R025H42G", "Generic 3950"))
    cfg = config_mod.load(str(out))
    assert cfg.kinematics == "corexy"
    assert cfg.steppers["x"].steps_per_mm == 320          # 400 full steps * 32 / 40
    assert cfg.steppers["z"].steps_per_mm == 800          # 200 * 32 * 80:16 / 40
    assert cfg.steppers["z"].position_endstop == 0.875    # from SAVE_CONFIG
    assert cfg.steppers["x"].homing_positive_dir
    assert str(cfg.pins["[stepper_z] endstop_pin"]) == "^gpio25"


def test_a_fixed_voron_on_the_simulated_board_homes_and_moves(tmp_path):
    fixed = tmp_path / "voron.cfg"
    with open(VORON, encoding="utf-8") as f:
        fixed.write_text(f.read().replace("ATC Semitec 104NT-4-R025H42G", "Generic 3950"))
    result = import_klipper(str(fixed), "sim")
    assert result.loads
    cfg, _path = _load(tmp_path, result, "mendel.cfg")
    with printer_on_sim(cfg) as (printer, said):
        report = run(printer, tmp_path, SMALL_JOB)
    assert report.position_mm == {"x": 110.0, "y": 105.0, "z": 5.0, "e": 0.0}
    # CoreXY: motor A follows x + y, motor B x - y (320 steps/mm).
    assert report.position_steps == report.expected_steps == {
        "x": 68800, "y": 1600, "z": 4000, "e": 0}


def test_a_kossel_delta_keeps_its_delta_calibrate_results(tmp_path):
    result = import_klipper(KOSSEL, "sim")
    assert result.loads
    cfg, path = _load(tmp_path, result)
    params = cfg.kinematics_params
    assert params["delta_radius"] == 115.072 and params["print_radius"] == 110
    assert params["angle"] == [210.25, 329.81, 90.0]
    assert params["arm_length"] == [267.0] * 3
    assert [cfg.steppers[t].position_endstop for t in "abc"] == [297.88, 298.11, 297.64]
    assert cfg.baud == 250000 and cfg.probe.z_offset == 15.8
    assert {("delta_calibrate", None), ("display", None)} <= _gaps(result)
    block = autosave.read_block(str(path))
    assert "delta_calibrate" not in block and block["printer"] == {"delta_radius": "115.072"}
    _accounted_for(KOSSEL, result)


def test_a_kossel_without_its_probe_prints_on_the_simulated_board(tmp_path):
    # The simulated printer cannot place a probe on a delta yet: the job runs
    # on the imported geometry without it.
    with open(KOSSEL, encoding="utf-8") as f:
        text = f.read()
    start = text.index("[probe]")
    plain = tmp_path / "kossel.cfg"
    plain.write_text(text[:start] + text[text.index("[delta_calibrate]"):])
    cfg, _path = _load(tmp_path, import_klipper(str(plain), "sim"), "mendel.cfg")
    with printer_on_sim(cfg) as (printer, said):
        report = run(printer, tmp_path, "G28\nG1 X20 Y10 Z5 F6000\n")
    assert report.kinematics == "delta"
    assert report.position_mm == {"x": 20.0, "y": 10.0, "z": 5.0, "e": 0.0}
    assert report.position_steps == report.expected_steps


def test_a_pin_of_another_fan_on_the_board_names_that_fan(tmp_path):
    with open(ENDER, encoding="utf-8") as f:
        text = f.read().replace("[fan]\npin: gpio17", "[fan]\npin: gpio18")
    text = text.replace("[heater_fan hotend_fan]\npin: gpio18", "[heater_fan hotend_fan]\n"
                        "pin: gpio17")
    source = tmp_path / "klipper.cfg"
    source.write_text(text)
    (tmp_path / "web-client.cfg").write_text("[pause_resume]\n")
    result = import_klipper(str(source), PICO)
    cfg, _path = _load(tmp_path, result)
    assert cfg.fan == "heatbreak_fan" and str(cfg.pins["[fan] pin"]) == "gpio18"
    assert "heatbreak_fan (gpio18 is the board's pin of fan 'heatbreak_fan')" in [
        note.text for note in result.changes if note.key == "fan"]


def test_a_missing_include_is_listed_and_the_rest_imported(tmp_path):
    source = tmp_path / "printer.cfg"
    with open(KOSSEL, encoding="utf-8") as f:
        source.write_text("[include mainsail.cfg]\n" + f.read())
    result = import_klipper(str(source), "sim")
    assert result.loads
    assert [str(note) for note in result.gaps if note.section.startswith("include")] == [
        "%s:1: [include mainsail.cfg] no such file: nothing of it is carried" % source]


def test_the_import_does_not_write_over_the_klipper_file(tmp_path, capsys):
    source = tmp_path / "printer.cfg"
    with open(KOSSEL, encoding="utf-8") as f:
        text = f.read()
    source.write_text(text)
    assert cli.main(["config", "import", str(source), "--board", "sim", "-o",
                     str(source)]) == 2
    assert "is the Klipper file itself" in capsys.readouterr().err
    assert source.read_text() == text
    assert cli.main(["config", "import", str(source), "--board", "no-such-board"]) == 2
    assert "no-such-board" in capsys.readouterr().err


def test_the_import_goes_to_standard_output_without_o(capsys):
    assert cli.main(["config", "import", KOSSEL, "--board", "sim"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# Mendel printer.cfg for the board sim")
    assert "[printer]\nkinematics = delta\n" in captured.out
    assert captured.err.rstrip().endswith("printer.cfg: loads with Mendel's config reader")
