"""The link on a bad wire, end to end on the simulated board (issue: the link).

Faults are injected by mendel.mcu.faults.FaultyPort between pyserial and the
pty, in both directions. A print through a damaged link must leave the very
same step log as a clean one; a dead link must end with heaters off and the
reason told; M112 must stop motion that is already queued.
"""
import contextlib
import os
import time

import pytest
import serial

from mendel import config
from mendel.mcu.faults import FaultyPort, parse_faults
from mendel.mcu.link import LinkError
from mendel.mcu.mcu import Mcu, McuShutdown
from mendel.machine.printer import Printer, PrintError
from mendel.sim.board import SimBoard

CFG = config.load()
SHORT = """G28
M104 S200
M109 S200
G1 Z0.3 F600
""" + "".join("G1 X%.3f Y%.3f E%.4f F3000\n" % (20 + (i % 20) * 4.0, 20 + (i // 20) * 3.0,
                                                0.05 * i) for i in range(200)) + "M400\n"


@contextlib.contextmanager
def connected(faults=None, realtime=False, step_log=None):
    with SimBoard("sim", realtime=realtime, step_log=step_log) as sim:
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            mcu = Mcu(FaultyPort(port, parse_faults(faults)) if faults else port)
            mcu.connect()
            yield mcu, sim


def print_logged(path, tmp_path, faults=None, name="steps"):
    log = tmp_path / (name + ".log")
    with connected(faults, step_log=str(log)) as (mcu, _sim):
        summary = Printer(CFG, mcu, warn=lambda _t: None).print_file(str(path))
        retransmits = mcu.link.retransmits
    return log.read_text(), summary, retransmits


@pytest.fixture(scope="module")
def short_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("gcode") / "short.gcode"
    path.write_text(SHORT)
    return path


@pytest.mark.parametrize("faults", ["drop=1e-2", "flip=1e-2", "dup=1e-2", "insert=1e-2",
                                    "drop=1e-4,flip=1e-4,dup=1e-4,insert=1e-4"])
def test_damaged_link_leaves_the_same_step_log(short_file, tmp_path, faults):
    clean, clean_summary, _ = print_logged(short_file, tmp_path, name="clean")
    damaged, summary, retransmits = print_logged(short_file, tmp_path, faults, "damaged")
    assert len(clean.splitlines()) > 200
    assert damaged == clean
    assert summary.position_steps == clean_summary.position_steps
    if "1e-2" in faults:
        assert retransmits > 0 and summary.link["frames_bad"] + summary.link[
            "frames_duplicate"] > 0


def test_corpus_file_through_faults_and_a_cut_line(corpus, tmp_path):
    path = os.path.join(corpus, "slic3r-1.3-cube-m82.gcode")
    clean, _summary, _ = print_logged(path, tmp_path, name="clean")
    damaged, summary, retransmits = print_logged(
        path, tmp_path, "drop=1e-3,flip=1e-3,dup=1e-3,insert=1e-3,cut=1@1.5", "damaged")
    assert damaged == clean
    assert retransmits > 10


def test_dead_link_turns_heaters_off_and_the_reason_is_told(tmp_path):
    text = open(CFG.path).read().replace("[heater_bed]", "host_timeout = 2.5\n\n[heater_bed]")
    cfg_path = tmp_path / "printer.cfg"
    cfg_path.write_text(text)
    cfg = config.load(str(cfg_path))
    assert cfg.heaters["extruder"].host_timeout == 2.5
    with SimBoard("sim", realtime=True) as sim:
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            faulty = FaultyPort(port, parse_faults("cut=1000@1.0"))
            mcu = Mcu(faulty)
            mcu.connect()
            Printer(cfg, mcu, warn=lambda _t: None)
            mcu.send("set_heater", 0, 20000)
            mcu.flush()
            started = time.monotonic()
            with pytest.raises(LinkError, match="link lost|no .* answer"):
                while True:                     # the line dies after 1 s
                    mcu.temperature(0)
                    time.sleep(0.05)
            assert time.monotonic() - started < 12
        time.sleep(1.0)                         # the extruder's 2.5 s host_timeout passed
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            with pytest.raises(McuShutdown, match="host silent for 2.* heaters off"):
                Mcu(port).connect()
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            mcu = Mcu(port)
            mcu.connect(clear_shutdown=True)
            assert "host silent" in mcu.previous_shutdown
            _temp, target, duty = mcu.temperature(0)
            assert target == 0.0 and duty == 0.0


def test_m112_stops_motion_already_queued(tmp_path):
    gcode = tmp_path / "stop.gcode"
    gcode.write_text("G28\nG1 X200 Y150 F600\nM112\nG1 X0\n")
    log = tmp_path / "steps.log"
    with connected(step_log=str(log)) as (mcu, _sim):
        printer = Printer(CFG, mcu, warn=lambda _t: None)
        with pytest.raises(PrintError, match="emergency stop"):
            printer.print_file(str(gcode))
    stop = [line for line in log.read_text().splitlines() if line.startswith("stop")]
    assert len(stop) == 1
    taken = [int(v) for v in stop[0].split()[2:]]
    assert taken[0] < 200 * 80                  # far from X200: stopped, not finished


def test_a_run_that_would_arrive_late_shuts_the_board_down():
    with connected(realtime=True) as (mcu, _sim):
        now = mcu.estimated_clock()
        mcu.send("set_step_clock", 0, now - mcu.clock_freq)
        mcu.send("queue_step", 0, 1000, 10, 0)
        mcu.flush()
        with pytest.raises(McuShutdown, match="step run scheduled in the past"):
            for _ in range(200):
                mcu.pump(0.01)


def test_bench_link_reports_its_figures(short_file):
    import json
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "mendel", "bench", "link", "--file",
                             str(short_file), "--json"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    stream = figures["stream"]
    assert stream["moves"] == 201 and stream["wire_bytes_per_move"] > 0
    assert stream["ascii_bytes_per_move_line"] == pytest.approx(
        len(SHORT.encode()) / SHORT.count("\n"), rel=0.3)
    assert set(figures["firmware_runs_per_s"]) == {"bulk", "message"}
