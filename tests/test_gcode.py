"""G-code parser and interpreter: syntax, modal state, unsupported codes."""
import pytest

from mendel.gcode.interpreter import Interpreter
from mendel.gcode.parser import GcodeError, parse_line


def test_words_without_spaces_and_odd_numbers():
    cmd = parse_line("G1X10Y-5.5E.2F1200")
    assert cmd.code == "G1"
    assert cmd.params == {"X": 10.0, "Y": -5.5, "E": 0.2, "F": 1200.0}


def test_spaces_inside_words_flags_and_no_exponent():
    assert parse_line("G02 X 10.5 Y 3 I -2 J 0").params == {
        "X": 10.5, "Y": 3.0, "I": -2.0, "J": 0.0}
    assert parse_line("G28 X Y").params == {"X": None, "Y": None}
    assert parse_line("G1 X1E3").params == {"X": 1.0, "E": 3.0}
    assert parse_line("g1 z.21 x+1.5").params == {"Z": 0.21, "X": 1.5}


def test_comments_line_numbers_and_checksums():
    assert parse_line("; just a comment") is None
    assert parse_line("   ") is None
    assert parse_line("G1 X5 (inline) Y6 ; tail").params == {"X": 5.0, "Y": 6.0}
    cmd = parse_line("N3 T0*57")
    assert cmd.code == "T0"
    with pytest.raises(GcodeError, match="checksum"):
        parse_line("N3 T0*58")


def test_text_and_quoted_arguments():
    assert parse_line("M117 ETA 01:02:03 N5").text == "ETA 01:02:03 N5"
    assert parse_line('M862.3 P "MK3S"').params == {"P": "MK3S"}
    cmd = parse_line("SET_VELOCITY_LIMIT ACCEL=5000")
    assert cmd.code == "SET_VELOCITY_LIMIT" and cmd.text == "ACCEL=5000"


class FakeMachine:
    def __init__(self):
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.calls = []

    def move(self, target, speed):
        self.calls.append(("move", list(target), speed))
        self.position = list(target)

    def home(self, axes):
        self.calls.append(("home", axes))
        for axis in axes:
            self.position["XYZ".index(axis)] = 0.0

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name,) + args)


def run(text):
    machine = FakeMachine()
    warnings = []
    interp = Interpreter(machine, warn=warnings.append)
    interp.run_lines(text.splitlines(), filename="t.gcode")
    return machine, interp, warnings


def test_absolute_relative_and_g92():
    machine, _i, _w = run("G90\nG1 X10 Y10 F6000\nG91\nG1 X5 E1\nG90\nG92 X0 E0\nG1 X2 E3")
    moves = [c for c in machine.calls if c[0] == "move"]
    assert moves[0][1] == [10.0, 10.0, 0.0, 0.0] and moves[0][2] == 100.0
    assert moves[1][1] == [15.0, 10.0, 0.0, 1.0]
    assert moves[2][1] == [17.0, 10.0, 0.0, 4.0]


def test_m83_relative_extrusion_and_inches():
    machine, _i, _w = run("M83\nG1 E2\nG1 E2\nG20\nG1 X1")
    moves = [c[1] for c in machine.calls if c[0] == "move"]
    assert moves == [[0, 0, 0, 2.0], [0, 0, 0, 4.0], [25.4, 0, 0, 4.0]]


def test_unsupported_reported_once_and_print_goes_on():
    machine, interp, warnings = run("M900 K0\nM900 K0.1\nG1 X1")
    assert len(warnings) == 1 and "M900" in warnings[0] and "line 1" in warnings[0]
    assert interp.unsupported == {"M900": [2, 1]}
    assert machine.position[0] == 1.0


def test_temperatures_fan_and_waits():
    machine, _i, _w = run("M104 S200\nM109 S210\nM140 S60\nM190 S60\nM106 S127.5\nM107\nM400")
    assert ("set_temperature", "extruder", 200.0, False) in machine.calls
    assert ("set_temperature", "extruder", 210.0, True) in machine.calls
    assert ("set_temperature", "heater_bed", 60.0, True) in machine.calls
    assert ("set_fan", 0.5) in machine.calls and ("set_fan", 0.0) in machine.calls
    assert ("wait_moves",) in machine.calls


def test_bad_line_names_file_and_line():
    with pytest.raises(GcodeError, match=r"t.gcode:2: G1 X1 Y\$: unexpected"):
        run("G1 X0\nG1 X1 Y$")
    with pytest.raises(GcodeError, match="F must be"):
        run("G1 X1 F0")
