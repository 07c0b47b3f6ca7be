# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# Mendel host: step times and step compression (Cython kernel).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exact step times of one motor and their compression into step runs.

Step times: within a move the motor position is linear in the distance along
the move, ``x(s) = x0 + ratio * s``, and ``s(t)`` is the move's trapezoid
(accelerate, cruise, decelerate). The motor's step count is
``round(x * steps_per_mm)``, so a step happens where ``x * steps_per_mm``
crosses a half-integer; each crossing is solved for ``t`` in closed form, in
the cancellation-free form ``t = 2 s / (v0 + sqrt(v0^2 + 2 a s))``.

Runs: ``(interval, count, add)`` in MCU ticks, the k-th step (k = 1..count)
at ``last + k*interval + add*k*(k-1)/2`` (Klipper's queue_step layout). Runs are
found greedily: starting from the previous run's length, the length doubles
while a run still fits and is then bisected a few times (shrinking by halves
when even the first try fails). A candidate is fitted in O(1) by the
quadratic through its middle and last steps, then checked step by step:
every accepted run reproduces every step within ``max_error`` ticks of its
ideal time. Each run starts from the previous run's reconstructed last step,
so errors never accumulate.
"""
from libc.math cimport sqrt, llround
from libc.stdlib cimport malloc, realloc, free
from libc.stdint cimport int64_t, uint64_t, INT64_MIN
import numpy as np

include "_planned.pxi"

cdef int64_t MAX_COUNT = 65535
# Longest time between two steps of one run, in seconds: boards keep step
# times in 32-bit words of their own timer (the RP2040's PIO counts ~10-125
# cycles per tick), so a longer gap starts a new run from set_step_clock.
MAX_STEP_GAP_S = 1.0


cdef inline int64_t floor_div(int64_t a, int64_t b):
    """Floor of a / b for b > 0."""
    cdef int64_t q = a // b
    if (a % b != 0) and (a < 0):
        q -= 1
    return q


cdef inline int64_t ceil_div(int64_t a, int64_t b):
    """Ceiling of a / b for b > 0."""
    return -floor_div(-a, b)


cdef class StepCompressor:
    """Step times and runs of one motor.

    ``steps_per_mm`` (steps/mm), ``clock_freq`` (ticks/s), ``max_error``
    (ticks, the largest allowed distance of a step from its ideal time).
    ``position`` is the motor's step count after every step added so far.
    """
    cdef public double steps_per_mm
    cdef public double clock_freq
    cdef public int64_t max_error
    cdef public int64_t position
    cdef public int64_t last_clock
    cdef public bint has_reference
    cdef public int64_t steps_total
    cdef public int64_t runs_total
    cdef int64_t* times
    cdef Py_ssize_t count
    cdef Py_ssize_t capacity
    cdef int direction
    cdef list runs
    cdef int64_t guess
    cdef int64_t max_gap

    def __cinit__(self, double steps_per_mm, double clock_freq, int64_t max_error):
        self.capacity = 4096
        self.times = <int64_t*> malloc(self.capacity * sizeof(int64_t))
        if self.times == NULL:
            raise MemoryError()

    def __init__(self, double steps_per_mm, double clock_freq, int64_t max_error):
        if steps_per_mm <= 0 or clock_freq <= 0 or max_error < 0:
            raise ValueError("steps_per_mm and clock_freq must be > 0, max_error >= 0")
        self.steps_per_mm = steps_per_mm
        self.clock_freq = clock_freq
        self.max_error = max_error
        self.position = 0
        self.last_clock = 0
        self.has_reference = False
        self.count = 0
        self.direction = 0
        self.runs = []
        self.guess = 16
        self.max_gap = <int64_t> (MAX_STEP_GAP_S * clock_freq)

    def __dealloc__(self):
        free(self.times)

    cdef int _reserve(self, Py_ssize_t more) except -1:
        """Room for ``more`` step times in the buffer."""
        cdef int64_t* grown
        cdef Py_ssize_t capacity = self.capacity
        while self.count + more > capacity:
            capacity *= 2
        if capacity != self.capacity:
            grown = <int64_t*> realloc(self.times, capacity * sizeof(int64_t))
            if grown == NULL:
                raise MemoryError()
            self.times = grown
            self.capacity = capacity
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
        cdef int64_t n, total
        cdef int direction
        cdef double spm = self.steps_per_mm, freq = self.clock_freq
        cdef double accel_d, cruise_end_d, s, t, s2, rest, s0, ds, base, v0_2, vc_2, two_a
        cdef int64_t tick, previous
        cdef int64_t* times
        cdef Py_ssize_t count
        if steps == 0 or ratio == 0.0:
            return 0
        direction = 1 if steps > 0 else -1
        if self.direction != 0 and direction != self.direction:
            self._compress()
        self.direction = direction
        total = steps if steps > 0 else -steps
        accel_d = (start_v + 0.5 * accel * accel_t) * accel_t
        cruise_end_d = accel_d + cruise_v * cruise_t
        self._reserve(total)
        # Step n crosses the half-step boundary (position + dir (n + 1/2)) / spm,
        # at distance s0 + n ds along the move.
        s0 = ((self.position + direction * 0.5) / spm - x0) / ratio
        ds = direction / spm / ratio
        base = print_time * freq
        times = self.times
        count = self.count
        previous = times[count - 1] if count else INT64_MIN
        v0_2 = start_v * start_v
        vc_2 = cruise_v * cruise_v
        two_a = 2.0 * accel
        for n in range(total):
            s = s0 + n * ds
            if s < 0.0:
                s = 0.0
            elif s > move_d:
                s = move_d
            if s < accel_d:
                t = 2.0 * s / (start_v + sqrt(v0_2 + two_a * s)) if s > 0.0 else 0.0
            elif s < cruise_end_d or accel == 0.0:
                t = accel_t + (s - accel_d) / cruise_v
            else:
                s2 = s - cruise_end_d
                rest = vc_2 - two_a * s2
                if rest < 0.0:
                    rest = 0.0
                rest = cruise_v + sqrt(rest)
                t = accel_t + cruise_t + (2.0 * s2 / rest if rest > 0.0 else 0.0)
            tick = llround(base + t * freq)
            # Ideal times must increase strictly for runs to reproduce them.
            if tick <= previous:
                tick = previous + 1
            times[count] = tick
            previous = tick
            count += 1
        self.count = count
        self.position = target
        self.steps_total += total
        return total

    def flush(self):
        """Compress every buffered step; returns the new runs.

        Each run is ``(reference, interval, count, add, first_clock,
        last_clock)``: ``reference`` is None, or the clock to send with
        set_step_clock before the run; ``count`` is signed by direction.
        """
        self._compress()
        runs = self.runs
        self.runs = []
        return runs

    cdef bint _fit_fast(self, Py_ssize_t start, int64_t c, int64_t last,
                        int64_t* out_interval, int64_t* out_add):
        """Fit steps start..start+c-1 by interpolation, then check every step.

        The quadratic ``last + k*I + A*k(k-1)/2`` through the run's middle and
        last steps (real I and A, from ``d_k/k = I + A (k-1)/2``); A is rounded
        and I re-fitted to the last step, then every step is checked against
        the error bound, and every interval must stay at least one tick.
        O(c); returns False when the run does not fit.
        """
        cdef int64_t* times = self.times + start
        cdef int64_t err = self.max_error
        cdef int64_t m, k, interval, add, value, step, d_n, d_m
        cdef double a_real
        d_n = times[c - 1] - last
        if c == 1:
            out_interval[0] = d_n if d_n >= 1 else 1
            out_add[0] = 0
            return True
        if c == 2:
            interval = times[0] - last
            add = d_n - 2 * interval
        else:
            m = (c + 1) // 2
            d_m = times[m - 1] - last
            a_real = 2.0 * (<double> d_n / c - <double> d_m / m) / (c - m)
            add = llround(a_real)
            interval = llround((d_n - add * (c * (c - 1) // 2)) / <double> c)
        if interval < 1 or interval + add * (c - 1) < 1:
            return False
        if interval > self.max_gap or interval + add * (c - 1) > self.max_gap:
            return False
        value = last
        step = interval
        for k in range(c):
            value += step
            step += add
            if value - times[k] > err or times[k] - value > err:
                return False
        out_interval[0] = interval
        out_add[0] = add
        return True

    cdef void _compress(self):
        """Cut the buffered steps into runs, greedily: from the last run's
        length, double while the run still fits, then bisect a few times;
        shrink by halves when it does not."""
        cdef Py_ssize_t i = 0, count = self.count
        cdef int64_t last, good, bad, mid, c, limit, interval = 0, add = 0
        cdef int64_t best_interval = 0, best_add = 0, steps, end
        cdef int tries
        cdef object reference
        while i < count:
            reference = None
            if not self.has_reference or self.times[i] - self.last_clock > self.max_gap:
                if i + 1 < count and self.times[i + 1] - self.times[i] <= self.max_gap:
                    self.last_clock = 2 * self.times[i] - self.times[i + 1]
                else:
                    self.last_clock = self.times[i] - 1
                self.has_reference = True
                reference = self.last_clock
            last = self.last_clock
            limit = min(count - i, MAX_COUNT)
            c = min(self.guess, limit)
            bad = 0
            if self._fit_fast(i, c, last, &best_interval, &best_add):
                good = c
                while good < limit:
                    c = min(2 * good, limit)
                    if not self._fit_fast(i, c, last, &interval, &add):
                        bad = c
                        break
                    good = c
                    best_interval = interval
                    best_add = add
            else:
                bad = c
                good = 0
                while good == 0:
                    c = c // 2
                    if self._fit_fast(i, c, last, &best_interval, &best_add):
                        good = c
                    else:
                        bad = c
            tries = 0
            while bad and bad - good > 1 and tries < 3:
                mid = (good + bad) // 2
                if self._fit_fast(i, mid, last, &interval, &add):
                    good = mid
                    best_interval = interval
                    best_add = add
                else:
                    bad = mid
                tries += 1
            self.guess = good if good > 4 else 4
            steps = good
            end = last + steps * best_interval + best_add * steps * (steps - 1) // 2
            self.runs.append((reference, best_interval, self.direction * steps, best_add,
                              last + best_interval, end))
            self.last_clock = end
            self.runs_total += 1
            i += steps
        self.count = 0

def generate_steps(list compressors, Planned[::1] moves, double[:, ::1] motor_start,
                   double[:, ::1] motor_end, double print_time):
    """Add the steps of planned ``moves`` to each motor's compressor.

    ``moves``: PLANNED_DTYPE rows (see ``mendel.planner._lookahead``);
    ``motor_start``/``motor_end``: (N, M) float64, each motor's position (mm)
    at the start and end of each move, M = len(compressors). Within a move a
    motor moves linearly in the distance along it (the kinematics split moves
    where that does not hold). ``print_time`` (s): when the first move
    starts. Returns when the last one ends (s).
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


def encode_runs(list runs_by_motor, oids, int64_t set_clock_id, int64_t queue_step_id):
    """Encode the runs of every motor as link messages, in step time order.

    ``runs_by_motor``: one list of ``(reference, interval, count, add,
    first_clock, last_clock)`` per motor (``StepCompressor.flush``);
    ``oids``: each motor's id on the board; the ids are the board's message
    ids of ``set_step_clock`` and ``queue_step`` (docs/protocol.md). Runs
    with a reference are preceded by ``set_step_clock``, which travels in the
    same message slot. Returns ``(data, ends, motors, last_clocks)``: the
    encoded bytes, the end offset of each run's messages in ``data`` ((R,)
    int64), its motor index ((R,) int32) and its last step clock ((R,) int64).
    """
    cdef Py_ssize_t motors = len(runs_by_motor), total = 0, r, j, best, pos = 0
    cdef list runs
    cdef int64_t clock, best_clock
    for j in range(motors):
        total += len(<list> runs_by_motor[j])
    data = bytearray(total * 40)
    cdef unsigned char* out = data
    ends = np.empty(total, dtype=np.int64)
    motor_of = np.empty(total, dtype=np.int32)
    last_clocks = np.empty(total, dtype=np.int64)
    cdef int64_t[::1] ends_v = ends
    cdef int[::1] motor_v = motor_of
    cdef int64_t[::1] last_v = last_clocks
    cdef int64_t oid
    cdef tuple run
    cdef Py_ssize_t[64] head
    if motors > 64:
        raise ValueError("at most 64 motors")
    for j in range(motors):
        head[j] = 0
    for r in range(total):
        best = -1
        best_clock = 0
        for j in range(motors):
            runs = <list> runs_by_motor[j]
            if head[j] < len(runs):
                clock = (<tuple> runs[head[j]])[4]
                if best < 0 or clock < best_clock:
                    best = j
                    best_clock = clock
        run = <tuple> (<list> runs_by_motor[best])[head[best]]
        head[best] += 1
        oid = oids[best]
        if run[0] is not None:
            pos += _put_int(out + pos, set_clock_id)
            pos += _put_int(out + pos, oid)
            pos += _put_int(out + pos, <int64_t> run[0])
        pos += _put_int(out + pos, queue_step_id)
        pos += _put_int(out + pos, oid)
        pos += _put_int(out + pos, <int64_t> run[1])
        pos += _put_int(out + pos, <int64_t> run[2])
        pos += _put_int(out + pos, <int64_t> run[3])
        ends_v[r] = pos
        motor_v[r] = best
        last_v[r] = <int64_t> run[5]
    return bytes(data[:pos]), ends, motor_of, last_clocks
