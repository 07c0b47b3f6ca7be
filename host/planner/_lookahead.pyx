# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# Mendel host: look-ahead planner (Cython kernel).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Trapezoidal moves joined at the speeds the junction model allows.

The model is the one Klipper documents (docs/Kinematics.md, "Look-ahead" and
"Minimum cruise ratio"; Config_Reference.md ``[printer]``); this is our own
code, in C arrays, and :mod:`mendel.planner.lookahead` holds the same model in
plain Python as its reference and benchmark baseline.

Per move (mm, mm/s, mm/s^2; "v2" is a squared speed):

* ``max_cruise_v2``: the requested speed, capped by ``max_velocity``; moves
  with Z are capped by ``max_z_velocity`` and ``max_z_accel`` scaled by
  ``move_d / |dz|``; extrude-only moves (and moves that retract, or move no
  X/Y) by ``max_extrude_only_velocity``/``_accel`` scaled by ``move_d / |de|``.
* ``delta_v2 = 2 * accel * move_d``: the most the squared speed can change
  along the move; ``smooth_delta_v2`` the same with
  ``max_accel * (1 - minimum_cruise_ratio)``, used to find each move's peak
  cruise speed so that short zig-zags keep a cruise phase.
* Junction: the toolhead follows an arc whose distance from the corner is the
  junction deviation ``scv^2 * (sqrt(2) - 1) / max_accel``; with ``theta`` the
  corner angle, ``v2 = R * accel``, ``R = jd * sin(theta/2) /
  (1 - sin(theta/2))``; the arc must touch each move no further than its
  middle: ``v2 <= delta_v2 * tan(theta/2) / 4``; the E ratio change is bound
  by ``instantaneous_corner_velocity``. Straight lines are not limited, a
  reversal stops.
* Planning walks the queue backwards assuming a stop after the last move, and
  releases moves lazily, only up to a point the plan can no longer change
  (Klipper's "flush when the queued moves reach 250 ms"); M400, G4, homing
  and the end of a file flush everything.

Released moves come out as rows of :data:`PLANNED_DTYPE` (a numpy structured
array): ``start``, ``end`` (4,) mm, ``axes_r`` (4,) mm per mm of move, ``move_d`` mm,
``accel`` mm/s^2, ``start_v``/``cruise_v``/``end_v`` mm/s,
``accel_t``/``cruise_t``/``decel_t`` s, and the caller's ``tag``.
"""
import numpy as np

from libc.math cimport sqrt, fabs, isfinite, INFINITY
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy

# Klipper's LOOKAHEAD_FLUSH_TIME: lazily plan once this much motion is queued.
LOOKAHEAD_FLUSH_TIME = 0.25
cdef double FLUSH_TIME = 0.25
# A move shorter than this (mm) moves no X/Y/Z: it is extrude-only.
cdef double KINEMATIC_EPSILON = 1e-9
# Bound on queued moves: past it the queue is planned to a stop and released
# (only absurd files of sub-micron moves get there).
cdef Py_ssize_t MAX_QUEUE = 1 << 18
cdef double EXTRUDE_ONLY_ACCEL = 99999999.9

PLANNED_DTYPE = np.dtype([
    ("start", "f8", (4,)), ("end", "f8", (4,)), ("axes_r", "f8", (4,)), ("move_d", "f8"), ("accel", "f8"),
    ("start_v", "f8"), ("cruise_v", "f8"), ("end_v", "f8"),
    ("accel_t", "f8"), ("cruise_t", "f8"), ("decel_t", "f8"), ("tag", "i8"),
], align=True)


cdef struct PMove:
    double start[4]
    double end[4]
    double axes_r[4]
    double move_d
    double accel
    double start_v
    double cruise_v
    double end_v
    double accel_t
    double cruise_t
    double decel_t
    int64_t tag
    # planning state, not exported
    double junction_deviation
    double max_cruise_v2
    double min_move_t
    double delta_v2
    double smooth_delta_v2
    double max_start_v2
    double max_smoothed_v2
    double delayed_start_v2
    double delayed_end_v2
    int kinematic


include "_planned.pxi"


from mendel.errors import CommandError


class PlanError(CommandError):
    """A move the planner cannot accept (not finite, no speed); nothing queued."""


# What Planner._add returns: the move was taken (queued, or dropped as a move
# of no length), or why it was refused (nothing changed); PlanError's words.
cdef enum:
    ADDED = 0
    REFUSED_NOT_FINITE = 1
    REFUSED_TOO_LONG = 2
    REFUSED_TOO_SLOW = 3

_REFUSALS = {
    REFUSED_NOT_FINITE: "move needs a finite target and a speed above 0",
    REFUSED_TOO_LONG: "move too long to plan",
    # Its squared cruise speed or delta_v2 rounds to 0 mm^2/s^2: steps
    # could never be timed.
    REFUSED_TOO_SLOW: "move too slow to plan: its speed or acceleration rounds to 0",
}


cdef int _check_added(int added) except -1:
    """Raise PlanError for a move :meth:`Planner._add` refused."""
    if added != ADDED:
        raise PlanError(_REFUSALS[added])
    return 0


cdef inline double dmin(double a, double b) nogil:
    return a if a < b else b


cdef class Planner:
    """Look-ahead queue of one toolhead; see the module docstring.

    Limits are set with :meth:`set_limits` (mm/s, mm/s^2); they apply to the
    moves added after the call. ``z_limits``: scale ``max_z_velocity`` and
    ``max_z_accel`` on moves with Z (cartesian and corexy; a delta passes its
    own limits per move instead).
    """
    cdef PMove* q
    cdef Py_ssize_t head, count, capacity
    cdef PMove* out
    cdef Py_ssize_t out_count, out_capacity
    cdef double junction_flush
    cdef public double max_velocity, max_accel, min_cruise_ratio, square_corner_velocity
    cdef public double max_z_velocity, max_z_accel
    cdef public double max_e_velocity, max_e_accel, instant_corner_v
    cdef public bint z_limits
    cdef double junction_deviation, max_accel_to_decel
    cdef double pos[4]
    cdef public int64_t moves_added

    def __cinit__(self, *args, **kwargs):
        self.capacity = 1024
        self.q = <PMove*> malloc(self.capacity * sizeof(PMove))
        self.out_capacity = 1024
        self.out = <PMove*> malloc(self.out_capacity * sizeof(PMove))
        if self.q == NULL or self.out == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.q)
        free(self.out)

    def __init__(self, double max_velocity, double max_accel,
                 double square_corner_velocity=5.0, double min_cruise_ratio=0.5,
                 double max_z_velocity=INFINITY, double max_z_accel=INFINITY,
                 double max_e_velocity=INFINITY, double max_e_accel=INFINITY,
                 double instant_corner_v=1.0, bint z_limits=True):
        self.head = self.count = self.out_count = 0
        self.junction_flush = FLUSH_TIME
        self.pos[0] = self.pos[1] = self.pos[2] = self.pos[3] = 0.0
        self.z_limits = z_limits
        self.moves_added = 0
        self.set_limits(max_velocity, max_accel, square_corner_velocity, min_cruise_ratio,
                        max_z_velocity, max_z_accel, max_e_velocity, max_e_accel,
                        instant_corner_v)

    def set_limits(self, double max_velocity, double max_accel,
                   double square_corner_velocity, double min_cruise_ratio,
                   double max_z_velocity, double max_z_accel,
                   double max_e_velocity, double max_e_accel, double instant_corner_v):
        """Set every limit for the moves that follow. Raises ValueError if one
        is out of range (speeds and accelerations > 0, scv >= 0,
        0 <= min_cruise_ratio < 1)."""
        if not (max_velocity > 0 and max_accel > 0 and max_z_velocity > 0
                and max_z_accel > 0 and max_e_velocity > 0 and max_e_accel > 0
                and square_corner_velocity >= 0 and instant_corner_v >= 0
                and 0.0 <= min_cruise_ratio < 1.0):
            raise ValueError("motion limits out of range")
        self.max_velocity = max_velocity
        self.max_accel = max_accel
        self.square_corner_velocity = square_corner_velocity
        self.min_cruise_ratio = min_cruise_ratio
        self.max_z_velocity = max_z_velocity
        self.max_z_accel = max_z_accel
        self.max_e_velocity = max_e_velocity
        self.max_e_accel = max_e_accel
        self.instant_corner_v = instant_corner_v
        self.junction_deviation = (square_corner_velocity * square_corner_velocity
                                   * (sqrt(2.0) - 1.0) / max_accel)
        self.max_accel_to_decel = max_accel * (1.0 - min_cruise_ratio)

    property junction_deviation:
        """mm, from the square corner velocity and max_accel."""
        def __get__(self):
            return self.junction_deviation

    property position:
        """[x, y, z, e] mm: the end of the last move added."""
        def __get__(self):
            return [self.pos[0], self.pos[1], self.pos[2], self.pos[3]]

    def set_position(self, position):
        """Set the position without moving; flushes the queue first."""
        self.flush()
        for i in range(4):
            self.pos[i] = position[i]

    property queued:
        """Number of moves waiting in the look-ahead queue."""
        def __get__(self):
            return self.count

    property released:
        """Number of planned moves waiting to be taken."""
        def __get__(self):
            return self.out_count

    # -- adding moves ---------------------------------------------------
    cdef int _grow(self) except -1:
        cdef PMove* grown
        if self.head > 0:
            # Slide the live moves to the front before growing.
            memcpy(self.q, self.q + self.head, self.count * sizeof(PMove))
            self.head = 0
            if self.count < self.capacity:
                return 0
        grown = <PMove*> realloc(self.q, 2 * self.capacity * sizeof(PMove))
        if grown == NULL:
            raise MemoryError()
        self.q = grown
        self.capacity *= 2
        return 0

    cdef inline void _limit_speed(self, PMove* m, double speed, double accel) nogil:
        cdef double speed2 = speed * speed
        if speed2 < m.max_cruise_v2:
            m.max_cruise_v2 = speed2
            m.min_move_t = m.move_d / speed
        m.accel = dmin(m.accel, accel)
        m.delta_v2 = 2.0 * m.move_d * m.accel
        m.smooth_delta_v2 = dmin(m.smooth_delta_v2, m.delta_v2)

    cdef int _add(self, double x, double y, double z, double e, double speed,
                  int64_t tag, double kin_speed, double kin_accel) except -1:
        """Queue a move; returns ADDED or a REFUSED_ reason (nothing queued)."""
        cdef PMove* m
        cdef PMove* prev
        cdef double d[4]
        cdef double move_d, velocity, ratio
        cdef int i
        if not (speed > 0.0) or not (isfinite(x) and isfinite(y) and isfinite(z)
                                     and isfinite(e)):
            return REFUSED_NOT_FINITE
        d[0] = x - self.pos[0]
        d[1] = y - self.pos[1]
        d[2] = z - self.pos[2]
        d[3] = e - self.pos[3]
        move_d = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
        if not isfinite(move_d) or not isfinite(d[3]):
            return REFUSED_TOO_LONG
        if move_d < KINEMATIC_EPSILON and d[3] == 0.0:
            # Nothing to do (rounding noise of relative moves): dropped.
            return ADDED
        if self.head + self.count == self.capacity:
            self._grow()
        m = &self.q[self.head + self.count]
        for i in range(4):
            m.start[i] = self.pos[i]
        m.tag = tag
        m.accel = self.max_accel
        m.junction_deviation = self.junction_deviation
        velocity = dmin(speed, self.max_velocity)
        m.kinematic = 1
        if move_d < KINEMATIC_EPSILON:
            # Extrude-only: the toolhead stays where it is.
            d[0] = d[1] = d[2] = 0.0
            move_d = fabs(d[3])
            m.accel = EXTRUDE_ONLY_ACCEL
            velocity = speed
            m.kinematic = 0
        for i in range(4):
            m.axes_r[i] = d[i] / move_d
        m.move_d = move_d
        m.min_move_t = move_d / velocity
        m.max_start_v2 = 0.0
        m.max_cruise_v2 = velocity * velocity
        m.delta_v2 = 2.0 * move_d * m.accel
        m.max_smoothed_v2 = 0.0
        m.smooth_delta_v2 = 2.0 * move_d * self.max_accel_to_decel
        if m.kinematic:
            if self.z_limits and d[2] != 0.0:
                ratio = move_d / fabs(d[2])
                self._limit_speed(m, self.max_z_velocity * ratio, self.max_z_accel * ratio)
            if kin_speed < INFINITY or kin_accel < INFINITY:
                self._limit_speed(m, kin_speed, kin_accel)
        if d[3] != 0.0 and ((d[0] == 0.0 and d[1] == 0.0) or m.axes_r[3] < 0.0):
            # Extrude-only, retract, or Z+E: the extruder's own limits.
            ratio = 1.0 / fabs(m.axes_r[3])
            self._limit_speed(m, self.max_e_velocity * ratio, self.max_e_accel * ratio)
        if not (m.max_cruise_v2 > 0.0 and m.delta_v2 > 0.0):
            return REFUSED_TOO_SLOW
        self.pos[3] = e
        if m.kinematic:
            self.pos[0] = x
            self.pos[1] = y
            self.pos[2] = z
        for i in range(4):
            m.end[i] = self.pos[i]
        self.count += 1
        self.moves_added += 1
        if self.count == 1:
            return ADDED
        prev = &self.q[self.head + self.count - 2]
        self._calc_junction(m, prev)
        self.junction_flush -= m.min_move_t
        if self.junction_flush <= 0.0 or self.count >= MAX_QUEUE:
            self._flush(True)
            if self.count >= MAX_QUEUE:
                self._flush(False)
        return ADDED

    cdef void _calc_junction(self, PMove* m, PMove* prev) nogil:
        cdef double max_start_v2, cos_theta, sin_half, cos_half, one_minus, r_jd
        cdef double quarter_tan, diff_r
        if not m.kinematic or not prev.kinematic:
            return
        max_start_v2 = dmin(m.max_cruise_v2, prev.max_cruise_v2)
        max_start_v2 = dmin(max_start_v2, prev.max_start_v2 + prev.delta_v2)
        # The extruder's instantaneous corner velocity bounds a jump in E ratio.
        diff_r = m.axes_r[3] - prev.axes_r[3]
        if diff_r != 0.0:
            max_start_v2 = dmin(max_start_v2, (self.instant_corner_v / fabs(diff_r)) ** 2)
        cos_theta = -(m.axes_r[0] * prev.axes_r[0] + m.axes_r[1] * prev.axes_r[1]
                      + m.axes_r[2] * prev.axes_r[2])
        sin_half = sqrt(0.5 * (1.0 - cos_theta)) if cos_theta < 1.0 else 0.0
        cos_half = sqrt(0.5 * (1.0 + cos_theta)) if cos_theta > -1.0 else 0.0
        one_minus = 1.0 - sin_half
        if one_minus > 0.0 and cos_half > 0.0:
            r_jd = sin_half / one_minus
            quarter_tan = 0.25 * sin_half / cos_half
            max_start_v2 = dmin(max_start_v2, r_jd * m.junction_deviation * m.accel)
            max_start_v2 = dmin(max_start_v2, r_jd * prev.junction_deviation * prev.accel)
            max_start_v2 = dmin(max_start_v2, m.delta_v2 * quarter_tan)
            max_start_v2 = dmin(max_start_v2, prev.delta_v2 * quarter_tan)
        m.max_start_v2 = max_start_v2
        m.max_smoothed_v2 = dmin(max_start_v2, prev.max_smoothed_v2 + prev.smooth_delta_v2)

    def add(self, double x, double y, double z, double e, double speed, int64_t tag=0,
            double kin_speed=INFINITY, double kin_accel=INFINITY):
        """Queue a move to ``[x, y, z, e]`` mm at ``speed`` mm/s.

        ``kin_speed``/``kin_accel``: extra limits of this move from the
        kinematics (mm/s, mm/s^2 along the move). Returns the number of
        planned moves ready to :meth:`take`. Raises PlanError (nothing
        queued) for a target that is not finite, a speed that is not above
        0, or a move so slow that its squared speed rounds to 0. A move to
        the current position is dropped.
        """
        _check_added(self._add(x, y, z, e, speed, tag, kin_speed, kin_accel))
        return self.out_count

    def add_batch(self, double[:, ::1] targets, double[::1] speeds, int64_t[::1] tags=None):
        """Queue ``targets`` ((N, 4) float64 mm) at ``speeds`` ((N,) mm/s).

        ``tags``: (N,) int64 carried to the planned moves (line numbers, say).
        Returns the number of planned moves ready to :meth:`take`.
        """
        cdef Py_ssize_t i, n = targets.shape[0]
        if targets.shape[1] != 4 or speeds.shape[0] != n or (
                tags is not None and tags.shape[0] != n):
            raise ValueError("targets must be (N, 4), speeds and tags (N,)")
        for i in range(n):
            _check_added(self._add(targets[i, 0], targets[i, 1], targets[i, 2], targets[i, 3],
                                   speeds[i], tags[i] if tags is not None else i, INFINITY,
                                   INFINITY))
        return self.out_count

    # -- planning -------------------------------------------------------
    cdef inline void _set_junction(self, PMove* m, double start_v2, double cruise_v2,
                                   double end_v2) nogil:
        cdef double half_inv_accel = 0.5 / m.accel
        cdef double accel_d = (cruise_v2 - start_v2) * half_inv_accel
        cdef double decel_d = (cruise_v2 - end_v2) * half_inv_accel
        cdef double cruise_d = m.move_d - accel_d - decel_d
        m.start_v = sqrt(start_v2)
        m.cruise_v = sqrt(cruise_v2)
        m.end_v = sqrt(end_v2)
        m.accel_t = accel_d / ((m.start_v + m.cruise_v) * 0.5) if accel_d > 0.0 else 0.0
        m.cruise_t = cruise_d / m.cruise_v if cruise_d > 0.0 else 0.0
        m.decel_t = decel_d / ((m.end_v + m.cruise_v) * 0.5) if decel_d > 0.0 else 0.0

    cdef int _flush(self, bint lazy) except -1:
        """Plan the queue; release all of it, or (lazy) up to the last move
        whose plan no later move can change."""
        cdef PMove* q = self.q + self.head
        cdef Py_ssize_t flush_count = self.count, i, j, delayed_from = -1
        cdef bint update_flush_count = lazy
        cdef double next_end_v2 = 0.0, next_smoothed_v2 = 0.0, peak_cruise_v2 = 0.0
        cdef double reachable_start_v2, start_v2, reachable_smoothed_v2, smoothed_v2
        cdef double cruise_v2, mc_v2
        cdef PMove* m
        cdef PMove* dm
        self.junction_flush = FLUSH_TIME
        # Delayed moves are a contiguous run just after the current index:
        # they are the moves i+1 .. delayed_from (walking backwards).
        for i in range(flush_count - 1, -1, -1):
            m = &q[i]
            reachable_start_v2 = next_end_v2 + m.delta_v2
            start_v2 = dmin(m.max_start_v2, reachable_start_v2)
            reachable_smoothed_v2 = next_smoothed_v2 + m.smooth_delta_v2
            smoothed_v2 = dmin(m.max_smoothed_v2, reachable_smoothed_v2)
            if smoothed_v2 < reachable_smoothed_v2:
                # This move could accelerate.
                if smoothed_v2 + m.smooth_delta_v2 > next_smoothed_v2 or delayed_from >= 0:
                    # It can decelerate, or it is a full accel after a full decel.
                    if update_flush_count and peak_cruise_v2 != 0.0:
                        flush_count = i
                        update_flush_count = False
                    peak_cruise_v2 = dmin(m.max_cruise_v2,
                                          (smoothed_v2 + reachable_smoothed_v2) * 0.5)
                    if delayed_from >= 0:
                        if not update_flush_count and i < flush_count:
                            mc_v2 = peak_cruise_v2
                            for j in range(i + 1, delayed_from + 1):
                                dm = &q[j]
                                mc_v2 = dmin(mc_v2, dm.delayed_start_v2)
                                self._set_junction(dm, dmin(dm.delayed_start_v2, mc_v2), mc_v2,
                                                   dmin(dm.delayed_end_v2, mc_v2))
                        delayed_from = -1
                if not update_flush_count and i < flush_count:
                    cruise_v2 = dmin(dmin((start_v2 + reachable_start_v2) * 0.5,
                                          m.max_cruise_v2), peak_cruise_v2)
                    self._set_junction(m, dmin(start_v2, cruise_v2), cruise_v2,
                                       dmin(next_end_v2, cruise_v2))
            else:
                # Plan this move once the peak cruise speed before it is known.
                if delayed_from < 0:
                    delayed_from = i
                m.delayed_start_v2 = start_v2
                m.delayed_end_v2 = next_end_v2
            next_end_v2 = start_v2
            next_smoothed_v2 = smoothed_v2
        if update_flush_count or flush_count == 0:
            return 0
        self._release(flush_count)
        return 0

    cdef int _release(self, Py_ssize_t n) except -1:
        cdef PMove* grown
        cdef Py_ssize_t want = self.out_count + n
        if want > self.out_capacity:
            while self.out_capacity < want:
                self.out_capacity *= 2
            grown = <PMove*> realloc(self.out, self.out_capacity * sizeof(PMove))
            if grown == NULL:
                raise MemoryError()
            self.out = grown
        memcpy(self.out + self.out_count, self.q + self.head, n * sizeof(PMove))
        self.out_count += n
        self.head += n
        self.count -= n
        if self.count == 0:
            self.head = 0
        return 0

    def flush(self):
        """Plan and release every queued move; the last one ends at rest.
        Returns the number of planned moves ready to :meth:`take`."""
        self._flush(False)
        return self.out_count

    def take(self):
        """The planned moves released so far, as a PLANNED_DTYPE array (copied)."""
        cdef Py_ssize_t i, n = self.out_count
        result = np.empty(n, dtype=PLANNED_DTYPE)
        cdef Planned[::1] view = result
        for i in range(n):
            memcpy(&view[i], &self.out[i], sizeof(Planned))
        self.out_count = 0
        return result

    def discard(self):
        """Drop the released moves (benchmarks); returns how many there were."""
        cdef Py_ssize_t n = self.out_count
        self.out_count = 0
        return n

    def clear(self):
        """Drop every queued and released move (after an emergency stop)."""
        self.head = self.count = self.out_count = 0
        self.junction_flush = FLUSH_TIME


include "_gcode_moves.pxi"
