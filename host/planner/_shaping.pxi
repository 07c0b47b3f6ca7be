# Mendel host: input shaping and pressure advance in the step kernel.
# SPDX-License-Identifier: GPL-3.0-or-later
# Included by _stepcompress.pyx (it feeds StepCompressor's phases directly).
"""Shaped motion: each axis as pieces of constant acceleration in time.

An axis's commanded position is piecewise quadratic in time: every phase
of every planned move is a *piece* ``x(t0 + tau) = x0 + v0 tau + a tau^2 / 2``
on ``[t0, t1]``. The stages below turn those pieces into the motion the
motors must make, as pieces again, and feed them to the step compressors as
phases of constant acceleration (split where the velocity changes sign), so
the kernel's error bound holds against the shaped position itself.

* :class:`AxisShaper` (input shaping, X and Y): the output is
  ``sum_i A_i x(t - T_i)`` (mendel.shaping.shapers); between the times where
  any shifted copy crosses a piece boundary it is one quadratic, so the
  output pieces are exact. One impulse at 0 passes the axis through.
* :class:`SmoothedAdvance` (pressure advance, the extruder): Klipper's model
  (Pressure_Advance.md, kin_extruder.c; our code): on extruding moves with
  X/Y travel the extruder is driven to ``e + K de/dt`` (K the advance in force
  when the move was queued: :meth:`SmoothedAdvance.schedule` changes it at a
  move without stopping); that is averaged over
  ``smooth_time`` with a triangular weight of half-width ``h``:
  ``E(t) = 1/h^2 int_{-h}^{h} (h - |s|) p(t + s) ds``. The triangle is two
  boxes, so ``E(t) = (Q(t + h) - 2 Q(t) + Q(t - h)) / h^2`` with ``Q`` the
  second integral of ``p``: quartic between the times where ``t`` or
  ``t +- h`` crosses a piece boundary. ``Q`` is taken from an anchor at most
  ``ANCHOR_SPAN`` s back (values stay small: no cancellation), and each
  quartic is split into quadratics through its ends and middle, short
  enough that the position differs by at most ``PA_TOLERANCE_STEPS`` step.

Stages stream: an output time needs input up to ``t - T[0]`` (shaping) or
``t + h`` (smoothing), so each batch of moves is generated up to there and
the rest waits for the next batch; :meth:`ShapedPath.finish` declares the
motion at rest after the last move and generates the tails.
"""

DEF MAX_PULSES = 8
cdef double REST_START = -1e30
cdef double REST_END = 1e30
# Output pieces shorter than this (s) are skipped (two copies' boundaries
# that coincide up to rounding).
cdef double TINY_PIECE = 1e-9
# Smoothed pressure advance: quadratics within this many steps of the quartic.
PA_TOLERANCE_STEPS = 0.001
# Largest |quartic - its quadratic through ends and middle| per length^3 per
# |third derivative|: 1 / (72 sqrt 3).
cdef double QUAD_REMAINDER = 0.0080188
# Seconds of output between fresh anchors of the second integral.
cdef double ANCHOR_SPAN = 0.25


cdef struct Piece:
    double t0           # s, start
    double t1           # s, end
    double x0           # mm at t0
    double v0           # mm/s at t0
    double a            # mm/s^2
    double k            # extruder: the pressure advance (s) this piece has (0: none)
    # SmoothedAdvance's second integral from its anchor, at ts = max(t0, anchor)
    int anchor
    double ts
    double q1
    double q2


cdef class Pieces:
    """A growable array of pieces, contiguous in time; one consumer drops
    what it has used with :meth:`compact`."""
    cdef Piece* p
    cdef Py_ssize_t n
    cdef Py_ssize_t cap

    def __cinit__(self):
        self.cap = 64
        self.n = 0
        self.p = <Piece*> malloc(self.cap * sizeof(Piece))
        if self.p == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.p)

    cdef Piece* push(self, double t0, double t1, double x0, double v0, double a,
                     double k) except NULL:
        cdef Piece* grown
        cdef Piece* q
        if self.n == self.cap:
            grown = <Piece*> realloc(self.p, 2 * self.cap * sizeof(Piece))
            if grown == NULL:
                raise MemoryError()
            self.p = grown
            self.cap *= 2
        q = &self.p[self.n]
        q.t0 = t0
        q.t1 = t1
        q.x0 = x0
        q.v0 = v0
        q.a = a
        q.k = k
        q.anchor = -1
        self.n += 1
        return q

    cdef Py_ssize_t compact(self, Py_ssize_t keep) noexcept:
        """Drop pieces before index ``keep``; returns how far indices moved."""
        if keep <= 0:
            return 0
        memmove(self.p, self.p + keep, (self.n - keep) * sizeof(Piece))
        self.n -= keep
        return keep

    cdef void rest(self, double x, double t0) noexcept:
        """Start over: at rest at ``x`` from ``t0`` on, for ever."""
        self.n = 0
        self.push(t0, REST_END, x, 0.0, 0.0, 0)

    cdef int append(self, double t0, double t1, double x0, double v0, double a,
                    double k) except -1:
        """Add a piece after the last one, which ends at rest for ever (its
        end is moved to ``t0``); consecutive rests merge."""
        cdef Piece* last = &self.p[self.n - 1]
        if last.t1 == REST_END:
            last.t1 = t0 if t0 > last.t0 else last.t0
        if v0 == 0.0 and a == 0.0 and k == 0.0 and last.v0 == 0.0 and last.a == 0.0 \
                and last.k == 0.0 and last.x0 == x0:
            last.t1 = t1
            return 0
        self.push(t0, t1, x0, v0, a, k)
        return 0

    cdef double end_position(self) noexcept:
        cdef Piece* last = &self.p[self.n - 1]
        cdef double d = last.t1 - last.t0
        if last.v0 == 0.0 and last.a == 0.0:
            return last.x0
        return last.x0 + (last.v0 + 0.5 * last.a * d) * d


cdef class Stage:
    """One axis's pieces in and the motion its motors follow out, generated up
    to ``done`` (s); :class:`AxisShaper` and :class:`SmoothedAdvance`."""
    cdef readonly Pieces inp
    cdef readonly Pieces out
    cdef double done

    def __cinit__(self):
        self.inp = Pieces()
        self.out = Pieces()

    cdef double lead(self) noexcept:
        """Seconds the output may start before the input."""
        return 0.0

    cdef double tail(self) noexcept:
        """Seconds the output may go on after the input."""
        return 0.0

    cdef void reset(self, double x) noexcept:
        pass

    cdef int generate(self) except -1:
        return 0


cdef class AxisShaper(Stage):
    """One axis through an input shaper (one impulse at 0 passes it through)."""
    cdef int npulse
    cdef double amp[MAX_PULSES]
    cdef double shift[MAX_PULSES]
    cdef Py_ssize_t idx[MAX_PULSES]

    def __cinit__(self):
        self.npulse = 1
        self.amp[0] = 1.0
        self.shift[0] = 0.0

    def set_pulses(self, amplitudes, times):
        """Impulses (A, T): amplitudes summing to 1, increasing times (s)."""
        cdef Py_ssize_t i, n = len(amplitudes)
        if n < 1 or n > MAX_PULSES or len(times) != n:
            raise ValueError("a shaper has 1 to %d impulses" % MAX_PULSES)
        for i in range(n):
            self.amp[i] = amplitudes[i]
            self.shift[i] = times[i]
        self.npulse = <int> n

    cdef double lead(self) noexcept:
        return -self.shift[0] if self.shift[0] < 0.0 else 0.0

    cdef double tail(self) noexcept:
        return self.shift[self.npulse - 1] if self.shift[self.npulse - 1] > 0.0 else 0.0

    cdef void reset(self, double x) noexcept:
        cdef int i
        self.inp.rest(x, REST_START)
        self.out.rest(x, REST_START)
        self.out.p[0].t1 = REST_START
        self.done = REST_START
        for i in range(self.npulse):
            self.idx[i] = 0

    cdef int generate(self) except -1:
        """Output pieces up to where the input is known."""
        cdef Pieces inp = self.inp
        cdef Piece* last = &inp.p[inp.n - 1]
        cdef double horizon, nxt, e, tau, X, V, acc
        cdef Piece* q
        cdef int i
        cdef Py_ssize_t keep
        if last.t1 == REST_END:
            horizon = last.t0 + self.shift[self.npulse - 1]
        else:
            horizon = last.t1 + self.shift[0]
        while self.done < horizon:
            nxt = horizon
            for i in range(self.npulse):
                e = inp.p[self.idx[i]].t1 + self.shift[i]
                if e < nxt:
                    nxt = e
            if nxt - self.done > TINY_PIECE:
                X = 0.0
                V = 0.0
                acc = 0.0
                for i in range(self.npulse):
                    q = &inp.p[self.idx[i]]
                    if q.v0 == 0.0 and q.a == 0.0:
                        X += self.amp[i] * q.x0
                    else:
                        tau = self.done - self.shift[i] - q.t0
                        X += self.amp[i] * (q.x0 + (q.v0 + 0.5 * q.a * tau) * tau)
                        V += self.amp[i] * (q.v0 + q.a * tau)
                        acc += self.amp[i] * q.a
                self.out.append(self.done, nxt, X, V, acc, 0)
            self.done = nxt
            for i in range(self.npulse):
                while self.idx[i] < inp.n - 1 and \
                        inp.p[self.idx[i]].t1 + self.shift[i] <= self.done + TINY_PIECE:
                    self.idx[i] += 1
        keep = self.idx[0]
        for i in range(1, self.npulse):
            if self.idx[i] < keep:
                keep = self.idx[i]
        if keep > 256:
            keep = inp.compact(keep)
            for i in range(self.npulse):
                self.idx[i] -= keep
        return 0


cdef class SmoothedAdvance(Stage):
    """The extruder with pressure advance ``K`` (s), smoothed over
    ``smooth_time`` (s); pieces of e in, quadratics of the motor out."""
    cdef public double advance
    cdef double h
    cdef double tolerance           # mm
    cdef Py_ssize_t idx[3]
    cdef int anchor_id
    cdef double anchor              # s
    cdef double ref                 # mm subtracted from p before integrating
    cdef Py_ssize_t computed        # last piece whose q1, q2 hold for the anchor
    # Advance changes at a move: [(first move tag, advance s), ...] in order;
    # ``advance`` holds for the moves before the first.
    cdef public list changes

    def schedule(self, long long tag, double advance):
        """From the move tagged ``tag`` on (the look-ahead's move count),
        the extruder advances by ``advance`` s; the moves before keep theirs."""
        if advance < 0.0:
            raise ValueError("pressure_advance must be >= 0")
        self.changes.append((tag, advance))

    cdef double advance_of(self, long long tag):
        """The advance of the move tagged ``tag`` (moves come in tag order:
        changes it has passed become the current advance)."""
        while self.changes and self.changes[0][0] <= tag:
            self.advance = self.changes.pop(0)[1]
        return self.advance

    def configure(self, double advance, double smooth_time, double step_mm):
        if advance < 0.0 or not smooth_time > 0.0:
            raise ValueError("pressure_advance must be >= 0 and smooth_time > 0")
        self.advance = advance
        self.changes = []
        self.h = 0.5 * smooth_time
        self.tolerance = PA_TOLERANCE_STEPS * step_mm

    cdef double lead(self) noexcept:
        return self.h

    cdef double tail(self) noexcept:
        return self.h

    cdef void reset(self, double x) noexcept:
        self.inp.rest(x, REST_START)
        self.out.rest(x, REST_START)
        self.out.p[0].t1 = REST_START
        self.done = REST_START
        self.idx[0] = self.idx[1] = self.idx[2] = 0
        self.anchor_id += 1
        self.anchor = REST_START
        self.ref = x
        self.computed = -1
        self.inp.p[0].anchor = self.anchor_id
        self.inp.p[0].ts = REST_START
        self.inp.p[0].q1 = 0.0
        self.inp.p[0].q2 = 0.0
        self.computed = 0

    cdef inline void _p_at(self, Piece* q, double t, double* p, double* dp) noexcept:
        """p (mm) and dp/dt (mm/s) of piece ``q`` at ``t``: e + K de/dt, K the
        piece's advance."""
        cdef double tau, k = q.k
        if q.v0 == 0.0 and q.a == 0.0:
            p[0] = q.x0
            dp[0] = 0.0
            return
        tau = t - q.t0
        p[0] = q.x0 + (q.v0 + 0.5 * q.a * tau) * tau + k * (q.v0 + q.a * tau)
        dp[0] = q.v0 + q.a * tau + k * q.a

    cdef void _reanchor(self, double at) noexcept:
        """Integrate from ``at`` (s), inside piece idx[0] (the t - h tap)."""
        cdef Piece* q = &self.inp.p[self.idx[0]]
        cdef double dp
        self.anchor_id += 1
        self.anchor = at
        self._p_at(q, at, &self.ref, &dp)
        q.anchor = self.anchor_id
        q.ts = at
        q.q1 = 0.0
        q.q2 = 0.0
        self.computed = self.idx[0]

    cdef void _integrate_to(self, Py_ssize_t j) noexcept:
        """q1, q2 at the start of pieces up to ``j`` for the anchor."""
        cdef Piece* q
        cdef Piece* nq
        cdef double p0, dp, d, c0
        while self.computed < j:
            q = &self.inp.p[self.computed]
            nq = &self.inp.p[self.computed + 1]
            self._p_at(q, q.ts, &p0, &dp)
            c0 = p0 - self.ref
            d = q.t1 - q.ts
            nq.anchor = self.anchor_id
            nq.ts = q.t1
            nq.q1 = q.q1 + (c0 + (0.5 * dp + q.a * d / 6.0) * d) * d
            nq.q2 = q.q2 + (q.q1 + (0.5 * c0 + (dp / 6.0 + q.a * d / 24.0) * d) * d) * d
            self.computed += 1

    cdef inline void _tap(self, Py_ssize_t j, double t, double* out) noexcept:
        """Q2, Q1, q, q', q'' (relative to the anchor) at ``t`` in piece ``j``."""
        cdef Piece* q = &self.inp.p[j]
        cdef double p0, dp, c0, d = t - q.ts, a = q.a
        self._p_at(q, q.ts, &p0, &dp)
        c0 = p0 - self.ref
        out[0] = q.q2 + (q.q1 + (0.5 * c0 + (dp / 6.0 + a * d / 24.0) * d) * d) * d
        out[1] = q.q1 + (c0 + (0.5 * dp + a * d / 6.0) * d) * d
        out[2] = c0 + (dp + 0.5 * a * d) * d
        out[3] = dp + a * d
        out[4] = a

    cdef int generate(self) except -1:
        cdef Pieces inp = self.inp
        cdef Piece* last = &inp.p[inp.n - 1]
        cdef double horizon, nxt, e, h = self.h, inv_h2 = 1.0 / (h * h)
        cdef double lo[5]
        cdef double mid[5]
        cdef double hi[5]
        cdef double c[5]
        cdef int i, k
        cdef Py_ssize_t keep
        if last.t1 == REST_END:
            horizon = last.t0 + h
        else:
            horizon = last.t1 - h
        while self.done < horizon:
            nxt = horizon
            for i in range(3):
                e = inp.p[self.idx[i]].t1 - (i - 1) * h
                if e < nxt:
                    nxt = e
            if nxt - self.done > TINY_PIECE:
                if self.done - h - self.anchor > ANCHOR_SPAN or \
                        inp.p[self.idx[0]].anchor != self.anchor_id:
                    self._reanchor(self.done - h if self.done - h > inp.p[self.idx[0]].t0
                                   else inp.p[self.idx[0]].t0)
                self._integrate_to(self.idx[2])
                self._tap(self.idx[0], self.done - h, lo)
                self._tap(self.idx[1], self.done, mid)
                self._tap(self.idx[2], self.done + h, hi)
                for k in range(5):
                    c[k] = (lo[k] - 2.0 * mid[k] + hi[k]) * inv_h2
                self._emit_quartic(self.done, nxt, c[0] + self.ref, c[1], 0.5 * c[2],
                                   c[3] / 6.0, c[4] / 24.0)
            self.done = nxt
            for i in range(3):
                while self.idx[i] < inp.n - 1 and \
                        inp.p[self.idx[i]].t1 - (i - 1) * h <= self.done + TINY_PIECE:
                    self.idx[i] += 1
        keep = self.idx[0]
        if keep > 256 and keep <= self.computed:
            keep = inp.compact(keep)
            for i in range(3):
                self.idx[i] -= keep
            self.computed -= keep
        return 0

    cdef int _emit_quartic(self, double t0, double t1, double e0, double e1, double e2,
                           double e3, double e4) except -1:
        """Output E(t0 + s) = e0 + e1 s + e2 s^2 + e3 s^3 + e4 s^4 on [t0, t1]
        as quadratics through each part's ends and middle."""
        cdef double length = t1 - t0, m3, m3b, part, sa, sb, sm, xa, xm, xb, acc, v0
        cdef int64_t parts, k
        m3 = fabs(6.0 * e3)
        m3b = fabs(6.0 * e3 + 24.0 * e4 * length)
        if m3b > m3:
            m3 = m3b
        if m3 * QUAD_REMAINDER * length * length * length <= self.tolerance:
            parts = 1
        else:
            parts = <int64_t> (length / cube_root(self.tolerance / (QUAD_REMAINDER * m3))) + 1
        part = length / parts
        xa = e0
        for k in range(parts):
            sa = k * part
            sb = length if k == parts - 1 else (k + 1) * part
            sm = 0.5 * (sa + sb)
            xm = e0 + (e1 + (e2 + (e3 + e4 * sm) * sm) * sm) * sm
            xb = e0 + (e1 + (e2 + (e3 + e4 * sb) * sb) * sb) * sb
            acc = 4.0 * (xa - 2.0 * xm + xb) / ((sb - sa) * (sb - sa))
            v0 = (xb - xa) / (sb - sa) - 0.5 * acc * (sb - sa)
            self.out.append(t0 + sa, t0 + sb, xa, v0, acc, 0)
            xa = xb
        return 0


cdef int _feed_piece(StepCompressor comp, double t0, double t1, double x0, double v0,
                     double a) except -1:
    """Give ``comp`` the piece's steps as phases of one direction each."""
    cdef double tz
    if a != 0.0:
        tz = -v0 / a
        if 0.0 < tz < t1 - t0:
            comp._add_phase(t0, tz, x0, v0, a)
            comp._add_phase(t0 + tz, t1 - t0 - tz, x0 + 0.5 * v0 * tz, 0.0, a)
            return 0
    comp._add_phase(t0, t1 - t0, x0, v0, a)
    return 0


DEF MAX_MIX = 4


cdef class ShapedPath:
    """Motors that follow shaped axes (input shaping on X/Y, pressure advance
    on the extruder): stages per axis, then each motor's linear mix of them.

    ``compressors``: the StepCompressor of each motor this path drives;
    ``rows``: (M, 4) float64, each motor's mm per mm of x, y, z, e (the
    linear kinematics' map; the extruder motor's row is (0, 0, 0, 1)).
    ``axes``: the four stages (AxisShaper, or SmoothedAdvance for e), or None
    where no motor uses the axis.
    """
    cdef list compressors
    cdef list stages
    cdef int nmotor
    cdef int nmix[16]
    cdef int mix_axis[16][MAX_MIX]
    cdef double mix_coef[16][MAX_MIX]
    cdef Py_ssize_t mix_idx[16][MAX_MIX]
    cdef double motor_done[16]
    cdef public double last_end         # s, end of the last move added
    cdef public bint finished

    def __init__(self, list compressors, double[:, ::1] rows, list stages):
        cdef int m, k
        if len(compressors) > 16 or rows.shape[0] != len(compressors) or rows.shape[1] != 4:
            raise ValueError("rows must be (M, 4) with M <= 16 motors")
        self.compressors = compressors
        self.stages = stages
        self.nmotor = len(compressors)
        for m in range(self.nmotor):
            self.nmix[m] = 0
            for k in range(4):
                if rows[m, k] != 0.0:
                    if stages[k] is None:
                        raise ValueError("motor %d needs axis %d, which has no stage" % (m, k))
                    self.mix_axis[m][self.nmix[m]] = k
                    self.mix_coef[m][self.nmix[m]] = rows[m, k]
                    self.nmix[m] += 1
        self.finished = True

    def lead(self):
        """Seconds the shaped motion may start before the commanded motion."""
        return max([(<Stage> stage).lead() for stage in self.stages if stage is not None]
                   or [0.0])

    def tail(self):
        """Seconds the shaped motion may go on after the commanded motion."""
        return max([(<Stage> stage).tail() for stage in self.stages if stage is not None]
                   or [0.0])

    @property
    def extruder(self):
        """The extruder's SmoothedAdvance stage, or None."""
        stage = self.stages[3]
        return stage if isinstance(stage, SmoothedAdvance) else None

    def reset(self, point):
        """Declare the toolhead at ``point`` [x, y, z, e] mm, at rest."""
        cdef int m, k
        for k in range(4):
            if self.stages[k] is not None:
                (<Stage> self.stages[k]).reset(point[k])
        for m in range(self.nmotor):
            self.motor_done[m] = REST_START
            for k in range(self.nmix[m]):
                self.mix_idx[m][k] = 0
        self.finished = True
        self.last_end = REST_START

    def add_moves(self, Planned[::1] moves, double print_time):
        """Append the phases of planned ``moves`` (from ``print_time`` s on)
        to the stages' inputs, then generate what is known."""
        cdef Py_ssize_t i
        cdef int k
        cdef Planned* mv
        cdef Pieces inp
        cdef double r, t, accel_d, cruise_d, x, t_end, k_e
        cdef double advance = 0.0
        cdef SmoothedAdvance extruder = None
        if isinstance(self.stages[3], SmoothedAdvance):
            extruder = <SmoothedAdvance> self.stages[3]
            advance = extruder.advance
        for k in range(4):
            if self.stages[k] is None:
                continue
            inp = (<Stage> self.stages[k]).inp
            if inp.p[inp.n - 1].t1 != REST_END and inp.p[inp.n - 1].t1 < print_time:
                inp.append(inp.p[inp.n - 1].t1, print_time, inp.end_position(), 0.0, 0.0, 0)
        t = print_time
        for i in range(moves.shape[0]):
            mv = &moves[i]
            if extruder is not None and extruder.changes:
                advance = extruder.advance_of(mv.tag)
            accel_d = (mv.start_v + 0.5 * mv.accel * mv.accel_t) * mv.accel_t
            cruise_d = mv.cruise_v * mv.cruise_t
            t_end = t + mv.accel_t + mv.cruise_t + mv.decel_t
            for k in range(4):
                if self.stages[k] is None:
                    continue
                inp = (<Stage> self.stages[k]).inp
                r = mv.axes_r[k]
                x = mv.start[k]
                if r == 0.0:
                    inp.append(t, t_end, x, 0.0, 0.0, 0)
                    continue
                k_e = advance if k == 3 and r > 0.0 and (mv.axes_r[0] != 0.0 or
                                                            mv.axes_r[1] != 0.0) else 0.0
                if mv.accel_t > 0.0:
                    inp.append(t, t + mv.accel_t, x, r * mv.start_v, r * mv.accel, k_e)
                if mv.cruise_t > 0.0:
                    inp.append(t + mv.accel_t, t + mv.accel_t + mv.cruise_t,
                               x + r * accel_d, r * mv.cruise_v, 0.0, k_e)
                if mv.decel_t > 0.0:
                    inp.append(t + mv.accel_t + mv.cruise_t, t_end,
                               x + r * (accel_d + cruise_d), r * mv.cruise_v, -r * mv.accel,
                               k_e)
            t = t_end
        if moves.shape[0]:
            self.last_end = t
            self.finished = False
        self._generate()
        return t

    def finish(self):
        """The motion rests after the last move: generate every tail. Returns
        the time (s) from which new motion may start without overlapping it,
        or None when every tail was already generated (nothing was added
        since the last finish or reset: the caller's clock may have moved on,
        after a homing move the board cut short)."""
        cdef int k
        cdef Pieces inp
        if self.finished:
            return None
        for k in range(4):
            if self.stages[k] is None:
                continue
            inp = (<Stage> self.stages[k]).inp
            inp.append(inp.p[inp.n - 1].t1, REST_END, inp.end_position(), 0.0, 0.0, 0)
        self._generate()
        self.finished = True
        self.last_end += self.tail() + self.lead()
        return self.last_end

    cdef int _generate(self) except -1:
        cdef int m, k, ax
        cdef double limit, nxt, e, X, V, A, tau, c, t
        cdef Piece* q
        cdef StepCompressor comp
        cdef Py_ssize_t keep[4]
        cdef Piece* outp[4]
        cdef Py_ssize_t outn[4]
        cdef double done[4]
        cdef Py_ssize_t j
        cdef int nmix
        cdef Stage stage
        for k in range(4):
            keep[k] = -1
            outp[k] = NULL
            outn[k] = 0
            done[k] = REST_START
            if self.stages[k] is None:
                continue
            stage = <Stage> self.stages[k]
            stage.generate()
            done[k] = stage.done
            outp[k] = stage.out.p
            outn[k] = stage.out.n
        for m in range(self.nmotor):
            comp = <StepCompressor> self.compressors[m]
            nmix = self.nmix[m]
            limit = REST_END
            for k in range(nmix):
                e = done[self.mix_axis[m][k]]
                if e < limit:
                    limit = e
            t = self.motor_done[m]
            while t < limit:
                nxt = limit
                for k in range(nmix):
                    ax = self.mix_axis[m][k]
                    j = self.mix_idx[m][k]
                    if j < outn[ax] - 1 and outp[ax][j].t1 < nxt:
                        nxt = outp[ax][j].t1
                if nxt - t > TINY_PIECE:
                    X = 0.0
                    V = 0.0
                    A = 0.0
                    for k in range(nmix):
                        ax = self.mix_axis[m][k]
                        q = &outp[ax][self.mix_idx[m][k]]
                        c = self.mix_coef[m][k]
                        if q.v0 == 0.0 and q.a == 0.0:
                            X += c * q.x0
                        else:
                            tau = t - q.t0
                            X += c * (q.x0 + (q.v0 + 0.5 * q.a * tau) * tau)
                            V += c * (q.v0 + q.a * tau)
                            A += c * q.a
                    _feed_piece(comp, t, nxt, X, V, A)
                t = nxt
                for k in range(nmix):
                    ax = self.mix_axis[m][k]
                    j = self.mix_idx[m][k]
                    while j < outn[ax] - 1 and outp[ax][j].t1 <= t + TINY_PIECE:
                        j += 1
                    self.mix_idx[m][k] = j
            self.motor_done[m] = t
            for k in range(nmix):
                ax = self.mix_axis[m][k]
                if keep[ax] < 0 or self.mix_idx[m][k] < keep[ax]:
                    keep[ax] = self.mix_idx[m][k]
        for k in range(4):
            if keep[k] > 256:
                (<Stage> self.stages[k]).out.compact(keep[k])
                for m in range(self.nmotor):
                    for ax in range(self.nmix[m]):
                        if self.mix_axis[m][ax] == k:
                            self.mix_idx[m][ax] -= keep[k]
        return 0
