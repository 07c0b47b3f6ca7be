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
the distance into it, the speed is ``v(u) = sqrt(w^2 + 2 a u)`` and the time
into the phase ``tau(u) = (v - w) / a``; that difference loses to
cancellation about ``2.2e-16 (v + w) / a`` s, under 1e-4 tick at 12 MHz for
``a >= 1`` mm/s^2 and speeds to 10 m/s, and gentler phases use the
cancellation-free ``2 u / (w + v)``; a cruise is ``u / w``. So each phase
of each move is a *segment*: a range of the motor's step numbers n and a
smooth closed form ``f(n) = base + freq * tau(u0 + n ds)`` of their ideal
times in MCU ticks. Segments are all the kernel stores; no step time is
listed.

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

Fitting a candidate count c: ``A`` is the rounded curvature of the parabola
through ``L`` (k = 0) and ``f`` at the middle ``k = (c + 1) / 2`` (a real
node) and at ``k = c``; ``I`` is then rounded so that ``g(c)`` meets ``f(c)``.

The error bound: O(1) per segment a run crosses, no per-step work
------------------------------------------------------------------
On the piece ``[p, r]`` of the run inside one segment, let ``q`` be the
parabola through ``f`` at ``p``, ``(p + r) / 2`` and ``r``. For every k in
the piece, ``|g(k) - f(k)| <= |g(k) - q(k)| + |q(k) - f(k)|``:

* ``g - q`` is a parabola: its largest magnitude on ``[p, r]`` is at an
  end or at its vertex, found exactly in O(1).
* ``q - f`` is the interpolation remainder (Lagrange form),
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
``max_error`` of each ideal step time, computed in double precision (~1e-5
tick at hours of print time), and the tests allow 0.5 tick more.

Finding a run, in O(1) per segment
----------------------------------
Within a cruise the longest run without add is closed form (see
``_cruise_run``). Within an accelerating phase the run is first tried at
the count where the remainder bound alone would reach ``max_error``, times
a factor measured on real files; shorter by thirds while that fails. A run
that holds the rest of its segment goes on step by step with the same
interval and add, a few steps past each further segment's start; where it
misses inside a short segment, or keeps fitting to the end of what it may
check step by step, it is fitted anew to that segment's end. One step
always fits.
"""
from libc.math cimport sqrt, fabs, floor
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memmove, memcpy
from libc.stdint cimport int64_t, uint64_t
from cpython.bytes cimport PyBytes_FromStringAndSize
import numpy as np

include "_planned.pxi"

cdef int64_t MAX_COUNT = 65535
# Longest time between two steps of one run, in seconds: boards keep step
# times in 32-bit words of their own timer (the RP2040's PIO counts ~10-125
# cycles per tick), so a longer gap starts a new run from set_step_clock.
MAX_STEP_GAP_S = 1.0
# Largest |cubic| of the interpolation remainder per piece length cubed,
# sqrt(3) / 36, times 1 / 2 (= 3 / 6, f''' / 6 with f''' = 3 a^2 ds^3 / v^5);
# a hair wider for rounding.
cdef double REMAINDER = 0.0240563 * 1.0001
# Accelerations (mm/s^2) from which tau = (v - w) / a (see above).
cdef double MIN_ACCEL_DIFFERENCE = 1.0
# A run in an accelerating (decelerating) phase is first tried at the count
# where the remainder bound alone would reach max_error, times this factor:
# the longest counts that fit, over that count, measured on the generated
# chords and examples/mendel-test-block.gcode, lie above it three times out
# of four (medians 1.04 and 0.63; with the median, a first try fails
# every other time).
cdef double PREDICT_ACCEL = 0.9
cdef double PREDICT_DECEL = 0.6
# Steps a run goes on one by one into each further segment.
cdef int64_t EXTEND_STEPS = 8
# ... and past the end of its fit within its first segment.
cdef int64_t EXTEND_FIRST = 2
# A run that misses a step of a segment this short is fitted anew to its end.
cdef int64_t REFIT_STEPS = 8
# Segments buffered before the runs of all but the last are fitted.
cdef Py_ssize_t SEGMENT_BATCH = 4096
# The most bytes one run's messages take: 8 zigzag VLQ words of <= 10 bytes.
cdef Py_ssize_t RUN_BYTES_MAX = 80


cdef inline int64_t round_int(double x) noexcept nogil:
    """Nearest integer, halves away from zero (libm's llround, inlined)."""
    return <int64_t> (x + 0.5) if x >= 0.0 else -<int64_t> (0.5 - x)


cdef inline double cube_root(double x) noexcept nogil:
    """x^(1/3) within ~0.5% for 1e-300 < x < 1e300: the exponent divided by
    three in the bits of a double, then one Newton step."""
    cdef uint64_t bits
    cdef double y
    memcpy(&bits, &x, 8)
    bits = bits // 3 + <uint64_t> 0x2A9F789300000000
    memcpy(&y, &bits, 8)
    return (2.0 * y + x / (y * y)) * (1.0 / 3.0)


cdef inline Py_ssize_t _put_int(unsigned char* out, int64_t value) noexcept nogil:
    """Zigzag VLQ of ``value`` (firmware/codec.py's put_int); returns bytes written."""
    cdef uint64_t v = (<uint64_t> value << 1) if value >= 0 else ((<uint64_t> (-value)) << 1) - 1
    cdef Py_ssize_t n = 0
    while v > 0x7F:
        out[n] = <unsigned char> ((v & 0x7F) | 0x80)
        v >>= 7
        n += 1
    out[n] = <unsigned char> v
    return n + 1


cdef struct Segment:
    int64_t start           # first step number of the segment
    int64_t end             # one past its last step number
    double base             # MCU ticks at the start of the phase
    double u0               # mm into the phase of step ``start``
    double ds               # mm of move per step (> 0; 0 in degenerate moves)
    double w                # mm/s at the phase start
    double w2               # w^2
    double two_a            # 2 * signed acceleration (mm/s^2) in the phase
    double u_max            # phase length (mm)
    double cubic            # remainder bound: cubic * len^3 / v_min^5 (ticks)
    double scale            # freq / w in a cruise, freq / a where tau = (v - w) / a, else 0
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
    cdef readonly double steps_per_mm
    cdef readonly double clock_freq
    cdef readonly int64_t max_error
    cdef public int64_t position
    cdef public int64_t last_clock
    cdef public bint has_reference
    cdef public int64_t steps_total
    cdef public int64_t runs_total
    cdef double err
    cdef int64_t max_gap
    # segments: segs[0 .. nseg); steps are numbered from 0 at creation
    cdef Segment* segs
    cdef Py_ssize_t nseg
    cdef Py_ssize_t seg_cap
    cdef int64_t next_step          # number of the next step added
    cdef int64_t cursor             # first step not yet in a run
    cdef int64_t cached_step        # a step whose ideal time (ticks) and speed
    cdef double cached_time         # (mm/s) are known, or -1
    cdef double cached_speed
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
        self.max_gap = <int64_t> (MAX_STEP_GAP_S * clock_freq)
        self.cached_step = -1

    def __dealloc__(self):
        free(self.segs)
        free(self.runs)

    # -- segments --------------------------------------------------------
    def add_move(self, double print_time, double accel_t, double cruise_t,
                 double start_v, double cruise_v, double accel, double move_d,
                 double x0, double ratio, int64_t target):
        """Add the steps of one move that ends at step position ``target``.

        ``print_time`` (s) is when the move starts; ``accel_t``, ``cruise_t``
        (s), ``start_v``, ``cruise_v`` (mm/s), ``accel`` (mm/s^2) and ``move_d``
        (mm) describe its trapezoid; ``x0`` (mm) is this motor's position at
        the start and ``ratio`` its mm per mm of move. Returns the step count.
        Raises ValueError (nothing added) for a cruise speed <= 0.
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
        if not cruise_v > 0.0:
            raise ValueError("a move with steps needs a cruise speed > 0, not %r mm/s"
                             % cruise_v)
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
        if not ds > 0.0:
            # The motor's start and end disagree with its step position (not
            # from planned moves): every step where the distance s0 falls.
            ds = 0.0
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

    cdef int _add_phase(self, double t0, double dt, double x0, double v0,
                        double a) except -1:
        """Add the steps of a motor moving ``x(t0 + tau) = x0 + v0 tau + a tau^2 / 2``
        (mm, s) for ``0 <= tau <= dt``, in one direction (the caller splits
        where the velocity changes sign): one segment of constant acceleration."""
        cdef double spm = self.steps_per_mm, x1, w, s0
        cdef int64_t target, steps, total
        cdef int direction, moving
        x1 = x0 + (v0 + 0.5 * a * dt) * dt
        target = round_int(x1 * spm)
        steps = target - self.position
        if steps == 0:
            return 0
        direction = 1 if steps > 0 else -1
        total = steps if steps > 0 else -steps
        moving = (1 if v0 > 0.0 else -1) if v0 != 0.0 else ((1 if a > 0.0 else -1) if a != 0.0 else 0)
        s0 = ((self.position + direction * 0.5) / spm - x0) * direction
        if moving != direction:
            if moving == 0 and dt > 1e6:
                raise ValueError("steps at rest: motor at %d steps, told %r mm"
                                 % (self.position, x1))
            # Rounding at a step boundary (the motion ends a hair across it):
            # the steps at the phase's start.
            self._push_segment(total, t0 * self.clock_freq, 0.0, 0.0, 1.0, 0.0, 0.0, direction)
        else:
            w = v0 if v0 > 0.0 else -v0
            self._push_segment(total, t0 * self.clock_freq, s0, 1.0 / spm, w,
                               2.0 * a * direction, (x1 - x0) * direction, direction)
        self.position = target
        self.steps_total += total
        if self.nseg >= SEGMENT_BATCH:
            self._compress(False)
        return 0

    cdef inline int64_t _steps_below(self, double s0, double ds, double d,
                                     int64_t total) noexcept:
        """How many of the steps n = 0..total-1 lie at s0 + n ds < d (ds >= 0)."""
        cdef double x
        cdef int64_t n
        if s0 >= d:
            return 0
        if ds == 0.0:
            return total
        x = (d - s0) / ds
        if x >= total:
            return total
        n = <int64_t> x
        if n < x:
            n += 1
        return n

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
        if two_a == 0.0:
            seg.scale = self.clock_freq / w
        elif fabs(two_a) >= 2.0 * MIN_ACCEL_DIFFERENCE:
            seg.scale = 2.0 * self.clock_freq / two_a
        else:
            seg.scale = 0.0
        seg.direction = direction
        self.nseg += 1
        self.next_step += count
        return 0

    cdef inline double _time(self, Segment* seg, double n, double* v) noexcept:
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
            return seg.base + u * seg.scale
        r = seg.w2 + seg.two_a * u
        r = sqrt(r) if r > 0.0 else 0.0
        v[0] = r
        if seg.scale != 0.0:
            return seg.base + (r - seg.w) * seg.scale
        den = seg.w + r
        return seg.base + (self.clock_freq * 2.0 * u / den if den > 0.0 else 0.0)

    cdef inline Py_ssize_t _segment_of(self, int64_t n, Py_ssize_t j) noexcept:
        """Index of the segment holding step ``n``, searching on from ``j``."""
        while self.segs[j].end <= n:
            j += 1
        return j

    # -- checking and fitting one run --------------------------------------
    cdef double _piece_error(self, Segment* seg, int64_t i, int64_t p, int64_t r,
                             double fp, double vp, double fr, double vr, double fm, double vm,
                             double L, int64_t I, int64_t A) noexcept:
        """How far (ticks) the run ``(L, I, A)`` (first step: step number
        ``i``) may put its steps p..r (1-based, all in ``seg``) from their
        ideal times: an upper bound when that is within ``max_error``, else
        some value above ``max_error``.

        ``fp``, ``fr``: ideal times (ticks) of steps p and r; ``vp``, ``vr``:
        speeds there (mm/s); ``fm``, ``vm`` the same at ``(p + r) / 2`` when
        known, else ``fm`` < 0. See the module docstring for the bound.
        """
        cdef double err = self.err
        cdef double gp, gr, fq, vq, n, hm, inv_n, d1, d2, h0, h1, h2, x, xv = 0.0, hx
        cdef double hmax, rem, vmin, left, right
        cdef int64_t q
        gp = L + p * <double> I + A * 0.5 * p * (p - 1)
        gr = L + r * <double> I + A * 0.5 * r * (r - 1)
        h0 = gp - fp
        hmax = fabs(gr - fr)
        if fabs(h0) > hmax:
            hmax = fabs(h0)
        if hmax > err or r - p <= 1:
            return hmax
        if r - p == 2:
            q = p + 1
            fq = self._time(seg, <double> (i + q - 1), &vq)
            hx = fabs(L + q * <double> I + A * 0.5 * q * (q - 1) - fq)
            return hx if hx > hmax else hmax
        # h(x) = g(p + x) - q(p + x) = h0 + h1 x + h2 x^2, x in [0, n].
        n = <double> (r - p)
        inv_n = 1.0 / n
        if seg.two_a == 0.0:
            # f is linear: q = f, and h is exact.
            h1 = I + A * (p - 0.5) - (fr - fp) * inv_n
            h2 = 0.5 * A
            rem = 0.0
        else:
            hm = 0.5 * n
            if fm < 0.0:
                fm = self._time(seg, i - 1 + p + hm, &vm)
            d1 = (fm - fp) * 2.0 * inv_n
            d2 = ((fr - fm) * 2.0 * inv_n - d1) * inv_n
            h1 = I + A * (p - 0.5) - d1 + hm * d2
            h2 = 0.5 * A - d2
            vmin = vp if seg.two_a > 0.0 else vr
            if vmin <= 0.0:
                rem = 1e300
            else:
                rem = seg.cubic * n * n * n / (vmin * vmin * vmin * vmin * vmin)
        if h2 != 0.0:
            xv = -h1 / (2.0 * h2)
            if 0.0 < xv < n:
                hx = h0 + (h1 + h2 * xv) * xv
                if fabs(hx) > hmax:
                    hmax = fabs(hx)
                # The step nearest the vertex: |g - f| >= |h| - rem there.
                x = floor(xv + 0.5)
                hx = fabs(h0 + (h1 + h2 * x) * x) - rem
                if hx > err:
                    return hx
        if hmax + rem <= err:
            return hmax + rem
        if rem == 0.0:
            # Exact, and the largest |h| lies between two steps (about the
            # vertex): those two decide.
            x = floor(xv)
            left = fabs(h0 + (h1 + h2 * x) * x)
            x += 1.0
            right = fabs(h0 + (h1 + h2 * x) * x)
            return left if left > right else right
        q = p + (r - p) // 2
        fq = self._time(seg, <double> (i + q - 1), &vq)
        left = self._piece_error(seg, i, p, q, fp, vp, fq, vq, -1.0, 0.0, L, I, A)
        if left > err:
            return left
        right = self._piece_error(seg, i, q, r, fq, vq, fr, vr, -1.0, 0.0, L, I, A)
        return left if left > right else right

    cdef bint _try(self, int64_t i, Py_ssize_t j, int64_t c, int64_t L, double f1, double v1,
                   int64_t* out_interval, int64_t* out_add) noexcept:
        """Fit a run of ``c`` >= 2 steps from step number ``i`` (in segment
        ``j``) after clock ``L``; True with its interval and add if it fits.
        ``f1``, ``v1``: ideal time and speed of step ``i``."""
        cdef Py_ssize_t jc, jm = -1, s
        cdef Segment* seg
        cdef double fc, vc, fm = -1.0, vm = 0.0, mid, dc, a_real, fp, vp, fr, vr
        cdef double inv_c = 1.0 / c
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
            a_real = 4.0 * (dc * inv_c - (fm - L) / mid) / (c - 1)
        add = round_int(a_real)
        interval = round_int((dc - add * 0.5 * c * (c - 1)) * inv_c)
        last_interval = interval + add * (c - 1)
        if interval < 1 or last_interval < 1:
            return False
        if interval > self.max_gap or last_interval > self.max_gap:
            return False
        if jc == j:
            if jm != j:
                fm = -1.0
            if self._piece_error(&self.segs[j], i, 1, c, f1, v1, fc, vc, fm, vm,
                                 <double> L, interval, add) > self.err:
                return False
        else:
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
                if self._piece_error(seg, i, p, r, fp, vp, fr, vr, -1.0, 0.0, <double> L,
                                     interval, add) > self.err:
                    return False
        out_interval[0] = interval
        out_add[0] = add
        return True

    cdef int64_t _cruise_run(self, Segment* seg, int64_t i, int64_t c, int64_t L, double f1,
                             int64_t* out_interval) noexcept:
        """Longest run (at most ``c`` steps) from step number ``i`` within the
        cruise segment ``seg``, with no add: its count (0 if none of 2 or
        more steps), its interval in ``out_interval``.

        f is linear there: ``f(k) = f(0) + k D``; with ``e0 = L - f(0)`` a
        run of interval I misses step k by ``e0 + k (I - D)``, so the two
        integers around D each allow ``(max_error -+ e0) / |I - D|`` steps.
        """
        cdef double D = seg.ds * seg.scale
        cdef double err = self.err - 1e-6
        cdef double e0 = L - (f1 - D), lo = floor(D), drift, n
        cdef int64_t best = 0, k, interval = 0
        for k in range(2):
            drift = lo + k - D
            if fabs(e0 + drift) > err or lo + k < 1.0 or lo + k > self.max_gap:
                continue
            if drift == 0.0:
                n = <double> c
            else:
                n = ((err - e0) if drift > 0.0 else (err + e0)) / fabs(drift)
                if n > c:
                    n = <double> c
            if n >= 1.0 and <int64_t> n > best:
                best = <int64_t> n
                interval = <int64_t> lo + k
        if best < 2:
            return 0
        out_interval[0] = interval
        return best

    cdef int64_t _extend(self, int64_t i, Py_ssize_t j, int64_t good, int64_t stop, double L,
                         int64_t I, int64_t A) noexcept:
        """Steps good+1 .. stop-1 that the run ``(L, I, A)`` from step number
        ``i`` (in segment ``j``) still places within the error bound,
        checked one by one until one misses; returns the new count. The
        ideal time of the step that missed is kept for the next run."""
        cdef double err = self.err, v, f
        cdef int64_t k = good + 1, last_interval
        while k < stop:
            last_interval = I + A * (k - 1)
            if last_interval < 1 or last_interval > self.max_gap:
                break
            j = self._segment_of(i + k - 1, j)
            f = self._time(&self.segs[j], <double> (i + k - 1), &v)
            if fabs(L + k * <double> I + A * 0.5 * k * (k - 1) - f) > err:
                self.cached_step = i + k - 1
                self.cached_time = f
                self.cached_speed = v
                break
            k += 1
        return k - 1

    cdef int64_t _fit_run(self, int64_t i, Py_ssize_t j, int64_t limit, int64_t L,
                          double f1, double v1, int64_t* out_interval,
                          int64_t* out_add) noexcept:
        """A long run from step number ``i`` (in segment ``j``), at most
        ``limit`` (>= 2) steps, after clock ``L``: returns its count, its
        interval and add in ``out_interval``/``out_add``. ``out_interval``
        comes in holding a one-step run's interval; ``f1``, ``v1``: ideal
        time and speed of step ``i``. See "Finding a run" above.
        """
        cdef Segment* seg = &self.segs[j]
        cdef int64_t rem = seg.end - i, good = 1, c, interval, add, seg_end, reach
        cdef double pred, v, fc
        cdef Py_ssize_t k
        if rem > limit:
            rem = limit
        if rem >= 2:
            if seg.two_a == 0.0:
                c = self._cruise_run(seg, i, rem, L, f1, &interval)
                # Exact, but checked like any other run.
                if c >= 2:
                    fc = self._time(seg, <double> (i + c - 1), &v)
                    if self._piece_error(seg, i, 1, c, f1, v1, fc, v, -1.0, 0.0,
                                         <double> L, interval, 0) <= self.err:
                        good = c
                        out_interval[0] = interval
                        out_add[0] = 0
            else:
                c = 2
                pred = self.err * v1 * v1 * v1 * v1 * v1
                if v1 > 0.0 and pred < 1e300 * seg.cubic:
                    pred = cube_root(pred / seg.cubic) * (PREDICT_ACCEL if seg.two_a > 0.0
                                                          else PREDICT_DECEL)
                    c = <int64_t> pred if pred < rem else rem
                    if c < 2:
                        c = 2
                while True:
                    if self._try(i, j, c, L, f1, v1, &interval, &add):
                        good = c
                        out_interval[0] = interval
                        out_add[0] = add
                        break
                    if c == 2:
                        break
                    c = (2 * c) // 3 if c >= 3 else 2
        if good < rem:
            # Ended within its first segment: a step or two more, perhaps.
            if good < 2:
                return good
            reach = good + EXTEND_FIRST + 1
            if reach > rem + 1:
                reach = rem + 1
            return self._extend(i, j, good, reach, <double> L, out_interval[0], out_add[0])
        # The first segment is whole: on through the next ones.
        k = j
        while good < limit:
            k += 1
            seg_end = self.segs[k].end - i
            if seg_end > limit:
                seg_end = limit
            reach = good + EXTEND_STEPS + 1
            if reach > seg_end + 1:
                reach = seg_end + 1
            c = self._extend(i, j, good, reach, <double> L, out_interval[0], out_add[0])
            if c == seg_end:
                good = c
                continue
            if (seg_end - good <= REFIT_STEPS or c + 1 == reach) and \
                    self._try(i, j, seg_end, L, f1, v1, &interval, &add):
                good = seg_end
                out_interval[0] = interval
                out_add[0] = add
                continue
            return c
        return good

    # -- runs ------------------------------------------------------------
    cdef int _emit(self, int has_reference, int64_t reference, int64_t interval,
                   int64_t count, int64_t add, int direction) except -1:
        """Append a run after ``last_clock`` and move ``last_clock`` to its end."""
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
        else up to the last segment (which a later move's steps may extend)."""
        cdef Py_ssize_t j = 0, g, k
        cdef int64_t i = self.cursor, stop, group_end = -1, limit, t0, t1, L
        cdef int64_t good, best_interval, best_add, reference
        cdef int has_reference, direction
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
            if self.cached_step == i:
                f1 = self.cached_time
                v1 = self.cached_speed
            else:
                f1 = self._time(seg, <double> i, &v1)
            t0 = round_int(f1)
            has_reference = 0
            reference = 0
            if not self.has_reference or t0 - self.last_clock > self.max_gap:
                # A fresh start: one interval before the first step.
                t1 = t0 + self.max_gap + 1
                if i + 1 < group_end:
                    k = self._segment_of(i + 1, j)
                    fn = self._time(&self.segs[k], <double> (i + 1), &vn)
                    t1 = round_int(fn)
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
            best_interval = t0 - L if t0 - L >= 1 else 1
            best_add = 0
            good = 1
            if limit >= 2:
                good = self._fit_run(i, j, limit, L, f1, v1, &best_interval, &best_add)
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
        For tests and tools: printing uses :func:`encode_runs`, which builds
        no Python object per run.
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
            target = round_int(motor_end[i, j] * comp.steps_per_mm)
            if target != comp.position:
                start = motor_start[i, j]
                comp._add_move(print_time, m.accel_t, m.cruise_t, m.start_v,
                               m.cruise_v, m.accel, m.move_d, start,
                               (motor_end[i, j] - start) / m.move_d, target)
        print_time += m.accel_t + m.cruise_t + m.decel_t
    return print_time


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
    # Typically under 10 bytes a run; room is made before each run for the
    # most its two messages can take.
    cdef Py_ssize_t capacity = total * 12 + RUN_BYTES_MAX
    cdef unsigned char* out = <unsigned char*> malloc(capacity)
    cdef unsigned char* grown
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
            # The motor whose next run starts first (ties: the lower index).
            best = -1
            best_clock = 0
            for j in range(motors):
                if heads[j] != tails[j] and (best < 0 or heads[j].first < best_clock):
                    best = j
                    best_clock = heads[j].first
            run = heads[best]
            heads[best] += 1
            if pos + RUN_BYTES_MAX > capacity:
                capacity *= 2
                grown = <unsigned char*> realloc(out, capacity)
                if grown == NULL:
                    raise MemoryError()
                out = grown
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


include "_shaping.pxi"
