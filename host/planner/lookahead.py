# Mendel host: moves, junction speeds and the look-ahead queue.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Trapezoidal moves joined at speeds the junction model allows.

Model (Klipper's documented Kinematics.md; our own code):

* A move accelerates at ``accel`` from its start speed to a cruise speed and
  decelerates to its end speed. ``delta_v2 = 2 * accel * move_d`` is the most
  its squared speed can change over its length.
* Junction speed: the toolhead follows an arc through the corner with the
  deviation ``junction_deviation = scv^2 * (sqrt(2) - 1) / max_accel`` from the
  corner point (scv: ``square_corner_velocity``, the speed through a 90 degree
  corner). With ``theta`` the angle between the moves and
  ``sin(theta/2) = sqrt((1 - cos_theta)/2)``, the arc radius is
  ``R = junction_deviation * sin(theta/2) / (1 - sin(theta/2))`` and the speed
  ``v^2 = R * accel``. Short moves also bound it by the centripetal limit over
  half their length, ``0.5 * move_d * tan(theta/2) * accel``. A reversal stops;
  a straight line is not limited by the junction.
* Moves that do not move X/Y/Z (extrude-only) start and end at rest.

The queue plans lazily: once it holds ``2 * window`` moves it plans all of
them as if the last one ended at rest, and releases all but the last
``window``. Released speeds never rise later, so it can always stop.
"""
import math

_REVERSAL_COS = 0.999999
_EPSILON = 1e-9


class Move:
    """One straight move in machine coordinates (mm, mm/s, mm/s^2).

    ``start``/``end`` are ``[x, y, z, e]``; after planning ``start_v``,
    ``cruise_v``, ``end_v`` (mm/s) and ``accel_t``, ``cruise_t``, ``decel_t``
    (s) describe its trapezoid along ``move_d`` mm.
    """

    __slots__ = ("start", "end", "axes_d", "move_d", "is_kinematic", "accel",
                 "max_cruise_v2", "max_start_v2", "delta_v2", "junction_deviation",
                 "start_v", "cruise_v", "end_v", "accel_t", "cruise_t", "decel_t",
                 "print_time")

    def __init__(self, limits, start, end, speed):
        self.start = start
        self.end = end
        self.axes_d = [end[i] - start[i] for i in range(4)]
        dx, dy, dz, de = self.axes_d
        move_d = math.sqrt(dx * dx + dy * dy + dz * dz)
        velocity = min(speed, limits.max_velocity)
        accel = limits.max_accel
        self.is_kinematic = move_d >= _EPSILON
        if not self.is_kinematic:
            move_d = abs(de)
            velocity = min(velocity, limits.max_extrude_only_velocity)
            accel = min(accel, limits.max_extrude_only_accel)
        elif abs(dz) > _EPSILON:
            ratio = move_d / abs(dz)
            velocity = min(velocity, limits.max_z_velocity * ratio)
            accel = min(accel, limits.max_z_accel * ratio)
        self.move_d = move_d
        self.accel = accel
        self.max_cruise_v2 = velocity * velocity
        self.delta_v2 = 2.0 * move_d * accel
        self.max_start_v2 = 0.0
        self.junction_deviation = limits.junction_deviation

    def limit_junction(self, prev):
        """Set ``max_start_v2`` from the corner with ``prev`` (the move before)."""
        if not (self.is_kinematic and prev.is_kinematic):
            return
        cos_theta = -sum(self.axes_d[i] * prev.axes_d[i] for i in range(3)) / (
            self.move_d * prev.move_d)
        if cos_theta > _REVERSAL_COS:
            return
        cos_theta = max(cos_theta, -_REVERSAL_COS)
        sin_half = math.sqrt(0.5 * (1.0 - cos_theta))
        radius_per_deviation = sin_half / (1.0 - sin_half)
        tan_half = sin_half / math.sqrt(0.5 * (1.0 + cos_theta))
        self.max_start_v2 = min(
            radius_per_deviation * self.junction_deviation * self.accel,
            radius_per_deviation * prev.junction_deviation * prev.accel,
            0.5 * self.move_d * tan_half * self.accel,
            0.5 * prev.move_d * tan_half * prev.accel,
            self.max_cruise_v2, prev.max_cruise_v2,
            prev.max_start_v2 + prev.delta_v2)

    def set_trapezoid(self, start_v2, cruise_v2, end_v2):
        """Fix the speeds (squared, mm^2/s^2) and derive the phase durations."""
        accel = self.accel
        # Rounding can leave the peak a hair below an end speed; never let a
        # phase run backwards.
        cruise_v2 = max(cruise_v2, start_v2, end_v2)
        self.start_v = start_v = math.sqrt(start_v2)
        self.cruise_v = cruise_v = math.sqrt(cruise_v2)
        self.end_v = end_v = math.sqrt(end_v2)
        accel_d = (cruise_v2 - start_v2) / (2.0 * accel)
        decel_d = (cruise_v2 - end_v2) / (2.0 * accel)
        cruise_d = max(self.move_d - accel_d - decel_d, 0.0)
        self.accel_t = (cruise_v - start_v) / accel
        self.decel_t = (cruise_v - end_v) / accel
        self.cruise_t = cruise_d / cruise_v if cruise_v > 0.0 else 0.0

    @property
    def duration(self):
        return self.accel_t + self.cruise_t + self.decel_t


class Limits:
    """Motion limits of a printer (mm/s, mm/s^2), changeable while printing.

    G-code may lower a limit (M201, M203, M204, M205, SET_VELOCITY_LIMIT) but
    never raise it above the printer.cfg value: the config is the machine's
    ceiling. The junction deviation follows the square corner velocity and
    the acceleration, as in Klipper's Kinematics.md.
    """

    _CAPPED = ("max_velocity", "max_accel", "max_z_velocity", "max_z_accel",
               "max_extrude_only_velocity", "max_extrude_only_accel",
               "square_corner_velocity")

    def __init__(self, config):
        self.ceiling = {
            "max_velocity": config.max_velocity, "max_accel": config.max_accel,
            "max_z_velocity": config.max_z_velocity, "max_z_accel": config.max_z_accel,
            "max_extrude_only_velocity": config.max_extrude_only_velocity,
            "max_extrude_only_accel": config.max_extrude_only_accel,
            "square_corner_velocity": config.square_corner_velocity,
        }
        for name, value in self.ceiling.items():
            setattr(self, name, value)
        self._update_junction_deviation()

    def _update_junction_deviation(self):
        scv = self.square_corner_velocity
        self.junction_deviation = scv * scv * (math.sqrt(2.0) - 1.0) / self.max_accel

    def update(self, velocity=None, accel=None, scv=None, junction_deviation=None,
               z_velocity=None, z_accel=None, e_velocity=None, e_accel=None,
               min_cruise_ratio=None):
        """Change limits for the moves that follow; each capped at the config value.

        ``junction_deviation`` (mm) is turned into the square corner velocity
        that gives it at the current acceleration. Raises ValueError for a
        limit that is not positive.
        """
        requested = {"max_velocity": velocity, "max_accel": accel,
                     "max_z_velocity": z_velocity, "max_z_accel": z_accel,
                     "max_extrude_only_velocity": e_velocity,
                     "max_extrude_only_accel": e_accel, "square_corner_velocity": scv}
        for name, value in requested.items():
            if value is None:
                continue
            if not value > 0.0 and not (name == "square_corner_velocity" and value == 0.0):
                raise ValueError("%s must be positive, not %g" % (name, value))
            setattr(self, name, min(value, self.ceiling[name]))
        if junction_deviation is not None:
            if junction_deviation < 0.0:
                raise ValueError("junction deviation must not be negative")
            scv = math.sqrt(junction_deviation * self.max_accel / (math.sqrt(2.0) - 1.0))
            self.square_corner_velocity = min(scv, self.ceiling["square_corner_velocity"])
        self._update_junction_deviation()


class LookAheadQueue:
    """Queue of moves planned with look-ahead; see the module docstring."""

    def __init__(self, window=256):
        self.window = window
        self.queue = []
        self.start_v2 = 0.0  # end speed^2 of the last released move

    def add(self, move):
        """Queue a move; returns the moves released for execution (maybe none)."""
        if self.queue:
            move.limit_junction(self.queue[-1])
        self.queue.append(move)
        if len(self.queue) >= 2 * self.window:
            return self._plan(len(self.queue) - self.window)
        return []

    def flush(self):
        """Plan and release every queued move, ending at rest."""
        return self._plan(len(self.queue))

    def _plan(self, release):
        queue = self.queue
        count = len(queue)
        # Backward pass: the fastest each move may start so that every later
        # move can still slow down to rest at the end of the queue.
        limit = [0.0] * (count + 1)
        for i in range(count - 1, -1, -1):
            move = queue[i]
            limit[i] = min(move.max_start_v2, limit[i + 1] + move.delta_v2)
        # Forward pass: accelerate as allowed from the fixed start speed.
        start_v2 = self.start_v2
        for i in range(release):
            move = queue[i]
            end_v2 = min(limit[i + 1], start_v2 + move.delta_v2)
            peak_v2 = (start_v2 + end_v2 + move.delta_v2) * 0.5
            move.set_trapezoid(start_v2, min(move.max_cruise_v2, peak_v2), end_v2)
            start_v2 = end_v2
        self.start_v2 = start_v2
        released = queue[:release]
        del queue[:release]
        return released
