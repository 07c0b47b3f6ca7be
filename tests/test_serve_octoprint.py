"""OctoPrint's own serial layer (`octoprint.util.comm.MachineCom`, PyPI
`octoprint`), run headless, connects to `mendel serve`, reads its
capabilities and temperatures, prints a slicer file with two damaged lines
and two cut in two by line noise,
shrugs off a harmless unknown command, sees M112 halt the printer, and
prints a file from the virtual_sdcard as from a Marlin SD card.

OctoPrint pins packages of its own (``packaging<25``, Flask, ...) and needs
Python < 3.14, so it is not a test extra: CI installs it (see .ci/run), here
it is skipped without it (failed on CI). Measured: 19-23 s, 62 packages, from
the local PyPI mirror."""
import os
import subprocess
import sys
import time

import pytest
import serial

from gcode_reference import Independent
from serve_clients import (damage_writes, require, served_port, split_writes, step_totals,
                           wait_for)
from mendel import config

CORPUS_FILE = "slic3r-1.3-cube-m82.gcode"


@pytest.fixture(scope="module")
def octoprint_comm(tmp_path_factory):
    """OctoPrint's comm module with settings, plugins and events set up headless."""
    comm = require("octoprint.util.comm", "pip install octoprint")
    import octoprint.events
    import octoprint.plugin
    import octoprint.settings
    from octoprint.printer.profile import PrinterProfileManager
    octoprint.settings.settings(init=True, basedir=str(tmp_path_factory.mktemp("octoprint")))
    octoprint.plugin.plugin_manager(init=True, plugin_folders=[], plugin_entry_points=None)
    octoprint.events.eventManager()
    return comm, PrinterProfileManager()


class Callbacks:
    """What OctoPrint tells its printer object, recorded."""

    def __init__(self, base):
        base.__init__(self)
        self.log, self.temperatures, self.done = [], [], False

    def on_comm_log(self, message):
        self.log.append(message)

    def on_comm_temperature_update(self, tools, bed, _chamber, _custom):
        self.temperatures.append((tools, bed))

    def on_comm_print_job_done(self, *_args, **_kwargs):
        self.done = True

    def received(self):
        return [line[len("Recv: "):] for line in self.log if line.startswith("Recv: ")]


@pytest.fixture
def served(tmp_path):
    log = str(tmp_path / "steps.log")
    server = subprocess.Popen([sys.executable, "-m", "mendel", "serve", "--step-log", log],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield served_port(server), log
    finally:
        server.terminate()
        server.communicate(timeout=30)


def connect(octoprint_comm, port):
    comm, profiles = octoprint_comm
    callbacks = type("Recorder", (Callbacks, comm.MachineComPrintCallback), {})(
        comm.MachineComPrintCallback)
    machine = comm.MachineCom(port, 250000, callbackObject=callbacks,
                              printerProfileManager=profiles)
    machine.start()
    wait_for(machine.isOperational, 20, "OctoPrint to report Operational")
    return machine, callbacks


def test_octoprint_prints_a_corpus_file_through_mendel_serve(octoprint_comm, served, corpus):
    port, log = served
    path = os.path.join(corpus, CORPUS_FILE)
    machine, callbacks = connect(octoprint_comm, port)
    try:
        caps = machine._firmware_capabilities
        wait_for(lambda: "CHAMBER_TEMPERATURE" in caps, 10, "M115's capability lines")
        assert caps["AUTOREPORT_TEMP"] and caps["EMERGENCY_PARSER"] and not caps["SDCARD"]
        wait_for(lambda: callbacks.temperatures, 10, "an auto-reported temperature")
        damage_writes(machine._serial)
        split_writes(machine._serial)     # and cut two in two, as line noise would
        machine.selectFile(path, False)
        machine.startPrint()
        wait_for(lambda: callbacks.done, 240, "OctoPrint to finish the print")
        machine.sendCommand("M400")
        machine.sendCommand("M114")
        wait_for(lambda: any("Count" in line for line in callbacks.received()), 30, "M114")
        assert machine.isOperational() and not machine.isError()
        assert machine.received_resends >= 4
        fragments = [line for line in callbacks.received()
                     if line.startswith('echo:Unknown command: "')
                     and line[len('echo:Unknown command: "'):-1].isdigit()]
        assert len(fragments) == 2
    finally:
        machine.close()
    cfg = config.load()
    final = Independent(path).pos
    expected = [round(mm * spm) for mm, spm in zip(final, cfg.steps_per_mm())]
    assert step_totals(log) == expected
    count = [line for line in callbacks.received() if "Count" in line][-1]
    assert count.split("Count")[1].split() == ["X:%d" % expected[0], "Y:%d" % expected[1],
                                               "Z:%d" % expected[2]]


def test_octoprint_ignores_notices_and_stops_on_m112(octoprint_comm, served):
    port, _log = served
    machine, callbacks = connect(octoprint_comm, port)
    try:
        machine.sendCommand("M12345")                       # unknown: a notice
        machine.sendCommand("M104 S200")
        wait_for(lambda: any(t[0].get(0, (0, 0))[1] == 200.0
                             for t in callbacks.temperatures), 10, "the new target")
        assert machine.isOperational()
        assert 'echo:Unknown command: "M12345"' in callbacks.received()
        machine.sendCommand("M112")
        wait_for(machine.isError, 10, "OctoPrint to stop")
        assert "M112" in machine.getErrorString()
    finally:
        machine.close()
    # The board did stop: the next client hears so (once OctoPrint, which
    # closes the port from its own thread on M112, has let go of it).
    wait_for(lambda: machine._serial is None or not machine._serial.is_open, 10,
             "OctoPrint to close the port")
    time.sleep(0.5)
    with serial.Serial(port, 250000, timeout=10) as client:
        client.write(b"G1 X10\n")
        # `start` first, unless the server was too busy to see the hang-up
        # (then its answers to OctoPrint's last lines, which the pty keeps
        # unless the server sees the hang-up and drops them, may come first).
        lines = []
        while not any(line.startswith(b"echo:Printer halted") for line in lines):
            line = client.readline()
            if not line or len(lines) > 20:
                break
            lines.append(line)
        assert any(line.startswith(b"echo:Printer halted (emergency stop (M112))")
                   for line in lines), lines


@pytest.fixture
def served_sdcard(tmp_path, corpus):
    """`mendel serve` with a [virtual_sdcard] folder holding the corpus file."""
    folder = tmp_path / "gcodes"
    folder.mkdir()
    (folder / "cube.gcode").write_bytes(open(os.path.join(corpus, CORPUS_FILE), "rb").read())
    cfg = tmp_path / "printer.cfg"
    cfg.write_text("[include %s]\n[virtual_sdcard]\npath: gcodes\n" % config.load().path)
    log = str(tmp_path / "steps.log")
    server = subprocess.Popen([sys.executable, "-m", "mendel", "serve", "--config", str(cfg),
                               "--step-log", log],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield served_port(server), log, folder / "cube.gcode"
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_octoprint_prints_from_the_sd_card(octoprint_comm, served_sdcard):
    """OctoPrint's SD printing (M21, M20, M23, M24, M27 polls, "Done printing
    file") on the virtual_sdcard: the file list, the progress it reads, the
    end, and the board's step counts. (Pausing with M25/M24 is tested with a
    scripted client in tests/test_printjob.py.)"""
    port, log, path = served_sdcard
    size = os.path.getsize(path)
    machine, callbacks = connect(octoprint_comm, port)
    try:
        caps = machine._firmware_capabilities
        wait_for(lambda: "CHAMBER_TEMPERATURE" in caps, 10, "M115's capability lines")
        assert caps["SDCARD"]
        machine.initSdCard()
        wait_for(lambda: machine.getSdFiles(), 10, "OctoPrint's SD file list")
        files = machine.getSdFiles()       # (name, size, long name, timestamp)
        assert [(name, file_size) for name, file_size, *_rest in files] == [("/cube.gcode", size)]
        machine.selectFile("cube.gcode", True)
        wait_for(machine.isSdFileSelected, 10, "M23's File selected")
        machine.startPrint()
        wait_for(lambda: machine.getState() == machine.STATE_PRINTING, 10,
                 "the SD print to start")
        wait_for(lambda: any(line.startswith("SD printing byte")
                             for line in callbacks.received()), 20, "an M27 progress report")
        wait_for(lambda: callbacks.done, 240, "OctoPrint to see the SD print done")
        assert "Done printing file" in callbacks.received()
        machine.sendCommand("M400")
        machine.sendCommand("M114")
        wait_for(lambda: any("Count" in line for line in callbacks.received()), 30, "M114")
        assert machine.isOperational() and not machine.isError()
    finally:
        machine.close()
    cfg = config.load()
    final = Independent(str(path)).pos
    expected = [round(mm * spm) for mm, spm in zip(final, cfg.steps_per_mm())]
    assert step_totals(log) == expected
