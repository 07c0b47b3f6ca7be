"""printer.cfg for homing, probing, bed mesh and the physical simulated
printer: the keys, their Klipper defaults, and an error for every wrong value."""
import pytest

from mendel import config
from mendel.config import check as configcheck
from mendel.gcode import macros

BASE = open(config.load().path).read()
DELTA = open(config.load(config.resources.config_path("delta")).path).read()


def load(tmp_path, extra="", text=BASE, edits=()):
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "printer.cfg"
    path.write_text(text + extra)
    return config.load(str(path))


def problem(tmp_path, extra="", text=BASE, edits=()):
    with pytest.raises(config.ConfigError) as info:
        load(tmp_path, extra, text, edits)
    [found] = info.value.problems
    return found


# -- stepper homing keys ----------------------------------------------------
def test_stepper_homing_defaults_are_klippers(tmp_path):
    x = load(tmp_path).steppers["x"]          # homing_speed = 50, endstop at position_min
    assert (x.homing_speed, x.second_homing_speed, x.homing_retract_dist,
            x.homing_retract_speed, x.homing_positive_dir) == (50.0, 25.0, 5.0, 50.0, False)
    assert (x.endstop, x.endstop_pull, x.endstop_inverted, x.dir_inverted) == (
        "x", "up", False, False)


def test_stepper_homing_keys_are_read(tmp_path):
    x = load(tmp_path, edits=[("[stepper_x]\n", "[stepper_x]\nsecond_homing_speed = 7\n"
                               "homing_retract_dist = 0\nhoming_retract_speed = 12\n"
                               "dir_pin = !sim_x_dir\n"),
                              ("endstop_pin = ^sim_x_stop", "endstop_pin = ~!sim_x_stop"),
                              ("position_endstop = 0\n", "position_endstop = 250\n")]
             ).steppers["x"]
    assert (x.second_homing_speed, x.homing_retract_dist, x.homing_retract_speed) == (
        7.0, 0.0, 12.0)
    # position_endstop at position_max: homes towards +X (Klipper's inference).
    assert (x.homing_positive_dir, x.dir_inverted, x.endstop_inverted, x.endstop_pull) == (
        True, True, True, "down")


def test_homing_direction_cannot_be_inferred_mid_travel(tmp_path):
    found = problem(tmp_path, edits=[("position_endstop = 0\n", "position_endstop = 125\n")])
    assert (found.section, found.key) == ("stepper_x", "homing_positive_dir")
    assert found.message.startswith("required: position_endstop 125 is in the middle of 0..250")
    x = load(tmp_path, edits=[("position_endstop = 0\n", "position_endstop = 125\n"
                               "homing_positive_dir = true\n")]).steppers["x"]
    assert x.homing_positive_dir is True


@pytest.mark.parametrize("edit,key,message", [
    (("position_endstop = 0\n", "position_endstop = 0\nhoming_positive_dir = True\n"),
     "homing_positive_dir", "True cannot be right with position_endstop 0 at position_min"),
    (("position_endstop = 0\n", "position_endstop = 0\nhoming_positive_dir = maybe\n"),
     "homing_positive_dir", "'maybe' is not True or False"),
    (("homing_speed = 50", "homing_speed = 50\nhoming_retract_dist = -1"),
     "homing_retract_dist", "-1 is below the minimum 0"),
    (("homing_speed = 50", "homing_speed = 50\nsecond_homing_speed = 0"),
     "second_homing_speed", "0 must be above 0"),
    (("endstop_pin = ^sim_x_stop", "endstop_pin = ^sim_probe\nhoming_retract_speed = 0"),
     "homing_retract_speed", "0 must be above 0"),
])
def test_stepper_homing_errors(tmp_path, edit, key, message):
    found = problem(tmp_path, edits=[edit])
    assert (found.section, found.key) == ("stepper_x", key)
    assert found.message.startswith(message)


def test_without_endstop_pin_there_is_no_endstop_and_no_warning(tmp_path):
    cfg = load(tmp_path, edits=[("endstop_pin = ^sim_x_stop\n", "")])
    assert cfg.steppers["x"].endstop is None and cfg.steppers["y"].endstop == "y"
    assert cfg.warnings == []


def test_delta_towers_home_up_and_default_their_sim_start(tmp_path):
    cfg = load(tmp_path, text=DELTA)
    towers = [cfg.steppers[t] for t in "abc"]
    assert [(s.endstop, s.homing_positive_dir, s.second_homing_speed) for s in towers] == [
        ("x", True, 25.0), ("y", True, 25.0), ("z", True, 25.0)]
    assert cfg.sim_steppers["stepper_a"]["start_position"] == 230.0     # 250 - 20
    found = problem(tmp_path, text=DELTA, edits=[
        ("arm_length = 215\n", "arm_length = 215\nhoming_positive_dir = False\n")])
    assert (found.section, found.key) == ("stepper_a", "homing_positive_dir")


def test_probe_as_z_endstop(tmp_path):
    probe = "\n[probe]\npin = ^sim_probe\nz_offset = 1.5\n"
    edit = ("endstop_pin = ^sim_z_stop", "endstop_pin = probe:z_virtual_endstop")
    cfg = load(tmp_path, probe, edits=[edit])
    assert cfg.steppers["z"].endstop == "probe" and cfg.probe.pin == "probe"
    found = problem(tmp_path, edits=[edit])
    assert (found.section, found.key, found.message) == (
        "stepper_z", "endstop_pin", "probe:z_virtual_endstop needs a [probe] or [bltouch] "
                                    "section")


# -- [probe] / [bltouch] ----------------------------------------------------
def test_probe_defaults(tmp_path):
    cfg = load(tmp_path, "\n[probe]\npin = ^!sim_probe\nz_offset = 1.25\nx_offset = -30\n")
    p = cfg.probe
    assert (p.kind, p.pin, p.inverted, p.pull, p.x_offset, p.y_offset, p.z_offset) == (
        "probe", "probe", True, "up", -30.0, 0.0, 1.25)
    assert (p.speed, p.lift_speed, p.samples, p.sample_retract_dist, p.samples_result,
            p.samples_tolerance, p.samples_tolerance_retries) == (
        5.0, 5.0, 1, 2.0, "average", 0.1, 0)
    assert cfg.safe_z_home is None and cfg.bed_mesh is None and cfg.homing_override is None


def test_bltouch_keys(tmp_path):
    p = load(tmp_path, "\n[bltouch]\nsensor_pin = ^sim_probe\ncontrol_pin = sim_servo\n"
                       "z_offset = 2.1\nspeed = 3\nsamples = 3\nsamples_result = median\n"
                       "stow_on_each_sample = False\npin_move_time = 0.5\n").probe
    assert (p.kind, p.pin, p.control_pin, p.speed, p.lift_speed, p.samples,
            p.samples_result) == ("bltouch", "probe", "sim_servo", 3.0, 3.0, 3, "median")
    assert (p.pin_up_reports_not_triggered, p.pin_move_time, p.stow_on_each_sample,
            p.probe_with_touch_mode) == (True, 0.5, False, False)


@pytest.mark.parametrize("extra,section,key,message", [
    ("[probe]\npin = ^sim_probe\n", "probe", "z_offset", "required key is missing"),
    ("[probe]\npin = ^sim_x_step\nz_offset = 1\n", "probe", "pin",
     "sim_x_step is not an endstop of the board 'sim'"),
    ("[probe]\npin = sim_probe\nz_offset = 1\nsamples = 0\n", "probe", "samples",
     "0 is below the minimum 1"),
    ("[probe]\npin = sim_probe\nz_offset = 1\nsamples_result = mean\n", "probe",
     "samples_result", "'mean' is not one of average, median"),
    ("[probe]\npin = sim_probe\nz_offset = 1\nspeed = 0\n", "probe", "speed",
     "0 must be above 0"),
    ("[bltouch]\nsensor_pin = sim_probe\ncontrol_pin = sim_pwm0\nz_offset = 1\n", "bltouch",
     "control_pin", "sim_pwm0 is not a servo of the board 'sim' (servos: probe sim_servo;"),
    ("[bltouch]\nsensor_pin = sim_probe\nz_offset = 1\n", "bltouch", "control_pin",
     "required key is missing"),
    ("[probe]\npin = sim_probe\nz_offset = 1\n[bltouch]\nsensor_pin = sim_probe\n"
     "control_pin = sim_servo\nz_offset = 1\n", "bltouch", None,
     "a printer has one probe: remove [probe] or [bltouch]"),
])
def test_probe_errors(tmp_path, extra, section, key, message):
    found = problem(tmp_path, "\n" + extra)
    assert (found.section, found.key) == (section, key)
    assert found.message.startswith(message)


# -- [safe_z_home], [homing_override] ---------------------------------------
def test_safe_z_home(tmp_path):
    home = load(tmp_path, "\n[safe_z_home]\nhome_xy_position = 125, 105\nz_hop = 10\n"
                          "move_to_previous = True\n").safe_z_home
    assert (home.home_xy_position, home.speed, home.z_hop, home.z_hop_speed,
            home.move_to_previous) == ((125.0, 105.0), 50.0, 10.0, 15.0, True)
    found = problem(tmp_path, "\n[safe_z_home]\nhome_xy_position = 125\n")
    assert (found.key, found.message) == (
        "home_xy_position", "'125': give 2 values separated by commas")
    found = problem(tmp_path, "\n[safe_z_home]\nhome_xy_position = 1, 2\nz_hop = -1\n")
    assert found.key == "z_hop"


def test_homing_override_is_a_template(tmp_path):
    cfg = load(tmp_path, "\n[homing_override]\naxes = z\nset_position_z = 0\n"
                         "gcode =\n  G28 X Y\n  G1 Z{ 2 + 3 }\n")
    override = cfg.homing_override
    assert (override.axes, override.set_position) == ("z", {"z": 0.0})
    assert isinstance(override.macro, macros.Macro)
    assert override.macro.template.render({}).split() == ["G28", "X", "Y", "G1", "Z5"]
    text = BASE + "\n[homing_override]\ngcode =\n  G28 X\n  G1 Z{ 2 + }\n"
    found = problem(tmp_path, text=text)
    assert (found.section, found.key, found.line) == (
        "homing_override", "gcode", text.splitlines().index("  G1 Z{ 2 + }") + 1)
    assert found.message.startswith("template error")
    found = problem(tmp_path, "\n[homing_override]\naxes = xe\ngcode = G28\n")
    assert found.key == "axes"


# -- [bed_mesh] and its profiles ---------------------------------------------
MESH = "\n[bed_mesh]\nmesh_min = 10, 10\nmesh_max = 240, 200\n"


def test_bed_mesh_defaults(tmp_path):
    mesh = load(tmp_path, MESH).bed_mesh
    assert (mesh.mesh_min, mesh.mesh_max, mesh.probe_count, mesh.mesh_pps,
            mesh.algorithm, mesh.bicubic_tension) == (
        (10.0, 10.0), (240.0, 200.0), (3, 3), (2, 2), "lagrange", 0.2)
    assert (mesh.fade_start, mesh.fade_end, mesh.fade_target, mesh.move_check_distance,
            mesh.split_delta_z, mesh.zero_reference_position, mesh.horizontal_move_z,
            mesh.speed, mesh.adaptive_margin, mesh.mesh_radius) == (
        1.0, 0.0, None, 5.0, 0.025, None, 5.0, 50.0, 0.0, None)


def test_bed_mesh_keys_and_klippers_algorithm_rules(tmp_path):
    mesh = load(tmp_path, MESH + "probe_count = 7, 5\nalgorithm = bicubic\nmesh_pps = 3\n"
                                 "fade_end = 10\nzero_reference_position = 125, 105\n"
                                 "fade_target = 0.1\n").bed_mesh
    assert (mesh.probe_count, mesh.algorithm, mesh.mesh_pps, mesh.fade_end,
            mesh.zero_reference_position, mesh.fade_target) == (
        (7, 5), "bicubic", (3, 3), 10.0, (125.0, 105.0), 0.1)
    # Bicubic with 3 points on an axis: lagrange, with a warning (as Klipper).
    cfg = load(tmp_path, MESH + "probe_count = 3, 5\nalgorithm = bicubic\n")
    assert cfg.bed_mesh.algorithm == "lagrange"
    mesh_warnings = [w for w in cfg.warnings if "needs a [probe]" not in w]
    assert len(mesh_warnings) == 1 and "lagrange is used" in mesh_warnings[0]
    assert load(tmp_path, MESH + "mesh_pps = 0, 0\n").bed_mesh.algorithm == "direct"


@pytest.mark.parametrize("extra,key,message", [
    ("probe_count = 7\n", "algorithm", "lagrange interpolation takes at most 6 points"),
    ("probe_count = 3, 7\nalgorithm = bicubic\n", "probe_count",
     "3, 7: bicubic interpolation cannot take 3 points"),
    ("probe_count = 2, 4\n", "probe_count", "'2, 4': 2 is below the minimum 3"),
    ("probe_count = 4, 4, 4\n", "probe_count", "'4, 4, 4': give 2 values"),
    ("algorithm = spline\n", "algorithm", "'spline' is not one of lagrange, bicubic"),
    ("move_check_distance = 2\n", "move_check_distance", "2 is below the minimum 3"),
    ("split_delta_z = 0.001\n", "split_delta_z", "0.001 is below the minimum 0.01"),
    ("bicubic_tension = 3\n", "bicubic_tension", "3 is above the maximum 2"),
    ("mesh_pps = -1\n", "mesh_pps", "'-1': -1 is below the minimum 0"),
    ("mesh_radius = 80\n", "mesh_min", "a round bed (mesh_radius) takes mesh_origin"),
])
def test_bed_mesh_errors(tmp_path, extra, key, message):
    found = problem(tmp_path, MESH + extra)
    assert (found.section, found.key) == ("bed_mesh", key)
    assert found.message.startswith(message)


def test_bed_mesh_min_below_max(tmp_path):
    found = problem(tmp_path, "\n[bed_mesh]\nmesh_min = 10, 210\nmesh_max = 240, 200\n")
    assert found.key == "mesh_max" and "must be above mesh_min" in found.message


def test_round_bed_mesh(tmp_path):
    mesh = load(tmp_path, "\n[bed_mesh]\nmesh_radius = 75\nround_probe_count = 5\n",
                text=DELTA).bed_mesh
    assert (mesh.mesh_radius, mesh.mesh_origin, mesh.probe_count, mesh.mesh_min) == (
        75.0, (0.0, 0.0), (5, 5), None)
    found = problem(tmp_path, "\n[bed_mesh]\nmesh_radius = 75\nround_probe_count = 4\n",
                    text=DELTA)
    assert found.key == "round_probe_count" and "must be odd" in found.message


PROFILE = ("\n[bed_mesh default]\nversion = 1\npoints =\n  0.1, 0.2, 0.3\n  0.0, 0.1, 0.2\n"
           "x_count = 3\ny_count = 2\nmesh_x_pps = 2\nmesh_y_pps = 2\nalgo = lagrange\n"
           "tension = 0.2\nmin_x = 10\nmax_x = 240\nmin_y = 10\nmax_y = 200\n")


def test_saved_mesh_profile(tmp_path):
    profiles = load(tmp_path, PROFILE).mesh_profiles
    assert profiles == {"default": {
        "version": 1, "points": [[0.1, 0.2, 0.3], [0.0, 0.1, 0.2]], "x_count": 3,
        "y_count": 2, "mesh_x_pps": 2, "mesh_y_pps": 2, "algo": "lagrange", "tension": 0.2,
        "min_x": 10.0, "max_x": 240.0, "min_y": 10.0, "max_y": 200.0}}
    found = problem(tmp_path, PROFILE.replace("y_count = 2", "y_count = 3"))
    assert (found.section, found.key) == ("bed_mesh default", "points")
    assert found.message == ("2 rows of 3 numbers; x_count 3 and y_count 3 ask for 3 rows "
                             "of 3")


# -- the simulated printer ----------------------------------------------------
def test_sim_plant_sections(tmp_path):
    cfg = load(tmp_path, "\n[sim_plant bed]\ntilt_x = 0.002\nwarp_amplitude = 0.15\n"
                         "warp_period = 120\n[sim_plant stepper_x]\nendstop_offset = 0.7\n"
                         "start_position = 30\n[sim_plant probe]\nz_offset_error = 0.05\n"
                         "[sim_plant extruder]\nheater_power = 30\n")
    assert cfg.sim_bed == {"tilt_x": 0.002, "tilt_y": 0.0, "warp_amplitude": 0.15,
                           "warp_period": 120.0}
    assert cfg.sim_steppers["stepper_x"] == {"endstop_offset": 0.7,
                                             "endstop_repeatability": 0.002,
                                             "start_position": 30.0,
                                             "motor_reversed": False}
    assert cfg.sim_steppers["stepper_z"]["start_position"] == 105.0     # middle of 0..210
    assert cfg.sim_probe == {"z_offset_error": 0.05, "repeatability": 0.002}
    assert cfg.heaters["extruder"].sim_plant == {"power_w": 30.0}


@pytest.mark.parametrize("extra,section,key,message", [
    ("[sim_plant bed]\nwarp_period = 0\n", "sim_plant bed", "warp_period", "0 must be above 0"),
    ("[sim_plant stepper_y]\nstart_position = 300\n", "sim_plant stepper_y", "start_position",
     "300 is above the maximum 210"),
    ("[sim_plant stepper_x]\nendstop_repeatability = -1\n", "sim_plant stepper_x",
     "endstop_repeatability", "-1 is below the minimum 0"),
    ("[sim_plant probe]\nrepeatability = 2\n", "sim_plant probe", "repeatability",
     "2 is above the maximum 1"),
    ("[sim_plant bed]\ntilt = 0.1\n", "sim_plant bed", "tilt", "unknown key"),
    ("[sim_plant stepper_q]\nendstop_offset = 1\n", "sim_plant stepper_q", None,
     "is not a section Mendel knows"),
])
def test_sim_plant_errors(tmp_path, extra, section, key, message):
    found = problem(tmp_path, "\n" + extra)
    assert (found.section, found.key) == (section, key)
    assert found.message.startswith(message)


# -- refused sections, the check report -----------------------------------------
def test_refused_klipper_sections_say_what_to_do(tmp_path):
    found = problem(tmp_path, "\n[mcu]\nserial = /dev/ttyACM0\n")
    assert found.message.startswith("is not a section Mendel knows: Mendel takes the MCU")
    found = problem(tmp_path, "\n[tmc2209 stepper_x]\nuart_pin = gpio9\n")
    assert "drivers' wiring" in found.message
    found = problem(tmp_path, "\n[z_tilt]\nz_positions = 1, 2\n")
    assert found.message == "is not a section Mendel knows"


def test_config_check_reports_homing_probe_and_mesh(tmp_path):
    path = tmp_path / "printer.cfg"
    path.write_text(BASE + "\n[bltouch]\nsensor_pin = ^sim_probe\ncontrol_pin = sim_servo\n"
                           "z_offset = 2\nx_offset = -40\n[safe_z_home]\n"
                           "home_xy_position = 125, 105\n" + MESH)
    result = configcheck.check(str(path))
    assert result["ok"], result
    x = result["steppers"]["stepper_x"]
    assert (x["endstop"], x["homing_positive_dir"], x["second_homing_speed"]) == (
        "x", False, 25.0)
    assert (result["probe"]["kind"], result["probe"]["x_offset"]) == ("bltouch", -40.0)
    assert result["safe_z_home"]["home_xy_position"] == [125.0, 105.0]
    assert result["bed_mesh"]["probe_count"] == [3, 3]
    text = configcheck.report(result)
    assert "endstop x (^sim_x_stop), homes towards - at 50/25 mm/s, retract 5 mm" in text
    assert "probe        bltouch on endstop probe, offset -40, 0, 2 mm" in text
    assert "bed_mesh     10, 10 .. 240, 200 mm, 3 x 3 points, lagrange" in text


# -- a Klipper user's printer.cfg ------------------------------------------
KLIPPER_SKR_PICO = """
# An i3-style printer on a BTT SKR Pico with a BLTouch, written as a Klipper
# user writes it; only [mcu] became [board].
[board]
name = btt-skr-pico-v1.0

[printer]
kinematics = cartesian
max_velocity = 300
max_accel = 3000
max_z_velocity = 5
max_z_accel = 100

[stepper_x]
step_pin = gpio11
dir_pin = !gpio10
enable_pin = !gpio12
microsteps = 16
rotation_distance = 40
endstop_pin = ^gpio4
position_endstop = 0
position_max = 235
homing_speed = 50

[stepper_y]
step_pin = gpio6
dir_pin = !gpio5
enable_pin = !gpio7
microsteps = 16
rotation_distance = 40
endstop_pin = ^gpio3
position_endstop = 0
position_max = 235
homing_speed = 50

[stepper_z]
step_pin = gpio19
dir_pin = gpio28
enable_pin = !gpio2
microsteps = 16
rotation_distance = 8
endstop_pin = probe:z_virtual_endstop
position_min = -2
position_max = 250

[extruder]
step_pin = gpio14
dir_pin = !gpio13
enable_pin = !gpio15
microsteps = 16
rotation_distance = 33.500
nozzle_diameter = 0.400
filament_diameter = 1.750
heater_pin = gpio23
sensor_type = EPCOS 100K B57560G104F
sensor_pin = gpio27
control = pid
pid_Kp = 21.527
pid_Ki = 1.063
pid_Kd = 108.982
min_temp = 0
max_temp = 250

[heater_bed]
heater_pin = gpio21
sensor_type = ATC Semitec 104GT-2
sensor_pin = gpio26
control = pid
pid_Kp = 54.027
pid_Ki = 0.770
pid_Kd = 948.182
min_temp = 0
max_temp = 130

[fan]
pin = gpio17

[bltouch]
sensor_pin = ^gpio22
control_pin = gpio29
x_offset = -44
y_offset = -6
z_offset = 2.1
samples = 2

[safe_z_home]
home_xy_position = 161, 123
speed = 100
z_hop = 10
z_hop_speed = 5

[bed_mesh]
speed = 120
horizontal_move_z = 5
mesh_min = 10, 10
mesh_max = 185, 220
probe_count = 5, 5
algorithm = bicubic
fade_start = 1
fade_end = 10
"""


def test_a_klipper_printer_cfg_with_bltouch_safe_z_home_and_bed_mesh_loads(tmp_path):
    """The sections a Klipper user has ([bltouch], [safe_z_home], [bed_mesh],
    Z on probe:z_virtual_endstop) load on the SKR Pico's board file: the BLTouch
    is its probe input and servo, and `mendel config check` shows them."""
    path = tmp_path / "printer.cfg"
    path.write_text(KLIPPER_SKR_PICO)
    cfg = config.load(str(path))
    assert (cfg.probe.kind, cfg.probe.pin, cfg.probe.control_pin, cfg.probe.z_offset) == (
        "bltouch", "probe", "gpio29", 2.1)
    assert cfg.steppers["z"].endstop == "probe"
    assert cfg.steppers["x"].dir_inverted and cfg.steppers["x"].endstop == "x"
    assert cfg.safe_z_home.home_xy_position == (161.0, 123.0)
    assert (tuple(cfg.bed_mesh.probe_count), cfg.bed_mesh.algorithm) == ((5, 5), "bicubic")
    assert cfg.warnings == []
    result = configcheck.check(str(path))
    assert result["ok"], result
    assert (result["probe"]["kind"], result["probe"]["z_offset"]) == ("bltouch", 2.1)
    assert result["bed_mesh"]["probe_count"] == [5, 5]


def test_a_bed_mesh_without_a_probe_is_a_warning(tmp_path):
    cfg = load(tmp_path, "\n[bed_mesh]\nmesh_min = 10, 10\nmesh_max = 200, 200\n")
    assert cfg.warnings == ["[bed_mesh] needs a [probe] or [bltouch] to calibrate (Mendel "
                            "probes only automatically); saved profiles still load"]
