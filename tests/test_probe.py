"""Probe commands, SAVE_CONFIG and the G-code offset on the simulated printer.

The simulated probe triggers when the nozzle is z_offset + [sim_plant probe]
z_offset_error above the bed under the probe tip; the Z switch is
[sim_plant stepper_z] endstop_offset away from where printer.cfg says. The
tests know the physical printer (the carriage starts at start_position,
the board counts its steps) and check the host's numbers against it."""
import contextlib
import re
import statistics
import threading

import pytest
import serial

from mendel import config as config_mod
from mendel.machine.check import check_file
from mendel.mcu.mcu import Mcu
from mendel.machine.printer import PrintError
from mendel.probing.commands import accuracy_summary
from mendel.resources import default_config
from mendel.serve.port import VirtualSerialPort, serve
from mendel.serve.session import ServedPrinter, Session
from mendel.sim.board import SimBoard

from sim_printer import board_steps, printer_on_sim, run, write_cfg
from test_serve import Client

Z_STEP = 1.0 / 400.0          # mm per Z step of the default printer
Z_START = 105.0               # the sim's Z carriage at power-on: the middle of 0..210
PROBE = "[probe]\npin = ^sim_probe\nz_offset = 1.5\nx_offset = -20\ny_offset = 5\n"
# The Z switch 0.3 mm below position_endstop: after G28 machine Z = physical Z + 0.3.
SIM = ("[sim_plant probe]\nz_offset_error = 0.1\n"
       "[sim_plant stepper_z]\nendstop_offset = -0.3\n")
TRUE_TRIGGER = 1.6            # z_offset + z_offset_error: the real probe's height (mm)
SWITCH = -0.3


def echoes(said):
    return [line[len("echo: "):] for line in said if line.startswith("echo: ")]


def physical_z(printer):
    """The nozzle's height above the (flat) bed, from the board's steps."""
    return Z_START + board_steps(printer)[2] * Z_STEP


def test_probe_result_and_query_probe(tmp_path):
    """PROBE reports the nozzle Z at the trigger: physical 1.6 mm above the
    bed is machine Z 1.9 (the switch is 0.3 low), within a step and the
    probe's repeatability. QUERY_PROBE reads the probe where the nozzle is."""
    cfg = write_cfg(tmp_path, default_config(), PROBE + SIM)
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 X100 Y100 Z10 F6000\nQUERY_PROBE\n"
                               "PROBE SAMPLES=3 SAMPLES_RESULT=median PROBE_SPEED=2\n"
                               "G1 Z1.8 F600\nQUERY_PROBE\n")
        lines = echoes(said)
    assert lines[0] == "probe: open" and lines[-1] == "probe: TRIGGERED"
    samples = [float(m.group(1)) for m in map(re.compile(
        r"probe at 100\.000,100\.000 is z=(\S+)$").match, lines) if m]
    assert len(samples) == 3
    result = [line for line in lines if line.startswith("Result is z=")]
    assert result == ["Result is z=%.6f" % statistics.median(samples)]
    assert abs(statistics.median(samples) - (TRUE_TRIGGER - SWITCH)) <= Z_STEP + 0.002


def test_probe_accuracy_summary_and_spread(tmp_path):
    """PROBE_ACCURACY SAMPLES=8 on a probe of 0.01 mm repeatability: eight
    samples, the summary recomputed from them, a range within twice the
    repeatability (plus the step the trigger is rounded to)."""
    cfg = write_cfg(tmp_path, default_config(),
                    PROBE + SIM.replace("z_offset_error = 0.1", "z_offset_error = 0.1\n"
                                        "repeatability = 0.01"))
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 X100 Y100 Z10 F6000\nPROBE_ACCURACY SAMPLES=8\n")
        lines = echoes(said)
    assert lines[0] == ("PROBE_ACCURACY at X:100.000 Y:100.000 Z:10.000 (samples=8 "
                        "retract=2.000 speed=5.0 lift_speed=5.0)")
    zs = [float(line.rsplit("=", 1)[1]) for line in lines if line.startswith("probe at")]
    assert len(zs) == 8
    assert lines[-1] == accuracy_summary(zs)
    assert max(zs) - min(zs) <= 2 * 0.01 + Z_STEP
    assert all(abs(z - (TRUE_TRIGGER - SWITCH)) <= 0.01 + Z_STEP for z in zs)


def test_accuracy_summary_numbers():
    assert accuracy_summary([1.0, 2.0, 3.0, 4.0]) == (
        "probe accuracy results: maximum 4.000000, minimum 1.000000, range 3.000000, "
        "average 2.500000, median 2.500000, standard deviation 1.118034")


def test_probe_calibrate_testz_accept_and_save_config(tmp_path):
    """PROBE_CALIBRATE, TESTZ down to the real bed (found from the board's
    steps, as the paper would), ACCEPT: the new z_offset is the true 1.6 mm
    within one Z step. SAVE_CONFIG writes it to the block, keeps the user's
    lines byte for byte, config.load reads it back and the running printer
    uses it."""
    cfg = write_cfg(tmp_path, default_config(), PROBE + SIM)
    user_text = (tmp_path / "printer.cfg").read_text()
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 X100 Y100 Z10 F6000\nPROBE_CALIBRATE\n")
        # The nozzle is now over the point the probe touched.
        assert printer.toolhead.position[:2] == [80.0, 105.0]
        height = physical_z(printer)
        run(printer, tmp_path, "TESTZ Z=-%.4f\nTESTZ Z=+\nTESTZ Z=--\n" % height, "b.gcode")
        assert abs(physical_z(printer)) <= Z_STEP / 2
        said.clear()
        run(printer, tmp_path, "ACCEPT\n", "c.gcode")
        reply = echoes(said)
        z_offset = float(reply[0].split("z_offset: ")[1])
        assert reply[0].startswith("probe: z_offset: ")
        assert abs(z_offset - TRUE_TRIGGER) <= Z_STEP
        assert printer.pending.changes == {"probe": {"z_offset": "%.3f" % z_offset}}
        assert printer.config.probe.z_offset == 1.5          # until SAVE_CONFIG
        run(printer, tmp_path, "SAVE_CONFIG\n", "d.gcode")
        assert printer.config.probe.z_offset == z_offset
        assert not printer.pending
    saved = (tmp_path / "printer.cfg").read_text()
    assert saved.startswith(user_text)
    assert "#*# [probe]\n#*# z_offset = %.3f\n" % z_offset in saved
    assert config_mod.load(str(tmp_path / "printer.cfg")).probe.z_offset == z_offset


def _z_status(line):
    """``Z position: A --> Z <-- B`` -> (A, Z, B), None for ``??????``."""
    low, z, high = re.match(r"Z position: (\S+) --> (\S+) <-- (\S+)$", line).groups()
    return tuple(None if v == "??????" else float(v) for v in (low, z, high))


def test_testz_bisects_between_heights_tried(tmp_path):
    """TESTZ Z=<mm> moves by that much; Z=+ goes half way up to the nearest
    height tried above, Z=++ all the way, Z=- half way down; each report
    names the nearest heights tried below and above."""
    cfg = write_cfg(tmp_path, default_config(), PROBE + SIM)
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 X100 Y100 Z10 F6000\nPROBE_CALIBRATE\n")
        s = printer.toolhead.position[2]
        said.clear()
        run(printer, tmp_path, "TESTZ Z=-6\nTESTZ Z=-0.1\nTESTZ Z=+\nTESTZ Z=++\n"
                               "TESTZ Z=-\n", "b.gcode")
        z = printer.toolhead.position[2]
        reports = [_z_status(line) for line in echoes(said)]
    expected = [(None, s - 6, s), (None, s - 6.1, s - 6), (s - 6.1, s - 6.05, s - 6),
                (s - 6.05, s - 6, s), (s - 6.05, s - 6.025, s - 6)]
    for got, want in zip(reports, expected):
        assert got == tuple(None if v is None else pytest.approx(v, abs=0.0006)
                            for v in want)
    assert len(reports) == 5
    assert z == pytest.approx(s - 6.025, abs=1e-9)


@pytest.mark.parametrize("text, message", [
    ("G28\nG1 X100 Y100 Z1.5 F6000\nPROBE\n", "Probe triggered prior to movement"),
    ("G28 X Y\nPROBE\n", "Must home before probe"),
    ("G28\nG1 X100 Y100 F6000\nTESTZ Z=-1\n", "no manual Z probe is in progress"),
    ("G28\nPROBE SAMPLES=0\n", "SAMPLES must have minimum of 1"),
    ("G28\nPROBE SPEED=3\n", "PROBE has no parameter SPEED"),
    ("G28\nBLTOUCH_DEBUG COMMAND=pin_down\n", r"BLTOUCH_DEBUG needs a \[bltouch\] section"),
    ("G28\nG1 X100 Y100 Z10 F6000\nPROBE_CALIBRATE\nACCEPT\n",
     "Manual probe failed! Use TESTZ commands"),
    ("G28\nG1 X100 Y100 Z10 F6000\nPROBE_CALIBRATE\nABORT\nACCEPT\n",
     "ACCEPT: no manual Z probe is in progress"),
    ("G28\nG1 X100 Y100 Z10 F6000\nPROBE_CALIBRATE\nPROBE_CALIBRATE\n",
     "Already in a manual Z probe. Use ABORT to abort it."),
])
def test_probe_errors(tmp_path, text, message):
    cfg = write_cfg(tmp_path, default_config(), PROBE + SIM)
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match=message):
            run(printer, tmp_path, text)


def test_a_probe_that_never_reaches_the_bed(tmp_path):
    """z_offset_error -3: the probe would trigger 1.4 mm below the bed, past
    position_min: Klipper's error, and the nozzle stopped at position_min."""
    cfg = write_cfg(tmp_path, default_config(),
                    PROBE + SIM.replace("z_offset_error = 0.1", "z_offset_error = -3"))
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match="No trigger on probe after full movement"):
            run(printer, tmp_path, "G28\nG1 X100 Y100 Z5 F6000\nPROBE\n")
        assert printer.toolhead.position[2] == 0.0


def test_probe_as_z_virtual_endstop(tmp_path):
    """stepper_z endstop_pin: probe:z_virtual_endstop on a tilted bed: after
    G28 the nozzle is z_offset above the bed under the probe tip (within a
    step and the probe's repeatability), and the host says Z = z_offset."""
    text = open(default_config()).read().replace("endstop_pin = ^sim_z_stop",
                                                 "endstop_pin = probe:z_virtual_endstop")
    base = tmp_path / "base.cfg"
    base.write_text(text)
    cfg = write_cfg(tmp_path, str(base), PROBE + "[sim_plant bed]\ntilt_x = 0.002\n"
                                                "tilt_y = -0.001\n")
    with printer_on_sim(cfg) as (printer, _said):
        run(printer, tmp_path, "G28 X Y\nG1 X120 Y60 F6000\nG28 Z\n")
        assert printer.toolhead.position[:3] == [120.0, 60.0, 1.5]
        nozzle = physical_z(printer)
    bed = 0.002 * (120 - 20) - 0.001 * (60 + 5)
    assert abs(nozzle - bed - 1.5) <= Z_STEP + 0.002


def test_bltouch_debug_and_probe(tmp_path):
    """BLTOUCH_DEBUG pin_down/pin_up drive the pin; a PROBE deploys and
    stows it; the modes the simulated BLTouch lacks are errors."""
    cfg = write_cfg(tmp_path, default_config(),
                    "[bltouch]\nsensor_pin = ^sim_probe\ncontrol_pin = sim_servo\n"
                    "z_offset = 2.0\n")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 X100 Y100 Z10 F6000\nBLTOUCH_DEBUG\n"
                               "BLTOUCH_DEBUG COMMAND=pin_down\n")
        assert printer.probing.probe.deployed
        run(printer, tmp_path, "BLTOUCH_DEBUG COMMAND=pin_up\nPROBE\n", "b.gcode")
        assert not printer.probing.probe.deployed
        with pytest.raises(PrintError, match="the simulated BLTouch has no reset mode"):
            run(printer, tmp_path, "BLTOUCH_DEBUG COMMAND=reset\n", "c.gcode")
        lines = echoes(said)
    assert lines[:3] == ["Possible commands: pin_down pin_up",
                         "Sending BLTOUCH_DEBUG COMMAND=pin_down",
                         "Sending BLTOUCH_DEBUG COMMAND=pin_up"]
    z = float([line for line in lines if line.startswith("Result is z=")][0][12:])
    assert abs(z - 2.0) <= Z_STEP + 0.002


def test_gcode_offset_moves_exact_steps(tmp_path):
    """SET_GCODE_OFFSET and M290 shift Z by exact steps (400/mm); G92 is
    separate: G28 ends a G92 shift and keeps the G-code offset; M114 and
    GET_POSITION report the G-code position; Z_OFFSET_APPLY_PROBE takes
    the offset off z_offset. (A Z switch of no spread, so that the second
    G28 lands on the first one's step.)"""
    cfg = write_cfg(tmp_path, default_config(),
                    PROBE + "[sim_plant stepper_z]\nendstop_repeatability = 0\n")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 Z1 F600\nGET_POSITION\n"
                               "SET_GCODE_OFFSET Z=0.1\nG1 Z1\nGET_POSITION\n"
                               "SET_GCODE_OFFSET Z_ADJUST=-0.05 MOVE=1\nGET_POSITION\n"
                               "M290 Z0.02\nGET_POSITION\n"
                               "G92 Z5\nG1 Z6\nGET_POSITION\n"
                               "G28 Z\nG1 Z1 F600\nGET_POSITION\n"
                               "M114\nZ_OFFSET_APPLY_PROBE\n")
        lines = echoes(said)
        assert printer.pending.changes == {"probe": {"z_offset": "1.430"}}
        assert board_steps(printer)[2] == printer.toolhead.motor_positions()[2]
    steps = [int(re.search(r"stepper_z:(-?\d+)", line).group(1))
             for line in lines if line.startswith("mcu: ")]
    assert [z - steps[0] for z in steps[1:]] == [40, 20, 28, 428, 28]
    assert lines[-8:-3] == [
        "toolhead: X:0.000000 Y:0.000000 Z:1.070000 E:0.000000",
        "gcode: X:0.000000 Y:0.000000 Z:1.000000 E:0.000000",
        "gcode base: X:0.000000 Y:0.000000 Z:0.070000 E:0.000000",
        "gcode homing: X:0.000000 Y:0.000000 Z:0.070000 E:0.000000",
        "X:0.000 Y:0.000 Z:1.000 E:0.000"]
    assert lines[-3] == "probe: z_offset: 1.430"


def test_check_accepts_probe_commands(tmp_path):
    """`mendel check` knows every probe command (a PRINT_START macro that
    probes checks clean) and refuses bad arguments as a print would."""
    cfg = write_cfg(tmp_path, default_config(), PROBE)
    path = tmp_path / "job.gcode"
    path.write_text("G28\nPROBE\nQUERY_PROBE\nPROBE_ACCURACY SAMPLES=3\nPROBE_CALIBRATE\n"
                    "TESTZ Z=-1\nACCEPT\nZ_OFFSET_APPLY_PROBE\nSET_GCODE_OFFSET Z=0.1\n"
                    "M290 Z0.01\nGET_POSITION\nSAVE_CONFIG\nG1 X10 Y10 Z1 F3000\n"
                    "PROBE SAMPLES=0\n")
    report = check_file(str(path), cfg)
    assert report["unsupported"] == {}
    assert [(e["line"], e["reason"]) for e in report["errors"]] == [
        (14, "PROBE: SAMPLES must have minimum of 1")]


def test_save_config_from_a_serve_session(tmp_path):
    """`mendel serve`: a client babysteps, applies the offset to the probe
    and saves; the reply says so and printer.cfg's block has the value."""
    cfg = write_cfg(tmp_path, default_config(), PROBE)
    with contextlib.ExitStack() as stack:
        sim = stack.enter_context(SimBoard("sim", config=cfg))
        board_port = stack.enter_context(serial.Serial(sim.port, 250000, timeout=0.1))
        mcu = Mcu(board_port)
        mcu.connect()
        port = VirtualSerialPort()
        session = Session(lambda _clear: ServedPrinter(cfg, mcu), port.write_line).start()
        stop = threading.Event()
        loop = threading.Thread(target=serve, args=(port, session, stop), daemon=True)
        loop.start()
        try:
            client = Client(port.path)
            assert client.run("G28") == ["ok"]
            assert client.run("G1 X100 Y100 Z5 F6000") == ["ok"]
            assert client.run("M290 Z0.2") == ["ok"]
            assert client.run("Z_OFFSET_APPLY_PROBE")[0] == "echo:probe: z_offset: 1.300"
            saved = client.run("SAVE_CONFIG")
            client.close()
        finally:
            stop.set()
            loop.join()
            session.stop()
            port.close()
    assert saved[0].startswith("echo:SAVE_CONFIG: saved [probe] to ") and saved[-1] == "ok"
    assert config_mod.load(str(tmp_path / "printer.cfg")).probe.z_offset == 1.3


def test_restore_gcode_state_restores_the_gcode_offset(tmp_path):
    """RESTORE_GCODE_STATE puts back the G-code offset with the G92 base
    (Klipper saves both): the offset set in between is gone, in the
    report and in the steps of the next move."""
    cfg = write_cfg(tmp_path, default_config(), "[gcode_macro NOOP]\ngcode =\n  M400\n")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 Z1 F600\nSAVE_GCODE_STATE NAME=s\n"
                               "SET_GCODE_OFFSET Z=0.2\nRESTORE_GCODE_STATE NAME=s\n"
                               "G1 Z2\nGET_POSITION\n")
        lines = echoes(said)
    assert "gcode homing: X:0.000000 Y:0.000000 Z:0.000000 E:0.000000" in lines
    assert "toolhead: X:0.000000 Y:0.000000 Z:2.000000 E:0.000000" in lines


def test_save_config_refuses_the_bundled_config(tmp_path):
    """The package's own printer.cfg is never written: the error says to copy it."""
    cfg = config_mod.load(default_config())
    with printer_on_sim(cfg) as (printer, _said):
        printer.pending.set("probe", "z_offset", "1.000")
        with pytest.raises(PrintError, match="is Mendel's bundled printer.cfg"):
            run(printer, tmp_path, "SAVE_CONFIG\n")
    assert "SAVE_CONFIG" not in open(default_config()).read()


def test_samples_that_spread_too_far_are_retried_then_refused(tmp_path):
    """A probe that repeats within 0.05 mm, asked for 3 samples within 0.001 mm
    and one retry: Klipper's retry line, then its error; with a tolerance of
    0.2 mm the same probe passes."""
    cfg = write_cfg(tmp_path, default_config(),
                    PROBE + "[sim_plant probe]\nrepeatability = 0.05\n")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 X100 Y100 Z10 F6000\n")
        with pytest.raises(PrintError, match="Probe samples exceed samples_tolerance"):
            run(printer, tmp_path, "PROBE SAMPLES=3 SAMPLES_TOLERANCE=0.001 "
                                   "SAMPLES_TOLERANCE_RETRIES=1\n", "tight.gcode")
        assert "Probe samples exceed tolerance. Retrying..." in echoes(said)
        run(printer, tmp_path, "G1 Z10 F600\nPROBE SAMPLES=3 SAMPLES_TOLERANCE=0.2\n",
            "loose.gcode")
        assert any(line.startswith("Result is z=") for line in echoes(said))
