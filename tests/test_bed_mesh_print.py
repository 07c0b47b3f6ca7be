"""The bed mesh at run time on the simulated printer: BED_MESH_CALIBRATE with
a real probe on a warped, tilted bed, profiles, and the mesh applied to
every move. The figure: a real slicer file, started by a PRINT_START that
homes and probes, lays its first layer at its layer height above the
bed's surface, measured from the board's step log."""
import json
import math
import os
import re

import numpy as np
import pytest

from mendel import config as config_mod
from mendel.machine.check import check_file
from mendel.machine.printer import PrintError
from mendel.probing.mesh import ZMesh
from mendel.resources import default_config
from mendel.sim.physical import start_carriages
from mendel.sim.surface import first_layer_height_error
from sim_printer import printer_on_sim, run, write_cfg

STEPS_PER_MM = (80.0, 80.0, 400.0)      # the default printer's X, Y, Z
LAYER_MM = 0.2                           # the corpus file's first layer
CUBE = "slic3r-1.3-cube-m82.gcode"       # 20 mm cube at 125, 105; 0.2 mm layers

# The bed of the issue, a probe 24 mm right of and 5 mm behind the nozzle
# that triggers 1 mm above the bed, Z homed by its switch.
PRINTER = """
[probe]
pin = ^sim_probe
x_offset = 24
y_offset = 5
z_offset = 1.0
speed = 5

[bed_mesh]
mesh_min = 30, 10
mesh_max = 240, 200
probe_count = {count}
algorithm = bicubic
speed = 150

[sim_plant bed]
tilt_x = 0.002
warp_amplitude = 0.15
warp_period = 120

[gcode_macro PRINT_START]
gcode:
  G28
  {calibrate}
"""


def make_cfg(tmp_path, count="5, 5", calibrate="BED_MESH_CALIBRATE", extra=""):
    path = tmp_path / "printer.cfg"
    path.write_text("[include %s]\n%s\n%s" % (
        default_config(), PRINTER.format(count=count, calibrate=calibrate), extra))
    return config_mod.load(str(path))


def surface(cfg, x, y):
    """The bed's height (mm) at physical x, y (mm), the issue's formula."""
    bed = {key: float(value) for key, value in cfg.sim_bed.items()}
    period = bed.get("warp_period", 100.0)
    return (bed.get("tilt_x", 0.0) * x + bed.get("tilt_y", 0.0) * y
            + bed.get("warp_amplitude", 0.0) * np.sin(2 * np.pi * x / period)
            * np.sin(2 * np.pi * y / period))


# -- the first layer, from the step log --------------------------------------

def step_events(log_path, motors=4):
    """Per motor ``(clocks, positions)``: every step the board made (clock
    ticks, ascending) and the motor's step count after it. A run's k-th step
    (k = 1..|count|) is at first + (k-1)*interval + add*k*(k-1)/2; a homing
    or probing stop (``hit clock oid position``) drops the steps of the runs
    before it that lie after its clock."""
    clocks = [[] for _ in range(motors)]
    signs = [[] for _ in range(motors)]
    with open(log_path) as log:
        for line in log:
            words = line.split()
            if words[0] == "hit":
                clock, oid, position = (int(w) for w in words[1:])
                kept = [c <= clock for c in clocks[oid]]
                clocks[oid] = [c[k] for c, k in zip(clocks[oid], kept)]
                signs[oid] = [s[k] for s, k in zip(signs[oid], kept)]
                assert sum(int(s.sum()) for s in signs[oid]) == position
            elif words[0].isdigit():
                oid, first, interval, count, add = (int(w) for w in words)
                k = np.arange(1, abs(count) + 1, dtype=np.int64)
                clocks[oid].append(first + (k - 1) * interval + add * k * (k - 1) // 2)
                signs[oid].append(np.full(abs(count), 1 if count > 0 else -1, dtype=np.int64))
    events = []
    for oid in range(motors):
        c = np.concatenate(clocks[oid]) if clocks[oid] else np.zeros(0, np.int64)
        s = np.concatenate(signs[oid]) if signs[oid] else np.zeros(0, np.int64)
        order = np.argsort(c, kind="stable")
        events.append((c[order], np.cumsum(s[order])))
    return events


def first_layer_heights(log_path, cfg):
    """Nozzle height (mm) above the bed's surface at every forward step of
    the extruder (the job holds only the first layer), from the motors'
    steps and their physical start (mendel.sim.physical)."""
    events = step_events(log_path)
    e_clocks, e_positions = events[3]
    forward = np.diff(np.concatenate([[0], e_positions])) > 0
    at = e_clocks[forward]
    start = start_carriages(cfg)
    xyz = []
    for axis in range(3):
        clocks, positions = events[axis]
        index = np.searchsorted(clocks, at, side="right") - 1
        steps = np.where(index >= 0, positions[np.maximum(index, 0)], 0)
        xyz.append(start[axis] + steps / STEPS_PER_MM[axis])
    x, y, z = xyz
    return z - surface(cfg, x, y)


def first_layer_job(corpus):
    """The corpus cube with its printer start block (home, Prusa's G80 mesh,
    intro line) replaced by PRINT_START, as a Klipper user's slicer profile
    has it, up to the change to the second layer."""
    with open(os.path.join(corpus, CUBE)) as f:
        text = f.read()
    start = text.index("G28 W")
    after_intro = text.index("G92 E0", text.index("intro line")) + len("G92 E0")
    text = text[:start] + "PRINT_START" + text[after_intro:]
    return text[:text.index("G1 Z0.400")]


@pytest.mark.parametrize("calibrate", ["BED_MESH_CALIBRATE", ""])
def test_first_layer_follows_the_bed(tmp_path, corpus, calibrate):
    """13 x 13 bicubic over the bed (a Klipper user's choice for a bed warped
    0.15 mm every 60 mm): the nozzle stays within 0.02 mm of the 0.2 mm
    layer above the surface; without the mesh it is off by more than 0.1."""
    cfg = make_cfg(tmp_path, count="13, 13", calibrate=calibrate)
    log = tmp_path / "steps.log"
    with printer_on_sim(cfg, str(log)) as (printer, _said):
        run(printer, tmp_path, first_layer_job(corpus))
        meshed = printer.bed_mesh.active
    figure = first_layer_height_error(str(log), cfg, LAYER_MM)
    # Recomputed here from the log and the surface formula alone.
    error = first_layer_heights(str(log), cfg) - LAYER_MM
    worst, rms = float(np.abs(error).max()), float(np.sqrt(np.mean(error ** 2)))
    print("first layer %s: %d samples, max %.4f mm, rms %.4f mm; mendel.sim.surface: %s"
          % ("with mesh" if calibrate else "without mesh", error.size, worst, rms, figure))
    assert error.size > 1000
    assert meshed == bool(calibrate)
    if calibrate:
        assert worst <= 0.02 and figure["max"] <= 0.02
    else:
        assert worst > 0.1 and figure["max"] > 0.1


# -- the mesh in the move path -------------------------------------------------

HOME_AND_PROBE = "G28\nBED_MESH_CALIBRATE\n"


def test_moves_follow_the_mesh_and_positions_stay_in_gcode_coordinates(tmp_path):
    """With a mesh, the toolhead's Z is the G-code Z plus the mesh there,
    M114 and the machine position report the G-code Z, the C fast path is
    off; BED_MESH_CLEAR hands the toolhead's Z back unchanged."""
    cfg = make_cfg(tmp_path)
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, HOME_AND_PROBE + "G1 X100 Y100 Z0.2 F3000\nM114\n")
        mesh = printer.bed_mesh.transform.mesh
        assert printer.toolhead.position[2] == pytest.approx(0.2 + mesh.z_at(100, 100), abs=1e-9)
        assert printer.position[:3] == [100.0, 100.0, 0.2]
        assert said[-1] == "echo: X:100.000 Y:100.000 Z:0.200 E:0.000"
        assert printer.move_feed() is None
        adjusted_z = printer.toolhead.position[2]
        # GET_POSITION: toolhead: is where the mesh took the nozzle, gcode: the file's Z.
        run(printer, tmp_path, "GET_POSITION\n", "where.gcode")
        toolhead_line = [line for line in said if line.startswith("echo: toolhead:")][-1]
        assert "Z:%.6f" % adjusted_z in toolhead_line
        run(printer, tmp_path, "BED_MESH_CLEAR\nM114\n", "clear.gcode")
        assert printer.toolhead.position[2] == adjusted_z
        assert said[-1] == "echo: X:100.000 Y:100.000 Z:%.3f E:0.000" % adjusted_z
        assert printer.move_feed() is not None
        run(printer, tmp_path, "G1 Z0.2\n", "after.gcode")
        assert printer.toolhead.position[2] == pytest.approx(0.2, abs=1e-12)


def test_a_long_move_is_split_so_z_follows_the_bed(tmp_path):
    """One G-code move across the bed becomes toolhead moves that end on
    move_check_distance (5 mm) checks where the correction changed by
    split_delta_z (0.025 mm) or more, each at the mesh's Z there."""
    cfg = make_cfg(tmp_path)
    with printer_on_sim(cfg) as (printer, _said):
        run(printer, tmp_path, HOME_AND_PROBE + "G1 X30 Y100 Z0.2 F6000\n")
        sent = []
        original = printer.toolhead.move
        printer.toolhead.move = lambda target, speed: (sent.append(list(target)),
                                                       original(target, speed))
        run(printer, tmp_path, "G1 X200 F6000\n", "across.gcode")
        mesh = printer.bed_mesh.transform.mesh
    assert len(sent) > 10
    xs = [p[0] for p in sent]
    assert xs == sorted(xs) and xs[-1] == 200.0
    assert all((x - 30.0) % 5.0 == 0.0 for x in xs)
    last = mesh.z_at(30.0, 100.0)
    for x, y, z, _e in sent[:-1]:
        assert abs(mesh.z_at(x, y) - last) >= 0.025
        last = mesh.z_at(x, y)
    for x, y, z, _e in sent:
        assert y == 100.0
        assert z == pytest.approx(0.2 + mesh.z_at(x, y), abs=1e-9)


def test_g28_moves_are_not_adjusted(tmp_path):
    """[safe_z_home]'s moves are the toolhead's own (Klipper's manual
    moves): after G28 with a mesh in use the nozzle is at home_xy_position
    and exactly z_hop, and the G-code position is that less the mesh."""
    cfg = make_cfg(tmp_path, extra="[safe_z_home]\nhome_xy_position = 120, 100\nz_hop = 10\n")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, HOME_AND_PROBE + "G1 X60 Y50 Z0.3 F6000\nG28\nM114\n")
        assert printer.bed_mesh.active
        assert printer.toolhead.position[:3] == [120.0, 100.0, 10.0]
        offset = printer.bed_mesh.transform.offset(120.0, 100.0, 10.0)
        assert said[-1] == "echo: X:120.000 Y:100.000 Z:%.3f E:0.000" % (10.0 - offset)


def test_probe_points_and_heights(tmp_path):
    """BED_MESH_CALIBRATE probes mesh_min .. mesh_max with the probe tip
    (nozzle at point - offset) and keeps the bed's height there: probe Z
    less z_offset, which is the surface within a Z step and the switch's
    repeatability."""
    cfg = make_cfg(tmp_path)
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, HOME_AND_PROBE + "BED_MESH_OUTPUT PGP=1\n")
        mesh = printer.bed_mesh.transform.mesh
    assert mesh.bounds == ((30.0, 10.0), (240.0, 200.0))
    xs, ys = mesh.probe_coordinates()
    expected = surface(cfg, xs[None, :], ys[:, None])
    assert np.abs(mesh.probed - expected).max() <= 1.0 / STEPS_PER_MM[2] + 0.005
    assert "echo: probe at 6.000,5.000 is z=%.6f" % (mesh.probed[0, 0] + 1.0) in said
    assert "echo: 0 | (6.0, 5.0) | (30.0, 10.0)" in said
    assert "echo: Mesh Bed Leveling Complete" in said


def test_profiles_save_load_remove_and_survive_a_restart(tmp_path):
    """The calibrated mesh is saved to "default" for SAVE_CONFIG; SAVE,
    REMOVE and LOAD work on the session's profiles with Klipper's words; a
    profile written by SAVE_CONFIG loads after a restart to the same mesh."""
    cfg = make_cfg(tmp_path)
    with printer_on_sim(cfg) as (printer, said):
        with pytest.raises(PrintError, match=re.escape("bed_mesh: Unknown profile [warm]")):
            run(printer, tmp_path, "BED_MESH_PROFILE LOAD=warm\n")
        run(printer, tmp_path, HOME_AND_PROBE + "BED_MESH_PROFILE SAVE=warm\n"
                                                "BED_MESH_PROFILE REMOVE=default\n"
                                                "BED_MESH_PROFILE REMOVE=nothing\n")
        probed = printer.bed_mesh.transform.mesh.probed
        changes = printer.pending.changes
        assert changes["bed_mesh default"] is None
        assert changes["bed_mesh warm"]["x_count"] == "5"
        assert "echo: No profile named [nothing] to remove" in said
        run(printer, tmp_path, "BED_MESH_CLEAR\nBED_MESH_PROFILE LOAD=warm\n", "load.gcode")
        assert printer.bed_mesh.profile_name == "warm"
        printer.pending.save()
    cfg = config_mod.load(cfg.path)
    assert sorted(cfg.mesh_profiles) == ["warm"]
    with printer_on_sim(cfg) as (printer, _said):
        assert not printer.bed_mesh.active
        run(printer, tmp_path, "BED_MESH_PROFILE LOAD=warm\n", "restart.gcode")
        # Saved with 6 decimals, as Klipper writes them.
        assert np.abs(printer.bed_mesh.transform.mesh.probed - probed).max() < 1e-6


def test_adaptive_mesh_covers_the_objects(tmp_path):
    """ADAPTIVE=1 probes the EXCLUDE_OBJECT_DEFINE polygons' extent plus
    ADAPTIVE_MARGIN, with the configured count scaled to it (at least 3)."""
    cfg = make_cfg(tmp_path, count="13, 13")
    with printer_on_sim(cfg) as (printer, _said):
        run(printer, tmp_path,
            "EXCLUDE_OBJECT_DEFINE NAME=cube CENTER=125,105 "
            "POLYGON=[[108,88],[142,88],[142,122],[108,122]]\n"
            "G28\nBED_MESH_CALIBRATE ADAPTIVE=1 ADAPTIVE_MARGIN=5\n")
        mesh = printer.bed_mesh.transform.mesh
    # 13 * 44 / 210 mm -> 3 columns 22 mm apart; 13 * 44 / 190 -> 4 rows,
    # 14.66 mm apart (floored to 0.01 mm: the last row is 0.02 mm short).
    assert mesh.probed.shape == (math.ceil(13 * 44 / 190), math.ceil(13 * 44 / 210)) == (4, 3)
    assert mesh.bounds == ((103.0, 83.0), (147.0, pytest.approx(83.0 + 3 * 14.66)))


@pytest.mark.parametrize("line, message", [
    ("BED_MESH_CALIBRATE FOO=1", "BED_MESH_CALIBRATE has no parameter FOO"),
    ("BED_MESH_CALIBRATE METHOD=manual", "Mendel probes only with METHOD=automatic"),
    ("BED_MESH_CALIBRATE PROBE_COUNT=2", "at least 3 points per axis"),
    ("BED_MESH_PROFILE", "takes one of LOAD=name, SAVE=name, REMOVE=name"),
    ("BED_MESH_CLEAR NOW=1", "BED_MESH_CLEAR has no parameter NOW"),
])
def test_refused_lines(tmp_path, line, message):
    cfg = make_cfg(tmp_path)
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match=re.escape(message)):
            run(printer, tmp_path, "G28\n" + line + "\n")
        assert not printer.bed_mesh.active


def test_reports_before_probing(tmp_path):
    cfg = make_cfg(tmp_path)
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "BED_MESH_OUTPUT\nBED_MESH_MAP\nBED_MESH_PROFILE SAVE=x\n")
    assert said[-3:] == ["echo: Bed has not been probed", "echo: Bed has not been probed",
                         "echo: Unable to save to profile [x], the bed has not been probed"]


def test_bed_mesh_map_is_json(tmp_path):
    cfg = make_cfg(tmp_path)
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, HOME_AND_PROBE + "BED_MESH_MAP\n")
        probed = printer.bed_mesh.transform.mesh.probed
    line = said[-1]
    assert line.startswith("echo: mesh_map_output ")
    data = json.loads(line[len("echo: mesh_map_output "):])
    assert data["mesh_min"] == [30.0, 10.0] and data["mesh_max"] == [240.0, 200.0]
    assert np.array_equal(np.array(data["z_positions"]), probed)


def test_a_printer_without_bed_mesh_refuses_the_commands(tmp_path):
    cfg = config_mod.load(default_config())
    with printer_on_sim(cfg) as (printer, _said):
        with pytest.raises(PrintError, match=re.escape("this printer has no [bed_mesh] section")):
            run(printer, tmp_path, "G28\nBED_MESH_CALIBRATE\n")


def test_check_accepts_a_print_start_that_probes(tmp_path):
    """`mendel check` runs BED_MESH_* statically: a file whose PRINT_START
    calibrates checks clean; loading a profile nobody made is an error."""
    cfg = make_cfg(tmp_path)
    good = tmp_path / "good.gcode"
    good.write_text("M104 S215\nM109 S215\nPRINT_START\nBED_MESH_PROFILE LOAD=default\n"
                    "BED_MESH_OUTPUT PGP=1\nG1 X100 Y100 Z0.2 F3000\nG1 X120 E1\n"
                    "BED_MESH_CLEAR\n")
    report = check_file(str(good), cfg)
    assert report["fits"], report["problems"]
    assert report["errors"] == [] and report["unsupported"] == {}
    bad = tmp_path / "bad.gcode"
    bad.write_text("G28\nBED_MESH_PROFILE LOAD=cold\n")
    report = check_file(str(bad), cfg)
    assert [e["reason"] for e in report["errors"]] == ["bed_mesh: Unknown profile [cold]"]


def test_a_move_the_mesh_takes_out_of_range_moves_nothing(tmp_path):
    """A G-code move whose split points the mesh lowers below position_min
    is refused whole: the toolhead stays where it was (no piece of the
    move was queued) and the message names the mesh's share of the Z.
    The mesh here is a bed 0.5 mm low at X 200, level at X 0."""
    cfg = make_cfg(tmp_path)
    with printer_on_sim(cfg) as (printer, _said):
        run(printer, tmp_path, "G28\nG1 X10 Y100 Z5 F6000\n")
        xs = np.linspace(0.0, 200.0, 3)
        low_right = np.tile(-0.0025 * xs, (3, 1))
        printer.bed_mesh.set_mesh(ZMesh(low_right, (0.0, 0.0), (200.0, 200.0)))
        run(printer, tmp_path, "G1 X10 Y100 Z0.2\n", "down.gcode")
        before = list(printer.toolhead.position)
        with pytest.raises(PrintError, match=r"Z=-0\.\d+ outside 0\.000\.\.210\.000 mm "
                                             r"\(G-code Z 0\.200 less the bed mesh's"):
            run(printer, tmp_path, "G1 X200 Y100 Z0.2\n", "across.gcode")
        assert printer.toolhead.position == before
        assert printer.position[:3] == [10.0, 100.0, 0.2]


def test_g29_levels_the_bed_on_a_printer_with_a_probe_and_bed_mesh(tmp_path):
    """A Marlin start code's G29 runs BED_MESH_CALIBRATE (said once) when
    printer.cfg has a probe and [bed_mesh]; without them it is counted as a
    known command this printer cannot run, never a silent ok."""
    cfg = write_cfg(tmp_path, default_config(),
                    "[probe]\npin = ^sim_probe\nz_offset = 1.0\n"
                    "[bed_mesh]\nmesh_min = 20, 20\nmesh_max = 200, 180\nprobe_count = 3, 3\n")
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\nG29\n")
        assert printer.bed_mesh.active
        assert sum("G29 runs BED_MESH_CALIBRATE" in line for line in said) == 1
    gcode = tmp_path / "plain.gcode"
    gcode.write_text("G28\nG29\n")
    assert check_file(str(gcode), config_mod.load(default_config()))["ignored"] == {"G29": 1}
