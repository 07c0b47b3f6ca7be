"""Temperature and fan changes take effect when the motion reaches their line.

Printed on the simulated board (the firmware under micropython). The board's
step log says when each motor stepped and, as ``heater|fan clock index value``
lines, when the firmware applied each heater target and fan speed; the motion
time of a line is read from the steps alone (the clock at which a motor
reached the position of the move before it). Clocks in ticks.
"""
import contextlib

import serial

from paths import EXAMPLE
from mendel import config
from mendel.mcu.mcu import Mcu
from mendel.machine.printer import Printer
from mendel.sim.board import SimBoard

CFG = config.load()
SPM = dict(zip("xyze", CFG.steps_per_mm()))
CONTROL_PERIOD_S = 0.1          # the firmware's control timer (CONTROL_HZ 10)
MINIMAL = """\
M109 S200
G28
G1 X10 F600
M106 S255
G1 X20
G4 S30
M104 S0
G1 Y10 F600
M107
G1 Y20
"""


@contextlib.contextmanager
def sim_printer(step_log, realtime=False):
    with SimBoard("sim", realtime=realtime, step_log=step_log) as sim:
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            mcu = Mcu(port)
            mcu.connect()
            yield Printer(CFG, mcu, warn=lambda _t: None)


def read_log(path):
    """``(runs, events)``: {motor: [(first, interval, count, add), ...] since
    its last endstop stop} and
    [(kind, clock, index, value), ...] in the order the board wrote them."""
    runs, events = {}, []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("heater", "fan"):
                events.append((parts[0],) + tuple(int(p) for p in parts[1:]))
            elif parts[0] == "hit":
                # G28 stopped the motor at its endstop, which is position 0 of
                # these files' axes (position_endstop): count from there.
                runs[int(parts[2])] = []
            elif parts[0] != "stop":
                oid, first, interval, count, add = map(int, parts)
                runs.setdefault(oid, []).append((first, interval, count, add))
    return runs, events


def step_clock(runs, position, last=False):
    """Clock of the step that first (or, with ``last``, last) takes a motor to
    ``position`` (steps); step k (0-based) of a run is at first + k*interval
    + add*k*(k+1)/2."""
    at, found = 0, None
    for first, interval, count, add in runs:
        direction = 1 if count > 0 else -1
        if min(at + direction, at + count) <= position <= max(at + direction, at + count):
            k = (position - at) * direction - 1
            found = first + k * interval + add * k * (k + 1) // 2
            if not last:
                return found
        at += count
    assert found is not None, "the motor never reached step %d" % position
    return found


def test_changes_land_at_the_motion_time_of_their_line(tmp_path):
    gcode = tmp_path / "minimal.gcode"
    gcode.write_text(MINIMAL)
    log = tmp_path / "steps.log"
    with sim_printer(str(log)) as printer:
        printer.print_file(str(gcode))
        freq = printer.mcu.clock_freq
        hotend_at_end = printer.heaters.latest["extruder"]
    # The heater stayed on through the dwell: the nozzle is still hot at the end
    # (turned off when the line was read, 32 s early, it had cooled to 169 degC).
    assert hotend_at_end > 190.0
    runs, events = read_log(str(log))
    x_at_10 = step_clock(runs[0], round(10 * SPM["x"]))
    x_at_20 = step_clock(runs[0], round(20 * SPM["x"]))
    y_at_10 = step_clock(runs[1], round(10 * SPM["y"]))
    expected = [("fan", x_at_10, 0, 255),              # M106 S255 after G1 X10
                ("heater", x_at_20 + 30 * freq, 0, 0),   # M104 S0 after G1 X20, G4 S30
                ("fan", y_at_10, 0, 0)]                  # M107 after G1 Y10
    timed = [e for e in events if e[1] > x_at_10 - freq]
    assert [(k, i, v) for k, _c, i, v in timed] == [(k, i, v) for k, _c, i, v in expected]
    for (kind, clock, _i, value), (_k, motion, _i2, _v) in zip(timed, expected):
        offset_s = (clock - motion) / freq
        assert abs(offset_s) <= CONTROL_PERIOD_S, (kind, value, offset_s)


def test_the_examples_end_code_acts_when_the_last_move_ends(tmp_path):
    """The example ends ``G1 Z16.2`` (a hop), then M104 S0, M140 S0, M107, then
    ``G1 Z26``: all three land when Z reaches 16.2 mm (2.7 s early before)."""
    log = tmp_path / "steps.log"
    with sim_printer(str(log)) as printer:
        printer.print_file(EXAMPLE)
        freq = printer.mcu.clock_freq
    runs, events = read_log(str(log))
    hop_end = step_clock(runs[2], round(16.2 * SPM["z"]), last=True)
    last = events[-3:]
    assert [(k, i, v) for k, _c, i, v in last] == [("heater", 0, 0), ("heater", 1, 0),
                                                   ("fan", 0, 0)]
    for kind, clock, index, _v in last:
        assert abs(clock - hop_end) / freq <= CONTROL_PERIOD_S, (kind, index,
                                                                 (clock - hop_end) / freq)
    # The first layer's last line is M106 S255; then a 0.8 mm retract and the
    # move up to 0.4 mm: the fan comes on just before Z leaves 0.2 mm for good
    # (2.4 s early before).
    fan_on = [e for e in events if e[0] == "fan" and e[3] == 255]
    assert len(fan_on) == 1
    layer_change = step_clock(runs[2], round(0.2 * SPM["z"]) + 1, last=True)
    assert -CONTROL_PERIOD_S <= (fan_on[0][1] - layer_change) / freq <= 0.0


def test_a_board_on_its_own_clock_applies_a_fan_change_on_time(tmp_path):
    """Real time (the main loop waits for the link): within a control period."""
    gcode = tmp_path / "short.gcode"
    gcode.write_text("G28\nG1 X20 F1200\nM106 S128\nG1 X30\n")
    log = tmp_path / "steps.log"
    with sim_printer(str(log), realtime=True) as printer:
        printer.print_file(str(gcode))
        freq = printer.mcu.clock_freq
    runs, events = read_log(str(log))
    fan = [e for e in events if e[0] == "fan"]
    assert [(i, v) for _k, _c, i, v in fan] == [(0, 128)]
    offset_s = (fan[0][1] - step_clock(runs[0], round(20 * SPM["x"]))) / freq
    assert 0.0 <= offset_s <= CONTROL_PERIOD_S, offset_s


def test_a_fan_change_between_moves_does_not_stop_the_toolhead(tmp_path):
    """The look-ahead is not flushed for an M106: the same moves take the same
    time with and without it (a stop at X10 cost 0.033 s before)."""
    times = []
    for between in ("", "M106 S255\n"):
        gcode = tmp_path / "moves.gcode"
        gcode.write_text("G28\nG1 X10 F6000\n" + between + "G1 X20\nG1 X30\n")
        with sim_printer(str(tmp_path / "steps.log")) as printer:
            printer.print_file(str(gcode))
            times.append(printer.toolhead.motion_time)
    assert abs(times[1] - times[0]) < 1e-6, times
