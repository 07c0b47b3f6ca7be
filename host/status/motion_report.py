# Mendel host: the motion_report printer object (where the toolhead is now).
# SPDX-License-Identifier: GPL-3.0-or-later
"""``motion_report``: live_position (Coord, mm), live_velocity (mm/s of the
toolhead), live_extruder_velocity (mm/s of filament), steppers, trapq.

As Klipper's, the live values are the *requested* motion at the board's
clock now: the planned trapezoid of the move under way, interpolated. A
:class:`MotionHistory` keeps the moves the toolhead scheduled (its
``scheduled`` hook: PLANNED_DTYPE rows and their start time) for the last
:data:`KEEP_S` seconds of board time. Outside every kept move (idle, or a
homing move, which is not planned) the toolhead stands at the last
commanded position, or at the end of the last scheduled move while the
next ones still wait in the look-ahead.

Units: mm, mm/s, s of board time.
"""
import collections

import numpy as np

from mendel.status.motion import Coord, board_time

KEEP_S = 2.0          # board-time seconds of finished moves kept (Klipper's trapq keeps ~1 s)


def objects(sources):
    config = sources.config
    if config is None:
        return {}
    history = sources.history
    steppers = ["stepper_" + axis for axis in config.steppers if axis != "e"] + ["extruder"]
    return {"motion_report": lambda t: motion_report(sources, history, steppers)}


def motion_report(sources, history, steppers):
    """The ``motion_report`` status (see the module docstring)."""
    head = getattr(sources.machine, "toolhead", None)
    now = board_time(head.mcu) if head is not None else None
    sample = history.at(now) if history is not None and now is not None else None
    if sample is None and history is not None and not head.planned_all():
        sample = history.last_end()     # the next moves are still in the look-ahead
    if sample is None:
        position, velocity, e_velocity = list(sources.interpreter.position), 0.0, 0.0
    else:
        position, velocity, e_velocity = sample
    return {"live_position": Coord(*position), "live_velocity": velocity,
            "live_extruder_velocity": e_velocity, "steppers": list(steppers),
            "trapq": ["toolhead", "extruder"]}


class MotionHistory:
    """The moves a :class:`mendel.machine.toolhead.Toolhead` scheduled lately.

    :meth:`attach` hooks it to a toolhead (called on the thread that plans);
    :meth:`at` reads it from any thread.
    """

    def __init__(self, head):
        self._head = head
        self._batches = collections.deque()     # (moves, start s, end s) of each batch
        self._standing = None       # [x, y, z, e] declared by the last force_position

    @classmethod
    def attach(cls, head):
        """The history of toolhead ``head``, hooked to it on first use."""
        hook = head.scheduled
        owner = getattr(hook, "__self__", None)
        if isinstance(owner, cls):
            return owner
        history = cls(head)
        head.scheduled = history.add
        return history

    def add(self, moves, start_s):
        """Keep a scheduled batch: ``moves`` PLANNED_DTYPE rows, the first
        starting at board time ``start_s``; ``moves`` None: the toolhead's
        position was declared anew (homing ended, SET_KINEMATIC_POSITION),
        so the moves kept (one an endstop cut short) are forgotten."""
        if moves is None:
            self._batches.clear()
            position = getattr(self._head, "position", None)
            self._standing = None if position is None else [float(v) for v in position]
            return
        durations = moves["accel_t"] + moves["cruise_t"] + moves["decel_t"]
        ends = start_s + np.cumsum(durations)
        self._batches.append((moves, ends - durations, ends))
        now = board_time(self._head.mcu) or 0.0
        while len(self._batches) > 1 and self._batches[0][2][-1] < now - KEEP_S:
            self._batches.popleft()

    def at(self, t):
        """(position [x, y, z, e] mm, toolhead mm/s, extruder mm/s) requested
        at board time ``t`` s; None when ``t`` is after the last kept move
        (the toolhead stands at the commanded position) or none is kept.
        Before the first kept move (scheduled a buffer ahead of the board)
        the toolhead stands where that move starts."""
        batches = list(self._batches)
        if not batches or t >= float(batches[-1][2][-1]):
            return None
        for moves, starts, ends in reversed(batches):
            if t >= float(ends[-1]):        # between two batches: standing still
                return [float(v) for v in moves[-1]["end"]], 0.0, 0.0
            if t >= float(starts[0]):
                k = int(np.searchsorted(ends, t, side="right"))
                return _interpolate(moves[k], t - float(starts[k]))
        return [float(v) for v in batches[0][0][0]["start"]], 0.0, 0.0

    def last_end(self):
        """(end of the last kept move, 0, 0), or where the toolhead was declared
        to be since (homing); None without either."""
        batches = list(self._batches)
        if not batches:
            return None if self._standing is None else (list(self._standing), 0.0, 0.0)
        return [float(v) for v in batches[-1][0][-1]["end"]], 0.0, 0.0


def _interpolate(move, dt):
    """Position and speeds ``dt`` s into planned ``move`` (a trapezoid:
    accelerate for accel_t, cruise for cruise_t, decelerate for decel_t)."""
    accel, v0, vc = float(move["accel"]), float(move["start_v"]), float(move["cruise_v"])
    accel_t, cruise_t = float(move["accel_t"]), float(move["cruise_t"])
    if dt < accel_t:
        distance, speed = v0 * dt + 0.5 * accel * dt * dt, v0 + accel * dt
    elif dt < accel_t + cruise_t:
        distance = 0.5 * (v0 + vc) * accel_t + vc * (dt - accel_t)
        speed = vc
    else:
        tau = dt - accel_t - cruise_t
        distance = (0.5 * (v0 + vc) * accel_t + vc * cruise_t
                    + vc * tau - 0.5 * accel * tau * tau)
        speed = vc - accel * tau
    ratios = move["axes_r"]
    position = [float(s) + float(r) * distance for s, r in zip(move["start"], ratios)]
    xyz = float(np.sqrt(np.dot(ratios[:3], ratios[:3])))
    return position, speed * xyz, speed * float(ratios[3])
