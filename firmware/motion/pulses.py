# Mendel firmware: step runs expanded into pulse words for a hardware sequencer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Step runs (interval, count, add) become (direction, count, delay) words.

Suffixes: ``_cycles`` are sequencer cycles (PIO cycles on the RP2040); every
time here is a cycle count on one motor's stream, kept below 2**30 by
:meth:`PulseStream.rebase`, so the same code gives the same numbers as
CPython ints, as 64-bit viper ints (unix port) and as 32-bit viper ints
(RP2040), and stays a small int (no heap) on a 32-bit board.

A word holds a direction level, n steps (0 for an idle word) and a delay d.
The sequencer's timing is described by the figures in ``timing`` (for the
RP2040 program: ``hal/rp2_pio.py``, checked on the PIO emulator): a word
pulled at cycle s sets the dir pin at ``s + dir_lag``; its steps rise at
``s + first_rise + d + k*P`` with ``P = d + pulse + period_overhead``; it ends
(the next word starts) at ``s + n*P``; an idle word ends at
``s + d + idle_overhead``. Hence a step at commanded cycle T after a stream
that ends at E needs ``d = T - E - first_rise``; steps of a run at a constant
interval share one word (up to ``2**count_bits - 1`` of them); an ``add``
changes every interval, so accelerating runs become one word per step. A gap
longer than one word can wait becomes idle words.

Two guarantees are kept by moving a step later, never earlier, and counting
it in ``late``: the sequencer's own minimum (``d >= 0``) and the driver's
direction setup time (``setup_cycles`` from a dir change to the next rise).

The ring is filled in place for a DMA reader: words go after the last one the
reader has not consumed, then an all-zero *halt* word, and the first new word
is stored last, so a reader that catches up meets a halt word, never a stale
one (the RP2040 program halts on it: an underrun). A reader prefetches (the
RP2040 DMA fills the 4-word TX FIFO as soon as it has room), so whenever the
known stream ends, ``TAIL_WORDS`` shortest idle words (d = 1) follow it: the
halt word is fetched only once the sequencer is within those few cycles of
the end, which is a true underrun, not a long last word still running. The
horizon fill is cut into idle words of at most :meth:`PulseStream.idle_cap`
cycles. The position after any word still in the ring follows from the
stream's position and the words after it (:meth:`PulseStream.position_at`),
so a halt at an endstop can be turned into the exact trigger position; no
position is stored per word (8 KB on a four-motor board).
"""
import array

import micropython
from micropython import const

# Fields of the state array (int32).
_PULSE = const(0)       # step pin high time, cycles
_FIRST = const(1)       # word start to first rise at d = 0, cycles
_PERIOD0 = const(2)     # step period at d = 0 (pulse + period_overhead)
_IDLE0 = const(3)       # idle word length at d = 0
_DIRLAG = const(4)      # word start to dir pin change
_SETUP = const(5)       # dir change to next rise, at least (driver tDSU)
_DMAX = const(6)        # largest delay field
_CMAX = const(7)        # largest count field
_RMASK = const(8)       # ring words - 1 (a power of two)
_QMASK = const(9)       # run slots - 1 (a power of two)
_WRITE = const(10)      # ring index of the halt word (next to write)
_READ = const(11)       # ring index the reader takes next
_END = const(12)        # stream end: start cycle of the next word
_DIR = const(13)        # dir level of the last word
_DIRAT = const(14)      # cycle at which the dir pin took that level
_RISE = const(15)       # cycle of the last rise written
_POS = const(16)        # position after the last word written, steps
_QHEAD = const(17)
_QUSED = const(18)
_LEFT = const(19)       # steps left in the head run (0: not started)
_NEXT = const(20)       # cycle of the head run's next step
_IV = const(21)         # interval after that step
_LATE = const(22)       # steps moved later than commanded
_INVERT = const(23)     # 1: dir level low for positive counts
_SHIFT_N = const(24)    # bit of the count field
_SHIFT_D = const(25)    # bit of the delay field
_IDLECAP = const(26)    # longest idle word of the horizon fill
_TAIL = const(27)       # shortest idle words at the end of the stream
_FIELDS = const(28)
# Shortest idle words kept after the last word (see the module docstring):
# more than the reader prefetches (RP2040: 4-word TX FIFO + OSR).
TAIL_WORDS = const(6)
# Run slots: first step cycle, interval, steps + _UP if count > 0, add + _BIAS.
# Every int32 the viper code reads is kept >= 0: the unix port's 64-bit
# viper zero-extends 32-bit loads, so a stored negative would read as huge.
_RUN = const(4)
_UP = const(1 << 29)            # direction flag in the steps field
_STEPS = const((1 << 29) - 1)
_BIAS = const(1 << 29)
# Largest time kept before a rebase (cycles); far below 2**30.
REBASE_AT = const(1 << 28)
# Runs further ahead than this on their stream are not queued yet (cycles).
FAR_CYCLES = const(1 << 29)
# Steps are written at most this far past the horizon (cycles), in batches
# (see _fill): a long slow run is written as the clock nears it, so times
# stay below 2**30.
AHEAD_CYCLES = const(1 << 27)
# take_inbox: bias of the step queue inbox (motion/stepper.py _BIAS) and the
# fields of its timing array.
INBOX_BIAS = const(1 << 29)
TIMING_MULT = const(0)
TIMING_FAR = const(1)
TIMING_REBASE = const(2)    # refill_streams: bit per stream that is due a rebase
TIMING_T0 = const(3)


def _ints(size):
    return array.array("i", bytes(4 * size))


class PulseStream:
    """One motor's queued runs, its word ring and the expansion state.

    ``timing`` is ``(dir_lag, first_rise, period_overhead, idle_overhead,
    count_bits, delay_bits)``; ``pulse_cycles`` and ``setup_cycles`` come from
    the board. ``run_slots`` and ``ring_words`` are rounded up to powers of
    two; ``ring`` may be a caller's buffer (the RP2040 DMA needs it aligned to
    its size) of ``ring_words`` 32-bit words. Allocates only here.
    """

    def __init__(self, timing, pulse_cycles, setup_cycles, run_slots, ring_words,
                 ring=None, invert_dir=False):
        dir_lag, first_rise, period_overhead, idle_overhead, count_bits, delay_bits = timing
        slots = _power_of_two(run_slots)
        words = _power_of_two(ring_words)
        st = self.state = _ints(_FIELDS)
        st[_PULSE] = pulse_cycles
        st[_FIRST] = first_rise
        st[_PERIOD0] = pulse_cycles + period_overhead
        st[_IDLE0] = idle_overhead
        st[_DIRLAG] = dir_lag
        st[_SETUP] = setup_cycles
        st[_DMAX] = (1 << delay_bits) - 1
        st[_CMAX] = (1 << count_bits) - 1
        st[_RMASK] = words - 1
        st[_QMASK] = slots - 1
        st[_INVERT] = 1 if invert_dir else 0
        st[_SHIFT_N] = 1
        st[_SHIFT_D] = 1 + count_bits
        st[_IDLECAP] = st[_DMAX]
        self.runs = _ints(_RUN * slots)
        self.ring = ring if ring is not None else array.array("I", bytes(4 * words))
        self.words = words

    # -- queue ---------------------------------------------------------
    def queue(self, first_cycles, interval_cycles, count, add_cycles):
        """Append a run (first step at ``first_cycles``); False when the slots are full."""
        st = self.state
        if st[_QUSED] > st[_QMASK]:
            return False
        i = _RUN * ((st[_QHEAD] + st[_QUSED]) & st[_QMASK])
        runs = self.runs
        runs[i] = first_cycles
        runs[i + 1] = interval_cycles
        runs[i + 2] = (count | _UP) if count > 0 else -count
        runs[i + 3] = add_cycles + _BIAS
        st[_QUSED] += 1
        return True

    def fill(self, horizon_cycles):
        """Write words while the ring has room; idle words up to ``horizon_cycles``,
        steps up to ``AHEAD_CYCLES`` past it.

        Returns the number of words written. No allocation (viper on MicroPython).
        """
        return _fill(self.state, self.runs, self.ring, horizon_cycles)

    def idle_cap(self, cycles):
        """Longest idle word written to reach the horizon (at least 1 cycle).

        A DMA reader prefetches words into the sequencer's FIFO as soon as
        there is room, halt word included; cutting the horizon into several
        idle words keeps enough words ahead of it.
        """
        self.state[_IDLECAP] = max(1, min(cycles, self.state[_DMAX]))

    def consumed(self, read_index):
        """Tell the stream the reader's next ring index (0..ring words - 1)."""
        self.state[_READ] = read_index & self.state[_RMASK]

    def clear(self, end_cycles, position):
        """Drop everything queued: the stream restarts empty at ``end_cycles``."""
        st = self.state
        for field in (_WRITE, _READ, _QHEAD, _QUSED, _LEFT, _TAIL):
            st[field] = 0
        st[_END] = st[_RISE] = st[_DIRAT] = end_cycles
        st[_POS] = position
        _zero(self.ring, self.words)

    def rebase(self, shift_cycles):
        """Subtract ``shift_cycles`` from every time held (keeps them small ints).

        Times of past events (last rise, dir change) stop at 0: older than
        anything a period or setup time compares them with.
        """
        st = self.state
        st[_END] -= shift_cycles
        for field in (_DIRAT, _RISE, _NEXT):
            st[field] = max(st[field] - shift_cycles, 0)
        runs = self.runs
        for k in range(st[_QUSED]):
            runs[_RUN * ((st[_QHEAD] + k) & st[_QMASK])] -= shift_cycles

    # -- read-outs -----------------------------------------------------
    @property
    def end(self):
        """Cycle at which the words written so far run out."""
        return self.state[_END]

    @property
    def position(self):
        """Step position after the words written so far."""
        return self.state[_POS]

    @position.setter
    def position(self, steps):
        self.state[_POS] = steps

    @property
    def late(self):
        """Steps emitted later than commanded (sequencer minimum or dir setup)."""
        return self.state[_LATE]

    def written(self):
        """Ring index of the halt word: the reader's index once it took all."""
        return self.state[_WRITE]

    def pending(self):
        """Runs queued and not yet fully written (int)."""
        st = self.state
        return st[_QUSED]

    def level_sign(self, level):
        """+1 or -1: the step direction of a word's dir level."""
        return 1 if (level ^ self.state[_INVERT]) else -1

    def position_at(self, index, left):
        """Position when the reader stopped inside word ``index`` with ``left``
        of its steps not taken (the RP2040 endstop path reports ``left - 1``)."""
        word = _peek(self.ring, index)
        return self.position_before(index + 1) - self.level_sign(word & 1) * left

    def position_before(self, index):
        """Position after every word before ring word ``index`` ran, and none
        from ``index`` on."""
        mask = self.state[_RMASK]
        return self.state[_POS] - _steps_after(self.state, self.ring, (index - 1) & mask)

    def word_steps(self, index):
        """Steps in ring word ``index``."""
        return (_peek(self.ring, index) >> self.state[_SHIFT_N]) & self.state[_CMAX]

    def first_possible(self):
        """Earliest cycle a new run's first step can have without coming late."""
        st = self.state
        return st[_END] + st[_FIRST]


def _power_of_two(n):
    size = 1
    while size < n:
        size <<= 1
    return size


@micropython.viper
def _peek(buf, index: int) -> int:
    return ptr32(buf)[index]     # noqa: F821 (viper builtin)


@micropython.viper
def _steps_after(st_obj, ring_obj, index: int) -> int:
    """Signed steps of the ring words after ``index`` up to the halt word:
    what the stream's position holds beyond word ``index``. No allocation."""
    st = ptr32(st_obj)        # noqa: F821 (viper builtin)
    ring = ptr32(ring_obj)    # noqa: F821
    mask = st[_RMASK]
    shift_n = st[_SHIFT_N]
    cmax = st[_CMAX]
    invert = st[_INVERT]
    i = (index + 1) & mask
    total = 0
    while i != st[_WRITE]:
        word = ring[i]
        steps = (word >> shift_n) & cmax
        if (word & 1) ^ invert:
            total += steps
        else:
            total -= steps
        i = (i + 1) & mask
    return total


@micropython.viper
def _zero(buf, words: int):
    p = ptr32(buf)               # noqa: F821
    for i in range(words):
        p[i] = 0


@micropython.viper
def _fill(st_obj, runs_obj, ring_obj, horizon: int) -> int:
    st = ptr32(st_obj)        # noqa: F821 (viper builtin)
    runs = ptr32(runs_obj)    # noqa: F821
    ring = ptr32(ring_obj)    # noqa: F821
    rmask = st[_RMASK]
    write = st[_WRITE]
    free = rmask - ((write - st[_READ]) & rmask)
    first_slot = write
    first_word = 0
    written = 0
    end = st[_END]
    rise = st[_RISE]
    level = st[_DIR]
    pos = st[_POS]
    shift_n = st[_SHIFT_N]
    shift_d = st[_SHIFT_D]
    pend_n = 0
    pend_d = 0
    pend_level = 0
    pend_period = 0
    tail = st[_TAIL]
    # Steps are written in batches: up to AHEAD_CYCLES past the horizon, once
    # what is written reaches less than half that far.
    reach = horizon + AHEAD_CYCLES
    if st[_END] > horizon + (AHEAD_CYCLES >> 1):
        reach = horizon
    pulse = st[_PULSE]
    first_rise = st[_FIRST]
    period0 = st[_PERIOD0]
    idle0 = st[_IDLE0]
    dir_lag = st[_DIRLAG]
    setup = st[_SETUP]
    dmax = st[_DMAX]
    cmax = st[_CMAX]
    invert = st[_INVERT]
    qmask = st[_QMASK]
    idle_cap = st[_IDLECAP]
    left = st[_LEFT]
    next_t = st[_NEXT]
    iv = st[_IV]
    qhead = st[_QHEAD]
    qused = st[_QUSED]
    late = st[_LATE]
    dir_at = st[_DIRAT]
    # The head run's direction and add, read once per run.
    q = _RUN * qhead
    sign = 1
    step_level = 0
    add = 0
    if left > 0:
        up = runs[q + 2] >> 29
        sign = 1 if up else -1
        step_level = up ^ invert
        add = runs[q + 3] - _BIAS
    while True:
        word = 0
        tiny = 0
        direct = 0
        if left == 0 and qused > 0:
            q = _RUN * qhead
            left = runs[q + 2] & _STEPS
            next_t = runs[q]
            add = runs[q + 3] - _BIAS
            iv = runs[q + 1] + add
            up = runs[q + 2] >> 29
            sign = 1 if up else -1
            step_level = up ^ invert
        if left > 0 and next_t < reach:   # (a step further on waits: the
            t = next_t                      # stream idles to the horizon)
            if (pend_n > 0 and pend_level == step_level and pend_n < cmax
                    and t - rise == pend_period):
                pend_n += 1
            elif pend_n > 0:
                word = pend_level | (pend_n << shift_n) | (pend_d << shift_d)
                end = rise + pulse + 1
                pend_n = 0
                free += 1                 # the flush takes its reserved slot
            else:
                if step_level != level:
                    level = step_level
                    dir_at = end + dir_lag
                when = t
                if when < end + first_rise:
                    when = end + first_rise
                if when < dir_at + setup:
                    when = dir_at + setup
                gap = when - end - first_rise
                if gap > dmax:
                    if free == 0:
                        break
                    idle = gap - idle0
                    if idle > dmax:
                        idle = dmax
                    word = level | (idle << shift_d)
                    end += idle + idle0
                else:
                    if free == 0:
                        break
                    if when != t:
                        late += 1
                    if add != 0:
                        # An accelerating run: its intervals all differ, so
                        # each step is a word of its own, written at once.
                        word = step_level | (1 << shift_n) | (gap << shift_d)
                        end = when + pulse + 1
                        direct = 1
                    else:
                        free -= 1         # the slot the pending word will take
                        pend_n = 1
                        pend_d = gap
                        pend_level = step_level
                        pend_period = gap + period0
                    t = when
            if word == 0 or direct:       # the step went into a word
                rise = t
                pos += sign
                next_t += iv
                iv += add
                left -= 1
                if left == 0:
                    qhead = (qhead + 1) & qmask
                    qused -= 1
                if word == 0:             # (the pending one: go on)
                    continue
        elif pend_n > 0:
            word = pend_level | (pend_n << shift_n) | (pend_d << shift_d)
            end = rise + pulse + 1
            pend_n = 0
            free += 1
        elif end < horizon and free > 0:
            idle = horizon - end - idle0
            if idle < 1:
                idle = 1
            if idle > idle_cap:
                idle = idle_cap
            word = level | (idle << shift_d)
            end += idle + idle0
        elif tail < TAIL_WORDS and free > 0:
            word = level | (1 << shift_d)
            end += 1 + idle0
            tiny = 1
        else:
            break
        tail = tail + 1 if tiny else 0
        free -= 1
        if write == first_slot:
            first_word = word
        else:
            ring[write] = word
        write = (write + 1) & rmask
        written += 1
    if written > 0:
        ring[write] = 0
        ring[first_slot] = first_word
    st[_LEFT] = left
    st[_NEXT] = next_t
    st[_IV] = iv
    st[_QHEAD] = qhead
    st[_QUSED] = qused
    st[_LATE] = late
    st[_DIRAT] = dir_at
    st[_WRITE] = write
    st[_END] = end
    st[_RISE] = rise
    st[_DIR] = level
    st[_POS] = pos
    st[_TAIL] = tail
    return written


@micropython.viper
def take_inbox(states, slots, inbox_obj, n: int, timing_obj) -> int:
    """Queue the first ``n`` runs of a step queue inbox (motor, first step
    _rel, interval, count + INBOX_BIAS, add + INBOX_BIAS; ticks) into the
    streams (``states``/``slots``: each PulseStream's ``state``/``runs``)
    until one is late, finds its slots full or lies FAR_CYCLES ahead;
    returns how many were queued. ``timing``: cycles per tick, FAR_CYCLES in
    ticks, then each stream's cycle 0 in _rel ticks + INBOX_BIAS (see
    motion/intake.py). No allocation."""
    inbox = ptr32(inbox_obj)      # noqa: F821 (viper builtin)
    timing = ptr32(timing_obj)    # noqa: F821
    mult = timing[TIMING_MULT]
    far = timing[TIMING_FAR]
    held = 0
    st = ptr32(states[0])         # noqa: F821
    runs = ptr32(slots[0])        # noqa: F821
    i = 0
    while i < n:
        e = 5 * i
        oid = inbox[e]
        ahead = inbox[e + 1] - (timing[TIMING_T0 + oid] - INBOX_BIAS)
        if ahead >= far:
            break
        if oid != held:           # (a list look-up costs more than the rest)
            st = ptr32(states[oid])   # noqa: F821
            runs = ptr32(slots[oid])  # noqa: F821
            held = oid
        first = ahead * mult
        if first < st[_END] + st[_FIRST]:
            break
        used = st[_QUSED]
        if used > st[_QMASK]:
            break
        q = _RUN * ((st[_QHEAD] + used) & st[_QMASK])
        count = inbox[e + 3] - INBOX_BIAS
        runs[q] = first
        runs[q + 1] = inbox[e + 2] * mult
        if count > 0:
            runs[q + 2] = count | _UP
        else:
            runs[q + 2] = 0 - count
        runs[q + 3] = (inbox[e + 4] - INBOX_BIAS) * mult + _BIAS
        st[_QUSED] = used + 1
        i += 1
    return i


@micropython.viper
def refill_streams(states, slots, rings, timing_obj, now_rel: int,
                   lead: int, skip: int) -> int:
    """Fill every stream up to ``lead`` cycles past the clock ``now_rel``
    (ticks after the step queues' epoch; each stream's cycle 0 is in
    ``timing``, see take_inbox). Sets ``timing[TIMING_REBASE]`` to a bit per
    stream whose clock passed REBASE_AT; returns the most words any stream
    took (a ring that filled up takes ring words - 1). Streams whose bit is
    set in ``skip`` (halted ones) are left alone. No allocation."""
    timing = ptr32(timing_obj)    # noqa: F821 (viper builtin)
    mult = timing[TIMING_MULT]
    count = int(len(states))
    most = 0
    due = 0
    oid = 0
    while oid < count:
        if skip & (1 << oid):
            oid += 1
            continue
        at = (now_rel - (timing[TIMING_T0 + oid] - INBOX_BIAS)) * mult
        written = int(_fill(states[oid], slots[oid], rings[oid], at + lead))
        if written > most:
            most = written
        if at > REBASE_AT:
            due |= 1 << oid
        oid += 1
    timing[TIMING_REBASE] = due
    return most


@micropython.viper
def drain_all(states) -> int:
    """A reader that never waits (benchmarks, tests): every stream's read
    index moves to its halt word. Returns the words taken. No allocation."""
    taken = 0
    for i in range(int(len(states))):
        st = ptr32(states[i])       # noqa: F821 (viper builtin)
        taken += (st[_WRITE] - st[_READ]) & st[_RMASK]
        st[_READ] = st[_WRITE]
    return taken
