# Mendel host: plain G0/G1 lines from the lexer straight into the planner.
# SPDX-License-Identifier: GPL-3.0-or-later
# Included by _lookahead.pyx (it needs the Planner's C interface).
#
# Most lines of a sliced file are plain moves: ``G1 X.. Y.. E.. F..``. Their
# meaning is simple enough to follow in C, from the lexer's line arrays, with
# the interpreter's modal state (mendel.gcode.interpreter) copied in and out.
# Every other line, and every move that would be refused, stops the run: the
# interpreter then executes that line itself, so its errors, warnings and
# events are exactly those of the plain-Python path.

from libc.math cimport NAN
from libc.stdint cimport uint32_t

# Letters a plain move may carry (bit k = chr(65 + k)): E, F, X, Y, Z.
cdef uint32_t _MOVE_LETTERS = (1 << 4) | (1 << 5) | (1 << 23) | (1 << 24) | (1 << 25)
cdef uint32_t _BIT_E = 1 << 4
cdef uint32_t _BIT_F = 1 << 5
# mendel.planner.kinematics.EPSILON_MM and mendel.planner.extrusion._EPSILON.
cdef double _RANGE_EPSILON = 1e-9
cdef double _EXTRUDE_EPSILON = 1e-9
cdef int _LETTERS = 26


cdef class MoveFeed:
    """Runs of plain G0/G1 lines, from a lexer batch into a :class:`Planner`.

    The caller (the interpreter with a toolhead) sets the modal state before
    :meth:`run` and reads it back after: ``position`` ([x, y, z, e] machine
    mm, the interpreter's: targets are computed from it), ``base`` (machine
    = logical + base for X, Y, Z), ``logical_e`` (E as the G-code names it),
    ``feed`` (mm/s), ``speed_factor`` (M220), ``extrude_factor`` (M221),
    ``scale`` (mm per G-code unit), ``absolute`` (G90/G91), ``absolute_e``
    (M82/M83; E is absolute only under both G90 and M82). The toolhead sets ``start`` ([x, y, z, e] machine mm, where
    its next move starts: checks and limits are computed from it; it
    differs from ``position`` only after a line that failed part way, an arc
    whose later segments were out of range say), ``cold`` (the hot end is
    below ``min_extrude_temp``), ``tag`` and ``release_at``, and reads
    ``start`` and ``tag`` back.

    The checks of a move are those of the plain path, with the same numbers:
    the toolhead range (``axis_min``/``axis_max``, mm, as LinearKinematics),
    the Z speed and acceleration scaling (``max_z_velocity`` mm/s,
    ``max_z_accel`` mm/s^2, kinematics.z_limits), the extruder's
    ``max_extrude_cross_section`` (mm^2, with ``filament_area`` mm^2) and
    ``max_extrude_only_distance`` (mm, moves without X/Y travel and retractions),
    the small-E exemption of the cross-section check (``small_extrusion`` mm
    of filament, mendel.planner.extrusion.small_extrusion_mm),
    cold extrusion, and what the planner refuses (``Planner._add``). Only
    linear kinematics (cartesian, CoreXY) have a feed: a delta's moves are
    split in Python.
    """
    cdef Planner planner
    cdef object _views
    cdef signed char[::1] kinds
    cdef int[::1] numbers
    cdef int[::1] subs
    cdef char[::1] has_n
    cdef uint32_t[::1] masks
    cdef uint32_t[::1] flags
    cdef uint32_t[::1] quoted
    cdef double[::1] values
    cdef signed char[::1] meta
    cdef signed char[::1] errors
    cdef int64_t[::1] linenos
    cdef double pos[4]
    cdef double start_[4]
    cdef double base_[3]
    cdef double axis_min[3]
    cdef double axis_max[3]
    cdef public double logical_e, feed, speed_factor, extrude_factor, scale
    cdef public bint absolute, absolute_e, cold
    cdef public double max_z_velocity, max_z_accel
    cdef public double filament_area, max_cross_section, max_extrude_only, small_extrusion
    cdef public int64_t tag, moves, commands, lineno
    cdef public Py_ssize_t release_at
    cdef public bint stopped
    cdef public bint track_heights, new_height
    cdef public double last_height

    def __init__(self, Planner planner, axis_min, axis_max, double max_z_velocity,
                 double max_z_accel, double filament_area, double max_cross_section,
                 double max_extrude_only, double small_extrusion, Py_ssize_t release_at=256):
        cdef int i
        self.planner = planner
        for i in range(3):
            self.axis_min[i] = axis_min[i]
            self.axis_max[i] = axis_max[i]
            self.base_[i] = 0.0
        for i in range(4):
            self.pos[i] = self.start_[i] = 0.0
        self.max_z_velocity = max_z_velocity
        self.max_z_accel = max_z_accel
        self.filament_area = filament_area
        self.max_cross_section = max_cross_section
        self.max_extrude_only = max_extrude_only
        self.small_extrusion = small_extrusion
        self.release_at = release_at
        self.logical_e = 0.0
        self.feed = 25.0
        self.speed_factor = self.extrude_factor = self.scale = 1.0
        self.absolute = self.absolute_e = True
        self.cold = False
        self.tag = self.moves = self.commands = self.lineno = 0
        self.stopped = False
        self.track_heights = self.new_height = False
        self.last_height = NAN

    property position:
        """[x, y, z, e] machine mm: the end of the last move fed."""
        def __get__(self):
            return [self.pos[0], self.pos[1], self.pos[2], self.pos[3]]

        def __set__(self, value):
            cdef int i
            for i in range(4):
                self.pos[i] = value[i]

    property start:
        """[x, y, z, e] machine mm: where the toolhead is, the start of the next
        move (the end of the last move fed)."""
        def __get__(self):
            return [self.start_[0], self.start_[1], self.start_[2], self.start_[3]]

        def __set__(self, value):
            cdef int i
            for i in range(4):
                self.start_[i] = value[i]

    property base:
        """[x, y, z] mm: machine = logical + base (G92 offsets)."""
        def __get__(self):
            return [self.base_[0], self.base_[1], self.base_[2]]

        def __set__(self, value):
            cdef int i
            for i in range(3):
                self.base_[i] = value[i]

    def set_batch(self, batch):
        """Read lines from ``batch`` (a lexer Batch, through its ``views()``)."""
        views = batch.views()
        self._views = views
        (self.kinds, self.numbers, self.subs, self.has_n, self.masks, self.flags,
         self.quoted, self.values, self.meta, self.errors, self.linenos) = views

    def run(self, Py_ssize_t start, Py_ssize_t stop):
        """Feed lines ``start..stop-1`` of the batch; returns the index of the
        first line not done.

        Blank and plain comment lines are passed over; a plain move is
        checked and queued in the planner. The run ends early at a line that
        needs the interpreter (``stopped`` is then True: any other command,
        slicer metadata, a parse error, an N word, a move that would be
        refused) or once the planner holds ``release_at`` planned moves
        (``stopped`` False). ``commands`` counts the moves read, ``moves``
        those queued, ``lineno`` is the last line read; ``tag`` is the
        planner tag of the next move. With ``track_heights``, a run also
        ends after an extruding move (E grows, X, Y or Z moves) at a Z other
        than ``last_height``: ``new_height`` is then True and ``last_height``
        that Z (layer counting of files without layer tags).
        """
        cdef Py_ssize_t i
        cdef int k
        cdef uint32_t mask
        cdef double* v
        cdef double target[4]
        cdef double f, value, le, dx, dy, dz, de, move_d, area, kin_speed, kin_accel, adz
        cdef Planner planner = self.planner
        if stop > self.kinds.shape[0]:
            raise IndexError("run past the end of the batch")
        self.stopped = self.new_height = False
        for i in range(start, stop):
            if self.kinds[i] == 0:
                if self.meta[i] == 0 and self.errors[i] == 0:
                    continue
                self.stopped = True
                return i
            mask = self.masks[i]
            if (self.kinds[i] != 1 or self.errors[i] != 0 or self.has_n[i] or self.subs[i] >= 0
                    or self.numbers[i] > 1 or (mask & ~_MOVE_LETTERS) or self.flags[i]
                    or self.quoted[i] or self.meta[i] != 0):
                self.stopped = True
                return i
            v = &self.values[i * _LETTERS]
            f = self.feed
            if mask & _BIT_F:
                f = v[5] * self.scale / 60.0
                if not f > 0.0:
                    self.stopped = True
                    return i
            for k in range(3):
                target[k] = self.pos[k]
                if mask & ((<uint32_t> 1) << (23 + k)):
                    value = v[23 + k] * self.scale
                    target[k] = value + self.base_[k] if self.absolute else self.pos[k] + value
            target[3] = self.pos[3]
            le = self.logical_e
            if mask & _BIT_E:
                value = v[4] * self.scale
                # Klipper's E mode, as the interpreter's e_is_absolute():
                # E is relative under G91 or M83.
                le = value if (self.absolute and self.absolute_e) else le + value
                target[3] = self.pos[3] + (le - self.logical_e) * self.extrude_factor
            if (target[0] == self.pos[0] and target[1] == self.pos[1]
                    and target[2] == self.pos[2] and target[3] == self.pos[3]):
                # No move; the position still becomes the target, as the
                # interpreter's does (0.0 and -0.0 are equal, not the same).
                for k in range(4):
                    self.pos[k] = target[k]
                self.feed = f
                self.logical_e = le
                self.commands += 1
                self.lineno = self.linenos[i]
                continue
            for k in range(3):
                if not (self.axis_min[k] - _RANGE_EPSILON <= target[k]
                        <= self.axis_max[k] + _RANGE_EPSILON
                        and self.axis_min[k] - _RANGE_EPSILON <= self.start_[k]
                        <= self.axis_max[k] + _RANGE_EPSILON):
                    self.stopped = True
                    return i
            dx = target[0] - self.start_[0]
            dy = target[1] - self.start_[1]
            dz = target[2] - self.start_[2]
            move_d = sqrt(dx * dx + dy * dy + dz * dz)
            kin_speed = kin_accel = INFINITY
            adz = fabs(dz)
            if adz >= _RANGE_EPSILON:
                kin_speed = self.max_z_velocity * (move_d / adz)
                kin_accel = self.max_z_accel * (move_d / adz)
            de = target[3] - self.start_[3]
            if fabs(de) > _EXTRUDE_EPSILON:
                if self.cold:
                    self.stopped = True
                    return i
                if (fabs(dx) <= _EXTRUDE_EPSILON and fabs(dy) <= _EXTRUDE_EPSILON) or de < 0.0:
                    if fabs(de) > self.max_extrude_only:
                        self.stopped = True
                        return i
                else:
                    area = de * self.filament_area / move_d
                    if area > self.max_cross_section and de > self.small_extrusion:
                        self.stopped = True
                        return i
            if planner._add(target[0], target[1], target[2], target[3], f * self.speed_factor,
                            self.tag, kin_speed, kin_accel) != ADDED:
                # Not finite, no speed, too slow: the interpreter says why.
                self.stopped = True
                return i
            for k in range(4):
                self.pos[k] = self.start_[k] = target[k]
            self.feed = f
            self.logical_e = le
            self.tag += 1
            self.moves += 1
            self.commands += 1
            self.lineno = self.linenos[i]
            if (self.track_heights and de > _EXTRUDE_EPSILON and target[2] != self.last_height
                    and (fabs(dx) > _RANGE_EPSILON or fabs(dy) > _RANGE_EPSILON
                         or adz > _RANGE_EPSILON)):
                self.last_height = target[2]
                self.new_height = True
                return i + 1
            if planner.out_count >= self.release_at:
                return i + 1
        return stop
