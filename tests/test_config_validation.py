"""printer.cfg validation: every error names its file and line; includes; pins
against the board file and the MCU; `mendel config check`; the example configs."""
import glob
import json
import os
import re

import pytest

import mendel.boards
from mendel import cli, config
from mendel.config import check as configcheck
from paths import ROOT

BASE = open(config.load().path).read()
# The default config without its endstop_pin lines, for tests that write their own.
NO_ENDSTOPS = re.sub(r"endstop_pin = \^sim_\w_stop\n", "", BASE)


def write(tmp_path, text, name="printer.cfg"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def edited(old, new, text=BASE):
    assert old in text
    return text.replace(old, new, 1)


def line_of(text, needle):
    """1-based line of the first line that starts with ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(needle))


def problems(path):
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    return info.value.problems


@pytest.mark.parametrize("old,new,needle,section,key,message", [
    ("rotation_distance = 40 ", "rotation_distance = -40 ", "rotation_distance = -40",
     "stepper_x", "rotation_distance", "-40 must be above 0"),
    ("max_accel = 3000", "max_accel = fast", "max_accel", "printer", "max_accel",
     "'fast' is not a number"),
    ("microsteps = 16", "microsteps = 16.5", "microsteps = 16.5", "stepper_x", "microsteps",
     "16.5 is not a whole number"),
    ("max_temp = 130", "max_temp = 1300", "max_temp = 1300", "heater_bed", "max_temp",
     "1300 is above the maximum 500"),
    ("homing_speed = 50", "homing_speed = 50\nhoming_sped = 5", "homing_sped", "stepper_x",
     "homing_sped", "unknown key"),
    ("control = pid", "control = bang", "control = bang", "extruder", "control",
     "'bang' is not 'pid' or 'watermark'"),
])
def test_value_errors_point_at_their_line(tmp_path, old, new, needle, section, key, message):
    text = edited(old, new)
    path = write(tmp_path, text)
    [problem] = problems(path)
    assert (problem.path, problem.line, problem.section, problem.key) == (
        path, line_of(text, needle), section, key)
    assert problem.message.startswith(message)
    assert str(problem).startswith("%s:%d: [%s] %s: %s" % (path, problem.line, section, key,
                                                             message))


def test_missing_key_points_at_its_section_and_suggests_the_typo(tmp_path):
    text = edited("rotation_distance = 8 ", "rotation_distanse = 8 ")
    path = write(tmp_path, text)
    [problem] = problems(path)
    assert problem.line == line_of(text, "[stepper_z]")
    assert problem.key == "rotation_distance"
    assert problem.message == ("required key is missing (is rotation_distanse on line %d a "
                               "typo?)" % line_of(text, "rotation_distanse"))


def test_unknown_sections_and_keys_are_all_reported(tmp_path):
    text = edited("[fan]", "[heater_fan hotend]\npin = sim_pwm2\n\n[fan]\nspeed = 1")
    path = write(tmp_path, text)
    found = problems(path)
    assert [(p.line, p.section, p.key, p.message) for p in found] == [
        (line_of(text, "[heater_fan hotend]"), "heater_fan hotend", None,
         "is not a section Mendel knows"),
        (line_of(text, "speed = 1"), "fan", "speed", "unknown key")]
    assert "[heater_fan hotend] is not a section Mendel knows" in str(found[0])


def test_a_line_that_is_not_ini_is_named(tmp_path):
    text = edited("[stepper_x]\n", "[stepper_x]\nthis is not a key\n")
    path = write(tmp_path, text)
    with pytest.raises(config.ConfigError,
                       match=r"printer.cfg:%d: cannot read 'this is not a key'"
                       % line_of(text, "this is not")):
        config.load(path)


def test_include_reads_globbed_files_and_errors_name_the_included_line(tmp_path):
    os.mkdir(tmp_path / "parts")
    head, rest = BASE.split("[stepper_x]", 1)
    write(tmp_path, "[stepper_x]" + rest, "parts/b-machine.cfg")
    write(tmp_path, "# later files override earlier ones\n[printer]\nmax_accel = 2000\n",
          "parts/c-override.cfg")
    path = write(tmp_path, head + "[include parts/*.cfg]\n")
    cfg = config.load(path)
    assert cfg.max_accel == 2000.0 and cfg.steps_per_mm()[0] == pytest.approx(80.0)
    bad = edited("position_max = 250", "position_max = -5", "[stepper_x]" + rest)
    included = write(tmp_path, bad, "parts/b-machine.cfg")
    [problem] = problems(path)
    assert problem.line == line_of(bad, "position_max = -5")
    assert os.path.samefile(problem.path, included)


def test_include_of_a_missing_file_and_include_loops(tmp_path):
    path = write(tmp_path, "[include nothere.cfg]\n" + BASE)
    with pytest.raises(config.ConfigError, match=r"printer.cfg:1: \[include nothere.cfg\]: "
                                                 "no such file"):
        config.load(path)
    path = write(tmp_path, "[include printer.cfg]\n" + BASE)
    with pytest.raises(config.ConfigError, match="include loop"):
        config.load(path)


# -- pins -------------------------------------------------------------

SIM_PINS = {"[stepper_x]\n": "[stepper_x]\nstep_pin = sim_x_step\nenable_pin = sim_en\n",
            "[extruder]\n": "[extruder]\nsensor_pin = sim_adc0\nheater_pin = sim_pwm0\n",
            "[fan]\nfan = fan": "[fan]\nfan = fan\npin = sim_pwm2"}


def test_board_pins_may_be_given_and_are_reported(tmp_path):
    text = BASE
    for old, new in SIM_PINS.items():
        text = edited(old, new, text)
    cfg = config.load(write(tmp_path, text))
    assert str(cfg.pins["[stepper_x] step_pin"]) == "sim_x_step"
    assert str(cfg.pins["[heater_bed] sensor_pin"]) == "sim_adc1"     # from the board file
    assert str(cfg.pins["[fan] pin"]) == "sim_pwm2"


@pytest.mark.parametrize("section,line,message", [
    ("[stepper_x]", "step_pin = gpio5", "gpio5 is not a pin of the sim"),
    ("[stepper_x]", "step_pin = sim_y_step",
     "sim_y_step is not the board's step_pin for motor 'x', which is sim_x_step "
     "(boards/sim.json)"),
    ("[extruder]", "sensor_pin = sim_pwm0", "sim_pwm0 cannot read analog values"),
    ("[stepper_y]", "endstop_pin = sim_x_step",
     "sim_x_step is not an endstop of the board 'sim' (endstops: probe sim_probe, "
     "x sim_x_stop, y sim_y_stop, z sim_z_stop; boards/sim.json)"),
    ("[stepper_y]", "dir_pin = !sim_x_dir", "!sim_x_dir is not the board's dir_pin for "
                                             "motor 'y', which is !sim_y_dir"),
    ("[extruder]", "heater_pin = ^sim_pwm0", "'^sim_pwm0': ^ (pull-up) applies only to "
                                             "input pins such as endstop_pin"),
    ("[fan]", "pin = other:sim_pwm2", "'other:sim_pwm2': Mendel drives one MCU"),
    ("[stepper_x]", "motor = q", "the board 'sim' has no motor 'q' (motors: e, x, y, z;"),
])
def test_pin_errors_on_the_sim_board(tmp_path, section, line, message):
    text = edited(section + "\n", section + "\n" + line + "\n", NO_ENDSTOPS)
    path = write(tmp_path, text)
    found = [p for p in problems(path) if p.line == line_of(text, line)]
    assert len(found) == 1, problems(path)
    assert found[0].section == section.strip("[]")
    assert found[0].message.startswith(message)


def test_a_pin_used_twice_names_both_places(tmp_path):
    text = edited("[stepper_y]\n", "[stepper_y]\nenable_pin = sim_en\n"
                  "endstop_pin = ^sim_x_stop\n", NO_ENDSTOPS)
    text = edited("[stepper_x]\n", "[stepper_x]\nendstop_pin = ^sim_x_stop\n", text)
    path = write(tmp_path, text)
    [problem] = problems(path)
    # Steppers may share an enable line, not an endstop.
    assert problem.line == text.splitlines().index("endstop_pin = ^sim_x_stop", 20) + 1
    assert problem.message == "sim_x_stop is already used by [stepper_x] endstop_pin"


TEST_BOARD = {
    "id": "testboard", "name": "test board", "mcu": "testmcu", "source": ["test"],
    "clock_freq": 1000000, "step_queue_size": 16, "adc_max": 4095,
    "motors": [
        {"name": "x", "step_pin": "gpio0", "dir_pin": "gpio1", "enable_pin": "gpio5",
         "enable_inverted": True},
        {"name": "y", "step_pin": "gpio2", "dir_pin": "gpio3", "enable_pin": "gpio5",
         "enable_inverted": True},
        {"name": "z", "step_pin": "gpio10", "dir_pin": "gpio11", "enable_pin": "gpio5",
         "enable_inverted": True},
        {"name": "e", "step_pin": "gpio12", "dir_pin": "gpio13", "enable_pin": "gpio5",
         "enable_inverted": True}],
    "endstops": [{"name": "x", "pin": "gpio4", "pull": "up"},
                 {"name": "y", "pin": "gpio7", "pull": None}],
    "heaters": [{"name": "extruder", "sensor_pin": "gpio8", "heater_pin": "gpio14",
                 "pullup_ohm": 4700, "kind": "hotend"},
                {"name": "heater_bed", "sensor_pin": "gpio9", "heater_pin": "gpio15",
                 "pullup_ohm": 4700, "kind": "bed"}],
    "fans": [{"name": "fan", "pin": "gpio16"}],
    "reserved_pins": {"gpio17": "on-board LED"},
}
TEST_MCU = {"family": "testmcu", "pins": ["gpio%d" % i for i in range(20)],
            "adc": {"gpio8": 0, "gpio9": 1}, "input_only": ["gpio7"], "no_pull": ["gpio7"],
            "reserved": {"gpio6": "wired to the flash"}}


@pytest.fixture
def test_board(tmp_path, monkeypatch):
    """A board and MCU catalogue of our own, in a boards folder of their own."""
    folder = tmp_path / "boards"
    os.makedirs(folder / "mcu")
    (folder / "testboard.json").write_text(json.dumps(TEST_BOARD))
    (folder / "mcu" / "testmcu.json").write_text(json.dumps(TEST_MCU))
    monkeypatch.setattr(mendel.boards, "boards_dir", lambda: str(folder))
    return edited("name = sim", "name = testboard", NO_ENDSTOPS)


def test_pins_matching_the_board_file_with_modifiers_pass(tmp_path, test_board):
    text = edited("[stepper_x]\n", "[stepper_x]\nstep_pin: gpio0\ndir_pin: gpio1\n"
                  "enable_pin: !gpio5\nendstop_pin: ^gpio4\n", test_board)
    text = edited("[stepper_y]\n", "[stepper_y]\nenable_pin: !gpio5\nendstop_pin: gpio7\n", text)
    cfg = config.load(write(tmp_path, text))
    assert cfg.pins["[stepper_x] enable_pin"] == cfg.pins["[stepper_y] enable_pin"]
    assert (cfg.pins["[stepper_x] endstop_pin"].pull, cfg.pins["[stepper_x] enable_pin"]
            .invert) == ("up", True)
    assert [(s.endstop, s.endstop_pull) for s in cfg.steppers.values()] == [
        ("x", "up"), ("y", None), (None, None), (None, None)]
    assert not any("endstop" in w for w in cfg.warnings)


@pytest.mark.parametrize("section,line,message", [
    ("[stepper_x]", "dir_pin = gpio3",
     "gpio3 is not the board's dir_pin for motor 'x', which is gpio1 (boards/testboard.json);"
     " the firmware drives the pins the board file names, so write gpio1 or leave the key out"),
    ("[stepper_x]", "enable_pin = gpio5", "gpio5 is not the board's enable_pin for motor 'x', "
                                          "which is !gpio5"),
    ("[stepper_x]", "endstop_pin = gpio9", "gpio9 is not an endstop of the board 'testboard' "
                                           "(endstops: x gpio4, y gpio7; "
                                           "boards/testboard.json)"),
    ("[stepper_y]", "endstop_pin = ^gpio7", "gpio7 has no internal pull resistor"),
    ("[stepper_x]", "step_pin = gpio40", "gpio40 is not a pin of the testmcu"),
    ("[stepper_x]", "step_pin = gpio6", "gpio6 is reserved: wired to the flash"),
    ("[stepper_x]", "step_pin = gpio17", "gpio17 is reserved: on-board LED"),
    ("[extruder]", "heater_pin = gpio7", "gpio7 is input-only on the testmcu"),
    ("[extruder]", "sensor_pin = gpio3", "gpio3 cannot read analog values (ADC pins of the "
                                         "testmcu: gpio8, gpio9)"),
])
def test_pin_errors_on_an_mcu_catalogue(tmp_path, test_board, section, line, message):
    text = edited(section + "\n", section + "\n" + line + "\n", test_board)
    path = write(tmp_path, text)
    found = problems(path)
    assert [(p.line, p.key) for p in found] == [(line_of(text, line), line.split()[0])]
    assert found[0].message.startswith(message)


def test_unknown_board_is_refused_at_its_line(tmp_path):
    text = edited("name = sim", "name = nosuchboard")
    path = write(tmp_path, text)
    [problem] = problems(path)
    assert (problem.line, problem.section, problem.key) == (line_of(text, "name = "), "board",
                                                            "name")
    assert "no board 'nosuchboard'" in problem.message


def test_pressure_advance_is_read_and_applied_without_a_warning(tmp_path):
    text = edited("min_extrude_temp = 170", "min_extrude_temp = 170\npressure_advance = 0.05")
    cfg = config.load(write(tmp_path, text))
    assert cfg.pressure_advance == 0.05
    assert cfg.warnings == []
    from mendel.config import check as config_check
    shown = config_check.report(config_check.check(write(tmp_path, text)))
    assert "pressure_advance 0.05 s, smoothed over 0.04 s (applied)" in shown
    assert "not applied" not in shown
    path = write(tmp_path, edited("0.05", "-1", text))
    with pytest.raises(config.ConfigError, match="pressure_advance: -1 is below the minimum"):
        config.load(path)


def test_input_shaper_section_is_read_with_klippers_keys_and_checked(tmp_path):
    text = BASE + ("\n[input_shaper]\nshaper_type = ei\nshaper_freq_x = 37.5\n"
                   "shaper_type_y = zv\nshaper_freq_y = 52\ndamping_ratio_y = 0.12\n")
    cfg = config.load(write(tmp_path, text))
    assert cfg.input_shaper.axes() == [("x", "ei", 37.5, 0.1), ("y", "zv", 52.0, 0.12)]
    from mendel.config import check as config_check
    shown = config_check.report(config_check.check(write(tmp_path, text)))
    assert ("input_shaper x: ei at 37.5 Hz, damping_ratio 0.1; y: zv at 52 Hz, "
            "damping_ratio 0.12 (applied)") in shown
    path = write(tmp_path, edited("shaper_type_y = zv", "shaper_type_y = zvv", text))
    with pytest.raises(config.ConfigError, match="shaper_type_y: 'zvv' is not one of zv, mzv"):
        config.load(path)
    path = write(tmp_path, edited("damping_ratio_y = 0.12", "damping_ratio_y = 1", text))
    with pytest.raises(config.ConfigError, match="damping_ratio_y"):
        config.load(path)


# -- mendel config check ------------------------------------------------

def test_config_check_summarises_a_good_config(capsys):
    path = os.path.join(ROOT, "boards", "sim.cfg")
    assert cli.main(["config", "check", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["kinematics"] == "cartesian"
    assert report["board"]["id"] == "sim"
    assert [report["steppers"][s]["steps_per_mm"] for s in
            ("stepper_x", "stepper_y", "stepper_z", "extruder")] == [80.0, 80.0, 400.0, 93.0]
    assert report["heaters"]["extruder"]["pins"] == {"heater_pin": "sim_pwm0",
                                                     "sensor_pin": "sim_adc0"}
    assert set(report["macros"]) == {"PRINT_START", "START_PRINT", "PRINT_END", "END_PRINT"}
    assert cli.main(["config", "check", path]) == 0
    text = capsys.readouterr().out
    assert "stepper_z    motor z, 400.000 steps/mm, 0..210 mm" in text
    assert "macro        PRINT_START (" in text


def test_position_endstop_outside_the_travel_is_refused(tmp_path, capsys):
    # Homing sets the axis to position_endstop: it must lie in position_min..position_max.
    text = edited("position_endstop = 0\nposition_min = -4 ", "position_endstop = -5\n"
                  "position_min = -4 ")
    path = write(tmp_path, text)
    [problem] = problems(path)
    assert (problem.line, problem.section, problem.key, problem.message) == (
        line_of(text, "position_endstop = -5"), "stepper_y", "position_endstop",
        "-5 is outside position_min..position_max (-4..210)")
    assert cli.main(["config", "check", path]) == 1
    assert "%s:%d: [stepper_y] position_endstop: -5 is outside position_min..position_max " \
        "(-4..210)" % (path, problem.line) in capsys.readouterr().out
    above = write(tmp_path, edited("position_endstop = 0\nposition_min = 0\nposition_max = 250",
                                   "position_endstop = 251\nposition_min = 0\n"
                                   "position_max = 250"))
    assert [p.message for p in problems(above)] == [
        "251 is outside position_min..position_max (0..250)"]


def test_config_check_lists_every_error_with_its_line(tmp_path, capsys):
    text = edited("homing_speed = 50", "homing_speed = 50\nhoming_sped = 5")
    text = edited("[fan]\n", "[fan]\npin = sim_pwm0\n", text)
    path = write(tmp_path, text)
    assert cli.main(["config", "check", path, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(e["line"], e["section"], e["key"]) for e in report["errors"]] == [
        (line_of(text, "homing_sped"), "stepper_x", "homing_sped"),
        (line_of(text, "pin = sim_pwm0"), "fan", "pin")]
    assert cli.main(["config", "check", path]) == 1
    out = capsys.readouterr().out
    assert "%s:%d: [stepper_x] homing_sped: unknown key" % (path, line_of(text, "homing_sped")) \
        in out


# -- the example configs ------------------------------------------------

EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "boards", "*.cfg")))


def test_there_is_an_example_config_for_each_board():
    names = {os.path.basename(p)[:-4] for p in EXAMPLES}
    assert {"sim", "btt-skr-pico-v1.0", "fysetc-e4", "rpi-pico-bench"} <= names
    assert names >= set(mendel.boards.board_ids())


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_every_example_config_validates(path):
    board = os.path.basename(path)[:-4]
    if board not in mendel.boards.board_ids():
        pytest.skip("boards/%s.json is not in this tree yet (the board-definition branch "
                    "adds it)" % board)
    result = configcheck.check(path)
    assert result["ok"], result.get("errors")
    assert result["board"]["id"] == board
    assert {"PRINT_START", "START_PRINT"} <= set(result["macros"])


def test_board_serial_is_the_port_mendel_print_opens(tmp_path, capsys):
    text = edited("name = sim", "name = sim\nserial = %s\nbaud = 115200"
                  % (tmp_path / "no-such-tty"))
    cfg_path = write(tmp_path, text)
    cfg = config.load(cfg_path)
    assert (cfg.serial, cfg.baud) == (str(tmp_path / "no-such-tty"), 115200)
    job = write(tmp_path, "G1 X1 F600\n", "job.gcode")
    assert cli.main(["print", job, "--config", cfg_path, "--no-preflight"]) == 2
    assert "cannot open the board's port %s" % (tmp_path / "no-such-tty") in \
        capsys.readouterr().err


def test_misspelt_section_header_points_at_its_line(tmp_path):
    from mendel import config, resources
    text = open(resources.default_config()).read().replace("[fan]", "[fna]")
    path = tmp_path / "printer.cfg"
    path.write_text(text)
    line = text.splitlines().index("[fna]") + 1
    with pytest.raises(config.ConfigError) as info:
        config.load(str(path))
    assert "%s:%d: missing section [fan] (is [fna] on line %d a typo?)" % (
        path, line, line) in str(info.value)
