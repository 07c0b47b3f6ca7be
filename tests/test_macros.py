"""G-code macros ([gcode_macro NAME] in printer.cfg): the commands they produce,
the state they see and leave, their errors, and a slicer file that calls one,
checked and printed on the simulated board."""
import json
import os

import pytest

from gcode_reference import Independent
from mendel import cli, config
from mendel.machine.check import check_file
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.reader import parse_text
from paths import ROOT

BASE = open(config.load().path).read()
SIM_CFG = os.path.join(ROOT, "boards", "sim.cfg")
PRIME_E = 60 * 0.4 * 0.3 / 2.405          # the example PRINT_START's prime line, mm of filament


class Recorder:
    """A machine that records what the interpreter asks of it."""

    extruder_count = 1

    def __init__(self, cfg):
        self.config = cfg
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.log = []
        self.targets = {}

    def move(self, target, speed):
        self.log.append(("move", [round(v, 4) for v in target]))
        self.position = list(target)

    def home(self, axes):
        self.log.append(("home", "".join(axes)))
        for axis in axes:
            self.position["XYZ".index(axis)] = 0.0

    def set_temperature(self, heater, temp, wait, cooling=False):
        self.log.append(("temp", heater, temp, wait))
        self.targets[heater] = temp

    def heater_status(self):
        return {name: (21.0, self.targets.get(name, 0.0)) for name in ("extruder", "heater_bed")}

    def respond(self, text):
        self.log.append(("respond", text))

    def set_fan(self, fraction):
        self.log.append(("fan", fraction))

    def motors_off(self):
        self.log.append(("motors_off",))

    def dwell(self, seconds):
        pass

    def wait_moves(self):
        pass

    def event(self, kind, value):
        pass


def load(tmp_path, text):
    path = tmp_path / "printer.cfg"
    path.write_text(text)
    return config.load(str(path))


def run(cfg, gcode):
    """Run G-code text; returns (interpreter, machine, errors [(line, reason)])."""
    machine = Recorder(cfg)
    errors = []
    interpreter = Interpreter(machine, macros=cfg.macros.session(), filename="job.gcode",
                              on_error=lambda line, _text, reason: errors.append((line, reason)))
    interpreter.run(parse_text(gcode))
    return interpreter, machine, errors


def test_print_start_produces_the_commands_and_restores_the_modes():
    cfg = config.load(SIM_CFG)
    interpreter, machine, errors = run(cfg, "M83\nPRINT_START BED=60 EXTRUDER=210\n")
    assert errors == []
    e = round(PRIME_E, 4)
    assert machine.log == [
        ("temp", "heater_bed", 60.0, False), ("temp", "extruder", 210.0, False),
        ("home", "XYZ"),
        ("temp", "heater_bed", 60.0, True), ("temp", "extruder", 210.0, True),
        ("move", [0.0, 0.0, 2.0, 0.0]), ("move", [5.0, -2.0, 2.0, 0.0]),
        ("move", [5.0, -2.0, 0.3, 0.0]), ("move", [65.0, -2.0, 0.3, e]),
        ("move", [65.0, -2.0, 2.0, e])]
    # The macro switched to G90 with absolute E and restored the caller's M83.
    assert interpreter.absolute and not interpreter.absolute_e
    assert interpreter.logical_e == 0.0 and interpreter.homed_axes == {"x", "y", "z"}


def test_start_print_alias_takes_the_cura_parameter_names():
    cfg = config.load(SIM_CFG)
    _interp, machine, errors = run(cfg, "start_print EXTRUDER_TEMP=200 BED_TEMP=55\n")
    assert errors == []
    assert machine.log[:2] == [("temp", "heater_bed", 55.0, False),
                               ("temp", "extruder", 200.0, False)]


SHOW = """
[gcode_macro SHOW]
description: What a template sees
variable_count: 0
variable_material: 'PLA'
gcode:
    M118 p={params.P} q={params.Q} raw={rawparams}
    M118 x={printer.toolhead.position.x} t={printer.extruder.target} {printer.toolhead.homed_axes}
    M118 {printer["gcode_macro SHOW"].material} n={printer["gcode_macro SHOW"].count}
    M118 max={printer.configfile.settings.extruder.max_temp}
    SET_GCODE_VARIABLE MACRO=show VARIABLE=count VALUE={printer["gcode_macro SHOW"].count + 1}
"""


def test_params_rawparams_printer_state_and_variables(tmp_path):
    cfg = load(tmp_path, BASE + SHOW)
    _interp, machine, errors = run(cfg, "G28 X\nG1 X12 F3000\nM104 S200\n"
                                        "show p=5 q=\"a b\"\nSHOW\n")
    assert errors == []
    replies = [entry[1] for entry in machine.log if entry[0] == "respond"]
    assert replies == [
        "p=5 q=a b raw=p=5 q=\"a b\"", "x=12.0 t=200.0 x", "PLA n=0", "max=300.0",
        "p= q= raw=", "x=12.0 t=200.0 x", "PLA n=1", "max=300.0"]
    # Each run of a file starts from the variables printer.cfg gives.
    assert cfg.macros.macros["SHOW"].variables["count"] == 0


def test_a_macro_named_like_a_gcode_takes_letter_parameters(tmp_path):
    cfg = load(tmp_path, BASE + "[gcode_macro M600]\ngcode:\n  M118 change at X{params.X}\n"
                                "  G1 X{params.X|float + 1}\n")
    _interp, machine, errors = run(cfg, "M600 X5\n")
    assert errors == []
    assert machine.log == [("respond", "change at X5"), ("move", [6.0, 0.0, 0.0, 0.0])]


NESTED = """
[gcode_macro OUTER]
gcode:
    M118 outer
    _INNER_HELPER
[gcode_macro _INNER_HELPER]
gcode:
    INNER
[gcode_macro INNER]
gcode:
    M118 inner {params.DEPTH|default(0)}
    {% if params.LOOP %}OUTER{% endif %}
[gcode_macro LOOPING]
gcode:
    INNER LOOP=1
"""


def test_macros_call_macros_and_recursion_is_refused(tmp_path):
    cfg = load(tmp_path, BASE + NESTED)
    _interp, machine, errors = run(cfg, "OUTER\nG1 X1 F600\nLOOPING\nG1 X2\n")
    assert [e for e in machine.log if e[0] == "respond"][:2] == [("respond", "outer"),
                                                                 ("respond", "inner 0")]
    assert errors == [(3, "macro INNER calls itself (LOOPING > INNER > OUTER > _INNER_HELPER "
                          "> INNER): a macro may not recurse")]
    # The file goes on after the refused line.
    assert machine.log[-1] == ("move", [2.0, 0.0, 0.0, 0.0])


BROKEN = """
[gcode_macro DIVIDE]
gcode:
    M118 {1 / params.N|int}
[gcode_macro REFUSE]
gcode:
    {action_raise_error("not with this nozzle")}
[gcode_macro BAD_LINE]
gcode:
    M118 fine
    G1 X
"""


def test_errors_in_a_macro_name_the_macro_its_config_line_and_the_calling_line(tmp_path):
    cfg = load(tmp_path, BASE + BROKEN)
    text = BASE + BROKEN
    lines = text.splitlines()

    def gcode_line(name):
        start = lines.index("[gcode_macro %s]" % name)
        return start + 2                            # the gcode: line after the header
    _interp, _machine, errors = run(cfg, "G1 X1 F600\nDIVIDE N=0\nREFUSE\nBAD_LINE\n")
    path = str(tmp_path / "printer.cfg")
    assert errors == [
        (2, "macro DIVIDE (%s:%d): cannot render: ZeroDivisionError: division by zero"
            % (path, gcode_line("DIVIDE"))),
        (3, "macro REFUSE (%s:%d): not with this nozzle" % (path, gcode_line("REFUSE"))),
        (4, "macro BAD_LINE (%s:%d), output line 2 'G1 X': X needs a number in a move"
            % (path, gcode_line("BAD_LINE")))]


@pytest.mark.parametrize("macro,needle,message", [
    ("[gcode_macro SYNTAX]\ngcode:\n  M118 a\n  {% if x %}\n  M118 b\n", "{% if x %}",
     "[gcode_macro SYNTAX] gcode: template error: Unexpected end of template"),
    ("[gcode_macro VARS]\nvariable_material: PLA\ngcode:\n  M118\n", "variable_material",
     "[gcode_macro VARS] variable_material: 'PLA' is not a Python literal"),
    ("[gcode_macro G1]\ngcode:\n  M118\n", "[gcode_macro G1]",
     "[gcode_macro G1] G1 is a built-in command; a macro cannot replace it"),
    ("[gcode_macro NOTHING]\ndescription: empty\n", "[gcode_macro NOTHING]",
     "[gcode_macro NOTHING] gcode: required key is missing"),
    ("[gcode_macro X1]\ngcode:\n  M118\n", "[gcode_macro X1]",
     "[gcode_macro X1] 'X1' is not a command name"),
])
def test_macro_config_errors_name_their_line(tmp_path, macro, needle, message):
    text = BASE + "\n" + macro
    path = tmp_path / "printer.cfg"
    path.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.strip().startswith(needle))
    with pytest.raises(config.ConfigError) as info:
        config.load(str(path))
    assert str(info.value).startswith("%s:%d: %s" % (path, line, message))


def test_without_macros_an_unknown_command_stays_unsupported(tmp_path):
    path = tmp_path / "job.gcode"
    path.write_text("M104 S200\nM109 S200\nPRINT_START BED=60\nG1 X10 E1 F600\n")
    report = check_file(str(path), config.load())
    assert report["unsupported"] == {"PRINT_START": 1} and report["macros"] == {}
    report = check_file(str(path), config.load(SIM_CFG))
    assert report["unsupported"] == {} and report["macros"] == {"PRINT_START": 1}
    assert report["fits"]


CURA = "cura-5.9-k1max-klipper-m82.gcode"          # START_PRINT EXTRUDER_TEMP=200 BED_TEMP=60


def test_a_slicer_file_heating_in_its_start_macro_checks(corpus):
    path = os.path.join(corpus, CURA)
    assert not check_file(path, config.load())["fits"]       # cold extrusion without the macro
    report = check_file(path, config.load(SIM_CFG))
    assert report["fits"], report["problems"]
    assert report["macros"] == {"END_PRINT": 1, "PRINT_END": 1, "PRINT_START": 1,
                                "START_PRINT": 1}
    assert report["unsupported"] == {}


def test_a_slicer_file_calling_start_print_prints_on_the_sim_board(corpus, tmp_path, capsys):
    with open(os.path.join(corpus, CURA)) as f:
        head = [next(f) for _ in range(400)]
    assert any(line.startswith("START_PRINT EXTRUDER_TEMP=200 BED_TEMP=60") for line in head)
    job = tmp_path / "k1-start.gcode"
    job.write_text("".join(head) + "END_PRINT\n")
    assert cli.main(["print", str(job), "--config", SIM_CFG, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["position_steps"] == summary["expected_steps"]
    reference = Independent(str(job))                 # knows nothing of macros
    cfg = config.load(SIM_CFG)
    # END_PRINT: lift 5 mm, park at X min / Y max; PRINT_START primed PRIME_E of filament.
    expected_mm = [0.0, 210.0, reference.pos[2] + 5.0, reference.pos[3] + PRIME_E]
    assert [summary["position_mm"][a] for a in "xyze"] == pytest.approx(expected_mm)
    assert summary["position_steps"] == {
        a: round(mm * spm) for a, mm, spm in zip("xyze", expected_mm, cfg.steps_per_mm())}
    # START_PRINT heated both (M190/M109 waits within 1 C of 60 and 200).
    assert summary["peak_temperatures"]["heater_bed"] >= 59.0
    assert summary["peak_temperatures"]["extruder"] >= 199.0


STATE = """
[gcode_macro PARK]
gcode:
    SAVE_GCODE_STATE NAME=park
    G91
    M83
    G92 E0
    G1 Z5 E-1 F600
    G90
    G1 X10 Y200 F6000
    RESTORE_GCODE_STATE NAME=park MOVE=1 MOVE_SPEED=50
    RESPOND TYPE=error MSG="parked and back"
"""


def test_save_and_restore_gcode_state(tmp_path):
    cfg = load(tmp_path, BASE + STATE)
    interpreter, machine, errors = run(cfg, "G92 X10\nG1 X20 Y30 Z1 E4 F1200\nPARK\n"
                                            "G1 X21 E5\nRESTORE_GCODE_STATE NAME=other\n")
    assert errors == [(5, "RESTORE_GCODE_STATE: no state 'other' was saved "
                          "(SAVE_GCODE_STATE NAME=other first)")]
    # Machine X = G-code X - 10 after G92 X10 (at X0).
    assert machine.log == [
        ("move", [10.0, 30.0, 1.0, 4.0]),
        ("move", [10.0, 30.0, 6.0, 3.0]), ("move", [0.0, 200.0, 6.0, 3.0]),
        ("move", [10.0, 30.0, 1.0, 3.0]),              # MOVE=1: back to X Y Z, E stays
        ("respond", "!! parked and back"),
        # G90/M82 and the E the G-code knew (4) are back: E5 is 1 mm more.
        ("move", [11.0, 30.0, 1.0, 4.0])]
    assert interpreter.absolute and interpreter.absolute_e and interpreter.feed == 20.0


def test_a_delta_printer_reports_its_print_radius_to_macros(tmp_path):
    text = open(os.path.join(ROOT, "host", "configs", "delta.cfg")).read()
    cfg = load(tmp_path, text + "\n[gcode_macro RANGE]\ngcode:\n  M118 "
                                "{printer.toolhead.axis_minimum} {printer.toolhead.axis_maximum}\n")
    _interp, machine, errors = run(cfg, "RANGE\n")
    radius = cfg.kinematics_params["print_radius"]
    top = min(s.position_endstop for name, s in cfg.steppers.items() if name != "e")
    assert errors == []
    assert machine.log == [("respond", "Coord(x=%r, y=%r, z=%r, e=0.0) Coord(x=%r, y=%r, z=%r, "
                                       "e=0.0)" % (-radius, -radius, 0.0, radius, radius, top))]


LIFT = """
[gcode_macro LIFT]
description: A lift as Klipper macros write it: G91 ... G90, no saved state
gcode:
    G91
    G1 Z2 F600
    G90
    M118 absolute={printer.gcode_move.absolute_coordinates} e={printer.gcode_move.absolute_extrude}
"""


def test_a_g91_g90_macro_leaves_a_relative_e_print_relative(tmp_path):
    cfg = load(tmp_path, BASE + LIFT)
    interpreter, machine, errors = run(cfg, "M83\nG1 X10 E1 F1200\nG1 E-0.8\nLIFT\n"
                                            "G1 X20 E0.8\nG1 X30 E1\n")
    assert errors == []
    assert machine.log == [
        ("move", [10.0, 0.0, 0.0, 1.0]), ("move", [10.0, 0.0, 0.0, 0.2]),
        ("move", [10.0, 0.0, 2.0, 0.2]), ("respond", "absolute=True e=False"),
        ("move", [20.0, 0.0, 2.0, 1.0]), ("move", [30.0, 0.0, 2.0, 2.0])]
    assert interpreter.absolute and not interpreter.absolute_e
