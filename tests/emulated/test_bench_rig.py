"""The bench-rig suite (tests/hil) against the emulated RP2040, as a lab runs it
against a flashed Pico with --port."""
import re

import pytest

from edges import net_steps
from test_hil import run_hil

pytestmark = pytest.mark.emulated


def test_bench_rig_suite_passes_on_the_emulated_board(emulator):
    """tests/hil passes with --port on the emulated chip's pty, and the motors'
    step and dir pins end where the firmware says they are: its G-code ends at
    X12.5 Y0.25 Z2 (80 steps/mm on X and Y, 400 on Z in the default config),
    counted from the GPIO edges, not from the firmware's own books."""
    code, out = run_hil("--port", emulator.port)
    assert code == 0, out
    assert re.search(r"\b3 passed\b", out), out
    motors = {m["name"]: m for m in emulator.board["motors"]}
    assert net_steps(emulator, motors["x"]) == 1000
    assert net_steps(emulator, motors["y"]) == 20
    assert net_steps(emulator, motors["z"]) == 800
