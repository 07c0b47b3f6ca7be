"""motion/pulses.py on its own (CPython and micropython, where _fill is viper):
the same runs give the same step times whatever the stream's time base, the
halt word always follows the last word, and the ring never overwrites words
the reader has not taken."""
from hal import rp2_pio
from motion.pulses import TAIL_WORDS, PulseStream

TIMING = (rp2_pio.DIR_LAG, rp2_pio.FIRST_RISE, rp2_pio.PERIOD_OVERHEAD,
          rp2_pio.IDLE_OVERHEAD, rp2_pio.COUNT_BITS, rp2_pio.DELAY_BITS)
PULSE = 13
RUNS = [(400, 300, 5, 0), (1900, 260, 6, -20), (3760, 120, -4, 15), (4500, 90, -8, 0)]


def rises(words, start=0):
    """Rise cycles and levels of ring words, by the program's timing (rp2_pio)."""
    out, t = [], start
    for word in words:
        level, steps, delay = word & 1, (word >> 1) & 1023, word >> 11
        if steps == 0:
            t += delay + rp2_pio.IDLE_OVERHEAD
            continue
        period = delay + PULSE + rp2_pio.PERIOD_OVERHEAD
        for k in range(steps):
            out.append((t + rp2_pio.FIRST_RISE + delay + k * period, level))
        t += steps * period
    return out


def drain(ps, limit=100000):
    """Fill and consume until nothing is left; returns every word in order."""
    words = []
    read = ps.state[11]                 # the reader's index (_READ)
    while limit:
        limit -= 1
        written = ps.fill(0)
        if not written:
            break
        mask = ps.words - 1
        for k in range(written):
            words.append(ps.ring[(read + k) & mask])
        read = (read + written) & mask
        ps.consumed(read)
    return words


def commanded(runs, shift=0):
    out = []
    for last, interval, count, add in runs:
        for k in range(1, abs(count) + 1):
            out.append((last + shift + k * interval + add * k * (k - 1) // 2,
                        1 if count > 0 else 0))
    return out


def test_runs_expand_to_their_commanded_cycles_through_a_small_ring():
    ps = PulseStream(TIMING, PULSE, 3, 8, 16)          # 16 words: laps many times
    for last, interval, count, add in RUNS:
        assert ps.queue(last + interval, interval, count, add)
    words = drain(ps)
    assert rises(words) == commanded(RUNS)
    assert ps.position == sum(r[2] for r in RUNS)
    assert all((w >> 1) & 1023 == 0 for w in words[-TAIL_WORDS:])   # the tail


def test_a_rebase_mid_stream_changes_no_step():
    shift = 2000
    ps = PulseStream(TIMING, PULSE, 3, 8, 16)
    for last, interval, count, add in RUNS[:2]:
        ps.queue(last + interval, interval, count, add)
    words = drain(ps)
    ps.rebase(shift)
    for last, interval, count, add in RUNS[2:]:
        ps.queue(last - shift + interval, interval, count, add)
    later = drain(ps)
    assert rises(words + later) == commanded(RUNS)


def test_the_halt_word_follows_the_last_word_and_unread_words_are_kept():
    ps = PulseStream(TIMING, PULSE, 3, 8, 16)
    ps.queue(300, 300, 40, 1)                          # 40 words: more than the ring
    written = ps.fill(0)
    assert written == 15                               # one slot stays for the halt word
    assert ps.ring[15] == 0
    assert ps.fill(0) == 0                             # the reader took nothing yet
    ps.consumed(4)
    assert ps.fill(0) == 4 and ps.ring[(15 + 4) & 15] == 0


def test_a_long_run_is_written_as_the_clock_nears_and_its_cut_ends_with_tail_words():
    """A slow run longer than AHEAD_CYCLES is not written at once (its times
    would pass 2**30); where the writing stops, TAIL_WORDS shortest idle words
    follow, so a prefetching reader meets the halt word only at a true end.
    Written on as the horizon moves, its steps come out exact."""
    from motion.pulses import AHEAD_CYCLES
    ps = PulseStream(TIMING, PULSE, 1, 8, 512)
    interval = 1 << 20
    steps = 400                             # 400 * 2**20 cycles: past AHEAD_CYCLES
    ps.queue(1000, interval, steps, 0)
    first = ps.fill(0)
    words = [ps.ring[i] for i in range(first)]
    assert ps.pending() == 1                # the run is not all written
    assert words[-TAIL_WORDS:] == [(1 << 11) | 1] * TAIL_WORDS   # d = 1, dir level 1
    assert ps.ring[first] == 0              # then the halt word
    assert rises(words)[-1][0] < AHEAD_CYCLES + 2 * interval
    horizon = 0
    while ps.pending():
        horizon += AHEAD_CYCLES // 2
        ps.consumed(ps.written())
        start = ps.written()
        n = ps.fill(horizon)
        words += [ps.ring[(start + k) % 512] for k in range(n)]
    times = [t for t, _level in rises(words)]
    assert times == [1000 + k * interval for k in range(steps)]
