"""`mendel print` progress, JSON summary and run log (host/ux)."""
import io
import json
import subprocess
import sys

import pytest

from paths import EXAMPLE
from mendel.machine.check import check_file
from mendel import config
from mendel.ux import runlog
from mendel.gcode.layers import LayerTracker
from mendel.ux.progress import ProgressBar, ProgressState, duration

CFG = config.load()
# Two layers at Z 0.3 and 0.6, heated without waiting long (M104, no M109).
SHORT = """SET_KINEMATIC_POSITION X=0 Y=0 Z=0
M104 S200
M140 S50
G4 P100
G1 Z0.3 F600
M109 S200
;LAYER_CHANGE
G1 X50 Y20 E5 F3000
G1 X10 Y40 E8
;LAYER_CHANGE
G1 Z0.6 F600
G1 X60 Y40 E12 F3000
M400
"""


def test_state_numbers():
    state = ProgressState(total_lines=200, total_layers=10, estimated_time_s=3600.0)
    state.line, state.layer, state.printed_time_s = 50, 3, 900.0
    state.readings = {"extruder": (214.6, 215.0, 0.4), "heater_bed": (60.2, 60.0, 0.1)}
    assert state.percent == 25.0
    assert state.remaining_s == 2700.0
    assert state.text() == "layer 3/10 | left 0:45:00 | E 215/215C B 60/60C"
    state.printed_time_s = 4000.0                # the estimate is not a promise
    assert state.remaining_s == 0.0
    assert ProgressState().percent is None and ProgressState().remaining_s is None
    assert duration(3725.4) == "1:02:05"


def test_bar_renders_the_state_without_a_terminal():
    stream = io.StringIO()
    state = ProgressState(total_lines=200, total_layers=10, estimated_time_s=100.0)
    bar = ProgressBar(state, stream)
    state.line, state.layer, state.printed_time_s = 100, 4, 40.0
    bar.update(force=True)
    bar.close()
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith(" 50%|")
    assert last.rstrip().endswith("layer 4/10 | left 0:01:00")


def test_layers_follow_tags_first_then_heights():
    tags = LayerTracker()
    tags.move([0, 0, 0.2, 0], [10, 0, 0.2, 1])
    assert tags.current == 1                     # no tags yet: heights
    tags.event("layer", "0")
    tags.event("layer", "1")
    assert tags.current == 2                     # ;LAYER:n tags win
    tags.event("layer_change", None)
    assert tags.current == 1                     # ;LAYER_CHANGE wins over ;LAYER:
    heights = LayerTracker()
    heights.move([0, 0, 0.2, 0], [10, 0, 0.2, 1])
    heights.move([10, 0, 0.2, 1], [10, 0, 0.8, 1])    # z-hop travel: not a layer
    heights.move([10, 0, 0.4, 1], [0, 0, 0.4, 2])
    assert heights.current == 2


def _print(tmp_path, path, *options):
    return subprocess.run([sys.executable, "-m", "mendel", "print", str(path), *options],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_print_json_summary_progress_and_run_log(tmp_path):
    gcode = tmp_path / "short.gcode"
    gcode.write_text(SHORT)
    log_path = tmp_path / "run.jsonl"
    result = _print(tmp_path, gcode, "--json", "--progress", "--log", str(log_path))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    report = check_file(str(gcode), CFG)
    assert summary["estimated_time_s"] == report["estimated_time_s"] > 0
    # The simulated time adds the heat-up to the planned motion.
    assert summary["print_time_s"] > summary["estimated_time_s"] + 10
    assert summary["layers"] == 2 and summary["moves"] == 5
    assert summary["filament_mm"] == pytest.approx(12.0)
    # |dX| 50 + 40 + 50 mm at 80 steps/mm, Z 0.6 mm at 400, E 12 mm at 93:
    # every step the board was sent.
    assert summary["steps_moved"] == {"x": 140 * 80, "y": 40 * 80, "z": 240, "e": 12 * 93}
    assert summary["peak_temperatures"]["extruder"] >= 199.0
    assert summary["warnings"] == [] and summary["log"] == str(log_path)
    # The bar ends full, on the last layer, with nothing left.
    final = [line for line in result.stderr.replace("\r", "\n").splitlines() if line][-1]
    assert final.startswith("100%|") and "layer 2/2 | left 0:00:00" in final

    entries = runlog.read(str(log_path))
    assert entries[0]["kind"] == "start" and entries[0]["file"] == str(gcode)
    commands = [(e["line"], e["text"]) for e in entries if e["kind"] == "command"]
    expected = [(n, text) for n, text in enumerate(SHORT.splitlines(), 1)
                if text and not text.startswith(";")]
    assert commands == expected
    assert [(e["layer"], e["line"]) for e in entries if e["kind"] == "layer"] == [
        (1, 7), (2, 10)]          # the lines of the ;LAYER_CHANGE tags
    temps = runlog.temperature_series(entries)
    times, values, targets = temps["extruder"]
    assert max(values) == summary["peak_temperatures"]["extruder"]
    assert 200.0 in targets and times == sorted(times)
    assert entries[-1]["kind"] == "end" and entries[-1]["status"] == "ok"
    assert entries[-1]["summary"]["steps_moved"] == summary["steps_moved"]


def test_default_log_place_and_error_status(tmp_path):
    bad = tmp_path / "cold.gcode"
    bad.write_text("G28\nG1 X10 E5 F600\n")          # extrudes cold: preflight refuses
    result = _print(tmp_path, bad, "--json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert "extrudes before the hot end" in report["error"]
    log_path = tmp_path / report["log"]
    assert log_path.parent.name == "mendel-logs" and log_path.name.endswith("-cold.jsonl")
    end = runlog.read(str(log_path))[-1]
    assert end["kind"] == "end" and end["status"] == "error"
    no_log = _print(tmp_path, bad, "--no-log", "--quiet")
    assert no_log.returncode == 2 and len(list((tmp_path / "mendel-logs").iterdir())) == 1


def test_board_shutdown_is_logged(tmp_path):
    gcode = tmp_path / "short.gcode"
    gcode.write_text(SHORT)
    log_path = tmp_path / "run.jsonl"
    result = _print(tmp_path, gcode, "--log", str(log_path),
                    "--sim-fault", "thermistor_open@5")
    assert result.returncode == 2
    kinds = {e["kind"]: e for e in runlog.read(str(log_path))}
    assert "Thermistor open on extruder" in kinds["shutdown"]["reason"]
    assert kinds["end"]["status"] == "error"


def test_run_log_reader_skips_an_unfinished_last_line(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_text('{"kind": "start", "wall_s": 0}\n{"kind": "temperat')
    assert [e["kind"] for e in runlog.read(str(path))] == ["start"]
    path.write_text('{"kind": "start", "wall_s": 0}\nnot json\n{"kind": "end"}\n')
    with pytest.raises(ValueError, match="cut.jsonl:2"):
        runlog.read(str(path))


def test_example_logs_a_temperature_every_second_of_board_time(tmp_path):
    result = _print(tmp_path, EXAMPLE, "--json", "--log", "run.jsonl")
    summary = json.loads(result.stdout)
    assert summary["layers"] == 80 and summary["log"] == "run.jsonl"
    assert summary["estimated_time_s"] < summary["print_time_s"]
    assert summary["filament_mm"] == pytest.approx(summary["position_mm"]["e"])
    entries = runlog.read(str(tmp_path / "run.jsonl"))
    times = [e["board_s"] for e in entries if e["kind"] == "temperature"]
    # Virtual clock: stepped a second at a time, read when a second has passed.
    assert max(b - a for a, b in zip(times, times[1:])) <= 2.0
    assert times[-1] >= summary["print_time_s"] - 1.0
    assert sum(e["kind"] == "layer" for e in entries) == 80


def test_time_done_leaves_out_what_the_board_still_holds():
    """Sent 100 s of motion, scheduled up to board time 50 s, board at 40 s:
    10 s are still queued on the board, so 90 s are done."""
    from types import SimpleNamespace
    from mendel.ux.monitor import PrintMonitor
    mcu = SimpleNamespace(clock_freq=1000, virtual=True, estimated_clock=lambda: 40_000)
    printer = SimpleNamespace(mcu=mcu, heaters=SimpleNamespace(readings={}),
                              toolhead=SimpleNamespace(motion_time=100.0, print_time=50.0))
    monitor = PrintMonitor(printer)
    assert monitor._printed_time() == 90.0
    printer.toolhead.print_time = 30.0           # board idle past the last move
    assert monitor._printed_time() == 100.0


def test_quiet_keeps_warnings_in_the_summary_and_log(tmp_path):
    gcode = tmp_path / "odd.gcode"
    gcode.write_text("G28\nM4242 S1\nG1 X10 F3000\n")        # an unknown code: a warning
    result = _print(tmp_path, gcode, "--json", "--quiet", "--log", "run.jsonl")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert len(warnings) == 1 and "M4242" in warnings[0]
    assert "M4242" not in result.stderr
    logged = [e["text"] for e in runlog.read(str(tmp_path / "run.jsonl"))
              if e["kind"] == "warning"]
    assert logged == warnings


class _Wire:
    """A serial port that keeps every byte written."""

    def __init__(self, port):
        self._port = port
        self.written = bytearray()

    def write(self, data):
        self.written += data
        return self._port.write(data)

    def __getattr__(self, name):
        return getattr(self._port, name)


def _monitored_print(tmp_path, gcode, line_by_line):
    """Print ``gcode`` on the simulated board with a PrintMonitor and a run
    log; ``line_by_line`` without the MoveFeed. Returns (log entries without
    wall times, bytes written to the board)."""
    import serial
    from mendel.mcu.mcu import Mcu
    from mendel.machine.printer import Printer
    from mendel.sim.board import SimBoard
    from mendel.ux.monitor import PrintMonitor
    path = tmp_path / ("line-by-line.jsonl" if line_by_line else "fed.jsonl")
    with SimBoard("sim") as sim, serial.Serial(sim.port, 250000, timeout=0.1) as port:
        wire = _Wire(port)
        mcu = Mcu(wire)
        mcu.connect()
        printer = Printer(CFG, mcu, warn=lambda _t: None)
        if line_by_line:
            printer.move_feed = lambda: None
        with runlog.RunLog(str(path)) as log:
            PrintMonitor(printer, log)
            printer.print_file(str(gcode))
    entries = runlog.read(str(path))
    for entry in entries:
        del entry["wall_s"]
    return entries, bytes(wire.written)


def test_the_run_log_and_the_wire_are_the_same_without_the_feed(tmp_path):
    # Plain moves first (the first temperatures are read before them), heat,
    # then layers without tags and comments between the moves.
    lines = ["SET_KINEMATIC_POSITION X=0 Y=0 Z=0", "G1 X10 Y10 F6000", "G1 X20",
             "; travel done", "M104 S200", "G28",
             "M109 S200", "G1 Z0.3 F600"]
    for layer in range(4):
        lines.append("G1 Z%.1f F600" % (0.3 + 0.2 * layer))
        lines += ["G1 X%d Y%d E%.3f F1800\n; perimeter" % (20 + k % 30, 20 + k % 9,
                                                          0.05 * (k + 200 * layer))
                  for k in range(200)]
    gcode = tmp_path / "layers.gcode"
    gcode.write_text("\n".join(lines) + "\nM400\n")
    fed = _monitored_print(tmp_path, gcode, line_by_line=False)
    line_by_line = _monitored_print(tmp_path, gcode, line_by_line=True)
    assert fed == line_by_line
    kinds = [entry["kind"] for entry in fed[0]]
    assert kinds[:2] == ["temperature", "command"] and kinds.count("layer") == 4
    assert kinds.count("temperature") > 10
