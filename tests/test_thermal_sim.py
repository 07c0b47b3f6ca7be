"""Thermal control end to end: the firmware under micropython on the simulated board.

Autotune figures, fault messages as `mendel print` shows them, M109 R cooling,
and a shutdown reason longer than one frame reaching the host whole.
"""
import contextlib
import subprocess
import sys

import pytest
import serial

from mendel import config
from mendel.mcu.mcu import Mcu, McuShutdown
from mendel.machine.printer import Printer
from mendel.sim.board import SimBoard

CFG = config.load()
DEG = "\u00b0C"


@contextlib.contextmanager
def sim_printer():
    with SimBoard("sim") as sim:
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            mcu = Mcu(port)
            mcu.connect()
            yield Printer(CFG, mcu, warn=lambda _t: None)


def hold_profile(printer, target, seconds):
    """Readings (degC) every 0.5 s of board time after setting ``target`` from cold."""
    mcu = printer.mcu
    printer.set_temperature("extruder", target, wait=False)
    readings = []
    start = mcu.estimated_clock()
    for i in range(int(seconds * 2)):
        mcu.wait_until(start + (i + 1) * mcu.clock_freq // 2)
        readings.append(mcu.temperature(0)[0])
    return readings


def test_autotuned_gains_hold_210_within_a_degree_with_under_3c_overshoot():
    with sim_printer() as printer:
        result = printer.heaters.autotune("extruder", 210.0, cycles=8)
    assert result.ku > 0 and 3.0 < result.tu_s < 60.0
    with sim_printer() as printer:                     # a cold hot end again
        printer.heaters.set_gains("extruder", result.kp, result.ki, result.kd)
        readings = hold_profile(printer, 210.0, 300.0)
        (_hid, true_peak) = printer.mcu.query("sim_get_peaks", (0,), "sim_peaks")
    overshoot = max(readings) - 210.0
    settled = readings[240:]                           # from 120 s on
    assert overshoot < 3.0
    assert true_peak / 100.0 - 210.0 < 3.0             # the block itself, not the sensor
    assert max(abs(t - 210.0) for t in settled) <= 1.0


def test_m109_r_waits_for_cooling_and_s_does_not():
    with sim_printer() as printer:
        mcu = printer.mcu
        printer.set_temperature("extruder", 215.0, wait=True)
        assert abs(mcu.temperature(0)[0] - 215.0) <= 1.0
        before = mcu.estimated_clock()
        printer.set_temperature("extruder", 180.0, wait=True, cooling=True)
        assert abs(mcu.temperature(0)[0] - 180.0) <= 1.0
        assert mcu.estimated_clock() - before > 10 * mcu.clock_freq
        before = mcu.estimated_clock()
        printer.set_temperature("extruder", 170.0, wait=True)   # S while above: no wait
        assert mcu.estimated_clock() - before < mcu.clock_freq


def test_a_reason_longer_than_a_frame_reaches_the_host_whole():
    with sim_printer() as printer:
        printer.set_temperature("heater_bed", 120.5, wait=True)
        printer.heaters.inject_fault("heater_bed", "heater_failed")
        with pytest.raises(McuShutdown) as info:
            printer.mcu.wait_until(printer.mcu.estimated_clock()
                                   + 120 * printer.mcu.clock_freq)
    reason = str(info.value)
    assert reason.startswith(("Heating failed on heater_bed: 1",
                              "Thermal runaway on heater_bed: 1"))
    assert reason.endswith(", target 120.5 " + DEG)
    assert len(reason.encode()) > 56


@pytest.mark.parametrize("fault, words", [
    ("thermistor_loose@110", "Thermal runaway on extruder: "),
    ("thermistor_open@30", "Thermistor open on extruder"),
    ("mosfet_stuck_on@110", "Heater extruder stuck on: "),
])
def test_mendel_print_shows_the_fault_in_words(tmp_path, fault, words):
    gcode = tmp_path / "job.gcode"
    gcode.write_text("M104 S215\nG28\nM109 S215\nG4 S200\nG1 X10 F3000\n")
    result = subprocess.run([sys.executable, "-m", "mendel", "print", str(gcode),
                             "--sim-fault", fault], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "mendel: error: the board shut down at %s line" % gcode in result.stderr
    assert words in result.stderr
    if words.startswith("Thermal runaway"):
        assert ("%s, target 215 %s" % (DEG, DEG)) in result.stderr


def test_m303_in_a_file_tunes_and_prints_the_gains(tmp_path):
    gcode = tmp_path / "tune.gcode"
    gcode.write_text("M303 E0 S210 C5\nM109 S210\nG4 S30\n")
    result = subprocess.run([sys.executable, "-m", "mendel", "print", str(gcode), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "PID autotune extruder at 210 C: Ku " in result.stderr
    assert "pid_kp = " in result.stderr
