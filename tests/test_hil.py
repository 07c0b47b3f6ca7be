"""The bench-rig tests (tests/hil, pytest-embedded's serial service) pass on the
simulated board, started by their own fixture or given with --port as a lab
gives /dev/ttyACM0."""
import os
import re
import subprocess
import sys

from paths import ROOT
from mendel.sim.board import SimBoard

HIL = os.path.join(ROOT, "tests", "hil")


def run_hil(*args):
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             HIL, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)
    return result.returncode, result.stdout + result.stderr


def test_bench_rig_tests_pass_on_their_own_simulated_board():
    code, out = run_hil()
    assert code == 0, out
    assert re.search(r"\b3 passed\b", out), out


def test_bench_rig_tests_run_against_a_given_port():
    with SimBoard("sim") as sim:
        code, out = run_hil("--port", sim.port)
    assert code == 0, out
    assert re.search(r"\b3 passed\b", out), out


def test_bench_rig_tests_fail_when_no_board_answers(tmp_path):
    master, slave = os.openpty()
    try:
        code, out = run_hil("--port", os.ttyname(slave), "-x")
    finally:
        os.close(master)
        os.close(slave)
    assert code == 1 and "TIMEOUT" in out, out
