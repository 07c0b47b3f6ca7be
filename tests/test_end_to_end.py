"""Real G-code printed on the simulated board: the firmware under micropython, a pty,
pyserial. Final step positions are checked against an independent reading of the file."""
import contextlib
import json
import os
import subprocess
import sys
import time

import pytest
import serial

from gcode_reference import Independent
from paths import EXAMPLE
from mendel import config
from mendel.mcu.mcu import Mcu
from mendel.machine.printer import Printer
from mendel.sim.board import SimBoard

CFG = config.load()
CORPUS_FILES = [
    "cura-2.3-puzzle-reprap-m82.gcode",          # 64 min, absolute E, Cura RepRap flavour
    "prusaslicer-2.5-cube-m83.gcode",            # relative E, PrusaSlicer MK3 start code
    "slic3r-1.3-cube-m82.gcode",                 # absolute E, Slic3r
    "prusaslicer-2.7-twistvase-spiral-m83.gcode",  # 68 min vase, relative E
    "prusaslicer-2.7-plantsign-arcs-m83.gcode",    # 1974 G2/G3 arcs
    "prusaslicer-2.5-sphere-fwretract-m600.gcode",  # firmware retraction G10/G11, M221
]


def expected_steps(path):
    """Final motor steps from the file alone (tests/gcode_reference.py, which
    shares no code with Mendel's reader): round(mm * steps/mm)."""
    final = Independent(path).pos
    return {axis: round(mm * spm) for axis, mm, spm in zip("xyze", final, CFG.steps_per_mm())}


class FlakyPort:
    """A serial port that corrupts one bit of chosen written frames."""

    def __init__(self, port, corrupt_writes):
        self._port = port
        self._corrupt = set(corrupt_writes)
        self.writes = 0

    def write(self, data):
        self.writes += 1
        if self.writes in self._corrupt and len(data) > 6:
            data = bytearray(data)
            data[3] ^= 0x10
        return self._port.write(bytes(data))

    def __getattr__(self, name):
        return getattr(self._port, name)

    def __setattr__(self, name, value):
        if name.startswith("_") or name == "writes":
            object.__setattr__(self, name, value)
        else:
            setattr(self._port, name, value)


@contextlib.contextmanager
def sim_printer(step_log=None, wrap=None):
    with SimBoard("sim", step_log=step_log) as sim:
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            mcu = Mcu(wrap(port) if wrap else port)
            mcu.connect()
            yield Printer(CFG, mcu, warn=lambda _t: None), sim


def test_example_prints_to_exact_positions(tmp_path):
    log = tmp_path / "steps.log"
    with sim_printer(step_log=str(log)) as (printer, _sim):
        summary = printer.print_file(EXAMPLE)
    expected = expected_steps(EXAMPLE)
    assert summary.position_steps == expected
    assert summary.expected_steps == expected
    assert summary.position_mm["z"] == pytest.approx(26.0)
    assert summary.peak_temperatures["extruder"] >= 214.0
    assert summary.peak_temperatures["heater_bed"] >= 59.0
    assert summary.print_time_s > 600           # a real print: ~15 minutes
    assert summary.link["frames_bad"] == 0 and not summary.link["shutdown"]
    # The firmware's own log of executed runs adds up to the same positions.
    # G28 sets an axis to position_endstop where its endstop stopped the
    # motor ("hit clock oid position"); the runs after the last hit move it on.
    totals, homes = {}, {}
    for line in log.read_text().splitlines():
        if line.startswith(("heater", "fan")):       # output changes, not runs
            continue
        if line.startswith("hit"):
            _hit, _clock, oid, _position = line.split()
            totals[int(oid)] = 0
            homes[int(oid)] = True
            continue
        oid, _first, _interval, count, _add = map(int, line.split())
        totals[oid] = totals.get(oid, 0) + count
    assert sorted(homes) == [0, 1, 2]
    home = {axis: round(CFG.steppers[axis].position_endstop * CFG.steppers[axis].steps_per_mm)
            for axis in "xyz"}
    home["e"] = 0
    assert [totals.get(i, 0) + home[a] for i, a in enumerate("xyze")] == \
        [expected[a] for a in "xyze"]


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_file_prints_to_exact_positions(corpus, name):
    path = os.path.join(corpus, name)
    with sim_printer() as (printer, _sim):
        summary = printer.print_file(path)
    assert summary.position_steps == expected_steps(path)
    assert not summary.link["shutdown"]


def test_corrupted_frames_are_refused_and_resent(corpus):
    path = os.path.join(corpus, "slic3r-1.3-cube-m82.gcode")
    with sim_printer(wrap=lambda p: FlakyPort(p, corrupt_writes=[40, 400, 4000])) as (
            printer, _sim):
        summary = printer.print_file(path)
        retransmits = printer.mcu.link.retransmits
    assert summary.link["frames_bad"] >= 3
    assert retransmits >= 3
    assert summary.position_steps == expected_steps(path)


def test_heaters_go_off_when_the_host_disconnects():
    with SimBoard("sim") as sim:
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            mcu = Mcu(port)
            mcu.connect()
            Printer(CFG, mcu, warn=lambda _t: None)
            mcu.send("set_heater", 0, 20000)
            mcu.wait_until(mcu.estimated_clock() + 20 * mcu.clock_freq)
            temp, target, duty = mcu.temperature(0)
            assert target == 200.0 and temp > 80.0 and duty > 0.0
        time.sleep(0.3)                          # the board sees the hang-up
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            mcu = Mcu(port)
            mcu.connect()
            temp, target, duty = mcu.temperature(0)
    assert target == 0.0 and duty == 0.0


def test_cli_prints_the_example_with_a_summary(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mendel", "print", EXAMPLE, "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["position_steps"] == expected_steps(EXAMPLE)
    assert summary["lines"] == 7498 and summary["moves"] > 5000


def test_cli_reports_a_bad_line_with_file_and_number(tmp_path):
    bad = tmp_path / "bad.gcode"
    bad.write_text("G28\nG1 X10 F3000\nG1 X20 Y$\n")
    result = subprocess.run([sys.executable, "-m", "mendel", "print", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "bad.gcode:3: G1 X20 Y$: unexpected '$'" in result.stderr


def test_cli_drives_a_board_on_a_port_as_it_would_a_real_one(tmp_path):
    gcode = tmp_path / "short.gcode"
    gcode.write_text("G28\nM109 S200\nG1 Z0.3 F600\nG1 X50 Y20 E5 F3000\nG1 X10 Y40 E8\nM400\n")
    with SimBoard("sim") as sim:
        result = subprocess.run([sys.executable, "-m", "mendel", "print", str(gcode),
                                 "--port", sim.port, "--json"],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["position_steps"] == {"x": 800, "y": 3200, "z": 120, "e": 744}


def test_simulated_board_exits_when_its_host_is_killed():
    script = ("import time, mendel.sim.board as b; s = b.SimBoard().start(); "
              "print(s.process.pid, flush=True); time.sleep(60)")
    host = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    board_pid = int(host.stdout.readline())
    host.kill()
    host.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists("/proc/%d" % board_pid):
        with open("/proc/%d/stat" % board_pid) as f:
            if f.read().split()[2] == "Z":
                break
        time.sleep(0.05)
    state = open("/proc/%d/stat" % board_pid).read().split()[2] \
        if os.path.exists("/proc/%d" % board_pid) else "gone"
    assert state in ("Z", "gone")


def test_json_mode_reports_errors_as_json(tmp_path):
    bad = tmp_path / "bad.gcode"
    bad.write_text("G1 X1 Y$\n")
    result = subprocess.run([sys.executable, "-m", "mendel", "check", str(bad), "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and json.loads(result.stdout)["errors"]
    result = subprocess.run([sys.executable, "-m", "mendel", "print", str(bad), "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unexpected '$'" in json.loads(result.stdout)["error"]
