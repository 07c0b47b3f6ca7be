# Mendel host: moves, junction speeds and the look-ahead queue.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Look-ahead planning: the model in plain Python, and the printer's limits.

The planner that prints is the Cython kernel :class:`mendel.planner._lookahead.Planner`
(its docstring states the model: Klipper's documented look-ahead with
junction deviation, the centripetal limit of short moves, the extruder's
instantaneous corner velocity and ``minimum_cruise_ratio``). This module keeps
the same model move by move in plain Python. It is the reference the kernel
is tested against and the baseline of ``mendel bench``; it is not fast.

:class:`Limits` holds the limits G-code may change while printing (M201,
M203, M204, M205, SET_VELOCITY_LIMIT) and hands them to a planner.
"""
import math

LOOKAHEAD_FLUSH_TIME = 0.25      # s of queued motion before a lazy flush (Klipper's)
_KINEMATIC_EPSILON = 1e-9
_EXTRUDE_ONLY_ACCEL = 99999999.9


class Move:
    """One straight move (mm, mm/s, mm/s^2), planned in plain Python.

    ``start``/``end``: ``[x, y, z, e]``. After planning ``start_v``,
    ``cruise_v``, ``end_v`` (mm/s) and ``accel_t``, ``cruise_t``, ``decel_t``
    (s) describe its trapezoid along ``move_d`` mm.
    """

    def __init__(self, limits, start, end, speed):
        self.start = list(start)
        self.end = list(end)
        axes_d = [end[i] - start[i] for i in range(4)]
        move_d = math.sqrt(axes_d[0] ** 2 + axes_d[1] ** 2 + axes_d[2] ** 2)
        self.accel = limits.max_accel
        self.junction_deviation = limits.junction_deviation
        self.instant_corner_v = limits.instantaneous_corner_velocity
        velocity = min(speed, limits.max_velocity)
        self.is_kinematic = True
        if move_d < _KINEMATIC_EPSILON:
            axes_d[0] = axes_d[1] = axes_d[2] = 0.0
            self.end[:3] = self.start[:3]
            move_d = abs(axes_d[3])
            self.accel = _EXTRUDE_ONLY_ACCEL
            velocity = speed
            self.is_kinematic = False
        self.axes_d = axes_d
        self.move_d = move_d
        # A move of no length is dropped by the queue's caller (as Klipper does).
        self.axes_r = [d / move_d for d in axes_d] if move_d else [0.0] * 4
        self.min_move_t = move_d / velocity
        self.max_start_v2 = 0.0
        self.max_cruise_v2 = velocity * velocity
        self.delta_v2 = 2.0 * move_d * self.accel
        self.max_smoothed_v2 = 0.0
        self.smooth_delta_v2 = 2.0 * move_d * limits.max_accel * (
            1.0 - limits.minimum_cruise_ratio)
        if self.is_kinematic and axes_d[2]:
            ratio = move_d / abs(axes_d[2])
            self.limit_speed(limits.max_z_velocity * ratio, limits.max_z_accel * ratio)
        if axes_d[3] and ((not axes_d[0] and not axes_d[1]) or self.axes_r[3] < 0.0):
            ratio = 1.0 / abs(self.axes_r[3])
            self.limit_speed(limits.max_extrude_only_velocity * ratio,
                             limits.max_extrude_only_accel * ratio)

    def limit_speed(self, speed, accel):
        """Lower this move's cruise speed (mm/s) and acceleration (mm/s^2)."""
        if speed * speed < self.max_cruise_v2:
            self.max_cruise_v2 = speed * speed
            self.min_move_t = self.move_d / speed
        self.accel = min(self.accel, accel)
        self.delta_v2 = 2.0 * self.move_d * self.accel
        self.smooth_delta_v2 = min(self.smooth_delta_v2, self.delta_v2)

    def limit_junction(self, prev):
        """Set ``max_start_v2`` from the corner with ``prev`` (the move before)."""
        if not (self.is_kinematic and prev.is_kinematic):
            return
        max_start_v2 = min(self.max_cruise_v2, prev.max_cruise_v2,
                           prev.max_start_v2 + prev.delta_v2)
        diff_r = self.axes_r[3] - prev.axes_r[3]
        if diff_r:
            max_start_v2 = min(max_start_v2, (self.instant_corner_v / abs(diff_r)) ** 2)
        cos_theta = -sum(self.axes_r[i] * prev.axes_r[i] for i in range(3))
        sin_half = math.sqrt(max(0.5 * (1.0 - cos_theta), 0.0))
        cos_half = math.sqrt(max(0.5 * (1.0 + cos_theta), 0.0))
        if 1.0 - sin_half > 0.0 and cos_half > 0.0:
            r_jd = sin_half / (1.0 - sin_half)
            quarter_tan = 0.25 * sin_half / cos_half
            max_start_v2 = min(max_start_v2,
                               r_jd * self.junction_deviation * self.accel,
                               r_jd * prev.junction_deviation * prev.accel,
                               self.delta_v2 * quarter_tan, prev.delta_v2 * quarter_tan)
        self.max_start_v2 = max_start_v2
        self.max_smoothed_v2 = min(max_start_v2, prev.max_smoothed_v2 + prev.smooth_delta_v2)

    def set_trapezoid(self, start_v2, cruise_v2, end_v2):
        """Fix the speeds (squared, mm^2/s^2) and derive the phase durations."""
        accel_d = (cruise_v2 - start_v2) * 0.5 / self.accel
        decel_d = (cruise_v2 - end_v2) * 0.5 / self.accel
        cruise_d = self.move_d - accel_d - decel_d
        self.start_v = start_v = math.sqrt(start_v2)
        self.cruise_v = cruise_v = math.sqrt(cruise_v2)
        self.end_v = end_v = math.sqrt(end_v2)
        self.accel_t = accel_d / ((start_v + cruise_v) * 0.5) if accel_d > 0.0 else 0.0
        self.cruise_t = cruise_d / cruise_v if cruise_d > 0.0 else 0.0
        self.decel_t = decel_d / ((end_v + cruise_v) * 0.5) if decel_d > 0.0 else 0.0

    @property
    def duration(self):
        return self.accel_t + self.cruise_t + self.decel_t


class Limits:
    """Motion limits of a printer (mm/s, mm/s^2), changeable while printing.

    G-code may lower a limit (M201, M203, M204, M205, SET_VELOCITY_LIMIT) but
    never raise it above the printer.cfg value: the config is the machine's
    ceiling (Klipper lets M204 go above ``max_accel``; we do not). The
    junction deviation follows the square corner velocity and the
    acceleration, as in Klipper's Kinematics.md. ``planner`` (optional): a
    :class:`~mendel.planner._lookahead.Planner` kept in step with every change.
    """

    def __init__(self, config, planner=None):
        self.ceiling = {
            "max_velocity": config.max_velocity, "max_accel": config.max_accel,
            "max_z_velocity": config.max_z_velocity, "max_z_accel": config.max_z_accel,
            "max_extrude_only_velocity": config.max_extrude_only_velocity,
            "max_extrude_only_accel": config.max_extrude_only_accel,
            "square_corner_velocity": config.square_corner_velocity,
        }
        for name, value in self.ceiling.items():
            setattr(self, name, value)
        self.minimum_cruise_ratio = getattr(config, "minimum_cruise_ratio", 0.5)
        self.instantaneous_corner_velocity = getattr(config, "instantaneous_corner_velocity",
                                                     1.0)
        self.planner = planner
        self._changed()

    def planner_args(self):
        """Arguments of ``Planner.set_limits``, in order."""
        return (self.max_velocity, self.max_accel, self.square_corner_velocity,
                self.minimum_cruise_ratio, self.max_z_velocity, self.max_z_accel,
                self.max_extrude_only_velocity, self.max_extrude_only_accel,
                self.instantaneous_corner_velocity)

    def _changed(self):
        scv = self.square_corner_velocity
        self.junction_deviation = scv * scv * (math.sqrt(2.0) - 1.0) / self.max_accel
        if self.planner is not None:
            self.planner.set_limits(*self.planner_args())

    def update(self, velocity=None, accel=None, scv=None, junction_deviation=None,
               z_velocity=None, z_accel=None, e_velocity=None, e_accel=None,
               min_cruise_ratio=None):
        """Change limits for the moves that follow; each capped at the config value.

        ``junction_deviation`` (mm) is turned into the square corner velocity
        that gives it at the current acceleration; ``min_cruise_ratio`` is
        Klipper's MINIMUM_CRUISE_RATIO (0 <= r < 1). Raises ValueError for a
        limit out of range; nothing changes then.
        """
        requested = {"max_velocity": velocity, "max_accel": accel,
                     "max_z_velocity": z_velocity, "max_z_accel": z_accel,
                     "max_extrude_only_velocity": e_velocity,
                     "max_extrude_only_accel": e_accel, "square_corner_velocity": scv}
        for name, value in requested.items():
            if value is not None and not (0.0 < value < math.inf) and not (
                    name == "square_corner_velocity" and value == 0.0):
                raise ValueError("%s must be positive, not %g" % (name, value))
        if junction_deviation is not None and not junction_deviation >= 0.0:
            raise ValueError("junction deviation must be a number >= 0")
        if junction_deviation is not None and not math.isfinite(junction_deviation):
            raise ValueError("junction deviation must be finite")
        if min_cruise_ratio is not None and not 0.0 <= min_cruise_ratio < 1.0:
            raise ValueError("minimum cruise ratio must be in 0..1 (1 excluded), not %g"
                             % min_cruise_ratio)
        for name, value in requested.items():
            if value is not None:
                setattr(self, name, min(value, self.ceiling[name]))
        if junction_deviation is not None:
            scv = math.sqrt(junction_deviation * self.max_accel / (math.sqrt(2.0) - 1.0))
            self.square_corner_velocity = min(scv, self.ceiling["square_corner_velocity"])
        if min_cruise_ratio is not None:
            self.minimum_cruise_ratio = min_cruise_ratio
        self._changed()


class LookAheadQueue:
    """The look-ahead queue in plain Python (reference and baseline).

    ``add(move)`` queues a :class:`Move` and returns the moves released (maybe
    none): like Klipper, once the queued moves' minimum time reaches
    ``LOOKAHEAD_FLUSH_TIME`` it plans the queue as if the last move ended at
    rest and releases the moves up to the last point that no later move can
    change. ``flush()`` releases everything.
    """

    def __init__(self):
        self.queue = []
        self.junction_flush = LOOKAHEAD_FLUSH_TIME

    def add(self, move):
        """Queue a move; returns the moves released for execution (maybe none)."""
        self.queue.append(move)
        if len(self.queue) == 1:
            return []
        move.limit_junction(self.queue[-2])
        self.junction_flush -= move.min_move_t
        if self.junction_flush <= 0.0:
            return self._flush(lazy=True)
        return []

    def flush(self):
        """Plan and release every queued move, ending at rest."""
        return self._flush(lazy=False)

    def _flush(self, lazy):
        self.junction_flush = LOOKAHEAD_FLUSH_TIME
        queue = self.queue
        flush_count = len(queue)
        undecided = lazy
        delayed = []
        next_end_v2 = next_smoothed_v2 = peak_cruise_v2 = 0.0
        for i in range(flush_count - 1, -1, -1):
            move = queue[i]
            reachable_start_v2 = next_end_v2 + move.delta_v2
            start_v2 = min(move.max_start_v2, reachable_start_v2)
            reachable_smoothed_v2 = next_smoothed_v2 + move.smooth_delta_v2
            smoothed_v2 = min(move.max_smoothed_v2, reachable_smoothed_v2)
            if smoothed_v2 < reachable_smoothed_v2:
                if smoothed_v2 + move.smooth_delta_v2 > next_smoothed_v2 or delayed:
                    if undecided and peak_cruise_v2:
                        flush_count = i
                        undecided = False
                    peak_cruise_v2 = min(move.max_cruise_v2,
                                         (smoothed_v2 + reachable_smoothed_v2) * 0.5)
                    if delayed and not undecided and i < flush_count:
                        cruise_v2 = peak_cruise_v2
                        for later, later_start_v2, later_end_v2 in reversed(delayed):
                            cruise_v2 = min(cruise_v2, later_start_v2)
                            later.set_trapezoid(min(later_start_v2, cruise_v2), cruise_v2,
                                                min(later_end_v2, cruise_v2))
                    del delayed[:]
                if not undecided and i < flush_count:
                    cruise_v2 = min((start_v2 + reachable_start_v2) * 0.5,
                                    move.max_cruise_v2, peak_cruise_v2)
                    move.set_trapezoid(min(start_v2, cruise_v2), cruise_v2,
                                       min(next_end_v2, cruise_v2))
            else:
                delayed.append((move, start_v2, next_end_v2))
            next_end_v2 = start_v2
            next_smoothed_v2 = smoothed_v2
        if undecided or not flush_count:
            return []
        released = queue[:flush_count]
        del queue[:flush_count]
        return released


def to_planned(moves):
    """Planned :class:`Move` objects as PLANNED_DTYPE rows (the kernels' form)."""
    import numpy as np
    from mendel.planner._lookahead import PLANNED_DTYPE
    result = np.zeros(len(moves), dtype=PLANNED_DTYPE)
    for row, move in zip(result, moves):
        row["start"] = move.start
        row["end"] = move.end
        row["axes_r"] = move.axes_r
        for name in ("move_d", "accel", "start_v", "cruise_v", "end_v", "accel_t",
                     "cruise_t", "decel_t"):
            row[name] = getattr(move, name)
    return result
