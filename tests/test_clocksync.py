"""Clock sync: drift, jitter, outliers and 32-bit wrap; fault spec parsing."""
import random

import pytest

from mendel.mcu.clocksync import ClockSync
from mendel.mcu.faults import FaultSpecError, parse_faults

NOMINAL = 12_000_000


def board_clock(t, freq, offset):
    return int(offset + t * freq)


@pytest.mark.parametrize("ppm", [-80.0, 0.0, 50.0])
def test_estimate_follows_drift_through_jitter_outliers_and_wrap(ppm):
    rng = random.Random(3)
    freq = NOMINAL * (1 + ppm * 1e-6)
    offset = (1 << 32) - 5 * NOMINAL          # wraps 32 bits after 5 s
    sync = ClockSync(NOMINAL)
    t = 100.0
    for i in range(40):
        sent = t
        rtt = rng.uniform(100e-6, 300e-6)
        if i % 7 == 3:
            rtt = 0.02                          # an answer that waited: outlier
        answered = sent + rng.uniform(0.2, 0.8) * rtt
        clock32 = board_clock(answered - 100.0, freq, offset) & 0xFFFFFFFF
        sync.add_sample(sent, sent + rtt, clock32)
        t += 0.5
    truth = board_clock(t - 100.0, freq, offset)
    assert abs(sync.clock_at(t) - truth) < 0.0002 * NOMINAL   # within 200 us
    assert sync.freq == pytest.approx(freq, rel=20e-6)      # jitter of +-90 us over 7.5 s
    assert sync.last_clock > 1 << 32                          # extended past the wrap


def test_extension_handles_a_slightly_older_answer():
    sync = ClockSync(NOMINAL)
    assert sync.extend(0xFFFFFF00) == 0xFFFFFF00
    assert sync.extend(0x10) == (1 << 32) + 0x10
    assert sync.extend(0xFFFFFFF0) == 0xFFFFFFF0     # a stale answer from before the wrap


def test_fault_spec():
    assert parse_faults("drop=1e-3,flip=0.01,cut=1@5,seed=4") == {
        "drop": 1e-3, "flip": 0.01, "cut": (1.0, 5.0), "seed": 4}
    for bad in ("drop=2", "melt=1e-3", "drop", "cut=x@1"):
        with pytest.raises(FaultSpecError):
            parse_faults(bad)
