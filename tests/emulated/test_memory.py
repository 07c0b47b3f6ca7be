"""Heap on the emulated RP2040 with every step queue and PIO ring full."""
import json

import pytest

from conftest import connect

pytestmark = pytest.mark.emulated

HEAP_BUDGET_BYTES = 96 * 1024       # code (.mpy in RAM) and data together
AHEAD_TICKS = 2 * 12000000          # runs start 2 s on: under the streams' far limit
INTERVAL_TICKS = 1200               # 100 us between steps
STEPS = 6                           # steps per run; add != 0: one ring word a step


def test_heap_with_full_queues_and_rings_fits_the_budget(emulator, tmp_path):
    """Every motor's step queue holds step_queue_size runs of accelerating
    steps (more ring words than a ring holds, so the PIO rings are full too);
    get_memory then reports at most 96 KB of heap in use. The figures are
    printed and kept in memory.json."""
    port, mcu = connect(emulator)
    try:
        size = mcu.info["step_queue_size"]
        start = mcu.estimated_clock() + AHEAD_TICKS
        for oid in range(len(mcu.info["motors"])):
            mcu.send("set_step_clock", oid, start)
            for _ in range(size):
                mcu.send("queue_step", oid, INTERVAL_TICKS, STEPS, -1)
        mcu.flush()
        used = [mcu.queue_used(oid) for oid in range(len(mcu.info["motors"]))]
        alloc, free = mcu.query("get_memory", (), "memory")
        late = mcu.estimated_clock() < start
    finally:
        port.close()
    figures = {"used_bytes": alloc, "free_bytes": free, "queue_used": used,
               "queue_size": size, "measured_before_first_step": late}
    (tmp_path / "memory.json").write_text(json.dumps(figures))
    print("\nheap on the emulated RP2040 with full queues:", json.dumps(figures))
    assert late, "the queues started running before the heap was measured"
    assert used == [size] * len(used)
    assert 0 < alloc <= HEAP_BUDGET_BYTES, "heap in use %d bytes, budget %d" % (
        alloc, HEAP_BUDGET_BYTES)
