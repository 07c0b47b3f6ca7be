"""exclude_object: EXCLUDE_OBJECT_DEFINE/START/END, EXCLUDE_OBJECT and M486
P/U leave an object's moves and filament out, the toolhead resumes at the
next object, and the status says so; checked on recorded moves and on the
simulated board's step log with a corpus file."""
import os
import pathlib

import numpy as np
import pytest

from mendel import config
from mendel.gcode.interpreter import GcodeError, Interpreter
from mendel.gcode.reader import parse_text
from mendel.sim import surface
from paths import ROOT
from sim_printer import printer_on_sim

SIM_CFG = os.path.join(ROOT, "boards", "sim.cfg")
CORPUS = "/work/shared/gcode/bambustudio-1.10-k1max-arcs-klipper.gcode"
CORPUS_OBJECT = "TC_Top.stl_id_0_copy_0"


class Recorder:
    """A machine that records moves and replies."""

    extruder_count = 1

    def __init__(self):
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.moves = []
        self.replies = []

    def move(self, target, speed):
        self.moves.append([round(v, 6) for v in target])
        self.position = list(target)

    def respond(self, text):
        self.replies.append(text)

    def event(self, kind, value):
        pass


def run(text):
    machine = Recorder()
    interpreter = Interpreter(machine, filename="t.gcode")
    interpreter.run(parse_text(text))
    return machine, interpreter


TWO_SQUARES = """M83
EXCLUDE_OBJECT_DEFINE NAME=a CENTER=15,15 POLYGON=[[10,10],[20,10],[20,20],[10,20]]
EXCLUDE_OBJECT_DEFINE NAME=b CENTER=45,15 POLYGON=[[40,10],[50,10],[50,20],[40,20]]
EXCLUDE_OBJECT_START NAME=a
G1 X10 Y10 F6000
G1 X20 E1
G1 Y20 E1
G1 E-0.5
EXCLUDE_OBJECT_END NAME=a
EXCLUDE_OBJECT_START NAME=b
G1 X40 Y10
G1 E0.5
G1 X50 E1
EXCLUDE_OBJECT_END NAME=b
"""


def test_an_excluded_object_moves_nothing_and_the_next_one_starts_where_it_should():
    machine, interpreter = run(TWO_SQUARES.replace(
        "EXCLUDE_OBJECT_START NAME=a\n", "EXCLUDE_OBJECT NAME=a\nEXCLUDE_OBJECT_START NAME=a\n"))
    # Object a left out; b's first move travels there with no filament, and
    # E goes on from where it stood (0), not from a's G-code E.
    assert machine.moves == [[40, 10, 0, 0], [40, 10, 0, 0.5], [50, 10, 0, 1.5]]
    assert machine.replies == ["Excluding object A"]
    assert interpreter.logical_e == pytest.approx(3.0)     # the G-code's E counted all
    full, _i = run(TWO_SQUARES)
    assert full.moves[-1] == [50, 10, 0, 3.0]
    assert full.moves[-1][3] - machine.moves[-1][3] == pytest.approx(1.5)   # a's net E


def test_excluding_mid_object_and_m486_cancel_and_uncancel():
    # EXCLUDE_OBJECT CURRENT=1 inside object a: its later moves are left out.
    machine, _i = run(TWO_SQUARES.replace("G1 X20 E1\n", "G1 X20 E1\nEXCLUDE_OBJECT CURRENT=1\n"))
    assert machine.moves[:2] == [[10, 10, 0, 0], [20, 10, 0, 1]]
    assert machine.moves[2:] == [[40, 10, 0, 1],        # travel from (20,10) to b, E held
                                 [40, 10, 0, 1.5], [50, 10, 0, 2.5]]
    # An extruding first move first travels to where the G-code has the nozzle.
    machine, _i = run(TWO_SQUARES.replace("EXCLUDE_OBJECT_START NAME=a\n",
                                          "EXCLUDE_OBJECT NAME=a\nEXCLUDE_OBJECT_START NAME=a\n")
                      .replace("G1 X40 Y10\n", "G1 X40 Y10 E0.1\n"))
    assert machine.moves[:2] == [[20, 20, 0, 0], [40, 10, 0, 0.1]]
    # Marlin: M486 P1 cancels object 1, U1 brings it back.
    text = ("M83\nM486 T2\nM486 S0\nG1 X1 E1\nM486 S1\nG1 X2 E1\nM486 S-1\nM486 P1\n"
            "M486 S0\nG1 X3 E1\nM486 S1\nG1 X4 E1\nM486 S-1\nM486 U1\nM486 S1\nG1 X5 E1\n")
    machine, interpreter = run(text)
    assert machine.moves == [[1, 0, 0, 1], [2, 0, 0, 2], [3, 0, 0, 3], [4, 0, 0, 3], [5, 0, 0, 4]]
    assert interpreter.exclude_object.status(0.0)["excluded_objects"] == []


def test_status_lists_objects_excluded_and_current():
    _m, interpreter = run(TWO_SQUARES.split("EXCLUDE_OBJECT_END NAME=a")[0]
                          + "EXCLUDE_OBJECT NAME=b\n")
    status = interpreter.exclude_object.status(12.5)
    assert status == {
        "objects": [{"name": "A", "center": [15.0, 15.0],
                     "polygon": [[10.0, 10.0], [20.0, 10.0], [20.0, 20.0], [10.0, 20.0]]},
                    {"name": "B", "center": [45.0, 15.0],
                     "polygon": [[40.0, 10.0], [50.0, 10.0], [50.0, 20.0], [40.0, 20.0]]}],
        "excluded_objects": ["B"], "current_object": "A"}
    assert interpreter.objects == {"a": "a", "b": "b"}   # as written, for mendel check


def test_bad_exclude_lines_are_refused_with_the_reason():
    machine, _i = run("EXCLUDE_OBJECT NAME=later")
    assert machine.replies == ["Excluding object LATER (not defined yet; objects: none)"]
    for text, message in [("EXCLUDE_OBJECT CURRENT=1", "no object is being printed"),
                          ("EXCLUDE_OBJECT_DEFINE NAME=a POLYGON=[[1,2],[3]]",
                           "is not a list of \\[x,y\\] points"),
                          ("EXCLUDE_OBJECT_START", "needs NAME="),
                          ("EXCLUDE_OBJECT NAME=a COLOUR=red", "no parameter COLOUR")]:
        with pytest.raises(GcodeError, match=message):
            run(text)


def _excluded_corpus(tmp_path, after_block):
    """The corpus file with EXCLUDE_OBJECT of its object after its
    ``after_block``-th EXCLUDE_OBJECT_END; (path, mm of E the file gives inside
    the later blocks, Z of the last printed block)."""
    lines = pathlib.Path(CORPUS).read_text().splitlines(keepends=True)
    ends = [i for i, line in enumerate(lines) if line.startswith("EXCLUDE_OBJECT_END")]
    cut = ends[after_block - 1] + 1
    path = tmp_path / "excluded.gcode"
    path.write_text("".join(lines[:cut] + ["EXCLUDE_OBJECT NAME=%s\n" % CORPUS_OBJECT]
                            + lines[cut:]))
    skipped, inside, block, z = 0.0, False, 0, 0.0
    for line in lines:                 # M83 file: E words are lengths
        words = line.split(";")[0].split()
        if not words:
            continue
        if words[0] == "EXCLUDE_OBJECT_START":
            inside, block = True, block + 1
        elif words[0] == "EXCLUDE_OBJECT_END":
            inside = False
        elif words[0] in ("G0", "G1", "G2", "G3"):
            for word in words[1:]:
                if word[0] == "E" and inside and block > after_block:
                    skipped += float(word[1:])
                if word[0] == "Z" and block <= after_block:
                    z = float(word[1:])
    return path, skipped, z


def _polygon_mask(points, polygon):
    """Which of ``points`` (N, 2) lie inside ``polygon`` (list of [x, y]): ray casting."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), dtype=bool)
    poly = np.asarray(polygon)
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0)):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < at)
    return inside


@pytest.mark.skipif(not os.path.exists(CORPUS), reason="the shared G-code corpus is not here")
def test_corpus_object_excluded_mid_print_on_the_simulated_board(tmp_path):
    """Bambu Studio's Klipper file, its object excluded after 5 of 25 layers:
    the board's E steps fall by exactly that object's later filament, no
    step above layer 5 extrudes inside its polygon, and the board's counters
    agree with the host's."""
    cfg = config.load(SIM_CFG)
    path, skipped_mm, layer5_z = _excluded_corpus(tmp_path, 5)
    results = {}
    for name, gcode in [("full", CORPUS), ("excluded", str(path))]:
        log = tmp_path / (name + ".log")
        with printer_on_sim(cfg, step_log=str(log)) as (printer, said):
            summary = printer.print_file(gcode, preflight=False)
        assert summary.position_steps == summary.expected_steps
        results[name] = (summary, surface._extruding_samples(str(log), cfg), said)
    full, excluded = results["full"][0], results["excluded"][0]
    e_per_mm = cfg.steppers["e"].steps_per_mm
    assert full.position_steps["e"] - excluded.position_steps["e"] == pytest.approx(
        skipped_mm * e_per_mm, abs=2)
    assert any("Excluding object " + CORPUS_OBJECT.upper() in s for s in results["excluded"][2])
    polygon = _corpus_polygon()
    for name, expect_inside in [("full", True), ("excluded", False)]:
        nozzle = results[name][1]
        above = nozzle[nozzle[:, 2] > layer5_z + 0.01]
        assert _polygon_mask(above[:, :2], polygon).any() == expect_inside, name
    # Below the cut both runs extrude the same (the first 5 layers are whole).
    below = [np.count_nonzero(results[n][1][:, 2] <= layer5_z + 0.01) for n in results]
    assert below[0] == below[1]


def _corpus_polygon():
    interpreter = Interpreter(Recorder())
    for line in open(CORPUS):
        if line.startswith("EXCLUDE_OBJECT_DEFINE"):
            interpreter.run(parse_text(line))
    objects = interpreter.exclude_object.status()["objects"]
    assert [o["name"] for o in objects] == [CORPUS_OBJECT.upper()]
    return objects[0]["polygon"]


def test_absolute_e_goes_on_from_the_extruder_after_an_excluded_object():
    machine, interpreter = run("M82\nEXCLUDE_OBJECT_DEFINE NAME=a\nEXCLUDE_OBJECT NAME=a\n"
                               "G1 X1 E1\nEXCLUDE_OBJECT_START NAME=a\nG1 X5 E4\nG92 E0\n"
                               "G1 X6 E2\nEXCLUDE_OBJECT_END\nG1 X9 Y9\nG1 X10 E2.5\n")
    assert machine.moves == [[1, 0, 0, 1], [9, 9, 0, 1], [10, 9, 0, 1.5]]
    assert interpreter.logical_e == 2.5
