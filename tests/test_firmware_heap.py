"""Heap use of the firmware on the MicroPython unix port (rp2 backend, fakes at the boundary).

``tests/firmware/heap_probe.py`` builds the firmware for a four-motor board
with 128-run queues, fills every queue and DMA ring, runs the motion, and
reports GC heap in use after each phase. Figures are printed; the firmware's
data (everything it makes at start-up and while its queues are full) must fit
in 96 KB. The bytecode of its modules is reported apart: on a board it lives
in RAM when loaded from .mpy files and in flash when frozen into the image.
The unix port is 64-bit, so pointer-sized objects take twice what they take
on the RP2040: these figures are upper bounds for the board.
"""
import json
import os
import subprocess

from paths import FIRMWARE

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "firmware")
LIMIT_KB = 96


def test_firmware_heap_at_idle_and_with_full_queues(micropython, capsys):
    result = subprocess.run([micropython, "heap_probe.py", FIRMWARE], cwd=HERE,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    line = [x for x in result.stdout.splitlines() if x.startswith("HEAP ")][-1]
    figures = json.loads(line[5:])
    code = figures["imported"]
    data = {k: figures[k] - code for k in ("idle", "full_queues", "after_motion", "peak")}
    with capsys.disabled():
        print("\nfirmware heap on the unix port (64-bit): code %.1f KB; data idle %.1f KB, "
              "full queues %.1f KB, after motion %.1f KB, peak %.1f KB; total peak %.1f KB"
              % (code / 1024, data["idle"] / 1024, data["full_queues"] / 1024,
                 data["after_motion"] / 1024, data["peak"] / 1024, figures["peak"] / 1024))
    # Queues and rings really full: 511 words less the 5 the DMA took and
    # has not run yet (FIFO + OSR), which the ring keeps (hal/rp2.py _IN_FLIGHT).
    assert figures["rings_used"] == [511 - 5] * 4
    assert data["peak"] <= LIMIT_KB * 1024
    assert data["full_queues"] - data["idle"] <= 1024      # full queues cost no heap
    assert figures["peak"] <= 128 * 1024                   # code + data, regression guard
