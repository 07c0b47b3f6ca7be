"""Step edges on the emulated RP2040's GPIOs against the step runs the host sent."""
import os

import numpy as np
import pytest

from edges import commanded_ticks, rising_ticks
from printing import bench_config, excerpt, mendel_print

pytestmark = pytest.mark.emulated

# Excerpt of the bundled example: its start block (G28, Z lift, purge lines out
# and back, lift) and all of layer 1 (layer 2 starts at line 231 with
# ;LAYER_CHANGE), about 70 s of printing, 159,232 steps.
EXCERPT_LINES = 230
# And a real slicer file of the shared corpus: Slic3r 1.3's 20 mm cube, its
# start G-code and all of layer 1 (layer 2 starts at line 216 with G1 Z0.400).
CORPUS_FILE, CORPUS_LINES = "slic3r-1.3-cube-m82.gcode", 215
PIO_CYCLES_PER_TICK = 10
ONE_US_TICKS = 12


def test_every_step_edge_lands_on_its_commanded_time(emulator, tmp_path):
    """A print streamed by `mendel print --port` (the host logs the runs it
    sends with --step-log): on every motor, the step pin rises once per commanded
    step, no step missing or extra, each with the dir pin at the step's sign, and
    each rise at its commanded time exact to the PIO cycle: the rises sit at one
    constant offset from the commands (spread at most one PIO cycle), and that
    offset is under 1 us."""
    check_edges(emulator, tmp_path, excerpt(str(tmp_path), EXCERPT_LINES))


def test_a_corpus_files_first_layer_lands_step_exact(emulator, tmp_path, corpus):
    """The same for the first layer of a real slicer file of the shared corpus."""
    source = os.path.join(corpus, CORPUS_FILE)
    config = bench_config(str(tmp_path))
    with open(config) as f:                 # the MK3 profile's intro line: Y -3, 0.75 mm²
        text = f.read().replace("[stepper_y]\n", "[stepper_y]\nposition_min = -4\n")
    with open(config, "w") as f:
        f.write(text.replace("[extruder]\n", "[extruder]\nmax_extrude_cross_section = 1.0\n"))
    check_edges(emulator, tmp_path, excerpt(str(tmp_path), CORPUS_LINES, source=source),
                config)


def check_edges(emulator, tmp_path, gcode, config=None):
    """Print ``gcode`` on the emulated board; every step edge against its command."""
    log = str(tmp_path / "sent.log")
    code, out, err = mendel_print(emulator.port, gcode, config or bench_config(str(tmp_path)),
                                  log)
    assert code == 0, out + err
    offsets = {}
    for oid, motor in enumerate(emulator.board["motors"]):
        got, dirs = rising_ticks(emulator, motor)
        want, signs = commanded_ticks(log, oid)
        order = np.argsort(want, kind="stable")
        want, signs = want[order], signs[order]
        assert len(got) == len(want), "motor %s: %d rises for %d commanded steps" % (
            motor["name"], len(got), len(want))
        if not len(want):
            continue
        assert np.array_equal(np.where(dirs == 1, 1, -1), signs), motor["name"]
        cycles = (got - want) * PIO_CYCLES_PER_TICK
        assert cycles.max() - cycles.min() <= 1.0, (
            "motor %s: step times off their commands by %.1f..%.1f PIO cycles"
            % (motor["name"], cycles.min(), cycles.max()))
        offsets[motor["name"]] = float(np.median(got - want))
    assert offsets, "no motor stepped"
    for name, offset in offsets.items():
        assert abs(offset) < ONE_US_TICKS, (
            "motor %s: every step lands %.2f ticks (%.1f us) after its commanded time"
            % (name, offset, offset / ONE_US_TICKS))
