# Mendel firmware: step runs from the step queues into each motor's pulse stream.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decoded runs (MCU ticks) become queued runs of :class:`motion.pulses.PulseStream`
(sequencer cycles), in bulk.

Suffixes: ``_ticks`` MCU clock ticks, ``_rel`` ticks after the step queues'
epoch (:mod:`motion.stepper`), ``_cycles`` sequencer cycles of one stream.

Each stream counts cycles from its own cycle 0, which lies at clock
``origin`` (ticks) when the stream was armed, moved on by ``base`` cycles at
each rebase (a whole number of ticks' worth). So a run's first step at
``first_rel`` is at ``(first_rel - t0_rel) * cycles_per_tick`` on the stream,
with ``t0_rel = origin + base / cycles_per_tick - epoch``: one subtraction
and one product, done for every run of a frame by :func:`_take` (viper).

A run is refused when its first step comes before what the stream has
already written (it came too late: the board shuts down), or when the
stream's run slots are full (shutdown). A run further ahead than
:data:`FAR_CYCLES` waits in Python (``waiting``) until the stream has moved
on enough for its cycle count to stay a small int (after a long dwell, say).
"""
import array

from micropython import const

from motion.pulses import (FAR_CYCLES, INBOX_BIAS, REBASE_AT, TIMING_FAR, TIMING_MULT,
                           TIMING_REBASE, TIMING_T0, refill_streams, take_inbox)

_INBOX = const(5)               # fields of a step queue inbox entry


class PulseIntake:
    """Feeds the ``streams`` (PulseStream per motor) from the step queues.

    ``cycles_per_tick``: stream cycles per MCU tick; ``clock_freq``: MCU
    ticks per second. ``on_error(text)`` is
    the board's shutdown. Allocates only here and for waiting runs.
    """

    def __init__(self, streams, cycles_per_tick, clock_freq, names, on_error):
        self.streams = streams
        self.clock_freq = clock_freq
        self.names = names
        self.on_error = on_error
        self.mult = cycles_per_tick
        count = len(streams)
        self.origin = [0] * count       # clock (ticks) of each stream's cycle 0
        self.base = [0] * count         # cycles taken off by rebase
        self.epoch = 0
        self.timing = array.array("i", bytes(4 * (TIMING_T0 + count)))
        self.timing[TIMING_MULT] = cycles_per_tick
        self.timing[TIMING_FAR] = FAR_CYCLES // cycles_per_tick
        self._states = [s.state for s in streams]
        self._runs = [s.runs for s in streams]
        self._rings = [s.ring for s in streams]
        self.waiting = [[] for _ in range(count)]
        # Rebase by whole ticks, so a stream's cycle 0 stays on a tick.
        self.rebase_cycles = ((REBASE_AT >> 1) // cycles_per_tick) * cycles_per_tick
        for oid in range(count):
            self._retime(oid)

    # -- time ----------------------------------------------------------
    def cycles(self, oid, ticks):
        """Stream cycle of clock ``ticks`` on motor ``oid``'s stream."""
        return (ticks - self.origin[oid]) * self.mult - self.base[oid]

    def _retime(self, oid):
        t0 = self.origin[oid] + self.base[oid] // self.mult - self.epoch
        self.timing[TIMING_T0 + oid] = t0 + INBOX_BIAS

    def armed(self, oid, now):
        """Motor ``oid``'s stream restarted with cycle 0 at clock ``now``."""
        self.origin[oid] = now
        self.base[oid] = 0
        self._retime(oid)

    def epoch_moved(self, epoch):
        """The step queues moved their epoch (ticks)."""
        self.epoch = epoch
        for oid in range(len(self.streams)):
            self._retime(oid)

    def refill_all(self, now, lead_cycles, halted=0):
        """Write every stream up to ``lead_cycles`` after clock ``now`` (ticks),
        in one viper call, waiting runs first, and rebase the streams that
        are due (by the clock, not a stream's end: everything still to come is
        then later than the shift, and only past times are clamped). Returns
        the most words one stream took (ring words - 1: its ring filled up).
        Streams with their bit set in ``halted`` are not written: their
        position must stay the steps they really made."""
        waiting = self.waiting
        for oid in range(len(waiting)):
            if waiting[oid]:
                self._admit(oid)
        most = refill_streams(self._states, self._runs, self._rings, self.timing,
                              now - self.epoch, lead_cycles, halted)
        due = self.timing[TIMING_REBASE]
        if due:
            for oid in range(len(self.streams)):
                if due & (1 << oid):
                    self._rebase(oid)
        return most

    def _rebase(self, oid):
        self.streams[oid].rebase(self.rebase_cycles)
        self.base[oid] += self.rebase_cycles
        self._retime(oid)

    # -- runs ----------------------------------------------------------
    def take_runs(self, inbox, n, epoch):
        """Queue ``n`` decoded runs of ``inbox`` (the step queues' bulk hand-
        over); returns how many were taken (see :meth:`refused`)."""
        if epoch != self.epoch:
            self.epoch_moved(epoch)
        return take_inbox(self._states, self._runs, inbox, n, self.timing)

    def refused(self, inbox, index, count):
        """Runs ``index..count-1`` of ``inbox`` were not taken: each goes
        through :meth:`step_run`, which says why or keeps it waiting."""
        for i in range(index * _INBOX, count * _INBOX, _INBOX):
            if not self.step_run(inbox[i], inbox[i + 1] + self.epoch, inbox[i + 2],
                                 inbox[i + 3] - INBOX_BIAS, inbox[i + 4] - INBOX_BIAS):
                return

    def step_run(self, oid, first, interval, count, add):
        """Queue one run (MCU ticks); False after a refusal (shutdown)."""
        if self.waiting[oid] or self.cycles(oid, first) >= FAR_CYCLES:
            self.waiting[oid].append((first, interval, count, add))
            return True
        return self._queue(oid, first, interval, count, add)

    def _queue(self, oid, first, interval, count, add):
        stream = self.streams[oid]
        first_cycles = self.cycles(oid, first)
        if first_cycles < stream.first_possible():
            late_us = (stream.first_possible() - first_cycles) * 1000000 // (
                self.mult * self.clock_freq)
            self.on_error("step run for motor %s came %d us too late for its "
                          "pulse stream" % (self.names[oid], late_us))
            return False
        m = self.mult
        if not stream.queue(first_cycles, interval * m, count, add * m):
            self.on_error("pulse run queue full on motor %s" % self.names[oid])
            return False
        return True

    def _admit(self, oid):
        waiting = self.waiting[oid]
        while waiting and self.cycles(oid, waiting[0][0]) < FAR_CYCLES:
            first, interval, count, add = waiting.pop(0)
            if not self._queue(oid, first, interval, count, add):
                return

    def clear(self):
        """Forget waiting runs (the motors stopped)."""
        for waiting in self.waiting:
            del waiting[:]
