# Mendel host: selftest checks of the motors and endstops.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Step timing and endstop reads.

Suffixes: ``_s`` seconds of board time, ``_steps`` motor steps, ``_ticks``
MCU clock ticks.

Step timing moves every axis a few mm from a set position (a bench rig has
nothing on its endstop inputs, so the position is set, not homed): the
board's step counters must end where the host's arithmetic puts them. On the
simulated board the step log shows every step: the runs replay in time
order, each motor's steps add up to its counter, and the steps span the
motion the planner planned. On a real board the link shows the counters
(``get_position`` after the queued runs have played) and the board-clock
time from the first run to the end of the moves.
"""
import os
import tempfile

from mendel.selftest.checks import Result
from mendel.sim import steplog

# Relative moves from a set position in the middle of any bench rig's
# travel: every axis both ways, at two speeds.
MOVES = ("SET_KINEMATIC_POSITION X=100 Y=100 Z=10\nG91\nG1 X10 Y5 F6000\n"
         "G1 X-4 Y10 Z1 F3000\nG1 X-5.5 Y-14.75 Z0.5\nG90\nM400\n")
# The steps' span may differ from the planned motion by this share plus
# one step period at the slowest speed (the first and last step are inside
# the moves, not on their ends).
SPAN_TOLERANCE = 0.02
SPAN_SLACK_S = 0.02


def step_timing(bench):
    """Queue the MOVES and compare where and when the motors stepped."""
    mcu, printer = bench.mcu, bench.printer
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "selftest-moves.gcode")
        with open(path, "w") as f:
            f.write(MOVES)
        summary = printer.print_file(path)
    figures = {"board_steps": summary.position_steps, "host_steps": summary.expected_steps,
               "counters_steps": {name: mcu.motor_position(oid) for name, oid
                                  in zip(bench.config.steppers, printer.toolhead.oids)},
               "oids": dict(zip(bench.config.steppers, printer.toolhead.oids)),
               "board_time_s": summary.print_time_s,
               "planned_motion_s": summary.estimated_time_s}
    if summary.position_steps != summary.expected_steps:
        return Result("steps", False, "the board's step counters %s are not the host's %s"
                      % (summary.position_steps, summary.expected_steps), figures)
    return Result("steps", True, "counters exact after the moves (get_position); "
                  "%.3f s of board time for %.3f s of planned motion (step edges are "
                  "not seen over the link)" % (summary.print_time_s,
                                               summary.estimated_time_s), figures)


def from_step_log(result, path, motor_count, clock_freq):
    """The simulated board's verdict on ``result`` (of :func:`step_timing`)
    from its step log at ``path``, read once the board has ended (it writes
    the log as it goes). Returns a new Result."""
    figures = dict(result.figures)
    if not result.passed:
        return result
    try:
        replay = steplog.read(path, motor_count)
    except steplog.StepLogError as exc:
        return Result("steps", False, "step log: %s" % exc, figures)
    starts, ends, logged = [], [], {}
    for name, oid in figures["oids"].items():
        motor = replay[oid]
        logged[name] = motor.final_steps
        if motor.taken.size:
            starts.append(int(motor.start_ticks[0]))
            ends.append(int(motor.end_ticks()[-1]))
    span_s = (max(ends) - min(starts)) / clock_freq if starts else 0.0
    planned = figures["planned_motion_s"]
    figures.update({"logged_steps": logged, "step_span_s": span_s,
                    "steps_logged": int(sum(int(m.taken.sum()) for m in replay))})
    if logged != figures["counters_steps"]:
        return Result("steps", False, "the step log adds up to %s, the board's counters "
                      "said %s" % (logged, figures["counters_steps"]), figures)
    if abs(span_s - planned) > SPAN_TOLERANCE * planned + SPAN_SLACK_S:
        return Result("steps", False, "the steps span %.4f s, the planner planned %.4f s "
                      "of motion" % (span_s, planned), figures)
    return Result("steps", True, "%d steps replayed in time order from the step log, "
                  "counters exact; they span %.4f s of the %.4f s planned"
                  % (figures["steps_logged"], span_s, planned), figures)


def endstops(bench):
    """Read every endstop input once (QUERY): each must answer."""
    mcu = bench.mcu
    names = list(mcu.info.get("endstops", ()))
    if "endstop_query" not in mcu.commands:
        return Result("endstops", None, "the firmware has no endstop_query", {})
    states = {}
    for eid, name in enumerate(names):
        _eid, level = mcu.query("endstop_query", (eid,), "endstop_state",
                                match=lambda a, eid=eid: a[0] == eid)
        states[name] = "TRIGGERED" if level else "open"
    return Result("endstops", True, ", ".join("%s %s" % item for item in states.items())
                  or "no endstops", {"states": states})
