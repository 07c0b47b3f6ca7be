# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# Mendel host: step runs of each motor, fitted phase by phase (Cython kernel).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Step runs of one motor, fitted to closed-form step times without listing them.

Ideal step times
----------------
Within a move a motor's position is linear in the distance along the move,
``x(s) = x0 + ratio * s``, and ``s(t)`` is the move's trapezoid (accelerate,
cruise, decelerate). The motor's step count is ``round(x * steps_per_mm)``,
so step n (n = 0, 1, ...) of the move happens where the distance crosses
``s_n = s0 + n * ds`` (``ds`` mm of move per step). Within one phase, with
``w`` the speed at the phase's start, ``a`` its signed acceleration and ``u``
the distance into it, ``v(u) = sqrt(w^2 + 2 a u)`` and the time into the
phase is ``tau(u) = 2 u / (w + v(u))`` (the root of ``u = w tau + a tau^2 / 2``
written without cancellation; ``a = 0`` gives ``u / w``). So each phase of
each move is a *segment*: a range of the motor's step numbers n and a smooth
closed form ``f(n) = base + freq * tau(u0 + n ds)`` of their ideal times in
MCU ticks. Segments are all the kernel stores; no step time is listed.

Runs
----
A run ``(interval I, count c, add A)`` (integers, Klipper's queue_step
layout) puts its k-th step (k = 1..c) at ``g(k) = L + k I + A k (k - 1) / 2``,
``L`` the previous run's last step as the board reconstructs it, so errors
never accumulate. A run is accepted when every step lies within
``max_error`` ticks of its ideal time, every interval ``I + A (k - 1)`` is
1 tick .. ``MAX_STEP_GAP_S`` (longer gaps start over from set_step_clock),
``c <= 65535``, and it keeps one direction. Runs may span segments (phases
and moves) of one direction.

Fitting a candidate c: ``A`` is the rounded curvature of the parabola through
``L`` (k = 0), ``f`` at the middle ``k = (c + 1) / 2`` (a real node) and at
``k = c``; ``I`` is then rounded so that ``g(c)`` meets ``f(c)``.

Checking it, O(1) per segment the run crosses (no per-step work)
----------------------------------------------------------------
On the piece ``[p, r]`` of the run inside one segment, let ``q`` be the
parabola through ``f`` at ``p``, ``(p + r) / 2`` and ``r``. Then for every k
in the piece, ``|g(k) - f(k)| <= |g(k) - q(k)| + |q(k) - f(k)|``:

* ``g - q`` is a parabola: its largest magnitude on ``[p, r]`` is at an
  end or at its vertex, found exactly in O(1).
* ``q - f`` is the interpolation remainder (the standard Lagrange form),
  ``f'''(xi) / 6 * (k - p)(k - mid)(k - r)``. With equally spaced nodes at
  distance ``h = (r - p) / 2`` the cubic's largest magnitude on the piece is
  ``2 h^3 / (3 sqrt 3) = (r - p)^3 sqrt(3) / 36``. Differentiating
  ``dtau/du = 1 / v`` with ``dv/du = a / v`` gives ``tau'' = -a / v^3`` and
  ``tau''' = 3 a^2 / v^5``, so ``|f'''| <= freq * 3 a^2 ds^3 / v_min^5``, with
  ``v_min`` the slower end of the piece (v is monotonic within a phase). In
  a cruise ``a = 0``: ``f`` is linear and the bound is 0.

The run fits the piece when that sum is within ``max_error``; it certainly
does not when ``g`` misses ``f`` by more at an end of the piece (exact), or
``|g - q|`` at the step nearest the vertex exceeds ``max_error`` plus the
remainder bound. In between (near ``v = 0``: the first steps from rest, a
step right at the end of a move that stops), the piece is halved and each
half checked the same way; pieces of at most three steps are checked step by
step, exactly. Every test is conservative: an accepted run is within
``max_error`` of each ideal step time (computed in double precision,
~1e-5 tick at hours of print time); the tests add 0.5 tick of rounding.

Finding the run: from the previous run's length, the count doubles while a
run fits and is then bisected a few times (halving while even the first try
fails). One count always fits: a single step.
"""
from libc.math cimport sqrt, llround, fabs, floor
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memmove
from libc.stdint cimport int64_t, uint64_t
from cpython.bytes cimport PyBytes_FromStringAndSize
import numpy as np

include "_planned.pxi"

cdef int64_t MAX_COUNT = 65535
# Longest time between two steps of one run, in seconds: boards keep step
# times in 32-bit words of their own timer (the RP2040's PIO counts ~10-125
# cycles per tick), so a longer gap starts a new run from set_step_clock.
MAX_STEP_GAP_S = 1.0
# Largest |cubic| of the interpolation remainder per unit piece length cubed:
# sqrt(3) / 36, times 3 / 6 from f''' / 6 with f''' = 3 a^2 ds^3 / v^5; a hair
# wider for rounding.
cdef double REMAINDER = 0.0240563 * 1.0001
# Segments buffered before the runs of all but the last are fitted.
cdef Py_ssize_t SEGMENT_BATCH = 4096
# Bisections after doubling/halving has bracketed a run's length.
cdef int BISECTIONS = 3


cdef struct Segment:
    int64_t start           # first step number of the segment
    int64_t end             # one past its last step number
    double base             # MCU ticks at the start of the phase
    double u0               # mm into the phase of step ``start``
    double ds               # mm of move per step (> 0)
    double w                # mm/s at the phase start
    double w2               # w^2
    double two_a            # 2 * signed acceleration (mm/s^2) in the phase
    double u_max            # phase length (mm)
    double cubic            # remainder bound: cubic * len^3 / v_min^5 (ticks)
    int direction           # +1 / -1


cdef struct Run:
    int64_t reference       # set_step_clock before the run, when has_reference
    int64_t interval
    int64_t count           # signed by direction
    int64_t add
    int64_t first           # clock of the first step
    int64_t last            # clock of the last step
    int has_reference


cdef class StepCompressor:
    """Segments of ideal step times of one motor, and their step runs.

    ``steps_per_mm`` (steps/mm), ``clock_freq`` (ticks/s), ``max_error``
    (ticks, the largest allowed distance of a step from its ideal time).
    ``position`` is the motor's step count after every step added so far;
    ``steps_total`` and ``runs_total`` count steps added and runs fitted.
    Raises ValueError for non-positive ``steps_per_mm`` / ``clock_freq`` or
    a negative ``max_error``.
    """
    cdef public double steps_per_mm
    cdef public double clock_freq
    cdef public int64_t max_error
    cdef public int64_t position
    cdef public int64_t last_clock
    cdef public bint has_reference
    cdef public int64_t steps_total
    cdef public int64_t runs_total
    cdef double err
    cdef int64_t max_gap
    cdef int64_t guess
    # segments: segs[0 .. nseg); steps are numbered from 0 at creation
    cdef Segment* segs
    cdef Py_ssize_t nseg
    cdef Py_ssize_t seg_cap
    cdef int64_t next_step          # number of the next step added
    cdef int64_t cursor             # first step not yet in a run
    # runs fitted since the last flush
    cdef Run* runs
    cdef Py_ssize_t nrun
    cdef Py_ssize_t run_cap

    def __cinit__(self, double steps_per_mm, double clock_freq, int64_t max_error):
        self.seg_cap = 256
        self.segs = <Segment*> malloc(self.seg_cap * sizeof(Segment))
        self.run_cap = 256
        self.runs = <Run*> malloc(self.run_cap * sizeof(Run))
        if self.segs == NULL or self.runs == NULL:
            raise MemoryError()

    def __init__(self, double steps_per_mm, double clock_freq, int64_t max_error):
        if steps_per_mm <= 0 or clock_freq <= 0 or max_error < 0:
            raise ValueError("steps_per_mm and clock_freq must be > 0, max_error >= 0")
        self.steps_per_mm = steps_per_mm
        self.clock_freq = clock_freq
        self.max_error = max_error
        self.err = <double> max_error
        self.position = 0
        self.last_clock = 0
        self.has_reference = False
        self.guess = 16
        self.max_gap = <int64_t> (MAX_STEP_GAP_S * clock_freq)

    def __dealloc__(self):
        free(self.segs)
        free(self.runs)

    # -- segments --------------------------------------------------------
    cdef int _push_segment(self, int64_t count, double base, double u0, double ds, double w,
                           double two_a, double u_max, int direction) except -1:
        """Append ``count`` steps of one phase (see the module docstring)."""
        cdef Segment* seg
        cdef Segment* grown
        if count <= 0:
            return 0
        if self.nseg == self.seg_cap:
            grown = <Segment*> realloc(self.segs, 2 * self.seg_cap * sizeof(Segment))
            if grown == NULL:
                raise MemoryError()
            self.segs = grown
            self.seg_cap *= 2
        seg = &self.segs[self.nseg]
        seg.start = self.next_step
        seg.end = self.next_step + count
        seg.base = base
        seg.u0 = u0
        seg.ds = ds
        seg.w = w
        seg.w2 = w * w
        seg.two_a = two_a
        seg.u_max = u_max if u_max > 0.0 else 0.0
        seg.cubic = self.clock_freq * 0.25 * two_a * two_a * ds * ds * ds * REMAINDER
        seg.direction = direction
        self.nseg += 1
        self.next_step += count
        return 0

    def add_move(self, double print_time, double accel_t, double cruise_t,
                 double start_v, double cruise_v, double accel, double move_d,
                 double x0, double ratio, int64_t target):
        """Add the steps of one move that ends at step position ``target``.

        ``print_time`` (s) is when the move starts; ``accel_t``, ``cruise_t``
        (s), ``start_v``, ``cruise_v`` (mm/s), ``accel`` (mm/s^2) and ``move_d``
        (mm) describe its trapezoid; ``x0`` (mm) is this motor's position at
        the start and ``ratio`` its mm per mm of move. Returns the step count.
        """
        return self._add_move(print_time, accel_t, cruise_t, start_v, cruise_v, accel,
                              move_d, x0, ratio, target)

    cdef int64_t _add_move(self, double print_time, double accel_t, double cruise_t,
                           double start_v, double cruise_v, double accel, double move_d,
                           double x0, double ratio, int64_t target) except -1:
        cdef int64_t steps = target - self.position
        cdef int64_t total, n_accel, n_cruise
        cdef int direction
        cdef double spm = self.steps_per_mm, freq = self.clock_freq
        cdef double accel_d, cruise_d, cruise_end_d, s0, ds, base
        if steps == 0 or ratio == 0.0:
            return 0
        direction = 1 if steps > 0 else -1
        total = steps if steps > 0 else -steps
        accel_d = (start_v + 0.5 * accel * accel_t) * accel_t
        cruise_d = cruise_v * cruise_t
        cruise_end_d = accel_d + cruise_d
        # Step n crosses the half-step boundary (position + dir (n + 1/2)) / spm,
        # at distance s0 + n ds along the move.
        s0 = ((self.position + direction * 0.5) / spm - x0) / ratio
        ds = direction / spm / ratio
        base = print_time * freq
        if accel == 0.0:
            # No phases: the move is one cruise (as planned moves never are).
            self._push_segment(total, base, s0, ds, cruise_v, 0.0, move_d, direction)
        else:
            n_accel = self._steps_below(s0, ds, accel_d, total)
            n_cruise = self._steps_below(s0, ds, cruise_end_d, total) - n_accel
            self._push_segment(n_accel, base, s0, ds, start_v, 2.0 * accel, accel_d,
                               direction)
            self._push_segment(n_cruise, base + accel_t * freq, s0 + n_accel * ds - accel_d,
                               ds, cruise_v, 0.0, cruise_d, direction)
            self._push_segment(total - n_accel - n_cruise,
                               base + (accel_t + cruise_t) * freq,
                               s0 + (n_accel + n_cruise) * ds - cruise_end_d, ds, cruise_v,
                               -2.0 * accel, move_d - cruise_end_d, direction)
        self.position = target
        self.steps_total += total
        if self.nseg >= SEGMENT_BATCH:
            self._compress(False)
        return total

    cdef inline int64_t _steps_below(self, double s0, double ds, double d, int64_t total):
        """How many of the steps n = 0..total-1 lie at s0 + n ds < d."""
        cdef double x = (d - s0) / ds
        cdef int64_t n
        if x <= 0.0:
            return 0
        if x >= total:
            return total
        n = <int64_t> x
        if n < x:
            n += 1
        return n

    cdef inline double _time(self, Segment* seg, double n, double* v):
        """Ideal time (ticks) of step number ``n`` (real) by ``seg``'s phase;
        ``v`` gets the speed there (mm/s)."""
        cdef double u = seg.u0 + (n - seg.start) * seg.ds
        cdef double r, den
        if u < 0.0:
            u = 0.0
        elif u > seg.u_max:
            u = seg.u_max
        if seg.two_a == 0.0:
            v[0] = seg.w
            return seg.base + self.clock_freq * u / seg.w
        r = seg.w2 + seg.two_a * u
        r = sqrt(r) if r > 0.0 else 0.0
        v[0] = r
        den = seg.w + r
        return seg.base + (self.clock_freq * 2.0 * u / den if den > 0.0 else 0.0)

    cdef inline Py_ssize_t _segment_of(self, int64_t n, Py_ssize_t j):
        """Index of the segment holding step ``n``, searching on from ``j``."""
        while self.segs[j].end <= n:
            j += 1
        return j

    # -- fitting ---------------------------------------------------------
    cdef bint _piece_fits(self, Segment* seg, int64_t i, int64_t p, int64_t r,
                          double fp, double vp, double fr, double vr,
                          double L, int64_t I, int64_t A):
        """Whether the run ``(L, I, A)`` (first step: step number ``i``) keeps
        its steps p..r (1-based, all in ``seg``) within the error bound.

        ``fp``, ``fr``: ideal times of steps p and r; ``vp``, ``vr``: speeds
        there. See the module docstring for the bound.
        """
        cdef double err = self.err
        cdef double gp, gr, fm, vm, fq, vq, hm, d1, d2, h0, h1, h2, x, hx, hmax, rem, vmin
        cdef double n = <double> (r - p), xv
        cdef int64_t q, k
        gp = L + p * <double> I + A * 0.5 * p * (p - 1)
        if fabs(gp - fp) > err:
            return False
        gr = L + r * <double> I + A * 0.5 * r * (r - 1)
        if fabs(gr - fr) > err:
            return False
        if r - p <= 1:
            return True
        if r - p == 2:
            q = p + 1
            fq = self._time(seg, <double> (i + q - 1), &vq)
            return fabs(L + q * <double> I + A * 0.5 * q * (q - 1) - fq) <= err
        # h(x) = g(p + x) - q(p + x) = h0 + h1 x + h2 x^2, x in [0, n].
        h0 = gp - fp
        if seg.two_a == 0.0:
            # f is linear: q = f and h is exact.
            d1 = (fr - fp) / n
            h1 = I + A * (p - 0.5) - d1
            h2 = 0.5 * A
            rem = 0.0
        else:
            hm = 0.5 * n
            fm = self._time(seg, i - 1 + p + hm, &vm)
            d1 = (fm - fp) / hm
            d2 = ((fr - fm) / hm - d1) / n
            h1 = I + A * (p - 0.5) - d1 + hm * d2
            h2 = 0.5 * A - d2
            vmin = vp if seg.two_a > 0.0 else vr
            if vmin <= 0.0:
                rem = 1e300
            else:
                rem = seg.cubic * n * n * n / (vmin * vmin * vmin * vmin * vmin)
        hmax = fabs(gr - fr)
        if fabs(h0) > hmax:
            hmax = fabs(h0)
        if h2 != 0.0:
            xv = -h1 / (2.0 * h2)
            if 0.0 < xv < n:
                hx = h0 + (h1 + h2 * xv) * xv
                if fabs(hx) > hmax:
                    hmax = fabs(hx)
                # The step nearest the vertex: |g - f| >= |h| - rem there.
                x = floor(xv + 0.5)
                hx = h0 + (h1 + h2 * x) * x
                if fabs(hx) - rem > err:
                    return False
        if hmax + rem <= err:
            return True
        if rem == 0.0:
            # Exact, and the largest |h| is off the steps: check the two
            # steps around the vertex.
            x = floor(xv)
            hx = h0 + (h1 + h2 * x) * x
            if fabs(hx) > err:
                return False
            x += 1.0
            hx = h0 + (h1 + h2 * x) * x
            return fabs(hx) <= err
        q = p + (r - p) // 2
        fq = self._time(seg, <double> (i + q - 1), &vq)
        return (self._piece_fits(seg, i, p, q, fp, vp, fq, vq, L, I, A) and
                self._piece_fits(seg, i, q, r, fq, vq, fr, vr, L, I, A))

    cdef bint _try(self, int64_t i, Py_ssize_t j, int64_t c, int64_t L, double f1, double v1,
                   int64_t* out_interval, int64_t* out_add):
        """Fit a run of ``c`` >= 2 steps from step number ``i`` (in segment
        ``j``) after clock ``L``; True with its interval and add if it fits."""
        cdef Py_ssize_t jc, jm, s
        cdef Segment* seg
        cdef double fc, vc, fm, vm, mid, dc, dm, a_real, fp, vp, fr, vr
        cdef int64_t interval, add, p, r, last_interval
        jc = self._segment_of(i + c - 1, j)
        fc = self._time(&self.segs[jc], <double> (i + c - 1), &vc)
        dc = fc - L
        if c == 2:
            a_real = dc - 2.0 * (f1 - L)
        else:
            mid = 0.5 * (c + 1)
            jm = self._segment_of(i + (c - 1) // 2, j)
            fm = self._time(&self.segs[jm], i - 1 + mid, &vm)
            dm = fm - L
            a_real = 2.0 * (dc / c - dm / mid) / (c - mid)
        add = llround(a_real)
        interval = llround((dc - add * 0.5 * c * (c - 1)) / c)
        last_interval = interval + add * (c - 1)
        if interval < 1 or last_interval < 1:
            return False
        if interval > self.max_gap or last_interval > self.max_gap:
            return False
        for s in range(j, jc + 1):
            seg = &self.segs[s]
            if s == j:
                p = 1
                fp = f1
                vp = v1
            else:
                p = seg.start - i + 1
                fp = self._time(seg, <double> seg.start, &vp)
            if s == jc:
                r = c
                fr = fc
                vr = vc
            else:
                r = seg.end - i
                fr = self._time(seg, <double> (seg.end - 1), &vr)
            if not self._piece_fits(seg, i, p, r, fp, vp, fr, vr, <double> L, interval, add):
                return False
        out_interval[0] = interval
        out_add[0] = add
        return True

    cdef int _emit(self, int has_reference, int64_t reference, int64_t interval,
                   int64_t count, int64_t add, int direction) except -1:
        cdef Run* grown
        cdef Run* run
        cdef int64_t last = self.last_clock
        if self.nrun == self.run_cap:
            grown = <Run*> realloc(self.runs, 2 * self.run_cap * sizeof(Run))
            if grown == NULL:
                raise MemoryError()
            self.runs = grown
            self.run_cap *= 2
        run = &self.runs[self.nrun]
        run.has_reference = has_reference
        run.reference = reference
        run.interval = interval
        run.count = direction * count
        run.add = add
        run.first = last + interval
        run.last = last + count * interval + add * (count * (count - 1) // 2)
        self.last_clock = run.last
        self.nrun += 1
        self.runs_total += 1
        return 0

    cdef int _compress(self, bint final) except -1:
        """Fit runs to the buffered segments: all of them when ``final``,
        else all runs that end before the last segment (which a later move's
        steps may still extend)."""
        cdef Py_ssize_t j = 0, g, k
        cdef int64_t i = self.cursor, stop, group_end = -1, limit, t0, t1, L
        cdef int64_t good, bad, c, mid, interval = 0, add = 0, best_interval, best_add
        cdef int64_t reference
        cdef int has_reference, tries, direction
        cdef double f1, v1, fn, vn
        cdef Segment* seg
        if self.nseg == 0:
            return 0
        stop = self.segs[self.nseg - 1].end if final else self.segs[self.nseg - 1].start
        while i < stop:
            j = self._segment_of(i, j)
            seg = &self.segs[j]
            direction = seg.direction
            if i >= group_end:
                # Steps of one direction from here: a run never reverses.
                g = j
                while g + 1 < self.nseg and self.segs[g + 1].direction == direction:
                    g += 1
                group_end = self.segs[g].end
                if group_end > stop:
                    group_end = stop
            f1 = self._time(seg, <double> i, &v1)
            t0 = llround(f1)
            has_reference = 0
            reference = 0
            if not self.has_reference or t0 - self.last_clock > self.max_gap:
                t1 = t0 + self.max_gap + 1
                if i + 1 < group_end:
                    k = self._segment_of(i + 1, j)
                    fn = self._time(&self.segs[k], <double> (i + 1), &vn)
                    t1 = llround(fn)
                if t1 - t0 <= self.max_gap:
                    self.last_clock = 2 * t0 - t1
                else:
                    self.last_clock = t0 - 1
                self.has_reference = True
                has_reference = 1
                reference = self.last_clock
            L = self.last_clock
            limit = group_end - i
            if limit > MAX_COUNT:
                limit = MAX_COUNT
            # One step always fits.
            good = 1
            best_interval = t0 - L if t0 - L >= 1 else 1
            best_add = 0
            bad = 0
            if limit >= 2:
                c = self.guess
                if c > limit:
                    c = limit
                if c < 2:
                    c = 2
                if self._try(i, j, c, L, f1, v1, &interval, &add):
                    good = c
                    best_interval = interval
                    best_add = add
                    while good < limit:
                        c = 2 * good if 2 * good < limit else limit
                        if not self._try(i, j, c, L, f1, v1, &interval, &add):
                            bad = c
                            break
                        good = c
                        best_interval = interval
                        best_add = add
                else:
                    bad = c
                    while bad > 2:
                        c = bad // 2
                        if c < 2:
                            break
                        if self._try(i, j, c, L, f1, v1, &interval, &add):
                            good = c
                            best_interval = interval
                            best_add = add
                            break
                        bad = c
                tries = 0
                while bad and bad - good > 1 and tries < BISECTIONS:
                    mid = (good + bad) // 2
                    if self._try(i, j, mid, L, f1, v1, &interval, &add):
                        good = mid
                        best_interval = interval
                        best_add = add
                    else:
                        bad = mid
                    tries += 1
            self.guess = good if good > 4 else 4
            self._emit(has_reference, reference, best_interval, good, best_add, direction)
            i += good
        self.cursor = i
        # Drop the segments wholly behind the cursor.
        k = 0
        while k < self.nseg and self.segs[k].end <= i:
            k += 1
        if k:
            memmove(self.segs, self.segs + k, (self.nseg - k) * sizeof(Segment))
            self.nseg -= k
        return 0

    def flush(self):
        """Fit every buffered step; returns the new runs and forgets them.

        Each run is ``(reference, interval, count, add, first_clock,
        last_clock)`` (ticks): ``reference`` is None, or the clock to send
        with set_step_clock before the run; ``count`` is signed by direction.
        """
        cdef Py_ssize_t r
        cdef Run* run
        self._compress(True)
        out = []
        for r in range(self.nrun):
            run = &self.runs[r]
            out.append((run.reference if run.has_reference else None, run.interval,
                        run.count, run.add, run.first, run.last))
        self.nrun = 0
        return out


def generate_steps(list compressors, Planned[::1] moves, double[:, ::1] motor_start,
                   double[:, ::1] motor_end, double print_time):
    """Add the steps of planned ``moves`` to each motor's compressor.

    ``moves``: PLANNED_DTYPE rows (see ``mendel.planner._lookahead``);
    ``motor_start``/``motor_end``: (N, M) float64, each motor's position (mm)
    at the start and end of each move, M = len(compressors). Within a move a
    motor moves linearly in the distance along it (the kinematics split moves
    where that does not hold). ``print_time`` (s): when the first move
    starts. Returns when the last one ends (s). Raises ValueError on shapes.
    """
    cdef Py_ssize_t i, j, n = moves.shape[0], motors = len(compressors)
    cdef StepCompressor comp
    cdef Planned* m
    cdef int64_t target
    cdef double start
    if motor_start.shape[0] != n or motor_end.shape[0] != n or \
            motor_start.shape[1] != motors or motor_end.shape[1] != motors:
        raise ValueError("motor_start and motor_end must be (N, %d)" % motors)
    for i in range(n):
        m = &moves[i]
        for j in range(motors):
            comp = <StepCompressor> compressors[j]
            target = llround(motor_end[i, j] * comp.steps_per_mm)
            if target != comp.position:
                start = motor_start[i, j]
                comp._add_move(print_time, m.accel_t, m.cruise_t, m.start_v,
                               m.cruise_v, m.accel, m.move_d, start,
                               (motor_end[i, j] - start) / m.move_d, target)
        print_time += m.accel_t + m.cruise_t + m.decel_t
    return print_time


cdef inline Py_ssize_t _put_int(unsigned char* out, int64_t value) nogil:
    """Zigzag VLQ of ``value`` (firmware/codec.py's put_int); returns bytes written."""
    cdef uint64_t v = (<uint64_t> value << 1) if value >= 0 else ((<uint64_t> (-value)) << 1) - 1
    cdef Py_ssize_t n = 0
    while v > 0x7F:
        out[n] = <unsigned char> ((v & 0x7F) | 0x80)
        v >>= 7
        n += 1
    out[n] = <unsigned char> v
    return n + 1


def encode_runs(list compressors, oids, int64_t set_clock_id, int64_t queue_step_id):
    """Fit and encode the runs of every motor as link messages, in step time order.

    ``compressors``: one StepCompressor per motor, each flushed (its runs
    are consumed); ``oids``: each motor's id on the board; the ids are the
    board's message ids of ``set_step_clock`` and ``queue_step``
    (docs/protocol.md). Runs with a reference are preceded by
    ``set_step_clock``, which travels in the same message slot. Returns
    ``(data, ends, motors, last_clocks)``: the encoded bytes, the end offset
    of each run's messages in ``data`` ((R,) int64), its motor index ((R,)
    int32) and its last step clock ((R,) int64). Raises ValueError for more
    than 64 motors.
    """
    cdef Py_ssize_t motors = len(compressors), total = 0, r, j, best, pos = 0
    cdef StepCompressor comp
    cdef Run* run
    cdef int64_t best_clock
    cdef Run* heads[64]
    cdef Run* tails[64]
    cdef int64_t oid_of[64]
    if motors > 64:
        raise ValueError("at most 64 motors")
    for j in range(motors):
        comp = <StepCompressor> compressors[j]
        comp._compress(True)
        heads[j] = comp.runs
        tails[j] = comp.runs + comp.nrun
        oid_of[j] = oids[j]
        total += comp.nrun
    # At most 3 + 8 * 10 bytes a run (two messages of VLQ words).
    cdef unsigned char* out = <unsigned char*> malloc(total * 96 + 1)
    if out == NULL:
        raise MemoryError()
    ends = np.empty(total, dtype=np.int64)
    motor_of = np.empty(total, dtype=np.int32)
    last_clocks = np.empty(total, dtype=np.int64)
    cdef int64_t[::1] ends_v = ends
    cdef int[::1] motor_v = motor_of
    cdef int64_t[::1] last_v = last_clocks
    try:
        for r in range(total):
            best = -1
            best_clock = 0
            for j in range(motors):
                if heads[j] != tails[j] and (best < 0 or heads[j].first < best_clock):
                    best = j
                    best_clock = heads[j].first
            run = heads[best]
            heads[best] += 1
            if run.has_reference:
                pos += _put_int(out + pos, set_clock_id)
                pos += _put_int(out + pos, oid_of[best])
                pos += _put_int(out + pos, run.reference)
            pos += _put_int(out + pos, queue_step_id)
            pos += _put_int(out + pos, oid_of[best])
            pos += _put_int(out + pos, run.interval)
            pos += _put_int(out + pos, run.count)
            pos += _put_int(out + pos, run.add)
            ends_v[r] = pos
            motor_v[r] = <int> best
            last_v[r] = run.last
        data = PyBytes_FromStringAndSize(<char*> out, pos)
    finally:
        free(out)
    for j in range(motors):
        (<StepCompressor> compressors[j]).nrun = 0
    return data, ends, motor_of, last_clocks
