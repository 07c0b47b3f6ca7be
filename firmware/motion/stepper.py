# Mendel firmware: queues of timed step runs, one per motor.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Timed step runs per motor, decoded in bulk.

Suffixes: ``_ticks`` MCU clock ticks; ``_rel`` ticks after ``epoch``.

A step run is (interval, count, add) in MCU clock ticks, as in Klipper's
``queue_step``: its k-th step (k = 1..|count|) fires at
``last + k*interval + add*k*(k-1)/2`` where ``last`` is the time of the motor's
previous step (or the clock set by ``set_step_clock``). The sign of ``count`` is
the direction (negative: towards lower positions), so every run is whole on
its own.

Each motor has a fixed ring of ``queue_size`` runs; a run holds its slot until
the clock passes its last step. The host mirrors this accounting and never
sends into a full queue; if it does anyway, or a run's first step is already
in the past when it arrives, the board shuts down rather than guess.

Speed: a print is mostly ``queue_step`` messages (~7.5 bytes each), and one
Python call costs ~20 us on an RP2040. So the link hands every run of
consecutive ``queue_step`` messages to :func:`_decode` (viper): it reads them
straight from the frame into int32 arrays, and the HAL takes the decoded
runs from the *inbox* in one call per frame. A message the fast path cannot
take whole (a check fails, or a number too big for its 32-bit arithmetic)
stops it; :meth:`StepQueues.queue_step`, plain Python on exact ints, runs
that one message and says what is wrong. Both give the same state.

The fast path keeps times as ``_rel`` ticks, small non-negative ints (below
2**30; see :data:`_REL_LIMIT` for the bounds that keep every sum of a run
below 2**31, the RP2040's viper int). ``epoch`` moves forward as the clock
does (:meth:`StepQueues.set_now`). Every stored value is >= 0: the unix
port's 64-bit viper zero-extends 32-bit loads, so signed fields are biased.
"""
import array

import micropython
from micropython import const

import link

_NEVER = const(-1)
# Global fields of the state array.
_NOW = const(0)         # clock - epoch at the frame's arrival (ticks)
_NIN = const(1)         # runs in the inbox
_SIZE = const(2)        # run slots per motor
_MSGID = const(3)       # first byte of a queue_step message (its VLQ msgid)
_MOTORS = const(4)
_RUNS = const(5)        # runs queued since start (wraps at 2**31)
_INCAP = const(6)       # inbox capacity (runs)
_SKIP = const(7)        # 1 after a shutdown: messages are read and dropped
_V0 = const(8)          # three scratch fields: a message's arguments + _BIAS
_M0 = const(11)         # per-motor fields from here, _MF each:
_LAST = const(0)        #   last step, _rel (valid when _HAS)
_HAS = const(1)         #   1: _LAST holds the motor's last step
_HEAD = const(2)        #   oldest slot of the ring of run ends
_USED = const(3)        #   slots in use
_POS = const(4)         #   step position + _BIAS
_MF = const(5)
# An inbox entry: motor, first step _rel, interval, count + _BIAS, add + _BIAS.
INBOX_FIELDS = const(5)
# A third of what a 255-byte frame holds (5 bytes a run at least; 8 is
# usual): a frame of more runs is taken in passes (the decoder hands a full
# inbox over and goes on), and the RP2040 keeps 0.9 KB of heap.
INBOX_RUNS = const(16)
_BIAS = const(1 << 29)   # a small int on a 32-bit port (below 2**30)
# Bounds of the fast path. A run's duration is steps * (first + last
# interval) / 2; with steps < 256 and intervals below 2**21 ticks, or steps
# < 8192 and intervals below 2**16, that product stays below 2**30, and
# |add| below twice the interval bound keeps add * (steps - 1) below 2**30.
# Times stay below _REL_LIMIT, so last + duration < 2**31.
_REL_LIMIT = const(1 << 29)
_REBASE_AT = const(1 << 28)  # move the epoch when now_rel passes this


class StepQueues:
    """Run queues and step positions of every motor named in the board file.

    ``hal`` executes runs: ``hal.take_runs(inbox, n, epoch)`` when it has
    it (decoded runs in bulk; returns how many it took, and then
    ``hal.refused(inbox, taken, n)`` deals with the rest), else
    ``hal.step_run(oid, first, interval, count, add)`` (ticks) per run; a run
    of the reference path always goes through ``step_run``. ``mcu`` gives the clock and the shutdown path. Arrays are made
    once here; decoding a frame of runs allocates nothing but the clock's
    long int.
    """

    def __init__(self, mcu, names, queue_size):
        self.mcu = mcu
        self.hal = mcu.hal
        self.names = names
        self.queue_size = queue_size
        count = len(names)
        self.epoch = 0
        self._far = [_NEVER] * count   # last step (ticks) when out of _rel range
        st = self.state = array.array("i", bytes(4 * (_M0 + _MF * count)))
        st[_SIZE] = queue_size
        st[_MOTORS] = count
        st[_INCAP] = INBOX_RUNS
        for oid in range(count):
            st[_M0 + _MF * oid + _POS] = _BIAS
        self._ends = array.array("i", bytes(4 * queue_size * count))
        self.inbox = array.array("i", bytes(4 * INBOX_FIELDS * INBOX_RUNS))
        self._take = getattr(self.hal, "take_runs", None)
        # 1 while a motor an endstop stopped waits for set_step_clock: the
        # runs of its homing move sent after the stop are dropped, not refused.
        self.stopped = bytearray(count)

    def bind_link(self, lk):
        """Let ``lk`` hand queue_step messages to :meth:`decode` (after bind)."""
        msgid = lk.message_id("queue_step")
        if msgid >= 64:
            raise ValueError("queue_step needs a one-byte message id")
        self.state[_MSGID] = msgid << 1          # its zigzag VLQ byte
        lk.bulk(self.state[_MSGID], self.decode)

    # -- read-outs -----------------------------------------------------
    @property
    def runs(self):
        """Runs queued since start."""
        return self.state[_RUNS]

    def used(self, oid):
        """Run slots motor ``oid`` holds (as last counted)."""
        return self.state[_M0 + _MF * oid + _USED]

    @property
    def position(self):
        """Each motor's commanded step position after its queued runs (list)."""
        st = self.state
        return [st[_M0 + _MF * oid + _POS] - _BIAS for oid in range(len(self.names))]

    @property
    def last_clock(self):
        """Each motor's last step clock (ticks), or -1 when none is set (list)."""
        return [self._last(oid) for oid in range(len(self.names))]

    def _last(self, oid):
        b = _M0 + _MF * oid
        if self.state[b + _HAS]:
            return self.epoch + self.state[b + _LAST]
        return self._far[oid]

    def _set_last(self, oid, clock):
        """Keep ``clock`` (ticks or _NEVER) as the motor's last step."""
        b = _M0 + _MF * oid
        rel = clock - self.epoch
        fast = clock != _NEVER and 0 <= rel < _REL_LIMIT
        self.state[b + _HAS] = 1 if fast else 0
        self.state[b + _LAST] = rel if fast else 0
        self._far[oid] = _NEVER if fast else clock

    def _set_position(self, oid, steps):
        self.state[_M0 + _MF * oid + _POS] = steps + _BIAS

    # -- time ----------------------------------------------------------
    def set_now(self, now):
        """Tell the fast path the clock (ticks); moves the epoch when due."""
        rel = now - self.epoch
        if rel > _REBASE_AT:
            self._rebase(rel - (_REBASE_AT >> 1))
            rel = now - self.epoch
        self.state[_NOW] = rel if rel > 0 else 0

    def _rebase(self, shift):
        lasts = self.last_clock
        self.epoch += shift
        ends = self._ends
        for i in range(len(ends)):
            ends[i] = ends[i] - shift if ends[i] > shift else 0
        for oid in range(len(self.names)):
            self._set_last(oid, lasts[oid])
        hook = getattr(self.hal, "epoch_moved", None)
        if hook is not None:
            hook(self.epoch)

    # -- commands ------------------------------------------------------
    @link.command("set_step_clock", "ii")
    def cmd_set_step_clock(self, oid, clock):
        """Set the reference time of the motor's next run (MCU ticks)."""
        self.names[oid]                      # IndexError: no such motor
        self.set_now(self.hal.clock())
        self._set_last(oid, clock)
        self.stopped[oid] = 0

    def decode(self, buf, pos, end):
        """Queue the consecutive queue_step messages of ``buf[pos:end]``;
        returns where it stopped (``end``, or a message for :meth:`queue_step`).
        Allocates nothing but the clock's long int."""
        st = self.state
        st[_SKIP] = 0 if self.mcu.shutdown_reason is None else 1
        self.set_now(self.hal.clock())
        while True:
            pos = _decode(st, self._ends, self.inbox, buf, pos, end)
            taken = st[_NIN]
            if taken:
                self._deliver()
            # Stopped by a full inbox: go on; else the message is the slow path's.
            if pos >= end or buf[pos] != st[_MSGID] or taken < INBOX_RUNS:
                return pos

    @link.command("queue_step", "iiii")
    def cmd_queue_step(self, oid, interval, count, add):
        """Queue one run; shuts down if it is late or the queue is full.

        The reference path (exact Python ints): the link runs it for a message
        :func:`_decode` left, and tests call it directly."""
        self.set_now(self.hal.clock())
        self.queue_step(oid, interval, count, add)

    def queue_step(self, oid, interval, count, add):
        mcu = self.mcu
        if mcu.shutdown_reason is not None:
            return
        last = self._last(oid)
        if last == _NEVER and self.stopped[oid] and interval > 0 and count != 0:
            return      # the rest of a move an endstop cut short: dropped
        if last == _NEVER or interval <= 0 or count == 0:
            mcu.shutdown("invalid step run for motor %s" % self.names[oid])
            return
        first = last + interval
        now = self.epoch + self.state[_NOW]
        if first < now:
            mcu.shutdown("step run scheduled in the past (motor %s, %d ticks late)"
                         % (self.names[oid], now - first))
            return
        if not self._free_slot(oid):
            mcu.shutdown("step queue overflow on motor %s" % self.names[oid])
            return
        steps = count if count > 0 else -count
        end = last + steps * interval + add * steps * (steps - 1) // 2
        self._book(oid, end, count)
        self._set_last(oid, end)
        if self.state[_NIN]:
            self._deliver()
        self.hal.step_run(oid, first, interval, count, add)

    def _free_slot(self, oid):
        """Drop the finished runs of motor ``oid``; False when its ring is full."""
        st = self.state
        b = _M0 + _MF * oid
        size = self.queue_size
        ring = size * oid
        while st[b + _USED] and self._ends[ring + st[b + _HEAD]] < st[_NOW]:
            st[b + _HEAD] = (st[b + _HEAD] + 1) % size
            st[b + _USED] -= 1
        return st[b + _USED] < size

    def _book(self, oid, end, count):
        st = self.state
        b = _M0 + _MF * oid
        rel = end - self.epoch
        slot = (st[b + _HEAD] + st[b + _USED]) % self.queue_size
        self._ends[self.queue_size * oid + slot] = min(max(rel, 0), (1 << 31) - 1)
        st[b + _USED] += 1
        st[b + _POS] += count
        st[_RUNS] += 1

    def _deliver(self):
        """Hand the inbox to the HAL (in bulk when it can take it)."""
        st = self.state
        n = st[_NIN]
        st[_NIN] = 0
        inbox = self.inbox
        if self._take is not None:
            done = self._take(inbox, n, self.epoch)
            if done < n:
                self.hal.refused(inbox, done, n)
            return
        epoch = self.epoch
        for i in range(0, n * INBOX_FIELDS, INBOX_FIELDS):
            self.hal.step_run(inbox[i], inbox[i + 1] + epoch, inbox[i + 2],
                              inbox[i + 3] - _BIAS, inbox[i + 4] - _BIAS)
            if self.mcu.shutdown_reason is not None:
                return

    @link.command("get_position", "i")
    def cmd_get_position(self, oid):
        """Report the motor's commanded step position (after its queued runs)."""
        self.mcu.link.send(POSITION, oid, self.position[oid])

    @link.command("get_queue", "i")
    def cmd_get_queue(self, oid):
        """Report the motor's queue: slots in use and slots in all."""
        self.set_now(self.hal.clock())
        self._free_slot(oid)
        used = self.state[_M0 + _MF * oid + _USED]
        self.mcu.link.send(QUEUE, oid, used, self.queue_size)

    @link.command("enable_motors", "i")
    def cmd_enable_motors(self, on):
        """Energise (1) or release (0) every stepper driver; never after a shutdown."""
        if on and self.mcu.shutdown_reason is not None:
            return
        self.hal.enable_motors(bool(on))

    def motor_stopped(self, oid, position):
        """The HAL stopped motor ``oid`` (endstop) at ``position``: its queue is dropped."""
        self.state[_M0 + _MF * oid + _USED] = 0
        self._set_last(oid, _NEVER)
        self._set_position(oid, position)
        self.stopped[oid] = 1

    def stop(self, now):
        """Stop at clock ``now``: queued runs are dropped, drivers released.

        ``position`` then holds the steps actually taken (the HAL counts the
        steps of runs cut short).
        """
        taken = self.hal.stop_motors(now)
        for oid in range(len(self.names)):
            self.state[_M0 + _MF * oid + _USED] = 0
            self._set_last(oid, _NEVER)
            if taken is not None:
                self._set_position(oid, taken[oid])
        self.hal.enable_motors(False)


POSITION = link.response("position", "ii")
QUEUE = link.response("queue", "iii")


@micropython.viper
def _decode(st_obj, ends_obj, inbox_obj, buf_obj, pos: int, end: int) -> int:
    """Queue consecutive queue_step messages of ``buf[pos:end]`` into the
    rings and the inbox; returns the offset of the first message not taken."""
    st = ptr32(st_obj)          # noqa: F821 (viper builtin)
    ends = ptr32(ends_obj)      # noqa: F821
    inbox = ptr32(inbox_obj)    # noqa: F821
    buf = ptr8(buf_obj)         # noqa: F821
    msgid = st[_MSGID]
    size = st[_SIZE]
    motors = st[_MOTORS]
    now = st[_NOW]
    nin = st[_NIN]
    cap = st[_INCAP]
    skip = st[_SKIP]
    while pos < end and nin < cap and buf[pos] == msgid:
        # The motor: one byte (ids below 64). Then interval, count and add:
        # zigzag VLQs of at most four bytes (28 bits) into the scratch fields.
        if pos + 2 >= end:
            break
        oid = buf[pos + 1]
        if oid & 0x81 or (oid >> 1) >= motors:
            break
        oid = oid >> 1
        p = pos + 2
        k = 0
        while k < 3:
            value = 0
            shift = 0
            byte = 0x80
            while byte >= 0x80 and p < end and shift < 28:
                byte = buf[p]
                p += 1
                value |= (byte & 0x7F) << shift
                shift += 7
            if byte >= 0x80:
                break
            if value & 1:
                st[_V0 + k] = 0 - ((value + 1) >> 1) + _BIAS
            else:
                st[_V0 + k] = (value >> 1) + _BIAS
            k += 1
        if k < 3:
            break
        interval = st[_V0] - _BIAS
        count = st[_V0 + 1] - _BIAS
        add = st[_V0 + 2] - _BIAS
        if skip:
            pos = p
            continue
        b = _M0 + _MF * oid
        steps = count
        if count < 0:
            steps = 0 - count
        if steps < 256:
            limit = 1 << 21
        elif steps < 8192:
            limit = 1 << 16
        else:
            break
        if st[b + _HAS] == 0 or count == 0 or interval <= 0 or interval >= limit:
            break
        if add >= 2 * limit or add <= 0 - 2 * limit:
            break
        last_iv = interval + add * (steps - 1)
        if last_iv <= 0 or last_iv >= limit:
            break
        last = st[b + _LAST]
        first = last + interval
        if first < now:
            break
        finish = last + ((steps * (interval + last_iv)) >> 1)
        if finish >= _REL_LIMIT:
            break
        ring = size * oid
        head = st[b + _HEAD]
        used = st[b + _USED]
        while used > 0 and ends[ring + head] < now:
            head += 1
            if head == size:
                head = 0
            used -= 1
        st[b + _HEAD] = head
        if used >= size:
            st[b + _USED] = used
            break
        slot = head + used
        if slot >= size:
            slot -= size
        ends[ring + slot] = finish
        st[b + _USED] = used + 1
        st[b + _LAST] = finish
        st[b + _POS] += count
        st[_RUNS] += 1
        i = INBOX_FIELDS * nin
        inbox[i] = oid
        inbox[i + 1] = first
        inbox[i + 2] = interval
        inbox[i + 3] = count + _BIAS
        inbox[i + 4] = add + _BIAS
        nin += 1
        pos = p
    st[_NIN] = nin
    return pos
