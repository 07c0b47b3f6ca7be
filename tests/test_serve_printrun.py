"""A real Marlin host, Printrun's `printcore` (PyPI `printrun`), prints a slicer
file through `mendel serve` onto the simulated board: the board ends where
`mendel print` of the same file leaves it, step for step, though line noise
damaged two lines and cut two others in two.

printrun declares wxPython and dbus-python, which do not install from nothing,
so CI installs it with `pip install --no-deps printrun` (see .ci/run); printcore
itself needs only pyserial. Without it this test is skipped (failed on CI)."""
import json
import os
import subprocess
import sys
import time

import pytest

from serve_clients import (damage_writes, require, served_port, split_writes, step_totals,
                           wait_for)

CORPUS_FILE = "slic3r-1.3-cube-m82.gcode"      # 5248 lines, a 22-minute print


@pytest.fixture(scope="module")
def printcore():
    return require("printrun.printcore", "pip install --no-deps printrun").printcore


def test_printcore_prints_a_corpus_file_through_mendel_serve(corpus, printcore, tmp_path):
    from printrun import gcoder
    path = os.path.join(corpus, CORPUS_FILE)
    link, log = str(tmp_path / "printer"), str(tmp_path / "steps.log")
    server = subprocess.Popen([sys.executable, "-m", "mendel", "serve", "--link", link,
                               "--step-log", log], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        served_port(server)
        host = printcore(link, 250000)
        received = []
        host.recvcb = received.append
        wait_for(lambda: host.online, 10, "printcore to see the printer")
        # Damage two lines on the wire: the print must resend them and go on.
        damage_writes(host.printer)
        split_writes(host.printer)     # and cut two in two, as line noise would
        with open(path) as f:
            host.startprint(gcoder.LightGCode([line.rstrip("\r\n") for line in f]))
        started = time.monotonic()
        wait_for(lambda: not host.printing, 240, "the print to finish")
        wall = time.monotonic() - started
        host.send_now("M400")
        host.send_now("M114")
        wait_for(lambda: any("Count" in line for line in received), 30, "M114")
        host.disconnect()
    finally:
        server.terminate()
        _out, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors
    assert not os.path.lexists(link)                   # the symlink is removed at exit
    resends = [line for line in received if line.startswith("Resend:")]
    assert len(resends) >= 4
    # the bare checksums that noise cut off are unknown commands, not errors
    fragments = [line for line in map(str.strip, received)
                 if line.startswith('echo:Unknown command: "')
                 and line[len('echo:Unknown command: "'):-1].isdigit()]
    assert len(fragments) == 2
    assert not [line for line in received
                if line.startswith("Error:") and "checksum" not in line
                and "Line Number" not in line]

    result = subprocess.run([sys.executable, "-m", "mendel", "print", path, "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    expected = json.loads(result.stdout)["position_steps"]
    assert step_totals(log) == [expected[axis] for axis in "xyze"]
    count = [line for line in received if "Count" in line][-1].split("Count")[1]
    assert count.split() == ["X:%d" % expected["x"], "Y:%d" % expected["y"],
                             "Z:%d" % expected["z"]]
    print("printcore streamed %s in %.1f s" % (CORPUS_FILE, wall))
