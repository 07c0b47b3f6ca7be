"""Bulk decoding of queue_step (viper) against the per-message reference path.

The same frames of real-looking runs go through both; the step queues, the
pulse streams and every pulse word written must come out the same. Also the
fast path's bounds: runs it cannot take (long, slow, far ahead) fall back to
the reference, and a late or overflowing run still shuts the board down with
the reference's words.
"""
import json

import bench
from mcu import Mcu
from test_fw_link import Lcg


def runs(count, seed=5):
    """(motor, first, interval, count, add) rows: accelerating, cruising and
    slow runs, some long, some after a pause (a set_step_clock)."""
    rng = Lcg(seed)
    ends = [1000000] * 4
    rows = []
    for _ in range(count):
        motor = rng.next(4)
        kind = rng.next(10)
        steps = 1 + rng.next(60)
        interval = 200 + rng.next(20000)
        add = 0
        if kind < 5:
            add = rng.next(40) - 20
            if interval + add * (steps - 1) < 50:
                add = 0
        elif kind == 5:
            steps = 9000 + rng.next(100)           # past the fast path's 8192 steps
        elif kind == 6:
            interval = 3000000 + rng.next(1000)    # past its 2**21-tick intervals
            steps = 2
        gap = 12000000 if kind == 7 else 0         # a pause: set_step_clock
        last = ends[motor] + gap
        sign = -1 if rng.next(2) else 1
        rows.append((motor, last + interval, interval, sign * steps, add))
        ends[motor] = last + steps * interval + add * steps * (steps - 1) // 2
    rows.sort(key=lambda r: r[1])
    return rows


def feed(rows, bulk):
    probe = Mcu(bench._BenchHal(b"", 4), bench._BOARD)
    data, marks = bench.encode(iter(rows), json.loads(probe.link.identify_text())["commands"],
                               bench._Buffer(len(rows) * 40))
    hal = bench._BenchHal(data, 4)
    mcu = Mcu(hal, bench._BOARD)
    if not bulk:
        mcu.link._bulk.clear()
    ring = []
    for end, clock in marks:
        hal.feed(end, clock - 2 * bench._LEAD_TICKS)
        while hal.wait(0):
            mcu.link.poll(0)
        for stream in hal.streams:          # the words, as they are written
            before = stream.written()
            hal.service()
            ring.append((before, stream.written(), stream.position))
    return mcu, hal, ring


def test_bulk_and_reference_paths_give_the_same_queues_and_words():
    rows = runs(300)
    fast, fast_hal, fast_ring = feed(rows, True)
    slow, slow_hal, slow_ring = feed(rows, False)
    assert fast.shutdown_reason is None and slow.shutdown_reason is None
    assert fast.steppers.runs == slow.steppers.runs == len(rows)
    assert fast.steppers.position == slow.steppers.position
    assert fast.steppers.last_clock == slow.steppers.last_clock
    assert fast_hal.words == slow_hal.words > 0
    assert fast_ring == slow_ring
    for a, b in zip(fast_hal.streams, slow_hal.streams):
        assert list(a.ring) == list(b.ring)
        assert a.position == b.position and a.late == b.late == 0
    expected = [0, 0, 0, 0]
    for motor, _first, _interval, count, _add in rows:
        expected[motor] += count
    assert fast.steppers.position == expected


def test_a_late_run_shuts_down_with_the_reference_words_in_bulk():
    rows = [(0, 2000000, 1000, 5, 0), (0, 2010000, 1000, 5, 0)]
    probe = Mcu(bench._BenchHal(b"", 4), bench._BOARD)
    data, marks = bench.encode(iter(rows), json.loads(probe.link.identify_text())["commands"],
                               bench._Buffer(len(rows) * 40))
    hal = bench._BenchHal(data, 4)
    mcu = Mcu(hal, bench._BOARD)
    hal.feed(marks[-1][0], 10 ** 8)         # the clock is long past both runs
    while hal.wait(0):
        mcu.link.poll(0)
    assert "scheduled in the past" in mcu.shutdown_reason
    assert mcu.steppers.runs == 0
