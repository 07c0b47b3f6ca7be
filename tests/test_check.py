"""`mendel check` on every corpus file, against an independent reading of the file."""
import json
import os
import subprocess
import sys

import pytest

from mendel import config
from gcode_reference import Independent
from mendel.machine.check import check_file
from mendel.gcode.reader import NotGcodeError
from mendel.planner.extrusion import small_extrusion_mm

CFG = config.load()
def corpus_files():
    folder = os.environ.get("MENDEL_GCODE_CORPUS",
                            os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                         "gcode"))
    if not os.path.isdir(folder):
        return ["<no corpus>"]
    return sorted(f for f in os.listdir(folder) if f.endswith(".gcode"))


@pytest.mark.parametrize("name", corpus_files())
def test_check_counts_match_an_independent_reading(corpus, name):
    path = os.path.join(corpus, name)
    report = check_file(path, CFG)
    ref = Independent(path)
    assert report["errors"] == []
    assert report["lines"] == ref.lines
    assert report["commands"] == ref.commands
    assert report["arcs"] == ref.arcs
    assert report["filament_mm"] == pytest.approx(ref.pos[3], abs=1e-6)
    layers = ref.tags["layer_change"] or ref.tags["layer"] or len(ref.heights)
    assert report["layers"] == layers
    # Arcs are drawn as chords within 0.01 mm of the arc; counts of moves then
    # depend on the chords, bounds only within that tolerance.
    tolerance = 0.0101 if ref.arcs else 1e-6
    if ref.arcs == 0:
        assert report["moves"] == ref.moves
        assert report["extrude_moves"] == ref.extrude
        assert report["travel_moves"] == ref.travel
    else:
        assert report["moves"] > ref.moves + ref.arcs
    for kind in ("print", "travel"):
        bounds = report[kind + "_bounds"]
        assert bounds["min"] == pytest.approx(ref.low[kind], abs=tolerance)
        assert bounds["max"] == pytest.approx(ref.high[kind], abs=tolerance)
    assert report["estimated_time_s"] > 60


def test_check_cli_json_and_exit_status(corpus, tmp_path):
    fits = os.path.join(corpus, "prusaslicer-2.5-cube-m83.gcode")
    result = subprocess.run([sys.executable, "-m", "mendel", "check", fits, "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("lines", "commands", "moves", "extrude_moves", "travel_moves", "arcs",
                "layers", "filament_mm", "print_bounds", "travel_bounds",
                "estimated_time_s", "unsupported", "errors", "fits"):
        assert key in report
    too_big = os.path.join(corpus, "simplify3d-4.1-flowerpot-vase-m82.gcode")
    result = subprocess.run([sys.executable, "-m", "mendel", "check", too_big],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "X moves reach" in result.stdout


def _check_text(tmp_path, text, name="job.gcode"):
    path = tmp_path / name
    path.write_text(text)
    return check_file(str(path), CFG)


START = "M104 S215\nM109 S215\nG28\nG1 Z0.2 F600\n"


def test_a_file_of_parenthesised_comments_checks_clean(tmp_path):
    report = _check_text(tmp_path, "(<skeinforge_gcode>)\n(<layer> 0.2 </layer>)\n" + START +
                         "(<perimeter> outer )\nG1 X10 Y10 E1 F1200 (<move>)\n(</layer>)\n")
    assert report["errors"] == [] and report["fits"]
    assert report["extrude_moves"] == 1 and report["filament_mm"] == 1.0


def test_m486_names_are_the_object_list(tmp_path):
    report = _check_text(tmp_path, START + "M486 S0\nM486 AShape-Box id:0 copy 0\nM486 S1\n"
                         "M486 A3DBenchy.stl\nM486 S-1\nM486 S0\nG1 X10 Y10 E1\nM486 S-1\n")
    assert report["errors"] == [] and report["fits"]
    assert report["objects"] == ["Shape-Box id:0 copy 0", "3DBenchy.stl"]


def test_a_tiny_segment_with_a_little_e_is_not_an_over_extrusion(tmp_path):
    # 0.0005 mm with E0.02: 96 mm^2 "cross-section", but E is at most nozzle_diameter x
    # max_extrude_cross_section / filament_area (Klipper's rule): 0.4 x 1.0 / 2.405 mm.
    assert small_extrusion_mm(CFG.extrusion) == pytest.approx(0.1663, abs=1e-4)
    tiny = _check_text(tmp_path, START + "G1 X10 Y10 F1200\nM83\nG1 X10.0005 E0.02\n")
    assert tiny["fits"], tiny["problems"]
    blob = _check_text(tmp_path, START + "G1 X10 Y10 F1200\nM83\nG1 X10.0005 E0.17\n")
    assert blob["problems"] == ["line 7: move exceeds the maximum extrusion: 817.796 mm^2 "
                                "cross section over max_extrude_cross_section 1.000 mm^2"]


def test_an_r_arc_rounded_short_of_half_the_chord_checks_clean(tmp_path):
    report = _check_text(tmp_path, START + "G1 X10 Y10 F1200\nG2 X13.25 Y10 R1.6249 E0.5\n")
    assert report["errors"] == [] and report["arcs"] == 1
    assert report["print_bounds"]["max"][1] == pytest.approx(11.625, abs=0.01)
    wrong = _check_text(tmp_path, START + "G1 X10 Y10 F1200\nG2 X13.25 Y10 R1.5 E0.5\n")
    assert [e["reason"] for e in wrong["errors"]] == [
        "radius 1.5 mm is 0.125 mm short of half the chord (1.625 mm): no circle joins "
        "the end points (up to 0.005 mm short is taken as a half circle)"]


def test_a_g91_g90_lift_leaves_a_relative_e_file_relative(tmp_path):
    report = _check_text(tmp_path, START + "M83\nG1 X10 Y10 E1 F1200\nG91\nG1 Z1\nG90\n"
                         "G1 E-0.8\nG1 X20 E0.8\nG1 X30 E1\n")
    assert report["filament_mm"] == pytest.approx(2.0)
    assert report["fits"]


@pytest.mark.parametrize("command", ["check", "print"])
def test_a_binary_file_is_refused_in_one_line(tmp_path, capsys, command):
    from mendel import cli
    path = tmp_path / "model.gcode"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40)
    assert cli.main([command, str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == ("mendel: error: %s: not a G-code text file (binary data: a NUL "
                            "byte at byte 8)\n" % path)
    assert captured.out == ""
    bgcode = tmp_path / "part.bgcode"
    bgcode.write_bytes(b"GCDE\x01\x00\x00\x00" + b"\x00" * 64)
    assert cli.main(["check", str(bgcode)]) == 2
    assert "not a G-code text file (Prusa binary G-code" in capsys.readouterr().err


def test_an_empty_file_is_a_clear_warning(tmp_path, capsys):
    from mendel import cli
    path = tmp_path / "empty.gcode"
    path.write_bytes(b"")
    assert cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: %s is empty: there is nothing to print" % path in out
    assert cli.main(["print", str(path), "--no-log"]) == 0          # on the simulated board
    err = capsys.readouterr().err
    assert "mendel: warning: %s is empty: there is nothing to print" % path in err


def test_a_file_of_comments_only_warns_that_there_is_nothing_to_print(tmp_path):
    path = tmp_path / "notes.gcode"
    path.write_bytes(b"; sliced by hand\n\n   \n(nothing here)\n")
    report = check_file(str(path), CFG)
    assert report["commands"] == 0 and report["fits"]
    assert report["warnings"] == ["notes.gcode has only comments and blank lines: there "
                                  "is nothing to print"]


def test_a_utf16_file_is_named_as_such(tmp_path):
    path = tmp_path / "wide.gcode"
    path.write_bytes("G28\nG1 X10 F600\n".encode("utf-16"))
    with pytest.raises(NotGcodeError, match="UTF-16 text: save it as UTF-8"):
        check_file(str(path), CFG)
    path.write_bytes("G28\nG1 X10 F600\n".encode("utf-16-le"))      # no BOM
    with pytest.raises(NotGcodeError, match="UTF-16 text"):
        check_file(str(path), CFG)
