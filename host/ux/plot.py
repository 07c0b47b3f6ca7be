# Mendel host: plots of planned motion and of a run's temperatures (`mendel plot`).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Velocity, acceleration and motor step rates along a G-code file, and the
temperatures of a run log, as a PNG (matplotlib, Agg backend).

Units: s, mm/s, mm/s^2, steps/s, degC. Suffixes: ``_s`` seconds, ``_v``
mm/s, ``_a`` mm/s^2.

Motion comes from the planner itself (the same kinematics, look-ahead and
trapezoids as ``mendel print``, through ``mendel check``'s machine), read in
one place, :func:`planned_moves`: a planner with other internals needs only
that function adapted. A trapezoid's speed is linear in time within each
phase, so its corner points (start, end of acceleration, end of cruise, end)
draw it exactly; acceleration is constant per phase. A motor's step rate is
the toolhead speed times the motor's share of the move (mm of motor per mm of
move, from the kinematics at the move's ends: exact for cartesian and CoreXY,
the mean over each planned piece for a delta) times its steps/mm. Time is
planned time from the start of the file (motion and dwells; heat-up waits
take no time here). Temperatures are on the board clock of the run.
"""
import numpy as np

from mendel.machine.check import CheckMachine
from mendel.gcode.interpreter import Interpreter, Settings
from mendel.gcode.reader import iter_commands
from mendel.planner.motion import Motion
from mendel.ux import runlog

KINDS = ("velocity", "accel", "steprate", "temperature")


class PlotError(Exception):
    """A plot that cannot be made: bad layer range, nothing to show."""


class _TaggingMotion(Motion):
    """The printer's motion model, noting each G-code move's layer and line
    (the planner carries the move's index to its planned pieces as ``tag``)."""

    def __init__(self, config, machine):
        super().__init__(config)
        self.machine = machine
        self.tags = {}              # move index -> (layer, line)

    def move(self, target, speed, *args, **kwargs):
        # CheckMachine.move has counted this move's layer already.
        machine = self.machine
        self.tags[self.moves] = (machine.layers.current, machine._line())
        return super().move(target, speed, *args, **kwargs)


class _RecordingMachine(CheckMachine):
    """``mendel check``'s planning machine, keeping every planned move."""

    def __init__(self, config):
        super().__init__(config)
        self.motion = _TaggingMotion(config, self)
        self.limits = self.motion.limits
        self.batches = []           # (PLANNED_DTYPE rows, start times s)

    def _plan(self, released):
        if released:
            moves = self.motion.take()
            durations = moves["accel_t"] + moves["cruise_t"] + moves["decel_t"]
            self.batches.append((moves, self.time + np.cumsum(durations) - durations))
            self.time += float(durations.sum())


def planned_moves(path, config, settings=None):
    """Every move of G-code file ``path`` as planned for printer ``config``.

    The one place that reads the planner's output (PLANNED_DTYPE rows of
    :mod:`mendel.planner._lookahead`). Returns a dict of numpy arrays, one
    row per planned move (a delta's moves are planned as several pieces):
    ``start_s`` (planned time at which it starts, s from the file's start),
    ``accel_t``, ``cruise_t``, ``decel_t`` (s), ``start_v``, ``cruise_v``,
    ``end_v`` (mm/s along the move), ``accel`` (mm/s^2), ``kinematic`` (bool:
    False for an extrude-only move, the toolhead standing still),
    ``motor_share`` ((N, M) mm of each motor per mm of move, kinematic
    motors then the extruder), ``layer`` (from 1, 0 before the first; see
    :mod:`mendel.gcode.layers`), ``line`` (of the file). Raises OSError if
    the file cannot be read, and GcodeError (naming the line) for a line
    the interpreter refuses.
    """
    machine = _RecordingMachine(config)
    interpreter = Interpreter(machine, settings or Settings(), warn=lambda _text: None,
                              filename=path)
    machine.interpreter = interpreter
    with open(path, "rb") as stream:
        interpreter.run(iter_commands(stream))
    machine.wait_moves()
    if not machine.batches:
        raise PlotError("%s has no moves" % path)
    moves = np.concatenate([batch for batch, _start in machine.batches])
    kinematics = machine.motion.kinematics

    def motor_positions(points):
        return np.column_stack([kinematics.calc_motor_positions(points[:, :3]), points[:, 3]])

    share = (motor_positions(moves["end"]) - motor_positions(moves["start"])) \
        / moves["move_d"][:, None]
    tags = np.array([machine.motion.tags[tag] for tag in moves["tag"].tolist()])
    return {
        "start_s": np.concatenate([start for _batch, start in machine.batches]),
        "accel_t": moves["accel_t"], "cruise_t": moves["cruise_t"],
        "decel_t": moves["decel_t"], "start_v": moves["start_v"],
        "cruise_v": moves["cruise_v"], "end_v": moves["end_v"], "accel": moves["accel"],
        "kinematic": np.any(moves["axes_r"][:, :3] != 0.0, axis=1),
        "motor_share": share, "layer": tags[:, 0], "line": tags[:, 1],
    }


def parse_layers(text):
    """``"A-B"`` or ``"A"`` (layer numbers from 1) -> ``(A, B)``; PlotError if bad."""
    first, sep, last = text.partition("-")
    try:
        low = int(first)
        high = int(last) if sep else low
    except ValueError:
        raise PlotError("--layers takes A-B or A (layer numbers), not %r" % text) from None
    if low < 0 or high < low:
        raise PlotError("--layers %s: need 0 <= A <= B" % text)
    return low, high


def motion_profile(planned, steps_per_mm, motors, layers=None):
    """Corner points of the speed, acceleration and step rate curves.

    ``planned``: from :func:`planned_moves`; ``steps_per_mm``: one per motor,
    named by ``motors`` (``config.steppers`` order: x, y, z or a, b, c, then
    e); ``layers``: ``(first, last)`` to keep only those layers. Returns a
    dict of numpy arrays: ``time_s`` (4 points per move: start, end of
    acceleration, end of cruise, end), ``velocity`` (toolhead mm/s at those
    points, 0 during extrude-only moves), ``accel_time_s`` and ``accel`` (6
    points per move, the constant acceleration of each phase, mm/s^2),
    ``steprate`` (dict motor -> steps/s at ``time_s``, unsigned), and
    ``moves`` (how many). Raises PlotError when no move is left.
    """
    keep = slice(None)
    if layers is not None:
        keep = (planned["layer"] >= layers[0]) & (planned["layer"] <= layers[1])
    p = {key: value[keep] for key, value in planned.items()}
    if not len(p["start_s"]):
        raise PlotError("no moves to plot" + (" in layers %d-%d" % layers if layers else ""))
    t0, ta, tc, td = p["start_s"], p["accel_t"], p["cruise_t"], p["decel_t"]
    accel = p["accel"]
    kinematic = p["kinematic"].astype(float)
    time_s = np.stack([t0, t0 + ta, t0 + ta + tc, t0 + ta + tc + td], axis=1)
    move_v = np.stack([p["start_v"], p["cruise_v"], p["cruise_v"], p["end_v"]], axis=1)
    zero = np.zeros_like(accel)
    phase_a = np.stack([accel, accel, zero, zero, -accel, -accel], axis=1)
    rates = np.abs(p["motor_share"]) * np.asarray(steps_per_mm, dtype=float)   # (N, M)
    return {
        "moves": len(t0),
        "time_s": time_s.ravel(),
        "velocity": (move_v * kinematic[:, None]).ravel(),
        "accel_time_s": time_s[:, [0, 1, 1, 2, 2, 3]].ravel(),
        "accel": (phase_a * kinematic[:, None]).ravel(),
        "steprate": {motor: (move_v * rates[:, i, None]).ravel()
                     for i, motor in enumerate(motors)},
    }


def temperatures(log_path):
    """``{heater: (times_s, temps_c, targets_c)}`` of a run log; PlotError if none."""
    series = runlog.temperature_series(runlog.read(log_path))
    if not series:
        raise PlotError("%s has no temperature entries" % log_path)
    return series


def render(out, profile=None, temps=None, kinds=KINDS, title=""):
    """Draw the chosen ``kinds`` (subset of KINDS) into PNG file ``out``.

    ``profile``: from :func:`motion_profile` (needed for velocity, accel,
    steprate); ``temps``: from :func:`temperatures` (for temperature).
    """
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    figure, axes = pyplot.subplots(len(kinds), 1, figsize=(11, 2.8 * len(kinds)),
                                   squeeze=False)
    for ax, kind in zip(axes[:, 0], kinds):
        _DRAW[kind](ax, profile, temps)
        ax.grid(True, alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    pyplot.close(figure)


def _draw_velocity(ax, profile, _temps):
    ax.plot(profile["time_s"], profile["velocity"], linewidth=0.7)
    ax.set_ylabel("toolhead speed, mm/s")
    ax.set_xlabel("planned time, s")


def _draw_accel(ax, profile, _temps):
    ax.plot(profile["accel_time_s"], profile["accel"], linewidth=0.7, color="tab:red")
    ax.set_ylabel("acceleration, mm/s²")
    ax.set_xlabel("planned time, s")


def _draw_steprate(ax, profile, _temps):
    for motor in profile["steprate"]:
        ax.plot(profile["time_s"], profile["steprate"][motor] / 1000.0, linewidth=0.7,
                label=motor.upper())
    ax.set_ylabel("step rate, ksteps/s")
    ax.set_xlabel("planned time, s")
    ax.legend(loc="upper right", ncol=4, fontsize="small")


def _draw_temperature(ax, _profile, temps):
    for name, (times, values, targets) in temps.items():
        line, = ax.plot(times, values, linewidth=1.0, label=name)
        ax.plot(times, targets, linewidth=0.8, linestyle="--", color=line.get_color(),
                drawstyle="steps-post", label=name + " target")
    ax.set_ylabel("temperature, °C")
    ax.set_xlabel("board time, s")
    ax.legend(loc="center right", fontsize="small")


_DRAW = {"velocity": _draw_velocity, "accel": _draw_accel, "steprate": _draw_steprate,
         "temperature": _draw_temperature}
