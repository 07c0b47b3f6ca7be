"""Homing stops on the emulated RP2040: the PIO program samples the endstop before
every step, and the harness drives the endstop GPIO at a chosen emulated cycle."""
import os

import numpy as np
import pytest

from conftest import connect
from edges import net_steps, rising_ticks
from mendel import config as config_mod
from mendel.machine.printer import Printer
from printing import bench_config

pytestmark = pytest.mark.emulated

INTERVAL_TICKS = 12000            # 1 ms between steps
STEPS = 1500                      # the homing run: 1.5 s towards the endstop
TRIGGER_AFTER = 437               # steps taken before the endstop closes
LEAD_TICKS = 12000000 // 2        # the run starts 0.5 s after it is sent


def test_homing_stops_on_the_step_the_endstop_closes_before(emulator):
    """X homes towards its endstop (GPIO11, pull-up, active low as the board file
    says: a switch to ground): the harness holds it open, then closes it half-way between step 437 and step 438 of the
    homing run. The board's stop position (get_trigger) is the true step count
    on the step pin, that count is 437 (the steps commanded before the endstop
    closed), and endstop_query reads triggered. The host has no homing of its
    own yet (G28 is a plain move), so the test speaks the firmware's commands."""
    motor = emulator.board["motors"][0]
    spec = emulator.board["endstops"][0]
    endstop = int(spec["pin"][4:])
    closed = 0 if spec["active"] == "low" else 1
    port, mcu = connect(emulator)
    try:
        mcu.send("enable_motors", 1)
        mcu.send("endstop_home", 0, 1 << 0)
        start = mcu.estimated_clock() + LEAD_TICKS
        mcu.send("set_step_clock", 0, start)
        mcu.send("queue_step", 0, INTERVAL_TICKS, -STEPS, 0)
        mcu.flush()
        # Step k (1-based) is at start + k*interval; close between 437 and 438.
        close = start + TRIGGER_AFTER * INTERVAL_TICKS + INTERVAL_TICKS // 2
        emulator.drive(endstop, closed, at_cycle=emulator.cycle_of(close))
        mcu.wait_until(start + (STEPS + 10) * INTERVAL_TICKS)
        _oid, hit, position = mcu.query("get_trigger", (0,), "trigger",
                                        match=lambda a: a[0] == 0)
        _eid, state = mcu.query("endstop_query", (0,), "endstop_state",
                                match=lambda a: a[0] == 0)
    finally:
        port.close()
    ticks, dirs = rising_ticks(emulator, motor)
    assert np.all(dirs == 0)
    assert (hit, state) == (1, 1)
    assert position == -len(ticks), "the board's stop position is not the pins' count"
    assert len(ticks) == TRIGGER_AFTER


def test_g28_on_the_rp2040_takes_the_position_from_the_pio_stop(emulator, tmp_path):
    """G28 X through the host (Printer, the board's real clock) on the bench
    rig: the harness closes X's endstop (active low, ``^!gpio11`` in the
    bench printer.cfg) 1 s after the host starts, half-way through the
    homing move. Afterwards the host's step count of X is the board's
    (get_position), which is the count of step pulses on the pin, X is at
    position_endstop, and QUERY_ENDSTOPS reads it TRIGGERED."""
    path = bench_config(str(tmp_path))
    with open(path) as f:
        text = f.read()
    text = text.replace("[stepper_x]\n", "[stepper_x]\nhoming_retract_dist = 0\n", 1)
    with open(path, "w") as f:
        f.write(text)
    cfg = config_mod.load(path)
    motor = emulator.board["motors"][0]
    spec = emulator.board["endstops"][0]
    closed = 0 if spec["active"] == "low" else 1
    gcode = os.path.join(str(tmp_path), "home.gcode")
    with open(gcode, "w") as f:
        f.write("G28 X\nQUERY_ENDSTOPS\n")
    port, mcu = connect(emulator)
    said = []
    try:
        printer = Printer(cfg, mcu, warn=said.append)
        close = mcu.estimated_clock() + mcu.clock_freq
        emulator.drive(int(spec["pin"][4:]), closed, at_cycle=emulator.cycle_of(close))
        printer.print_file(gcode, preflight=False)
        host = printer.toolhead.motor_positions()[0]
        board = mcu.motor_position(printer.toolhead.oids[0])
        position = printer.toolhead.position[0]
    finally:
        port.close()
    pulses = net_steps(emulator, motor)
    assert host == board == pulses
    assert pulses < -100, "the homing move should have run for a while before the switch"
    assert position == cfg.steppers["x"].position_endstop
    assert "echo: x:TRIGGERED y:open z:open" in said
