"""Homing on the simulated printer: its switches are where [sim_plant] puts
them (not where printer.cfg says), its carriages start where the host does
not know, and G28 must find them from the board's trigger."""
import os

import pytest

from mendel import config as config_mod
from mendel.machine.check import check_file
from mendel.machine.printer import PrintError
from mendel.resources import config_path, default_config
from sim_printer import board_steps, printer_on_sim, run, write_cfg

STEPS_PER_MM = {"x": 80.0, "y": 80.0, "z": 400.0}
SPREAD = 0.002      # the default switch repeatability (mm)


CARTESIAN_SIM = """
[sim_plant stepper_x]
endstop_offset = 1.3
start_position = 77
[sim_plant stepper_y]
endstop_offset = -0.7
start_position = 150
[sim_plant stepper_z]
endstop_offset = 0.45
start_position = 33
"""


def homed(cfg, tmp_path, text):
    """Run ``text`` on the simulated printer ``cfg`` and check that the host
    counts every motor's steps as the board does; returns (the board's step
    counts, the toolhead's [x, y, z, e] mm, the kinematics' home position)."""
    with printer_on_sim(cfg) as (printer, _said):
        run(printer, tmp_path, text)
        host = printer.toolhead.motor_positions()
        board = board_steps(printer)
        position = list(printer.toolhead.position)
        home = printer.toolhead.kinematics.home_position()
    assert host[:3] == board[:3]
    return board, position, home


def test_g28_finds_switches_that_are_not_where_the_config_says(tmp_path):
    """Switches 1.3, -0.7 and 0.45 mm off position_endstop, carriages at
    unknown places: after G28 the host's count of each motor's steps is the
    board's to the step, and the physical carriage (start + steps) is at its
    switch, within one step and the switch's repeatability."""
    cfg = write_cfg(tmp_path, default_config(), CARTESIAN_SIM)
    board, position, _home = homed(cfg, tmp_path, "G28\n")
    assert position[:3] == [0.0, 0.0, 0.0]
    starts = {"x": 77.0, "y": 150.0, "z": 33.0}
    offsets = {"x": 1.3, "y": -0.7, "z": 0.45}
    for i, axis in enumerate("xyz"):
        physical = starts[axis] + board[i] / STEPS_PER_MM[axis]
        assert abs(physical - offsets[axis]) <= 1.0 / STEPS_PER_MM[axis] + SPREAD, axis


def test_a_second_g28_lands_on_the_same_step(tmp_path):
    """Moves away and homes again: the board's counters come back to within
    one step (the switch's repeatability is a fraction of a step)."""
    cfg = write_cfg(tmp_path, default_config(), CARTESIAN_SIM)
    with printer_on_sim(cfg) as (printer, _said):
        run(printer, tmp_path, "G28\n")
        first = board_steps(printer)
        run(printer, tmp_path, "G1 X120 Y80 Z30 F6000\nG28\n", "again.gcode")
        second = board_steps(printer)
        assert printer.toolhead.motor_positions()[:3] == second[:3]
    assert all(abs(a - b) <= 1 for a, b in zip(first[:3], second[:3]))


CARRIAGE_SPM = 80.0       # steps/mm of the CoreXY A/B belts and the delta carriages


def test_corexy_homes_x_with_both_motors_to_the_step(tmp_path):
    """CoreXY homes X with motors A (x + y) and B (x - y) together. The X
    switch is 0.8 mm off; the head starts at X 60, Y 40. After G28 (twice)
    the host's counts equal the board's, and the physical head (from A and
    B's steps) is at X 0.8, Y 0 within a step and the switches' spread."""
    cfg = write_cfg(tmp_path, config_path("corexy"),
                    "[sim_plant stepper_x]\nendstop_offset = 0.8\nstart_position = 60\n"
                    "[sim_plant stepper_y]\nstart_position = 40\n")
    board, position, _home = homed(cfg, tmp_path, "G28\nG1 X100 Y100 Z20 F6000\nG28\n")
    assert position[:3] == [0.0, 0.0, 0.0]
    a = (60 + 40) + board[0] / CARRIAGE_SPM
    b = (60 - 40) + board[1] / CARRIAGE_SPM
    assert abs((a + b) / 2 - 0.8) <= 1.0 / CARRIAGE_SPM + SPREAD
    assert abs((a - b) / 2 - 0.0) <= 1.0 / CARRIAGE_SPM + SPREAD


def test_delta_homes_each_tower_on_its_own_switch(tmp_path):
    """A delta homes its three towers up together, each carriage stopped by
    its own switch (tower A's 0.8 mm high), from 50, 40 and 30 mm below their
    endstops. The host's counts equal the board's; each carriage went up
    by its start distance (+0.8 for A), to the step."""
    cfg = write_cfg(tmp_path, config_path("delta"),
                    "[sim_plant stepper_a]\nendstop_offset = 0.8\nstart_position = 200\n"
                    "[sim_plant stepper_b]\nstart_position = 210\n"
                    "[sim_plant stepper_c]\nstart_position = 220\n")
    board, position, home = homed(cfg, tmp_path, "G28\nG1 Z20 F600\nG28\n")
    assert position[:3] == pytest.approx(home, abs=1e-9)
    for steps, rise in zip(board[:3], (50.8, 40.0, 30.0)):
        assert abs(steps / CARRIAGE_SPM - rise) <= 1.0 / CARRIAGE_SPM + SPREAD


def test_no_trigger_after_full_movement(tmp_path):
    """A switch the homing move never reaches (the X switch at -250 mm, the
    carriage at 250 mm: a homing move covers 1.5 x 250 mm) never triggers:
    Klipper's error, and X is not homed."""
    cfg = write_cfg(tmp_path, default_config(),
                    "[sim_plant stepper_x]\nendstop_offset = -250\nstart_position = 250\n")
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match="No trigger on x after full movement"):
            run(printer, tmp_path, "G28 X\n")
        assert "x" not in printer.toolhead.homed


def test_an_inverted_endstop_is_still_triggered_after_retract(tmp_path):
    """endstop_pin: ^!sim_x_stop on a switch wired straight reads triggered
    at rest: the first move stops at once, and after the retract it is
    still triggered."""
    text = open(default_config()).read().replace("endstop_pin = ^sim_x_stop",
                                                 "endstop_pin = ^!sim_x_stop")
    assert "^!sim_x_stop" in text
    path = tmp_path / "inverted.cfg"
    path.write_text(text)
    cfg = config_mod.load(str(path))
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match="Endstop x still triggered after retract"):
            run(printer, tmp_path, "G28 X\n")


def test_moves_before_homing_are_refused(tmp_path):
    cfg = config_mod.load(default_config())
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match="Must home axis first: x"):
            run(printer, tmp_path, "G28 Y Z\nG1 Y10 Z5 F3000\nG1 X10\n")
        # E alone needs no homing; M84 un-homes.
        run(printer, tmp_path, "G28\nM84\n", "b.gcode")
        assert printer.toolhead.homed == set()
        with pytest.raises(PrintError, match="Must home axis first"):
            run(printer, tmp_path, "G1 Z10\n", "c.gcode")


def test_set_kinematic_position_homes_without_moving(tmp_path):
    cfg = config_mod.load(default_config())
    with printer_on_sim(cfg) as (printer, _said):
        before = board_steps(printer)
        run(printer, tmp_path, "SET_KINEMATIC_POSITION X=100 Y=50 Z=10\nG1 X101 F600\n")
        after = board_steps(printer)
        assert printer.toolhead.homed == {"x", "y", "z"}
        assert printer.toolhead.position[:3] == [101.0, 50.0, 10.0]
    assert after[0] - before[0] == 80 and after[1:3] == before[1:3]


def test_query_endstops_and_m119(tmp_path):
    """After homing X the carriage rests on its switch: X reads TRIGGERED;
    Y and Z were moved off theirs."""
    cfg = config_mod.load(default_config())
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG1 Y20 Z10 F3000\nQUERY_ENDSTOPS\nM119\n")
    assert "echo: x:TRIGGERED y:open z:open" in said
    assert "echo: x_min: TRIGGERED" in said and "echo: y_min: open" in said


def test_m119_names_an_endstop_at_the_top_max(tmp_path):
    """Marlin's M119 says x_max for a switch at the high end: every tower
    of a delta (they home up), and a cartesian axis with
    homing_positive_dir. After G28 a delta's carriages rest on their
    switches."""
    cfg = config_mod.load(config_path("delta"))
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nM119\n")
    assert said[-4:] == ["echo: Reporting endstop status", "echo: x_max: TRIGGERED",
                         "echo: y_max: TRIGGERED", "echo: z_max: TRIGGERED"]
    cfg = write_cfg(tmp_path, default_config(), "[stepper_x]\nposition_endstop = 250\n"
                    "homing_positive_dir = true\n")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28 X\nM119\n")
    assert said[-3:-1] == ["echo: x_max: TRIGGERED", "echo: y_min: open"]
    cfg = write_cfg(tmp_path, default_config(), "[stepper_z]\nendstop_pin = "
                    "probe:z_virtual_endstop\n[probe]\npin = ^sim_probe\nz_offset = 1\n")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "M119\n")
    assert said[-1] == "echo: probe: open"


def test_safe_z_home_homes_z_at_its_xy(tmp_path):
    """[safe_z_home]: X and Y first, then Z at home_xy_position, then the
    Z hop. Z alone before X and Y is refused as Klipper words it."""
    cfg = write_cfg(tmp_path, default_config(),
                    "[safe_z_home]\nhome_xy_position = 120, 100\nz_hop = 10\n")
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match="Must home X and Y axes first"):
            run(printer, tmp_path, "G28 Z\n", "z.gcode")
        run(printer, tmp_path, "G28\n")
        assert printer.toolhead.position[:3] == [120.0, 100.0, 10.0]
        assert printer.toolhead.homed == {"x", "y", "z"}


def test_homing_override_runs_its_gcode(tmp_path):
    """[homing_override] with set_position_z: Z is declared at 0 (homed), the
    override lifts it, then homes X and Y for real."""
    cfg = write_cfg(tmp_path, default_config(),
                    "[homing_override]\nset_position_z = 0\naxes = xyz\n"
                    "gcode =\n  G1 Z5 F600\n  G28 X Y\n  G1 X30 Y40 F6000\n")
    with printer_on_sim(cfg) as (printer, _said):
        run(printer, tmp_path, "G28\n")
        assert printer.toolhead.position[:3] == [30.0, 40.0, 5.0]
        assert printer.toolhead.homed == {"x", "y", "z"}


def test_config_check_refuses_position_endstop_outside_the_travel(tmp_path):
    text = open(default_config()).read()
    path = tmp_path / "bad.cfg"
    path.write_text(text.replace("position_endstop = 0\nposition_min = 0\nposition_max = 250",
                                 "position_endstop = 260\nposition_min = 0\nposition_max = 250",
                                 1))
    with pytest.raises(config_mod.ConfigError, match="position_endstop"):
        config_mod.load(str(path))
    assert os.path.exists(path)


def test_dir_pin_bang_undoes_a_motor_wired_backwards(tmp_path):
    """X's motor is wired the other way round ([sim_plant stepper_x]
    motor_reversed): homing drives the carriage away from its switch, so G28
    X finds no trigger. ``dir_pin: !`` in printer.cfg reverses it and G28 X
    homes to the step."""
    cfg = write_cfg(tmp_path, default_config(),
                    "[sim_plant stepper_x]\nmotor_reversed = True\nstart_position = 200\n")
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match="No trigger on x after full movement"):
            run(printer, tmp_path, "G28 X\n")
    text = open(default_config()).read()
    fixed = tmp_path / "fixed.cfg"
    fixed.write_text(text.replace("[stepper_x]\n", "[stepper_x]\ndir_pin = !sim_x_dir\n", 1) +
                     "\n[sim_plant stepper_x]\nmotor_reversed = True\nstart_position = 200\n")
    cfg = config_mod.load(str(fixed))
    with printer_on_sim(cfg) as (printer, _said):
        run(printer, tmp_path, "G28 X\nG1 X10 F6000\n")
        board = board_steps(printer)[0]
        assert printer.toolhead.motor_positions()[0] == board
    # The carriage went from 200 mm down to the switch at 0, then to 10 mm:
    # with the direction pin reversed, the board's count follows the carriage.
    assert abs(200.0 + board / STEPS_PER_MM["x"] - 10.0) <= 1.0 / STEPS_PER_MM["x"] + SPREAD


BLTOUCH_AS_Z = """
[bltouch]
sensor_pin = ^sim_probe
control_pin = sim_servo
x_offset = -20
y_offset = 5
z_offset = 1.5
"""


def _z_on_probe(tmp_path, extra):
    text = open(default_config()).read().replace("endstop_pin = ^sim_z_stop",
                                                 "endstop_pin = probe:z_virtual_endstop")
    base = tmp_path / "base.cfg"
    base.write_text(text)
    return write_cfg(tmp_path, str(base), BLTOUCH_AS_Z + extra)


def test_g28_z_on_a_bltouch_deploys_its_pin(tmp_path):
    """A BLTouch as the Z endstop triggers only with its pin out: G28 Z puts it
    out over the control pin, homes, and puts it away. Z is then z_offset,
    and the nozzle is that high above the bed under the probe, to the step."""
    cfg = _z_on_probe(tmp_path, "[sim_plant bed]\ntilt_x = 0.002\n")
    with printer_on_sim(cfg) as (printer, _said):
        run(printer, tmp_path, "G28\n")
        z_board = board_steps(printer)[2]
        assert printer.toolhead.position[2] == 1.5
        assert not printer.toolhead.homed ^ {"x", "y", "z"}
    start_z = (0 + 210) / 2.0
    nozzle = start_z + z_board / STEPS_PER_MM["z"]
    x, y = 0.0, 0.0                        # X and Y homed to 0 first
    bed = 0.002 * (x - 20)
    assert abs(nozzle - bed - 1.5) <= 1.0 / STEPS_PER_MM["z"] + SPREAD


def test_g28_z_on_a_probe_already_triggered_is_refused(tmp_path):
    """The nozzle starts 0.5 mm over the bed, below the BLTouch's 1.5 mm: it
    reads triggered once out, and G28 Z refuses as Klipper does."""
    cfg = _z_on_probe(tmp_path, "[sim_plant stepper_z]\nstart_position = 0.5\n")
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match="Probe triggered prior to movement"):
            run(printer, tmp_path, "G28\n")
        assert "z" not in printer.toolhead.homed


def test_mendel_check_runs_a_homing_override_without_other_macros(tmp_path):
    """A printer.cfg whose only template is [homing_override]: `mendel check`
    runs it for G28 (it used to find no macro set and crash)."""
    cfg = write_cfg(tmp_path, default_config(),
                    "[homing_override]\nset_position_z = 0\ngcode =\n  G1 Z5 F600\n  G28 X Y\n")
    gcode = tmp_path / "job.gcode"
    gcode.write_text("G28\nG1 X10 Y10 Z1 F3000\n")
    report = check_file(str(gcode), cfg)
    assert report["fits"] and report["errors"] == []
    assert report["travel_bounds"]["max"][2] == 5.0
