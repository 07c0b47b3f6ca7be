# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# Mendel host: the board's step run queues as the host books them (Cython kernel).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-motor step run queues of the board, counted on the host.

Each motor's queue on the board holds ``queue_size`` runs; a run frees its
slot once the board clock passes its last step (firmware/motion/stepper.py).
The host books the last step clock of every run it sends, oldest first, so
that it sends into a full queue never: :meth:`StepQueues.next_stop` walks a
block of runs in send order and stops at the first whose motor's queue is
full; the toolhead then waits on the board and settles the books with the
number of runs the board says it still holds.
"""
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free


cdef class StepQueues:
    """Books of ``motors`` queues of ``queue_size`` runs each (last step clocks,
    MCU ticks, oldest first)."""
    cdef int64_t* ends
    cdef Py_ssize_t* head
    cdef Py_ssize_t* used_
    cdef readonly Py_ssize_t motors, queue_size
    cdef const int[::1] block_motors
    cdef const int64_t[::1] block_clocks
    cdef Py_ssize_t pos

    def __cinit__(self, Py_ssize_t motors, Py_ssize_t queue_size):
        cdef Py_ssize_t m
        if motors <= 0 or queue_size <= 0:
            raise ValueError("motors and queue_size must be > 0")
        self.ends = <int64_t*> malloc(motors * queue_size * sizeof(int64_t))
        self.head = <Py_ssize_t*> malloc(motors * sizeof(Py_ssize_t))
        self.used_ = <Py_ssize_t*> malloc(motors * sizeof(Py_ssize_t))
        if self.ends == NULL or self.head == NULL or self.used_ == NULL:
            raise MemoryError()
        self.motors = motors
        self.queue_size = queue_size
        for m in range(motors):
            self.head[m] = self.used_[m] = 0
        self.pos = 0

    def __dealloc__(self):
        free(self.ends)
        free(self.head)
        free(self.used_)

    def begin(self, const int[::1] motors, const int64_t[::1] last_clocks):
        """Start a block of runs in send order: run ``r`` is motor
        ``motors[r]``'s ((R,) int32) and ends at ``last_clocks[r]`` ((R,)
        int64, ticks). Raises ValueError for a motor out of range."""
        cdef Py_ssize_t r
        if motors.shape[0] != last_clocks.shape[0]:
            raise ValueError("motors and last_clocks must have one entry a run")
        for r in range(motors.shape[0]):
            if not 0 <= motors[r] < self.motors:
                raise ValueError("run %d is of motor %d, not one of %d"
                                 % (r, motors[r], self.motors))
        self.block_motors = motors
        self.block_clocks = last_clocks
        self.pos = 0

    def next_stop(self):
        """Book the block's runs, in order, while their motors' queues have room.

        Returns ``(stop, motor)``: the index of the first run whose motor's
        queue is full (runs before it are booked and may be sent), or
        ``(R, -1)`` when every run of the block is booked."""
        cdef Py_ssize_t r, n = self.block_motors.shape[0] if self.block_motors is not None else 0
        cdef Py_ssize_t size = self.queue_size
        cdef int m
        for r in range(self.pos, n):
            m = self.block_motors[r]
            if self.used_[m] >= size:
                self.pos = r
                return r, m
            self.ends[m * size + (self.head[m] + self.used_[m]) % size] = self.block_clocks[r]
            self.used_[m] += 1
        self.pos = n
        return n, -1

    def used(self, int motor):
        """Runs booked on ``motor``'s queue."""
        self._check(motor)
        return self.used_[motor]

    def end(self, int motor, Py_ssize_t k):
        """Last step clock (ticks) of the ``k``-th oldest run booked on ``motor``."""
        self._check(motor)
        if not 0 <= k < self.used_[motor]:
            raise IndexError("motor %d has %d runs booked" % (motor, self.used_[motor]))
        return self.ends[motor * self.queue_size + (self.head[motor] + k) % self.queue_size]

    def settle(self, int motor, Py_ssize_t used):
        """The board holds ``used`` runs of ``motor``: the oldest others are done.
        Raises ValueError when it holds more than were booked."""
        self._check(motor)
        if used > self.used_[motor] or used < 0:
            raise ValueError("the board holds %d runs of motor %d, the host counted %d"
                             % (used, motor, self.used_[motor]))
        self.head[motor] = (self.head[motor] + self.used_[motor] - used) % self.queue_size
        self.used_[motor] = used

    cdef int _check(self, int motor) except -1:
        if not 0 <= motor < self.motors:
            raise IndexError("no motor %d" % motor)
        return 0
