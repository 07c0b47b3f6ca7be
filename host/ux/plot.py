# Mendel host: plots of planned motion and of a run's temperatures (`mendel plot`).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Velocity, acceleration and motor step rates along a G-code file, and the
temperatures of a run log, as a PNG (matplotlib, Agg backend).

Units: s, mm/s, mm/s^2, steps/s, degC. Suffixes: ``_s`` seconds, ``_v``
mm/s, ``_a`` mm/s^2.

Motion comes from the planner itself (the same look-ahead and trapezoids as
``mendel print``), read in one place, :func:`planned_moves`: a planner with
another implementation but the same Move/trapezoid fields needs only that
function adapted. A trapezoid's speed is linear in time within each phase,
so its corner points (start, end of acceleration, end of cruise, end) draw
it exactly; acceleration is constant per phase. A motor's step rate is the
toolhead speed times the motor's share of the move (mm of motor per mm of
move) times its steps/mm. Time is planned time from the start of the file
(motion and dwells; heat-up waits take no time here). Temperatures are on the
board clock of the run.
"""
import collections

from mendel.check import CheckMachine
from mendel.gcode.interpreter import Interpreter, Settings
from mendel.gcode.reader import iter_commands
from mendel.planner.lookahead import LookAheadQueue
from mendel.ux import runlog

KINDS = ("velocity", "accel", "steprate", "temperature")
MOTORS = ("x", "y", "z", "e")

PlannedMove = collections.namedtuple("PlannedMove", (
    "start_s",      # planned time at which the move starts (s from the file's start)
    "accel_t", "cruise_t", "decel_t",       # phase durations, s
    "start_v", "cruise_v", "end_v",         # mm/s along the move
    "accel",        # mm/s^2 in the acceleration and deceleration phases
    "move_d",       # mm along the move (XYZ length; |E| for extrude-only moves)
    "axes_d",       # (dx, dy, dz, de) mm
    "kinematic",    # False for an extrude-only move (the toolhead stands still)
    "layer",        # layer number from 1 (0: before the first), mendel.gcode.layers
    "line",         # line of the file that made it
))


class PlotError(Exception):
    """A plot that cannot be made: bad layer range, nothing to show."""


class _TaggedQueue(LookAheadQueue):
    """The look-ahead queue, noting each move's layer and line as it enters."""

    def __init__(self, machine):
        super().__init__()
        self.machine = machine
        self.tags = collections.deque()

    def add(self, move):
        # CheckMachine.move has counted the move's layer already.
        self.tags.append((self.machine.layers.current, self.machine.interpreter.lines))
        return super().add(move)


class _RecordingMachine(CheckMachine):
    """``mendel check``'s planning machine, keeping every planned move."""

    def __init__(self, config):
        super().__init__(config)
        self.queue = _TaggedQueue(self)
        self.planned = []

    def _plan(self, moves):
        for move in moves:
            layer, line = self.queue.tags.popleft()
            self.planned.append(PlannedMove(
                self.time, move.accel_t, move.cruise_t, move.decel_t, move.start_v,
                move.cruise_v, move.end_v, move.accel, move.move_d, tuple(move.axes_d),
                move.is_kinematic, layer, line))
            self.time += move.duration


def planned_moves(path, config, settings=None):
    """Every move of G-code file ``path`` as planned for printer ``config``.

    Returns a list of :class:`PlannedMove` in time order. Raises OSError if
    the file cannot be read, and GcodeError (naming the line) for a line the
    interpreter refuses.
    """
    machine = _RecordingMachine(config)
    interpreter = Interpreter(machine, settings or Settings(), warn=lambda _text: None,
                              filename=path)
    machine.interpreter = interpreter
    with open(path, "rb") as stream:
        interpreter.run(iter_commands(stream))
    machine.wait_moves()
    return machine.planned


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


def motion_profile(moves, steps_per_mm, layers=None):
    """Corner points of the speed, acceleration and step rate curves.

    ``moves``: PlannedMove list; ``steps_per_mm``: 4 floats (x, y, z, e);
    ``layers``: ``(first, last)`` to keep only those layers. Returns a dict of
    numpy arrays: ``time_s`` (4 points per move: start, end of accel, end of
    cruise, end), ``velocity`` (toolhead mm/s at those points, 0 during
    extrude-only moves), ``accel_time_s`` and ``accel`` (6 points per move,
    the constant acceleration of each phase, mm/s^2), ``steprate`` (dict motor
    -> steps/s at ``time_s``, unsigned), and ``moves`` (how many). Raises
    PlotError when no move is left.
    """
    import numpy as np
    if layers is not None:
        moves = [m for m in moves if layers[0] <= m.layer <= layers[1]]
    if not moves:
        raise PlotError("no moves to plot" + (" in layers %d-%d" % layers if layers else ""))
    t0 = np.array([m.start_s for m in moves])
    ta = np.array([m.accel_t for m in moves])
    tc = np.array([m.cruise_t for m in moves])
    td = np.array([m.decel_t for m in moves])
    v0 = np.array([m.start_v for m in moves])
    vc = np.array([m.cruise_v for m in moves])
    ve = np.array([m.end_v for m in moves])
    accel = np.array([m.accel for m in moves])
    kinematic = np.array([m.kinematic for m in moves], dtype=float)
    share = np.abs(np.array([m.axes_d for m in moves])) / np.array(
        [m.move_d for m in moves])[:, None]                       # (N, 4) mm/mm
    time_s = np.stack([t0, t0 + ta, t0 + ta + tc, t0 + ta + tc + td], axis=1)
    move_v = np.stack([v0, vc, vc, ve], axis=1)                    # (N, 4) mm/s
    phase_a = np.stack([accel, accel, 0 * accel, 0 * accel, -accel, -accel], axis=1)
    accel_time_s = time_s[:, [0, 1, 1, 2, 2, 3]]
    steprate = {motor: (move_v * (share[:, i] * steps_per_mm[i])[:, None]).ravel()
                for i, motor in enumerate(MOTORS)}
    return {
        "moves": len(moves),
        "time_s": time_s.ravel(),
        "velocity": (move_v * kinematic[:, None]).ravel(),
        "accel_time_s": accel_time_s.ravel(),
        "accel": (phase_a * kinematic[:, None]).ravel(),
        "steprate": steprate,
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
    for motor in MOTORS:
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
