"""A ring that really runs dry on the emulated RP2040: the board shuts down and
reports the steps its motor really made."""
import pytest

from conftest import connect
from edges import net_steps
from mendel.mcu.mcu import McuShutdown

pytestmark = pytest.mark.emulated

AHEAD_TICKS = 12000000 // 5         # the run starts 0.2 s after it is sent
INTERVAL_TICKS = 1200               # 100 us at first, then faster
STEPS, ADD = 1000, -1               # one ring word a step: about twice a ring
STALL_CYCLES = 120000000 // 10      # 0.1 s without the CPU (at 120 MHz)


def test_a_ring_that_runs_dry_shuts_down_with_the_steps_really_made(emulator):
    """X gets one accelerating run of 1000 steps (one PIO word each; the ring
    holds 511). Once it moves, the emulated CPU stops for 0.1 s while the PIO
    and DMA go on, so nothing refills the ring: the state machine meets the
    halt word (so do the idle motors, whose streams are written 60 ms ahead).
    The board then shuts down with a step underrun, and the step position it
    reports for X is the count of edges on its step pin, more than 0 and
    fewer than the run's 1000."""
    motor = emulator.board["motors"][0]
    port, mcu = connect(emulator)
    try:
        mcu.send("enable_motors", 1)
        start = mcu.estimated_clock() + AHEAD_TICKS
        mcu.send("set_step_clock", 0, start)
        mcu.send("queue_step", 0, INTERVAL_TICKS, STEPS, ADD)
        mcu.flush()
        for _ in range(1000):                             # until X is seen moving
            mcu.pump(0.01)
            if net_steps(emulator, motor) >= 20:
                break
        emulator.request("stall", cycles=STALL_CYCLES)
        with pytest.raises(McuShutdown, match="step underrun on motor"):
            for _ in range(400):
                mcu.pump(0.01)
    finally:
        port.close()
    port, mcu = connect(emulator)                          # clears the shutdown
    try:
        (_oid, position) = mcu.query("get_position", (0,), "position",
                                     match=lambda a: a[0] == 0)
    finally:
        port.close()
    made = net_steps(emulator, motor)
    print("\nunderrun on the emulated RP2040: X made %d of %d steps, the board says %d"
          % (made, STEPS, position))
    assert 0 < made < STEPS
    assert position == made, "the board reports %d steps, its pin made %d" % (position, made)
