"""Klipper's common commands in the interpreter: heaters, TEMPERATURE_WAIT,
SET_FAN_SPEED with [fan_generic], M117/M73 display status, RESPOND and the
G-code state without macros, rename_existing, and unknown commands."""
import os

import pytest

from mendel import config
from mendel.machine.check import check_file
from mendel.gcode.interpreter import GcodeError, Interpreter
from mendel.gcode.reader import parse_text
from paths import ROOT
from sim_printer import printer_on_sim, run as run_on_sim

SIM_CFG = os.path.join(ROOT, "boards", "sim.cfg")
PICO_CFG = os.path.join(ROOT, "boards", "btt-skr-pico-v1.0.cfg")


class Recorder:
    """A machine that records what the interpreter asks of it."""

    extruder_count = 1

    def __init__(self, cfg=None):
        self.config = cfg
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.log = []

    def move(self, target, speed):
        self.log.append(("move", [round(v, 4) for v in target]))
        self.position = list(target)

    def home(self, axes):
        self.log.append(("home", "".join(axes)))

    def set_temperature(self, heater, temp, wait, cooling=False):
        self.log.append(("temp", heater, temp, wait))

    def wait_temperature(self, sensor, minimum, maximum):
        self.log.append(("wait", sensor, minimum, maximum))

    def set_generic_fan(self, name, fraction):
        self.log.append(("fan_generic", name, fraction))

    def respond(self, text):
        self.log.append(("respond", text))

    def event(self, kind, value):
        pass


def run(text, cfg=None, macros=None, extra_handlers=None):
    machine = Recorder(cfg)
    warnings = []
    interpreter = Interpreter(machine, warn=warnings.append, filename="t.gcode", macros=macros,
                              extra_handlers=extra_handlers)
    interpreter.run(parse_text(text))
    return machine, interpreter, warnings


def load(tmp_path, base, extra):
    path = tmp_path / "printer.cfg"
    path.write_text("[include %s]\n%s" % (base, extra))
    return config.load(str(path))


def test_heater_commands_set_targets_and_check_their_parameters():
    machine, *_ = run("SET_HEATER_TEMPERATURE HEATER=extruder TARGET=205\n"
                      "SET_HEATER_TEMPERATURE HEATER=heater_bed\nTURN_OFF_HEATERS\n"
                      "TEMPERATURE_WAIT SENSOR=extruder MINIMUM=200 MAXIMUM=210\n")
    assert machine.log == [("temp", "extruder", 205.0, False), ("temp", "heater_bed", 0.0, False),
                           ("temp", "extruder", 0.0, False), ("temp", "heater_bed", 0.0, False),
                           ("wait", "extruder", 200.0, 210.0)]
    for text, message in [
            ("TEMPERATURE_WAIT SENSOR=extruder", "needs MINIMUM= or MAXIMUM="),
            ("TEMPERATURE_WAIT SENSOR=chamber MINIMUM=40", "no sensor 'chamber'"),
            ("SET_HEATER_TEMPERATURE HEATER=hotend TARGET=200", "no heater 'hotend'.*extruder"),
            ("SET_HEATER_TEMPERATURE HEATER=extruder TARGET=-5", "TARGET must have minimum"),
            ("TURN_OFF_HEATERS NOW=1", "has no parameter NOW")]:
        with pytest.raises(GcodeError, match=message):
            run(text)


def test_temperature_wait_waits_on_the_simulated_board(tmp_path):
    cfg = config.load(SIM_CFG)
    with printer_on_sim(cfg) as (printer, _said):
        start = printer.mcu.estimated_clock()
        run_on_sim(printer, tmp_path, "M104 S80\nTEMPERATURE_WAIT SENSOR=extruder MINIMUM=70\n")
        waited_s = (printer.mcu.estimated_clock() - start) / printer.mcu.clock_freq
        reading = printer.heaters.latest["extruder"]
    assert reading >= 70.0 and waited_s > 1.0


def test_set_fan_speed_drives_a_fan_generic_and_one_fan_boards_say_so(tmp_path):
    cfg = load(tmp_path, PICO_CFG, "[fan_generic exhaust]\npin: gpio18\n")
    assert cfg.fan_generic == {"exhaust": "heatbreak_fan"}
    machine, *_ = run("SET_FAN_SPEED FAN=exhaust SPEED=0.25\n", cfg)
    assert machine.log == [("fan_generic", "exhaust", 0.25)]
    for text, message in [("SET_FAN_SPEED FAN=nozzle SPEED=1", "no fan 'nozzle'.*exhaust"),
                          ("SET_FAN_SPEED FAN=exhaust SPEED=1.5", "SPEED must have maximum"),
                          ("SET_FAN_SPEED FAN=exhaust", "needs SPEED=")]:
        with pytest.raises(GcodeError, match=message):
            run(text, cfg)
    with pytest.raises(config.ConfigError, match="the board 'sim' has one fan output \\(fan, "
                                                 "pin sim_pwm2\\) and \\[fan\\] drives it"):
        load(tmp_path, SIM_CFG, "[fan_generic exhaust]\npin: sim_pwm2\n")
    with pytest.raises(config.ConfigError, match="gpio17 is already used by \\[fan\\]"):
        load(tmp_path, PICO_CFG, "[fan_generic exhaust]\npin: gpio17\n")


def test_m117_and_m73_set_the_display_status():
    machine, interpreter, _w = run("M73 P25 R10\nM117 Printing layer 1\n")
    assert interpreter.display_status.status(1.0) == {"progress": 0.25,
                                                      "message": "Printing layer 1"}
    assert ("respond", "Printing layer 1") in machine.log
    run_more = "M117\nM73 P140\n"
    interpreter.run(parse_text(run_more))
    assert interpreter.display_status.status(2.0) == {"progress": 1.0, "message": None}
    _m, interpreter, _w = run('SET_DISPLAY_TEXT MSG="hello there"')
    assert interpreter.display_status.message == "hello there"


def test_respond_and_gcode_state_need_no_macros():
    machine, interpreter, warnings = run(
        'M83\nG1 X5 F600\nSAVE_GCODE_STATE NAME=park\nG91\nM82\nG1 X10 F3000\n'
        'RESTORE_GCODE_STATE NAME=park MOVE=1 MOVE_SPEED=50\n'
        'RESPOND MSG="parked and back"\nRESPOND TYPE=error MSG=oops\n')
    assert warnings == []
    assert machine.log[-3:] == [("move", [5.0, 0.0, 0.0, 0.0]),
                                ("respond", "parked and back"), ("respond", "!! oops")]
    assert interpreter.absolute and not interpreter.absolute_e and interpreter.feed == 10.0


RENAMES = """
[gcode_macro G28]
rename_existing: G28.1
gcode:
  RESPOND MSG="homing via macro"
  G28.1 {rawparams}

[gcode_macro PAUSE]
rename_existing: PAUSE_BASE
gcode:
  RESPOND MSG="before pause"
  PAUSE_BASE

[gcode_macro M117]
rename_existing: M117.1
gcode:
  M117.1 [{rawparams}]
"""


def test_rename_existing_keeps_the_built_in_under_its_new_name(tmp_path):
    cfg = load(tmp_path, SIM_CFG, RENAMES)
    paused = []
    machine, interpreter, warnings = run("G28 X\nPAUSE\nM117 hi there\nPAUSE_BASE\n", cfg,
                                         cfg.macros.session(),
                                         {"PAUSE": lambda command: paused.append(command.code)})
    assert warnings == []
    assert machine.log[:2] == [("respond", "homing via macro"), ("home", "X")]
    assert paused == ["PAUSE", "PAUSE"]        # the built-in sees its own name
    assert ("respond", "before pause") in machine.log
    assert interpreter.display_status.message == "[hi there]"


def test_rename_errors_and_a_hidden_built_in_are_said(tmp_path):
    with pytest.raises(config.ConfigError, match="rename_existing: G1 is already a command"):
        load(tmp_path, SIM_CFG, "[gcode_macro G28]\nrename_existing: G1\ngcode:\n  G1 X1\n")
    cfg = load(tmp_path, SIM_CFG, "[gcode_macro PAUSE]\ngcode:\n  M118 macro\n"
                                  "[gcode_macro M600]\nrename_existing: M600.1\ngcode:\n"
                                  "  M118 change\n")
    paused = []
    machine, _i, warnings = run("PAUSE\n", cfg, cfg.macros.session(),
                                {"PAUSE": lambda command: paused.append(1)})
    assert paused == [1] and ("respond", "macro") not in machine.log
    assert any("[gcode_macro PAUSE]" in w and "is not run: PAUSE is a built-in command" in w
               for w in warnings)
    assert any("[gcode_macro M600]" in w and "no command M600 to rename" in w for w in warnings)


def test_unknown_commands_are_listed_by_check_and_warned_in_a_print(tmp_path):
    cfg = config.load(SIM_CFG)
    gcode = tmp_path / "job.gcode"
    gcode.write_text("G28\nM104 S0\nTURN_OFF_HEATERS\nSET_FAN_SPEED FAN=x SPEED=1\n"
                     "FROBNICATE LEVEL=3\nFROBNICATE\nM117 done\nRESPOND MSG=hi\n")
    report = check_file(str(gcode), cfg)
    assert report["unsupported"] == {"FROBNICATE": 2}
    assert [e["line"] for e in report["errors"]] == [4]     # no [fan_generic x]
    with printer_on_sim(cfg) as (printer, said):
        run_on_sim(printer, tmp_path, "G28\nFROBNICATE LEVEL=3\nTURN_OFF_HEATERS\n")
    assert [s for s in said if "FROBNICATE" in s] == [
        "%s:2: FROBNICATE is not supported; ignored (reported once)" % (tmp_path / "job.gcode")]


def test_klipper_sections_respond_gcode_arcs_display_status_exclude_object(tmp_path):
    path = tmp_path / "printer.cfg"
    path.write_text("[include %s]\n[display_status]\n[exclude_object]\n[respond]\n"
                    "default_type: command\n[gcode_arcs]\nresolution: 0.5\n" % SIM_CFG)
    cfg = config.load(str(path))
    machine, _interp, _w = run("RESPOND MSG=hi\nRESPOND TYPE=echo MSG=plain\n"
                               "G1 X10 Y0 F600\nG2 X-10 Y0 I-10 J0", cfg)
    said = [entry[1] for entry in machine.log if entry[0] == "respond"]
    assert said == ["// hi", "plain"]                       # [respond] default_type
    arc = [entry[1] for entry in machine.log if entry[0] == "move"][1:]
    # A half circle of radius 10 (31.4 mm) in segments of at most 0.5 mm: 63 of
    # them (the 0.01 mm chord tolerance alone makes 36).
    assert len(arc) == 63 and arc[-1][:2] == [-10.0, 0.0]
    path.write_text("[include %s]\n[gcode_arcs]\nresolution: 0\n" % SIM_CFG)
    with pytest.raises(config.ConfigError, match=r"\[gcode_arcs\] resolution"):
        config.load(str(path))
