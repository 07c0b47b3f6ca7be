"""Kinematics: inverse/forward round trips, envelopes, limits and delta splitting.

Independent references: the formulas of Klipper's Kinematics.md written out
by hand per point (not the vectorised code under test), hand-computed delta
geometry, and dense sampling of every move for envelope and split checks.
"""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mendel import config
from mendel.planner.kinematics import (
    CartesianKinematics, CoreXYKinematics, DeltaKinematics, KinematicsError, from_config)
from mendel.planner.lookahead import Limits, Move

R, L, TOP = 105.0, 215.0, 250.0
CENTRE_HEIGHT = math.sqrt(L * L - R * R)          # carriage height above the nozzle at the centre


def kossel(**kw):
    args = {"delta_radius": R, "arm_lengths": [L] * 3, "endstops": [TOP] * 3,
            "print_radius": 85.0, "max_velocity": 300.0, "max_accel": 3000.0,
            "max_z_velocity": 150.0, "max_z_accel": 3000.0}
    args.update(kw)
    return DeltaKinematics(**args)


def skewed():
    """A delta built off the nominal: unequal rods, endstops and tower angles."""
    return kossel(arm_lengths=[214.0, 216.5, 215.2], endstops=[249.0, 251.0, 250.3],
                  angles=[209.2, 330.9, 89.5])


def carriage_by_hand(kin, xyz):
    """Kinematics.md's delta formula, one tower at a time."""
    out = []
    for i in range(3):
        angle = math.radians(kin.angles[i])
        tx, ty = R * math.cos(angle), R * math.sin(angle)
        arm = kin.arm_mm[i]
        out.append(xyz[2] + math.sqrt(arm * arm - (xyz[0] - tx) ** 2 - (xyz[1] - ty) ** 2))
    return out


def sample(start, end, count=4001):
    s = np.linspace(0.0, 1.0, count)[:, None]
    return np.asarray(start[:3]) + s * (np.asarray(end[:3]) - np.asarray(start[:3]))


coord = st.floats(-300.0, 300.0, allow_nan=False)
disc = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 2.0 * math.pi), st.floats(0.0, 200.0))


def in_disc(radius, r_frac, theta, z):
    r = radius * math.sqrt(r_frac)
    return [r * math.cos(theta), r * math.sin(theta), z]


# -- linear kinematics -------------------------------------------------------

def test_linear_matrices_are_klippers_definitions():
    points = np.random.default_rng(1).uniform(-200, 200, (50, 3))
    corexy = CoreXYKinematics().calc_motor_positions(points)
    assert np.array_equal(corexy[:, 0], points[:, 0] + points[:, 1])   # stepper_x: A = x + y
    assert np.array_equal(corexy[:, 1], points[:, 0] - points[:, 1])   # stepper_y: B = x - y
    assert np.array_equal(corexy[:, 2], points[:, 2])
    assert np.array_equal(CartesianKinematics().calc_motor_positions(points), points)
    for kin in (CartesianKinematics(), CoreXYKinematics()):
        assert kin.is_linear and kin.motors == ("x", "y", "z")
        assert np.array_equal(kin.calc_motor_positions(points), points @ kin.matrix.T)


@given(st.lists(st.tuples(coord, coord, coord), min_size=1, max_size=20))
def test_linear_round_trip(points):
    for kin in (CartesianKinematics(), CoreXYKinematics()):
        motors = kin.calc_motor_positions(points)
        assert kin.calc_toolhead_positions(motors) == pytest.approx(np.array(points), abs=1e-9)


def test_step_generator_maps_xyz_and_keeps_e():
    from mendel.planner.stepgen import StepGenerator
    gen = StepGenerator(CoreXYKinematics(), [80.0] * 3 + [93.0], 12_000_000)
    motors = gen.motor_positions([[10.0, 20.0, 1.0, 0.5], [40.0, 5.0, 1.0, 2.0]])
    assert motors.tolist() == [[30.0, -10.0, 1.0, 0.5], [45.0, 35.0, 1.0, 2.0]]
    points = np.random.default_rng(4).uniform(-100, 100, (20, 4))
    cart = StepGenerator(CartesianKinematics(), [80.0] * 4, 12_000_000)
    assert np.array_equal(cart.motor_positions(points), points)    # exactly


@pytest.mark.parametrize("name", ["i3-cartesian", "corexy"])
def test_linear_range_and_z_scaling(name):
    cfg = config.load(config.resources.default_config().replace("i3-cartesian", name))
    kin = from_config(cfg)
    assert kin.check_move([0, 0, 0, 0], [100, 100, 0, 5]) == (math.inf, math.inf)
    speed, accel = kin.check_move([0, 0, 0, 0], [30, 40, 5, 0])
    z_ratio = math.sqrt(30 ** 2 + 40 ** 2 + 5 ** 2) / 5
    assert speed == pytest.approx(cfg.max_z_velocity * z_ratio)
    assert accel == pytest.approx(cfg.max_z_accel * z_ratio)
    with pytest.raises(KinematicsError, match=r"X=250.100 outside 0.000..250.000 mm"):
        kin.check_move([0, 0, 0, 0], [250.1, 0, 0, 0])
    with pytest.raises(KinematicsError, match=r"Y=-5.000 outside -4.000..210.000"):
        kin.check_move([0, -5, 0, 0], [0, 0, 0, 0])
    assert kin.split_move([0, 0, 0, 0], [100, 50, 1, 3]) == [[100, 50, 1, 3]]
    assert kin.home_position() == [0.0, 0.0, 0.0]


# -- delta geometry ------------------------------------------------------------

def test_delta_inverse_kinematics_by_hand():
    kin = kossel()
    assert kin.motors == ("a", "b", "c") and not kin.is_linear and kin.matrix is None
    # At the centre every carriage stands sqrt(L^2 - R^2) above the nozzle.
    assert kin.calc_motor_positions([0, 0, 7])[0] == pytest.approx([7 + CENTRE_HEIGHT] * 3)
    assert CENTRE_HEIGHT == pytest.approx(187.6166304)
    # Under tower C (90 degrees, at (0, R)) its rods hang vertical.
    c_foot = kin.calc_motor_positions([0, R, 3])[0]
    assert c_foot[2] == pytest.approx(3 + L)
    # Tower A at 210 degrees, (-90.933, -52.5): the point (20, 10, 0) is at
    # dx = 110.933, dy = 62.5 from it: sqrt(215^2 - 110.933^2 - 62.5^2) = 173.2417.
    assert kin.calc_motor_positions([20, 10, 0])[0, 0] == pytest.approx(173.2417, abs=1e-4)
    points = np.random.default_rng(2).uniform(-80, 80, (40, 3))
    expected = [carriage_by_hand(kin, p) for p in points]
    assert kin.calc_motor_positions(points) == pytest.approx(np.array(expected), abs=1e-9)


@pytest.mark.parametrize("make", [kossel, skewed])
@given(points=st.lists(disc, min_size=1, max_size=10))
@settings(max_examples=60)
def test_delta_round_trip(make, points):
    kin = make()
    xyz = np.array([in_disc(kin.print_radius_mm, *p) for p in points])
    motors = kin.calc_motor_positions(xyz)
    assert motors == pytest.approx(np.array([carriage_by_hand(kin, p) for p in xyz]), abs=1e-9)
    assert kin.calc_toolhead_positions(motors) == pytest.approx(xyz, abs=1e-8)


def test_delta_forward_kinematics_refuses_impossible_carriages():
    with pytest.raises(KinematicsError, match="cannot meet"):
        kossel().calc_toolhead_positions([0.0, 0.0, 500.0])
    with pytest.raises(KinematicsError, match="beyond the reach of tower"):
        kossel().calc_motor_positions([400.0, 0.0, 0.0])


def test_delta_home_is_the_carriages_at_their_endstops():
    assert kossel().home_position() == pytest.approx([0.0, 0.0, TOP], abs=1e-9)
    kin = skewed()
    home = kin.home_position()
    assert kin.calc_motor_positions(home)[0] == pytest.approx(kin.carriage_max_mm, abs=1e-9)
    assert kin.check_move(home + [0], [0, 0, 10, 0])   # homing leaves it free to move


# -- delta envelope -------------------------------------------------------------

def test_delta_envelope_errors_name_the_limit():
    kin = kossel(position_min=[-60.0] * 3)
    origin = [0, 0, 10, 0]
    with pytest.raises(KinematicsError, match=r"Z=-0.500 below minimum_z_position 0.000"):
        kin.check_move(origin, [0, 0, -0.5, 0])
    with pytest.raises(KinematicsError, match=r"X=80.000 Y=40.000 is 89.443 mm from the "
                                              r"centre, beyond the print radius 85.000"):
        kin.check_move(origin, [80, 40, 10, 0])
    with pytest.raises(KinematicsError, match=r"tower A carriage would rise 3.000 mm above"):
        kin.check_move(origin, [0, 0, TOP + 3, 0])
    # Far from tower C, low: its carriage drops 87 mm under its centre height.
    with pytest.raises(KinematicsError, match=r"tower C carriage would go [0-9.]+ mm below"):
        kin.check_move(origin, [0, -85, 0, 0])
    assert kin.check_move(origin, [0, 85, 0, 0])


def test_delta_refuses_a_move_whose_middle_rises_above_an_endstop():
    """Both ends reachable, the middle passes tower C too high: refused."""
    kin = kossel()
    start, end = [-60, 60, 0, 0], [60, 60, 0, 0]
    # Raise the move until its ends put carriage C 1 mm under its endstop.
    z = kin.carriage_max_mm[2] - 1.0 - kin.calc_motor_positions(start[:3])[0, 2]
    start[2] = end[2] = z
    carriages = kin.calc_motor_positions(sample(start, end))
    assert np.all(carriages[[0, -1]] < kin.carriage_max_mm)
    assert carriages[:, 2].max() > kin.carriage_max_mm[2] + 1.0   # the dense oracle agrees
    with pytest.raises(KinematicsError, match=r"tower C carriage would rise .* at X0.000 Y60.000"):
        kin.check_move(start, end)
    with pytest.raises(KinematicsError):
        kin.check_move(end, start)


@given(a=disc, b=disc, z_top=st.booleans())
@settings(max_examples=300)
def test_delta_segment_check_agrees_with_dense_sampling(a, b, z_top):
    """check_move refuses exactly the moves that leave the envelope somewhere."""
    kin = skewed()
    start = in_disc(kin.print_radius_mm, *a[:2], a[2] * 1.3) + [0.0]
    end = in_disc(kin.print_radius_mm, *b[:2], b[2] * 1.3) + [0.0]
    if z_top:                                        # probe the tapered top often
        start[2], end[2] = 200 + a[2] / 4, 200 + b[2] / 4
    carriages = kin.calc_motor_positions(sample(start, end))
    excess = float(np.max(carriages - kin.carriage_max_mm))
    assume(abs(excess) > 1e-3)                       # no verdict on a grazing move
    if excess > 0:
        with pytest.raises(KinematicsError, match="above its endstop"):
            kin.check_move(start, end)
    else:
        kin.check_move(start, end)


def test_delta_interior_rise_agrees_with_dense_sampling():
    """Moves whose ends sit just under the top: only the middle can break it."""
    kin = skewed()
    rng = np.random.default_rng(7)
    verdicts = set()
    for _ in range(400):
        ends = [in_disc(kin.print_radius_mm, *rng.uniform([0, 0], [1, 2 * math.pi]), 0.0)
                for _ in range(2)]
        lift = np.min(kin.carriage_max_mm - kin.calc_motor_positions(ends)) - rng.uniform(0, 3)
        start, end = [p[:2] + [lift] + [0.0] for p in ends]
        tilt = rng.uniform(-2, 2)                     # and some Z travel
        start[2] -= max(tilt, 0.0)
        end[2] -= max(-tilt, 0.0)
        excess = float(np.max(kin.calc_motor_positions(sample(start, end))
                              - kin.carriage_max_mm))
        if abs(excess) < 1e-3:
            continue
        refused = True
        try:
            kin.check_move(start, end)
            refused = False
        except KinematicsError:
            pass
        assert refused == (excess > 0)
        verdicts.add(refused)
    assert verdicts == {True, False}


# -- delta limits ------------------------------------------------------------------

def test_delta_z_moves_obey_max_z_velocity():
    kin = kossel()
    speed, accel = kin.check_move([0, 0, 0, 0], [0, 0, 100, 0])
    assert (speed, accel) == (150.0, 3000.0)
    speed, _ = kin.check_move([0, 0, 0, 0], [30, 40, 50, 0])
    assert speed == pytest.approx(150.0 * math.sqrt(2.0))


@given(a=disc, b=disc)
@settings(max_examples=200)
def test_delta_carriage_speed_stays_under_three_times_the_maximum(a, b):
    """Kinematics.md: carriages at most 3x max_velocity / max_accel (tangential)."""
    kin = kossel(print_radius=109.0)
    start = in_disc(kin.print_radius_mm, *a[:2], 20.0) + [0.0]
    end = in_disc(kin.print_radius_mm, *b[:2], 20.0 + b[2] / 10) + [0.0]
    move_d = math.dist(start[:3], end[:3])
    assume(move_d > 1.0)
    speed, accel = kin.check_move(start, end)
    speed, accel = min(speed, kin.max_velocity), min(accel, kin.max_accel)
    carriages = kin.calc_motor_positions(sample(start, end))
    gain = np.max(np.abs(np.diff(carriages, axis=0))) / (move_d / 4000)   # mm per mm
    assert gain * speed <= 3.0 * kin.max_velocity * (1 + 1e-6)
    assert gain * accel <= 3.0 * kin.max_accel * (1 + 1e-6)


def test_delta_edge_slows_moves_and_centre_does_not():
    kin = kossel(print_radius=109.0)
    assert kin.check_move([0, 0, 5, 0], [20, 0, 5, 0]) == (math.inf, math.inf)
    speed, accel = kin.check_move([0, 0, 5, 0], [100, 40, 5, 0])
    assert speed < 300.0 and accel < 3000.0
    assert speed / 300.0 == pytest.approx(accel / 3000.0)
    # Neither a retraction nor a Z move is slowed there: carriages move as Z.
    assert kin.check_move([100, 40, 5, 0], [100, 40, 5, -2]) == (math.inf, math.inf)
    assert kin.check_move([100, 40, 5, 0], [100, 40, 9, 0]) == (150.0, 3000.0)


def test_delta_print_radius_is_capped_where_rods_lie_flat():
    kin = kossel(print_radius=200.0)
    # Rods at most 12:1 flat: d = 12 L / sqrt(145) = 214.25 mm from a tower.
    assert kin.print_radius_mm == pytest.approx(12 * L / math.sqrt(145) - R)
    with pytest.raises(KinematicsError, match="beyond the print radius 109.257 mm"):
        kin.check_move([0, 0, 5, 0], [110, 0, 5, 0])


# -- delta splitting ----------------------------------------------------------------

def max_chord_error(kin, start, end):
    carriages = kin.calc_motor_positions(sample(start, end, 801))
    s = np.linspace(0.0, 1.0, 801)[:, None]
    chord = carriages[0] + s * (carriages[-1] - carriages[0])
    return float(np.max(np.abs(carriages - chord)))


@pytest.mark.parametrize("tolerance", [0.002, 0.02])
@given(a=disc, b=disc)
@settings(max_examples=40, deadline=None)
def test_delta_split_keeps_every_carriage_within_tolerance(tolerance, a, b):
    kin = skewed()
    start = in_disc(kin.print_radius_mm, *a) + [1.0]
    end = in_disc(kin.print_radius_mm, *b) + [3.0]
    points = kin.split_move(start, end, tolerance)
    assert points[-1] == end
    prev = start
    for point in points:
        assert max_chord_error(kin, prev, point) <= tolerance + 1e-9   # + float noise
        # E (and X, Y, Z) on the straight line, in step with the move.
        progress = (point[3] - start[3]) / (end[3] - start[3])
        assert point[:3] == pytest.approx([s + (e - s) * progress
                                           for s, e in zip(start[:3], end[:3])], abs=1e-9)
        prev = point


def test_delta_split_uses_few_pieces():
    kin = kossel()
    start, end = [-10, 0, 5, 0], [10, 0, 5, 1]
    whole = max_chord_error(kin, start, end)          # 0.27 mm for one piece
    # Equal pieces need at least sqrt(error / tolerance) (chord error ~ h^2).
    fewest = math.ceil(math.sqrt(whole / 0.002))
    pieces = len(kin.split_move(start, end, 0.002))
    assert fewest <= pieces <= 1.3 * fewest
    # Across the bed the curvature varies: as many equal pieces as
    # split_move makes would break the tolerance (dense sampling).
    start, end = [-60, -50, 5, 0], [70, 30, 5, 1]
    count = len(kin.split_move(start, end, 0.002))
    cuts = [[a + (b - a) * k / count for a, b in zip(start, end)] for k in range(count + 1)]
    assert max(max_chord_error(kin, p, q) for p, q in zip(cuts, cuts[1:])) > 0.002
    assert kin.split_move([0, 0, 0, 0], [0, 0, 50, 1]) == [[0, 0, 50, 1]]
    with pytest.raises(ValueError, match="tolerance must be positive"):
        kin.split_move(start, end, 0.0)
    with pytest.raises(KinematicsError, match="beyond the reach"):
        kin.split_move([0, 0, 5, 0], [300, 0, 5, 0])


# -- printer.cfg ----------------------------------------------------------------------

def bundled(name):
    return config.resources.default_config().replace("i3-cartesian", name)


def edited(tmp_path, name, old, new):
    with open(bundled(name)) as file:
        text = file.read()
    assert old in text
    path = tmp_path / "printer.cfg"
    path.write_text(text.replace(old, new, 1))
    return str(path)


def test_bundled_delta_and_corexy_configs_load():
    delta = config.load(bundled("delta"))
    assert delta.kinematics == "delta" and list(delta.steppers) == ["a", "b", "c", "e"]
    assert delta.steps_per_mm() == pytest.approx([80.0, 80.0, 80.0, 93.0])
    params = delta.kinematics_params
    assert params["delta_radius"] == 105.0 and params["print_radius"] == 85.0
    assert params["arm_length"] == [215.0] * 3 and params["angle"] == [210.0, 330.0, 90.0]
    assert [delta.steppers[t].position_endstop for t in "abc"] == [250.0] * 3
    assert [delta.steppers[t].motor for t in "abc"] == ["x", "y", "z"]
    kin = from_config(delta)
    assert isinstance(kin, DeltaKinematics) and kin.print_radius_mm == 85.0
    assert kin.home_position() == pytest.approx([0, 0, 250], abs=1e-9)
    kin.check_move(kin.home_position() + [0], [0, -85, 0, 0])   # the whole bed is reachable
    corexy = config.load(bundled("corexy"))
    assert corexy.steps_per_mm() == pytest.approx([80.0, 80.0, 400.0, 93.0])   # Z via 2:1
    assert isinstance(from_config(corexy), CoreXYKinematics)
    assert isinstance(from_config(config.load()), CartesianKinematics)


def test_gear_ratio_as_klipper_parses_it(tmp_path):
    path = edited(tmp_path, "i3-cartesian", "[extruder]\n",
                  "[extruder]\ngear_ratio = 57:11, 2:1\n")
    # 200 full steps * 16 microsteps * (57/11 * 2/1) / 34.40860215 mm
    assert config.load(path).steps_per_mm()[3] == pytest.approx(3200 * 57 / 11 * 2 / 34.40860215)


@pytest.mark.parametrize("name,old,new,message", [
    ("i3-cartesian", "kinematics = cartesian", "kinematics = scara",
     r"\[printer\] kinematics: 'scara' is not one of cartesian, corexy, delta"),
    ("i3-cartesian", "[stepper_z]\n", "[stepper_z]\ngear_ratio = 1:0\n",
     r"\[stepper_z\] gear_ratio: '1:0': every ratio needs two positive numbers"),
    ("i3-cartesian", "[stepper_z]\n", "[stepper_z]\ngear_ratio = 3-1\n",
     r"gear_ratio: '3-1' is not like '3:1' or '57:11, 2:1'"),
    ("delta", "delta_radius = 105\n", "", r"\[printer\] delta_radius: required key is missing"),
    ("delta", "arm_length = 215", "arm_length = 100",
     r"\[stepper_a\] arm_length: 100 must be above 105"),
    ("delta", "position_endstop = 250", "position_endstop = 0",
     r"\[stepper_a\] position_endstop: 0 must be above minimum_z_position 0"),
    ("delta", "position_min = -95 ", "position_min = 300 ",
     r"\[stepper_a\] position_min: 300 is above the maximum 250"),
    ("delta", "[stepper_c]\n", "[stepper_c]\nangle = 330\n",
     r"the towers' angles \[210.0, 330.0, 330.0\] must differ"),
    ("delta", "[stepper_a]", "[stepper_x]\nposition_max = 200\n[stepper_a]",
     r"\[stepper_x\] is not a section Mendel knows"),
])
def test_config_errors_name_section_and_key(tmp_path, name, old, new, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(edited(tmp_path, name, old, new))


def test_delta_towers_may_differ(tmp_path):
    path = edited(tmp_path, "delta", "[stepper_c]\n",
                  "[stepper_c]\narm_length = 216\nangle = 91\nposition_endstop = 251\n")
    cfg = config.load(path)
    assert cfg.kinematics_params["arm_length"] == [215.0, 215.0, 216.0]
    assert cfg.kinematics_params["angle"] == [210.0, 330.0, 91.0]
    kin = from_config(cfg)
    assert kin.calc_motor_positions(kin.home_position())[0] == pytest.approx(
        kin.carriage_max_mm, abs=1e-9)


# -- through the existing step generator -------------------------------------------

def test_delta_pieces_through_the_step_generator():
    """Split, plan and step a delta path; steps follow the true carriage paths.

    Every step's time is compared with the ideal carriage height (exact
    inverse kinematics of the planned toolhead position, not the chords):
    apart the split tolerance, the only error is the compressor's timing
    error times the carriage speed.
    """
    from mendel.planner.lookahead import LookAheadQueue, to_planned
    from mendel.planner.stepgen import StepGenerator
    from test_stepgen import FREQ, decompress, distance_at

    kin, spm, max_error_s, tolerance = kossel(), [80.0, 80.0, 80.0, 93.0], 25e-6, 0.002
    limits = Limits(config.load(bundled("delta")))
    gen = StepGenerator(kin, spm, FREQ, max_error_s)
    home = kin.home_position() + [0.0]
    for compressor, motor_mm, steps_per_mm in zip(gen.compressors,
                                                  gen.motor_positions(home)[0], spm):
        compressor.position = round(motor_mm * steps_per_mm)
    path = [home, [0, 0, 5, 0], [-70, -30, 5, 0], [70, 40, 5, 4], [0, 80, 8, 6]]
    queue, moves = LookAheadQueue(), []
    for start, end in zip(path, path[1:]):
        speed, accel = kin.check_move(start, end)
        prev = start
        for piece in kin.split_move(start, end, tolerance):
            move = Move(limits, prev, piece, 150.0)
            move.limit_speed(speed, accel)
            moves += queue.add(move)
            prev = piece
    moves += queue.flush()
    print_time = 1.0
    for move in moves:
        move.print_time = print_time
        print_time += move.duration
    gen.add_moves(to_planned(moves), 1.0)
    ends = np.array([m.print_time + m.duration for m in moves])
    for motor, compressor in enumerate(gen.compressors[:3]):
        clocks, dirs = decompress(compressor.flush())
        before = round(gen.motor_positions(home)[0, motor] * spm[motor])
        positions = before + np.cumsum(dirs) - 0.5 * dirs      # where each step happens
        assert positions[-1] + 0.5 * dirs[-1] == round(
            gen.motor_positions(path[-1])[0, motor] * spm[motor])
        times = clocks / FREQ
        owner = np.minimum(np.searchsorted(ends, times), len(moves) - 1)
        xyz = np.empty((len(times), 3))
        for index in np.unique(owner):
            move, mine = moves[index], owner == index
            along = distance_at(move, times[mine] - move.print_time) / move.move_d
            xyz[mine] = np.add(move.start[:3], along[:, None] * np.subtract(
                move.end[:3], move.start[:3]))
        ideal = kin.calc_motor_positions(xyz)[:, motor]
        error = np.abs(positions / spm[motor] - ideal)
        carriage_speed = 3 * 150.0
        assert error.max() <= tolerance + max_error_s * carriage_speed + 1e-6
