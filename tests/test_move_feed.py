"""Plain moves through the C feed (MoveFeed) against the interpreter line by line.

`Interpreter.run_batches` sends runs of plain G0/G1 lines from the lexer
straight into the planner; everything else, and every move the feed would
refuse, goes through the Python interpreter. Both ways must give the same
print: the same frames on the wire byte for byte, the same interpreter
state, the same errors on the same lines, the same run log and layers.
"""
import io
import os

import pytest

from mendel import config
from mendel.bench_motion import NullLink, NullMcu, PipelineMachine
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.layers import LayerTracker
from mendel.gcode.reader import iter_batches
from mendel.planner.extrusion import check_temperature

CFG = config.load()
FILES = ["prusaslicer-2.6-benchy-m83.gcode", "cura-5.9-k1max-klipper-m82.gcode",
         "slic3r-1.2.9-dsf-rrf-m83.gcode", "prusaslicer-2.7-plantsign-arcs-m83.gcode",
         "prusaslicer-2.5-vase-spiral.gcode"]


class RecordingLink(NullLink):
    def __init__(self):
        super().__init__()
        self.frames = []

    def _send_frames(self, frames):
        super()._send_frames(frames)
        self.frames += frames


class Machine(PipelineMachine):
    """A toolhead on a null board that keeps every frame; ``cold`` refuses E."""

    cold = False

    def __init__(self, cfg):
        mcu = NullMcu()
        mcu.link = RecordingLink()
        super().__init__(cfg, mcu)
        self.mcu = mcu

    def move(self, target, speed):
        check_temperature(CFG.extrusion, self.toolhead.position, target,
                          0.0 if self.cold else 250.0)
        self.toolhead.move(target, speed)

    def move_feed(self):
        return self.toolhead.move_feed(self.cold)


class LineByLine(Machine):
    move_feed = None            # no feed: every line through the interpreter


class Observer:
    """Records what a PrintMonitor would log, and counts layers as it does."""

    def __init__(self, machine):
        self.machine = machine
        self.logged = []
        self.layers = LayerTracker()
        self.last_line = 0

    def before(self, command):
        if command.code:
            self.logged.append((command.lineno, command.raw))
        self.last = self.machine.toolhead.position

    def after(self, lineno):
        if self.machine.toolhead.position is not self.last:
            self.layers.move(self.last, self.machine.toolhead.position)
        self.last_line = lineno

    def fed(self, batch, start, stop, feed):
        self.logged += [(batch.lineno(i), batch.line_text(i))
                        for i in range(start, stop) if batch.kind(i)]
        if feed.new_height:
            self.layers.add_height(feed.last_height)
        if stop > start:
            self.last_line = batch.lineno(stop - 1)


def run(machine_class, data, batch_lines=16384, observe=False, cold=False):
    machine = machine_class(CFG)
    machine.cold = cold
    errors = []
    interp = Interpreter(machine, warn=lambda _t: None,
                         on_error=lambda *error: errors.append(error))
    observer = Observer(machine) if observe else None
    interp.run_batches(iter_batches(io.BytesIO(data), batch_lines=batch_lines),
                       observer=observer)
    machine.toolhead.flush()
    machine.mcu.flush()
    state = (interp.position, interp.logical_e, interp.feed, interp.moves, interp.commands,
             interp.lines, machine.toolhead.position, machine.toolhead.moves,
             machine.toolhead.print_time)
    return machine.mcu.link.frames, state, errors, observer


def assert_same(data, **kwargs):
    fast = run(Machine, data, **kwargs)
    slow = run(LineByLine, data, **kwargs)
    assert fast[2] == slow[2]                       # errors: line, text, reason
    assert fast[1] == slow[1]                       # interpreter and toolhead state
    assert fast[0] == slow[0]                       # every frame, byte for byte
    return fast


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_gives_the_same_frames(corpus, name):
    with open(os.path.join(corpus, name), "rb") as f:
        data = f.read()
    frames, state, errors, _ = assert_same(data)
    assert len(frames) > 100 and state[3] > 1000


def test_batch_boundaries_anywhere(corpus):
    with open(os.path.join(corpus, "cura-5.9-k1max-klipper-m82.gcode"), "rb") as f:
        data = f.read()[:400_000]
    assert_same(data, batch_lines=97)


MODAL = b"""G28
G1 Z0.3 F600
G1 X10 Y10 E1 F1200
G91
G1 X5 Y-2 E0.2
G1 X5 F3000
G90
M83
G1 X30 Y30 E0.5
M82
G92 E0
G1 X40 E1.2
G92 X0 Y0
G1 X10 Y10 E2
M220 S150
M221 S90
G1 X20 Y20 E3
G20
G1 X1 Y1 E0.2
G21
G1 X50 Y50 E4
G0 X60 F9000
G1 E3.2 F2400
G1 E4
G1 Z1.3
G1 X60 Y50 Z0.6 E4.1
G1 X60 Y50 Z0.6 E4.1
G1 F1800
G01 X70 Y70
"""


def test_modal_state_follows_the_interpreter():
    fast = assert_same(MODAL)
    assert fast[1][3] > 15
    assert assert_same(MODAL, batch_lines=1)[0] == fast[0]


BAD = b"""G28
G1 Z0.3 F600
G1 X10 Y10 E1 F1200
G1 X500 Y10 E2
G1 X20 Y20 E200
G1 X30 F0
G1 X
G1 X25 Y25 S1
G1 E60
N10 G1 X26
N12 G1 X27
G1 X-5
G1 X28 Y28 E2.5
G1 X{foo}
G1 X29 *99
G1 Z-1
G1 X31 Y31 E3
"""


def test_refused_lines_are_refused_the_same_way():
    _, state, errors, _ = assert_same(BAD)
    lines = [e[0] for e in errors]
    assert lines == [4, 5, 6, 7, 9, 11, 12, 13, 15, 16]
    assert "out of range" in errors[0][2] and "max_extrude_cross_section" in errors[1][2]
    assert "F must be a positive feed rate" in errors[2][2]
    assert "X needs a number" in errors[3][2]
    assert "max_extrude_only_distance" in errors[4][2]
    assert "out of sequence" in errors[5][2]
    assert "checksum mismatch" in errors[8][2] and "Z=-1.000" in errors[9][2]
    assert state[0][:2] == [31.0, 31.0]


def test_cold_extrusion_is_refused_line_by_line():
    data = b"G28\nG1 Z0.3 F600\nG1 X10 Y10 F1200\nG1 X20 Y20 E1\nG1 X30\n"
    _, state, errors, _ = assert_same(data, cold=True)
    assert [e[0] for e in errors] == [4]
    assert "extrude below minimum temp" in errors[0][2]
    assert state[0][:2] == [30.0, 10.0]


def test_the_observer_sees_every_line_and_layer(corpus):
    # A file without layer tags: layers are the heights filament is laid at.
    text = "\n".join(line for line in open(
        os.path.join(corpus, "prusaslicer-2.5-vase-spiral.gcode")).read().splitlines()
        if ";LAYER" not in line and ";Z:" not in line)
    data = text.encode()
    fast = run(Machine, data, observe=True)[3]
    slow = run(LineByLine, data, observe=True)[3]
    assert fast.logged == slow.logged and len(fast.logged) > 1000
    assert fast.layers.heights == slow.layers.heights and len(fast.layers.heights) > 50
    # Runs report the last line read, comments included.
    assert fast.last_line >= slow.last_line > 40_000


@pytest.mark.parametrize("machine_class", [Machine, LineByLine])
def test_moves_go_out_at_once_only_while_the_board_runs_low(machine_class):
    from mendel.toolhead import BUFFER_TIME, LOW_WATER_TIME
    # 300 moves of 1 mm at 100 mm/s; the board's clock stays at 0.
    text = "G28\n" + "".join("G1 X%d Y10 F6000\n" % (10 + k % 2) for k in range(300))
    machine = machine_class(CFG)
    toolhead = machine.toolhead
    Interpreter(machine, warn=lambda _t: None).run_batches(iter_batches(io.BytesIO(
        text.encode())))
    # Sent as released (the planner releases about 0.25 s at a time) until
    # LOW_WATER_TIME s were queued ahead of the board, then held for a batch
    # of EXECUTE_BATCH moves (fewer are left).
    sent = toolhead.print_time
    assert LOW_WATER_TIME <= sent < LOW_WATER_TIME + 0.5 and toolhead.runs_sent > 0
    toolhead.flush()
    assert toolhead.print_time - BUFFER_TIME == pytest.approx(toolhead.motion_time)
    assert toolhead.print_time > sent + 1.0
