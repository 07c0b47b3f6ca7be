"""G-code semantics: modal state, units, limits, retraction, heaters, errors."""
import math

import pytest

from mendel.gcode.interpreter import GcodeError, Interpreter, Settings
from mendel.gcode.reader import parse_text


class FakeMachine:
    """Records what the interpreter asks of a machine."""

    extruder_count = 1

    def __init__(self):
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.calls = []
        self.moves = []

    def move(self, target, speed):
        self.moves.append((list(target), speed))
        self.position = list(target)

    def home(self, axes):
        self.calls.append(("home", axes))
        for axis in axes:
            self.position["XYZ".index(axis)] = 0.0

    def select_tool(self, tool):
        if tool >= self.extruder_count:
            raise GcodeError("no tool %d" % tool)

    def __getattr__(self, name):
        return lambda *args, **kw: self.calls.append((name,) + args + tuple(sorted(kw.items())))


def run(text, settings=None):
    machine = FakeMachine()
    warnings = []
    interp = Interpreter(machine, settings, warn=warnings.append, filename="t.gcode")
    interp.run(parse_text(text))
    return machine, interp, warnings


def targets(machine):
    return [t for t, _speed in machine.moves]


def test_e_is_relative_under_g91_or_m83_klippers_rule():
    machine, *_ = run("G91\nG1 X1 E1\nG1 X1 E1\nG90\nG1 X5 E5\nM83\nG1 E1\nM82\nG1 E0")
    assert targets(machine) == [[1, 0, 0, 1], [2, 0, 0, 2], [5, 0, 0, 5], [5, 0, 0, 6],
                                [5, 0, 0, 0]]
    # A G91 ... G90 pair (a macro's lift) leaves an M83 file relative.
    machine, interp, _w = run("M83\nG1 X1 E1\nG91\nG1 Z1\nG90\nG1 X2 E1\nG1 X3 E-0.5")
    assert targets(machine) == [[1, 0, 0, 1], [1, 0, 1, 1], [2, 0, 1, 2], [3, 0, 1, 1.5]]
    assert interp.absolute and not interp.absolute_e
    # M82 under G91: E stays relative until G90.
    machine, *_ = run("G91\nM82\nG1 X1 E1\nG1 X1 E1\nG90\nG1 X5 E5")
    assert targets(machine) == [[1, 0, 0, 1], [2, 0, 0, 2], [5, 0, 0, 5]]


def test_g92_moves_nothing_and_e_keeps_counting_on_the_motor():
    machine, *_ = run("G1 X10 E5 F600\nG92 X0 E0\nG1 X2 E1\nG92\nG1 Y1")
    assert targets(machine) == [[10, 0, 0, 5], [12, 0, 0, 6], [12, 1, 0, 6]]
    assert not [c for c in machine.calls if c[0] == "wait_moves"]


def test_feed_rate_is_modal_mm_per_min_to_mm_per_s_and_inches():
    machine, *_ = run("G1 X1 F1200\nG1 X2\nG20\nG1 X1 F60")
    assert [s for _t, s in machine.moves] == [20.0, 20.0, 25.4]
    assert targets(machine)[-1][0] == pytest.approx(25.4)


def test_f0_is_refused_and_the_previous_feed_kept():
    errors = []
    machine = FakeMachine()
    interp = Interpreter(machine, on_error=lambda *e: errors.append(e))
    interp.run(parse_text("G1 X1 F600\nG1 X2 F0\nG1 X3"))
    assert errors and errors[0][0] == 2 and "F must be" in errors[0][2]
    assert targets(machine) == [[1, 0, 0, 0], [3, 0, 0, 0]]
    assert machine.moves[-1][1] == 10.0


def test_e_only_move_runs_at_the_modal_feed():
    machine, *_ = run("G1 X1 F300\nG1 E-2")
    assert machine.moves[-1] == ([1, 0, 0, -2], 5.0)


def test_m220_m221_factors():
    machine, *_ = run("M220 S50\nM221 S200\nG1 X10 E1 F600")
    assert machine.moves == [([10, 0, 0, 2.0], 5.0)]


def test_dwell_home_and_waits():
    machine, *_ = run("G4 P250\nG4 S2\nG28 X\nG28\nM400")
    assert ("dwell", 0.25) in machine.calls and ("dwell", 2.0) in machine.calls
    assert ("home", ["X"]) in machine.calls and ("home", ["X", "Y", "Z"]) in machine.calls
    assert ("wait_moves",) in machine.calls


def test_limits_in_marlin_units():
    machine, *_ = run("M201 X1000 Y1200 Z100 E5000\nM203 X200 Y250 Z12 E60\n"
                      "M204 P800 T1500\nM204 S700\nM205 X8 Y8\n"
                      "SET_VELOCITY_LIMIT VELOCITY=150 ACCEL=2000 SQUARE_CORNER_VELOCITY=4")
    limits = [c for c in machine.calls if c[0] == "set_limits"]
    assert limits[0] == ("set_limits", ("accel", 1000.0), ("e_accel", 5000.0),
                         ("z_accel", 100.0))
    assert limits[1] == ("set_limits", ("e_velocity", 60.0), ("velocity", 200.0),
                         ("z_velocity", 12.0))
    assert limits[2] == ("set_limits", ("accel", 800.0))
    assert limits[3] == ("set_limits", ("accel", 700.0))
    assert limits[4] == ("set_limits", ("scv", 8.0))
    assert limits[5] == ("set_limits", ("accel", 2000.0), ("scv", 4.0), ("velocity", 150.0))


def test_firmware_retraction_and_rrf_tool_temperatures():
    settings = Settings(retract_length=0.8, retract_speed=35, unretract_speed=20,
                        unretract_extra_length=0.1)
    machine, *_ = run("G1 X1 E1 F600\nG10\nG10\nG11\nG11\nG10 P0 S215 R170\n"
                      "G10 P0 S-273 R-273", settings)
    assert machine.moves[1:] == [([1, 0, 0, pytest.approx(0.2)], 35),
                                 ([1, 0, 0, pytest.approx(1.1)], 20)]
    temps = [c for c in machine.calls if c[0] == "set_temperature"]
    assert temps == [("set_temperature", "extruder", 215.0, False, False),
                     ("set_temperature", "extruder", 0.0, False, False)]


def test_m104_m109_r_waits_for_cooling_too():
    machine, *_ = run("M104 S200\nM109 S210\nM109 R180\nM140 S60\nM190 R50\nM104 S0\n"
                      "M104 R170")
    temps = [c[1:] for c in machine.calls if c[0] == "set_temperature"]
    assert temps == [("extruder", 200.0, False, False), ("extruder", 210.0, True, False),
                     ("extruder", 180.0, True, True), ("heater_bed", 60.0, False, False),
                     ("heater_bed", 50.0, True, True), ("extruder", 0.0, False, False)]


def test_fan_reports_emergency_and_motors():
    machine, *_ = run("M106 S127.5\nM106\nM107\nG1 X3\nG92 X1\nM114\nM117 hello\nM84\nM112\n"
                      "M115")
    assert ("set_fan", 0.5) in machine.calls and ("set_fan", 1.0) in machine.calls
    assert ("set_fan", 0.0) in machine.calls
    assert ("respond", "X:1.000 Y:0.000 Z:0.000 E:0.000") in machine.calls
    assert ("respond", "hello") in machine.calls
    assert [c for c in machine.calls if c[0] == "respond" and "FIRMWARE_NAME:Mendel" in c[1]]
    assert ("motors_off",) in machine.calls and ("emergency_stop",) in machine.calls


def test_a_fan_index_other_than_the_part_fan_is_not_the_part_fan():
    # M106 P1 used to drive the part fan (fan 0) at full speed.
    machine, interp, warnings = run("M106 P0 S255\nM106 P2 S255\nM107 P2\nM106 P2 S9\n"
                                    "M107 P0")
    assert [c for c in machine.calls if c[0] == "set_fan"] == [("set_fan", 1.0),
                                                               ("set_fan", 0.0)]
    assert warnings == ["t.gcode:2: M106 P2: this printer has one part-cooling fan, P0; "
                        "ignored (reported once)",
                        "t.gcode:3: M107 P2: this printer has one part-cooling fan, P0; "
                        "ignored (reported once)"]
    assert interp.unsupported == {"M106 P2": [2, 2], "M107 P2": [1, 3]}
    with pytest.raises(GcodeError, match="one part-cooling fan, P0 \\(--strict\\)"):
        run("M106 P1 S255", Settings(strict=True))


def test_unknown_reported_once_vendor_codes_known_and_strict_mode():
    machine, interp, warnings = run("M9999\nM9999\nM862.3 P \"MK3S\"\nM1002 judge_flag\n"
                                    "M115 U3.11.0\nG1 X1")
    assert len(warnings) == 1 and "t.gcode:1: M9999" in warnings[0]
    assert interp.unsupported == {"M9999": [2, 1]}
    assert interp.ignored == {"M862.3": 1, "M1002": 1, "M115": 1}
    assert machine.position[0] == 1.0
    with pytest.raises(GcodeError, match="not supported"):
        run("M9999", Settings(strict=True))


def test_bad_line_names_file_line_text_and_reason_and_moves_nothing():
    with pytest.raises(GcodeError, match=r"t.gcode:2: G1 X20 Y\$: unexpected '\$' at column 9"):
        run("G1 X1\nG1 X20 Y$")
    errors = []
    machine = FakeMachine()
    Interpreter(machine, on_error=lambda *e: errors.append(e)).run(
        parse_text("G1 X1 Y1\nG1 X1 X2\nG91\nG1 X1 Y{oops"))
    assert targets(machine) == [[1, 1, 0, 0]]


def test_placeholder_line_is_skipped_with_a_warning():
    machine, _interp, warnings = run("M104 S{material_print_temperature}\nG1 X1")
    assert "unfilled slicer placeholder" in warnings[0] and "t.gcode:1" in warnings[0]
    assert not [c for c in machine.calls if c[0] == "set_temperature"]


def test_line_numbers_must_follow_and_m110_resets():
    run("N1 G1 X1\nN2 G1 X2\nN3 M110 N100\nN101 G1 X3")
    with pytest.raises(GcodeError, match="out of sequence: expected N3"):
        run("N1 G1 X1\nN2 G1 X2\nN5 G1 X3")


def test_t0_is_the_only_tool_of_a_single_extruder():
    run("T0")
    with pytest.raises(GcodeError, match="no tool 1"):
        run("T1")


def test_metadata_events():
    machine, *_ = run(";LAYER_CHANGE\n;Z:0.2\n;TYPE:Skirt\nM73 P12 R30\nM486 S3\n"
                      "EXCLUDE_OBJECT_START NAME=part_1")
    events = [c[1:] for c in machine.calls if c[0] == "event"]
    assert events == [("layer_change", ""), ("z", "0.2"), ("type", "Skirt"),
                      ("progress", 12.0), ("object", 3.0),
                      ("exclude_object_start", "part_1")]


def test_m486_labels_name_the_objects():
    machine, interp, _w = run("M486 T2\nM486 S0\nM486 AShape-Box id:0 copy 0\nM486 S1\n"
                              "M486 A3DBenchy.stl\nM486 S-1\nM486 S0\nG1 X1\nM486 S-1\n"
                              "EXCLUDE_OBJECT_DEFINE NAME=part_2 CENTER=5,5")
    assert interp.objects == {0: "Shape-Box id:0 copy 0", 1: "3DBenchy.stl",
                              "part_2": "part_2"}
    events = [c[1:] for c in machine.calls if c[0] == "event"]
    assert events[:3] == [("object", 0.0), ("object_name", "Shape-Box id:0 copy 0"),
                          ("object", 1.0)]
    with pytest.raises(GcodeError, match="M486 Apart names no object: give M486 S<id> first"):
        run("M486 Apart")


def test_r_arc_a_rounding_error_short_of_half_the_chord_is_a_half_circle():
    # R1.6249 for a 3.25 mm chord (half 1.625): a half circle over the top.
    machine, *_ = run("G1 X10 Y10 F600\nG2 X13.25 Y10 R1.6249")
    points = targets(machine)[1:]
    assert points[-1] == [13.25, 10.0, 0.0, 0.0]
    for x, y, _z, _e in points:
        assert math.hypot(x - 11.625, y - 10.0) == pytest.approx(1.625, abs=1e-9)
        assert y >= 10.0 - 1e-9                     # clockwise from the left: the upper half
    length = sum(math.dist(a[:2], b[:2]) for a, b in zip([[10.0, 10.0]] + points, points))
    assert length == pytest.approx(math.pi * 1.625, rel=3e-3)   # chords: 0.01 mm off the arc
    with pytest.raises(GcodeError, match=r"t.gcode:2: G2 X13.25 Y10 R1.6: radius 1.6 mm "
                                         r"is 0.025 mm short of half the chord"):
        run("G1 X10 Y10 F600\nG2 X13.25 Y10 R1.6")


def test_arc_segments_end_exactly_and_carry_z_and_e():
    machine, interp, _w = run("G1 X10 Y0 F600\nG2 X0 Y10 I-10 J0 Z1 E2")
    points = targets(machine)[1:]
    assert points[-1] == [0.0, 10.0, 1.0, 2.0]
    assert interp.arcs == 1
    for x, y, z, e in points:
        assert math.hypot(x, y) == pytest.approx(10.0)
    # Clockwise from (10, 0) to (0, 10) around the origin is the long way: 270 degrees.
    angles = [math.atan2(y, x) for x, y, _z, _e in points]
    assert angles[0] < 0


def test_moves_need_numbers_and_other_arc_planes_are_refused():
    with pytest.raises(GcodeError, match="X needs a number"):
        run("G1 X Y1")
    with pytest.raises(GcodeError, match="outside the XY plane"):
        run("G18\nG2 X10 Z5 I5 K0")
