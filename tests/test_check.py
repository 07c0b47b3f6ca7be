"""`mendel check` on every corpus file, against an independent reading of the file."""
import json
import os
import subprocess
import sys

import pytest

from mendel import config
from gcode_reference import Independent
from mendel.check import check_file

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
