"""Plain moves through the C feed (MoveFeed) against the interpreter line by line.

`Interpreter.run_batches` sends runs of plain G0/G1 lines from the lexer
straight into the planner; everything else, and every move the feed would
refuse, goes through the Python interpreter. Both ways must give the same
print: the same frames on the wire byte for byte, the same interpreter
state, the same errors on the same lines, the same run log and layers.
"""
import io
import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mendel import config, resources
from mendel.bench.motion import NullLink, NullMcu, PipelineMachine
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.layers import LayerTracker
from mendel.gcode.reader import iter_batches
from mendel.planner._lookahead import PlanError, Planner
from mendel.planner.extrusion import check_temperature
from mendel.planner.kinematics import move_distance, z_limits

CFG = config.load()
COREXY = config.load(resources.config_path("corexy"))
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


class Board(NullMcu):
    """A null board that keeps every frame; its clock (ticks) moves only when a
    test moves it."""

    clock = 0

    def __init__(self):
        super().__init__()
        self.link = RecordingLink()

    def estimated_clock(self):
        return self.clock


class Machine(PipelineMachine):
    """A toolhead on a null board; ``cold`` refuses E. Replies (M114) are
    kept, events go to the ``observer``."""

    cold = False
    observer = None

    def __init__(self, cfg):
        self.mcu = Board()
        super().__init__(cfg, self.mcu)
        self.replies = []

    def move(self, target, speed):
        check_temperature(CFG.extrusion, self.toolhead.position, target,
                          0.0 if self.cold else 250.0)
        self.toolhead.move(target, speed)

    def move_feed(self):
        return self.toolhead.move_feed(self.cold)

    def respond(self, text):
        self.replies.append(text)

    def event(self, kind, value):
        if self.observer is not None:
            self.observer.event(kind, value)


class LineByLine(Machine):
    move_feed = None            # no feed: every line through the interpreter


class Observer:
    """A PrintMonitor (mendel.ux.monitor) in small: ``log`` holds what it
    would write to the run log, in order (each command line, each
    temperature poll, each new layer), ``layers`` its layer count, ``line``
    the line its progress shows. It polls as the monitor does: when the
    print begins, after a command once the board's clock has passed a
    second since the last poll, and whenever the toolhead polls while it
    sends moves."""

    def __init__(self, machine):
        self.machine = machine
        self.log = []
        self.layers = LayerTracker()
        self.layer = 0
        self.line = 0
        machine.observer = self
        machine.toolhead.on_temperatures = self.temperatures
        self.temperatures()                     # as PrintMonitor.begin

    def temperatures(self):
        mcu = self.machine.mcu
        self._next_poll = mcu.estimated_clock() + mcu.clock_freq
        self.log.append(("temperature", self.machine.toolhead.print_time))

    def event(self, kind, value):
        self.layers.event(kind, value)

    def before(self, command):
        if command.code:
            self.log.append(("command", command.lineno, command.raw))
        self._last = self.machine.toolhead.position

    def after(self, lineno):
        position = self.machine.toolhead.position
        if position is not self._last:
            self.layers.move(self._last, position)
        self._progress(lineno)

    def fed(self, batch, start, stop, feed):
        self.log += [("command", batch.lineno(i), batch.line_text(i))
                     for i in range(start, stop) if batch.kind(i)]
        if feed.new_height:
            self.layers.add_height(feed.last_height)

    def after_fed(self, lineno):
        self._progress(lineno)

    def _progress(self, line):
        if self.machine.mcu.estimated_clock() >= self._next_poll:
            self.temperatures()
        self.line = line
        if self.layers.current != self.layer:
            self.layer = self.layers.current
            self.log.append(("layer", self.layer, line))


def run(machine_class, data, cfg=CFG, batch_lines=16384, observe=False, cold=False):
    """``(frames, state, errors, observer, (warnings, replies))`` of ``data``."""
    machine = machine_class(cfg)
    machine.cold = cold
    errors, warnings = [], []
    interp = Interpreter(machine, warn=warnings.append,
                         on_error=lambda *error: errors.append(error))
    observer = Observer(machine) if observe else None
    interp.run_batches(iter_batches(io.BytesIO(data), batch_lines=batch_lines),
                       observer=observer)
    machine.toolhead.flush()
    machine.mcu.flush()
    toolhead = machine.toolhead
    state = (interp.position, interp.logical_e, interp.feed, interp.moves, interp.commands,
             interp.lines, toolhead.position, toolhead.moves, toolhead.print_time,
             interp.base, interp.absolute, interp.absolute_e, interp.scale,
             interp.speed_factor, interp.extrude_factor, interp.arcs,
             toolhead.motion.planner.position, toolhead.runs_sent, toolhead.motion_time)
    return machine.mcu.link.frames, state, errors, observer, (warnings, machine.replies)


def assert_same(data, fast=Machine, slow=LineByLine, **kwargs):
    """Run ``data`` with the feed (``fast``) and line by line (``slow``);
    returns the fast run after checking that everything is the same."""
    fast = run(fast, data, **kwargs)
    slow = run(slow, data, **kwargs)
    assert fast[2] == slow[2]                       # errors: line, text, reason
    assert fast[4] == slow[4]                       # warnings, replies
    assert repr(fast[1]) == repr(slow[1])           # state (repr: -0.0 is not 0.0)
    assert fast[0] == slow[0]                       # every frame, byte for byte
    if fast[3] is not None:
        assert fast[3].log == slow[3].log           # the run log, in order
        assert fast[3].layers.heights == slow[3].layers.heights
        assert fast[3].line == slow[3].line
    return fast


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_gives_the_same_frames(corpus, name):
    with open(os.path.join(corpus, name), "rb") as f:
        data = f.read()
    frames, state, errors, *_ = assert_same(data)
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
    _, state, errors, *_ = assert_same(BAD)
    lines = [e[0] for e in errors]
    assert lines == [4, 5, 6, 7, 9, 11, 12, 13, 15, 16]
    assert "out of range" in errors[0][2] and "max_extrude_cross_section" in errors[1][2]
    assert "F must be a positive feed rate" in errors[2][2]
    assert "X needs a number" in errors[3][2]
    assert "max_extrude_only_distance" in errors[4][2]
    assert "out of sequence" in errors[5][2]
    assert "unexpected '*'" in errors[8][2] and "Z=-1.000" in errors[9][2]
    assert state[0][:2] == [31.0, 31.0]


def test_cold_extrusion_is_refused_line_by_line():
    data = b"G28\nG1 Z0.3 F600\nG1 X10 Y10 F1200\nG1 X20 Y20 E1\nG1 X30\n"
    _, state, errors, *_ = assert_same(data, cold=True)
    assert [e[0] for e in errors] == [4]
    assert "extrude below minimum temp" in errors[0][2]
    assert state[0][:2] == [30.0, 10.0]


def test_the_observer_sees_every_line_and_layer(corpus):
    # A file without layer tags: layers are the heights filament is laid at.
    text = "\n".join(line for line in open(
        os.path.join(corpus, "prusaslicer-2.5-vase-spiral.gcode")).read().splitlines()
        if ";LAYER" not in line and ";Z:" not in line)
    observer = assert_same(text.encode(), observe=True)[3]
    kinds = [entry[0] for entry in observer.log]
    assert kinds.count("command") > 40_000 and kinds.count("temperature") > 100
    assert kinds.count("layer") == len(observer.layers.heights) > 50
    assert observer.line > 40_000


@pytest.mark.parametrize("machine_class", [Machine, LineByLine])
def test_moves_go_out_at_once_only_while_the_board_runs_low(machine_class):
    from mendel.machine.toolhead import BUFFER_TIME, LOW_WATER_TIME
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


# -- regressions: each input made the two ways differ ------------------------

def test_a_speed_that_rounds_to_zero_is_refused_not_a_crash():
    tiny = "0." + "0" * 322 + "1"           # mm/min: 0 mm/s once divided by 60
    small = "0." + "0" * 200 + "1"          # mm/min: above 0 mm/s, its square is not
    data = ("G28\nG1 X10 F%s\nG1 X20 F%s\nG1 X30 F600\nM220 S%s\nG1 X40\n"
            % (tiny, small, tiny)).encode()
    _, state, errors, *_ = assert_same(data)
    assert [(line, reason.split(":")[0]) for line, _, reason in errors] == [
        (2, "F must be a positive feed rate in mm/min; keeping F1500"),
        (3, "move too slow to plan"), (5, "M220 S must be a positive percentage")]
    assert state[0][0] == 40.0 and state[2] == 10.0
    planner = Planner(300.0, 3000.0)
    with pytest.raises(PlanError, match="too slow"):
        planner.add(10.0, 0.0, 0.0, 0.0, 1e-200)
    assert planner.position == [0.0, 0.0, 0.0, 0.0] and planner.queued == 0


def test_a_retraction_is_held_to_max_extrude_only_distance():
    # Retracting 1e163 mm while travelling used to pass the checks and stop
    # the step generator (no cruise speed), after the feed had moved on.
    data = ("G28\nG1 Z1 F600\nG1 X10 E-%s\nG1 X20 E-50\nG1 X30 E-100.5\n"
            % ("1" + "0" * 163)).encode()
    _, state, errors, *_ = assert_same(data)
    assert [line for line, _, _ in errors] == [3, 5]
    assert all("retraction too long" in reason and "max_extrude_only_distance" in reason
               for _, _, reason in errors)
    assert state[0][0] == 20.0 and state[0][3] == -50.0


def test_a_move_after_an_arc_that_failed_part_way():
    # The arc leaves the bed at X<0 after a few segments: those stay queued,
    # the interpreter's position stays at the arc's start. The next move
    # starts where the toolhead is (its Z speed, its extrusion checks).
    data = b"""G28
G1 X5 Y5 Z0.2 F3000
M83
G2 X5 Y15 I-1 J5 E1
G1 X5.1 Y5 E0.1
G1 X10 Y10 Z3
G1 X20 Y20 Z0.2 E0.5
"""
    _, _, errors, observer, _ = assert_same(data, observe=True)
    assert [line for line, _, _ in errors] == [4]
    assert observer.layers.heights == {0.2}


def test_layers_count_the_extrusion_as_the_extruder_checks_do():
    # At E=1, E grows by 1e-9 mm: 1.0 + 1e-9 rounds to 1.0000000010000000827,
    # 8e-17 more than 1e-9 above 1.0 as end - start, not as end > start + 1e-9.
    data = b"G28\nG1 Z0.2 F600\nM83\nG1 X5 E1\nG1 Z0.4\nG1 X20 E0.000000001\n"
    observer = assert_same(data, observe=True)[3]
    assert observer.layers.heights == {0.2, 0.4}


def test_a_move_of_no_length_still_takes_its_target(tmp_path):
    # An endstop at -0: the toolhead starts at -0.0, "G1 X0" is no move and
    # X becomes 0.0, as M114 then shows.
    text = open(resources.config_path("i3-cartesian")).read()
    path = tmp_path / "printer.cfg"
    path.write_text(text.replace("position_endstop = 0\n", "position_endstop = -0\n"))
    cfg = config.load(str(path))
    assert str(cfg.steppers["x"].position_endstop) == "-0.0"
    data = b"G28\nG1 X0 Y0 Z0\nM114\n"
    replies = assert_same(data, cfg=cfg)[4][1]
    assert replies == ["X:0.000 Y:0.000 Z:0.000 E:0.000"]


def test_the_run_log_keeps_the_line_by_line_order():
    # A poll while a run's moves are sent comes after the run's lines; the
    # progress line is the last command's, not a comment's after it.
    data = b"; header\n\nG1 X5 F3000\nG1 X6\nG28\nG1 Z0.3 F600\n" + b"".join(
        b"G1 X%d Y%d E%.2f F3000\n; comment\n" % (10 + k % 50, 10 + k % 7, 0.05 * k)
        for k in range(600))
    _, _, errors, observer, _ = assert_same(data, observe=True)
    assert errors == []
    assert observer.log[:3] == [("temperature", 0.0), ("command", 3, "G1 X5 F3000"),
                                ("command", 4, "G1 X6")]
    assert sum(entry[0] == "temperature" for entry in observer.log) > 3
    assert observer.line == data.count(b"\n") - 1


class SlowCommands(Machine):
    """M106 takes 10 s of the board's time (a real board's clock runs on
    while a command waits); M106 and M107 mark the wire."""

    def set_fan(self, fraction):
        self.mcu.clock += 10 * self.mcu.clock_freq
        self.mcu.link.frames.append(("fan", fraction))


class SlowCommandsLineByLine(SlowCommands):
    move_feed = None


def test_a_run_without_moves_sends_nothing():
    # 150 moves: the first second of them goes out, the rest is held. After
    # M106 the board runs low: the line-by-line path sends with the next
    # move, not at a comment or a move of no length.
    data = ("G28\n" + "".join("G1 X%d Y10 F6000\n" % (10 + k % 2) for k in range(150))
            + "M106\n; comment\nG1 X11\nM107\nG1 X20\n").encode()
    frames = assert_same(data, fast=SlowCommands, slow=SlowCommandsLineByLine)[0]
    marks = [i for i, frame in enumerate(frames) if isinstance(frame, tuple)]
    assert marks[1] == marks[0] + 1 and marks[1] < len(frames) - 1


def test_move_lengths_round_as_the_planner_rounds():
    # x ** 2 (libm's pow) and x * x round differently for these.
    start, end = [0.0, 0.0, 0.3, 0.0], [100.224, 191.213, 1.69, 0.0]
    assert math.sqrt(sum((end[i] - start[i]) ** 2 for i in range(3))) != move_distance(
        start, end)
    planner = Planner(300.0, 3000.0)
    planner.set_position(start)
    planner.add(*end, 50.0)
    planner.flush()
    move_d = planner.take()["move_d"][0]
    assert move_distance(start, end) == move_d
    assert z_limits(start, end, 12.0, 200.0) == (12.0 * (move_d / 1.39), 200.0 * (move_d / 1.39))


# -- the property: any G-code gives the same print both ways ------------------

NUMBERS = st.one_of(
    st.integers(-10, 260).map(str),
    st.floats(-5.0, 255.0).map("{:.3f}".format),
    st.floats(-1e-6, 1e-6).map("{:.17f}".format),
    st.sampled_from(["0", "-0", "-0.0", "+0", ".5", "-.5", "0.000000000001", "0.000000001",
                     "300", "-300", "1000000", "123.456789012345678901", "1" + "0" * 400,
                     "0." + "0" * 200 + "1", "0." + "0" * 322 + "1"]))
E_VALUES = st.one_of(NUMBERS, st.floats(-3.0, 3.0).map("{:.5f}".format),
                     st.sampled_from(["49.99", "50.01", "-50.01", "-100", "100"]))
F_VALUES = st.one_of(NUMBERS, st.sampled_from(["0", "-100", "1", "600", "3000", "9000",
                                               "1" + "0" * 20]))
VALUES = {"X": NUMBERS, "Y": NUMBERS, "Z": st.one_of(NUMBERS, st.floats(0.0, 5.0).map(
    "{:.2f}".format)), "E": E_VALUES, "F": F_VALUES}
OTHER_LINES = st.sampled_from([
    "", "  ", "; comment", "(comment)", "%", ";LAYER:1", ";LAYER_CHANGE", ";TYPE:Perimeter",
    ";Z:0.4", "G90", "G91", "M82", "M83", "G92", "G92 E0", "G92 X0 Y0", "G92 Z1", "G92 E-5",
    "G20", "G21", "M220 S150", "M220 S50", "M221 S90", "M221 S0", "M204 S500",
    "M204 P1000 T2000", "M203 Z5", "M205 X8", "G28", "G28 X", "G4 P10", "M114", "M400",
    "G2 X20 Y20 I5 J0", "G3 X10 Y10 R8 E1", "G2 X5 Y15 I-1 J5", "G2 X1 Y1 I-3 J0 E2", "G10",
    "G11", "M104 S200", "T1", "G18", "G1 X", "G1 X{placeholder}", "G1 X5 S1", "G1 X5 ;LAYER:2",
    "G1 X10*43", "G1 X10*0", "N1 G1 X5", "M110 N0", "G1 E-49", "G1 E51", "G1 Z-0.1",
    "G1 X250 Y210 Z210 F99999999"])


@st.composite
def move_lines(draw):
    code = draw(st.sampled_from(["G1", "G0", "G01", "g1", "G 1"]))
    words = [draw(st.sampled_from([letter, letter.lower()])) + draw(st.sampled_from(["", " "]))
             + draw(VALUES[letter])
             for letter in draw(st.lists(st.sampled_from("XYZEF"), unique=True))]
    return " ".join([code] + words)


@st.composite
def runs_of_moves(draw):
    """Plain moves around a start point: runs longer than a release."""
    x, y = draw(st.floats(10.0, 200.0)), draw(st.floats(10.0, 180.0))
    step = draw(st.sampled_from([0.05, 0.5, 3.0, 20.0]))
    e = draw(st.sampled_from([0.0, 0.01, 0.5]))
    lines = ["G1 Z%s F%d" % (draw(st.sampled_from(["0.2", "0.4", "1"])),
                             draw(st.sampled_from([600, 6000, 30000])))]
    for k in range(draw(st.integers(1, 300))):
        lines.append("G1 X%.3f Y%.3f E%.5f" % (x + step * (k % 7), y + step * (k * 3 % 5), e))
    return lines


@st.composite
def programs(draw):
    lines = draw(st.sampled_from([[], ["G28", "G1 Z0.3 F600", "M82"],
                                  ["G28", "G1 Z0.3 F600", "M83"]]))
    line = st.one_of(move_lines(), move_lines(), OTHER_LINES)
    decorated = st.tuples(line, st.sampled_from(["", "", "", " ; note", " (note)", "\t"]))
    for part in draw(st.lists(st.one_of(decorated.map(lambda pair: ["".join(pair)]),
                                         runs_of_moves()), max_size=20)):
        lines += part
    if draw(st.integers(0, 4)) == 0:           # N-numbered, with checksums (a few wrong)
        numbered = []
        for n, text in enumerate(lines, 1):
            text = "N%d %s" % (n, text)
            checksum = 0
            for byte in text.encode():
                checksum ^= byte
            numbered.append("%s*%d" % (text, checksum ^ (draw(st.integers(0, 15)) == 0)))
        lines = numbered
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return (end.join(lines) + draw(st.sampled_from(["", end]))).encode()


@settings(max_examples=400, deadline=None)
@given(programs(), st.sampled_from([CFG, COREXY]), st.sampled_from([1, 2, 3, 7, 16384]),
       st.booleans(), st.booleans())
def test_any_gcode_gives_the_same_print_both_ways(data, cfg, batch_lines, observe, cold):
    assert_same(data, cfg=cfg, batch_lines=batch_lines, observe=observe, cold=cold)


def test_a_refused_move_keeps_the_feed_rate():
    # The module docstring of the interpreter: a line that fails changes no
    # modal state, F included (G1 X500 F3000 out of range keeps F1200).
    data = b"G28\nG1 X10 Y10 Z1 F1200\nG1 X500 F3000\nG1 X20\n"
    _, state, errors = assert_same(data)[:3]
    assert [e[0] for e in errors] == [3]
    assert state[2] == pytest.approx(1200 / 60.0)


def test_a_lift_that_primes_is_an_extrude_only_move():
    # ideaMaker's start: G1 Z5 E15 (no X/Y) is held to max_extrude_only_distance,
    # as Klipper's extruder does, not to the cross section of 5 mm of Z.
    data = b"G28\nM82\nG1 Z5 E15 F200\nG1 Z10 E70\nG1 X10 Y10 E15.5 F1200\n"
    _, state, errors = assert_same(data)[:3]
    assert [e[0] for e in errors] == [4]
    assert "extrude-only move too long: 55.000 mm" in errors[0][2]
    assert state[0] == [10.0, 10.0, 5.0, 15.5]


def test_e_mode_is_klippers_in_the_feed_and_line_by_line():
    # E is relative under G91 or M83: a G91 ... G90 lift leaves M83 relative, and M82
    # under G91 leaves E relative.
    data = (b"G28\nG1 Z0.3 F600\nM83\nG1 X10 Y10 E1 F1200\nG91\nG1 Z1\nG90\nG1 X20 E1\n"
            b"G1 X30 E1\nG91\nM82\nG1 X5 E0.5\n")
    _frames, state, errors, *_ = assert_same(data)
    assert errors == []
    assert state[1] == 3.5 and state[6][3] == pytest.approx(3.5)    # logical E, toolhead E


def test_a_tiny_segment_with_a_little_e_goes_through_the_feed():
    data = b"G28\nG1 Z0.3 F600\nM83\nG1 X10 Y10 E1 F1200\nG1 X10.0005 E0.02\nG1 X20 E0.5\n"
    _frames, state, errors, *_ = assert_same(data)
    assert errors == []
    assert state[6][:2] == [20.0, 10.0] and state[6][3] == pytest.approx(1.52)
    too_much = assert_same(data.replace(b"E0.02", b"E0.17"))[2]
    assert [(line, reason.split(":")[0]) for line, _text, reason in too_much] == [
        (5, "move exceeds the maximum extrusion")]
