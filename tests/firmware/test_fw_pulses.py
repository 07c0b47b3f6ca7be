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
        mask = len(ps.positions) - 1
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
