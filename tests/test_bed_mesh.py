"""Bed mesh maths (mendel.probing): the probe grid, adaptive meshes, the
interpolated mesh, saved profiles, fade, zero reference, move splitting,
BED_MESH_OUTPUT and `mendel plot --mesh`. Expected values are worked out by
hand in the comments (Klipper's Bed_Mesh.md and [bed_mesh] reference for
the rules)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mendel.probing import MeshError
from mendel.probing.grid import (adaptive_area, effective_algorithm, probe_points,
                                 probed_matrix, probed_rectangle)
from mendel.probing.mesh import ZMesh
from mendel.probing.output import format_output
from mendel.probing.saved import read_profile
from mendel.probing.transform import MeshTransform

EXACT = 1e-12                 # mm: what is left of float rounding in "exact" results


def plane(x, y):
    """A tilted bed: 2 µm per mm in X, -1 µm per mm in Y, 0.05 mm up."""
    return 0.002 * np.asarray(x) - 0.001 * np.asarray(y) + 0.05


def plane_mesh(algorithm="lagrange", pps=(3, 1), count=(5, 4), low=(0.0, 0.0),
               high=(240.0, 120.0), tension=0.2):
    xs = np.linspace(low[0], high[0], count[0])
    ys = np.linspace(low[1], high[1], count[1])
    return ZMesh(plane(*np.meshgrid(xs, ys)), low, high, pps, algorithm, tension)


# -- the probe grid -----------------------------------------------------------

def test_probe_points_snake_through_rows_from_mesh_min():
    points = probe_points((10, 20), (190, 120), (3, 3))
    assert points.tolist() == [[10, 20], [100, 20], [190, 20],
                               [190, 70], [100, 70], [10, 70],
                               [10, 120], [100, 120], [190, 120]]
    assert points.dtype == np.float64 and points.shape == (9, 2)


def test_probe_spacing_is_floored_to_a_hundredth():
    # 100 / 3 = 33.333.. -> 33.33: the last column is at 99.99, not 100.
    points = probe_points((0, 0), (100, 50), (4, 3))
    assert points[:4, 0].tolist() == pytest.approx([0, 33.33, 66.66, 99.99], abs=EXACT)
    assert points[4:8, 0].tolist() == pytest.approx([99.99, 66.66, 33.33, 0], abs=EXACT)
    assert probed_rectangle((0, 0), (100, 50), (4, 3))[1] == pytest.approx((99.99, 50.0))


def test_probe_grid_refusals():
    with pytest.raises(MeshError, match="at least 3 points"):
        probe_points((0, 0), (100, 100), (2, 5))
    with pytest.raises(MeshError, match="too close together"):
        probe_points((0, 0), (3, 100), (5, 5))          # 0.75 mm apart
    with pytest.raises(MeshError, match="mesh_max Y"):
        probe_points((0, 50), (100, 50), 3)


def test_probe_results_in_probing_order_become_rows_x_ascending():
    points = probe_points((0, 0), (20, 10), (3, 3))
    heights = [10 * x + y for x, y in points]       # a height that says where it was
    rows = probed_matrix(points, heights, (3, 3))
    assert rows.tolist() == [[0, 100, 200], [5, 105, 205], [10, 110, 210]]


def test_algorithm_rules():
    assert effective_algorithm("Lagrange", (5, 5), (2, 2)) == "lagrange"
    assert effective_algorithm("bicubic", (3, 5), (2, 2)) == "lagrange"   # too few points
    assert effective_algorithm("bicubic", (7, 7), (2, 2)) == "bicubic"
    assert effective_algorithm("bicubic", (7, 7), (0, 0)) == "direct"
    with pytest.raises(MeshError, match="at most 6"):
        effective_algorithm("lagrange", (7, 5), (2, 2))
    with pytest.raises(MeshError, match="3 points on one axis"):
        effective_algorithm("bicubic", (3, 7), (2, 2))
    with pytest.raises(MeshError, match="not one of"):
        effective_algorithm("spline", (5, 5), (2, 2))


def test_adaptive_area_of_two_objects():
    # Objects x 50..120, y 50..90; margin 5 -> 45..125 x 45..95 of a 10..210 mesh:
    # shares 80/200 = 0.4 and 50/200 = 0.25 of 7 points -> ceil(2.8) = 3, ceil(1.75) = 2 -> 3.
    square = [(50, 50), (70, 50), (70, 70), (50, 70)]
    tall = [(100, 60), (120, 60), (120, 90), (100, 90)]
    assert adaptive_area([square, tall], 5, (10, 10), (210, 210), (7, 7)) == \
        ((45, 45), (125, 95), (3, 3))
    # Near the edge the margin stops at the configured mesh; a long thin area keeps
    # 4 points on its short axis when the long one has more than 6 (bicubic's limit).
    strip = [(0, 100), (230, 100), (230, 120), (0, 120)]
    assert adaptive_area([strip], 10, (10, 10), (210, 210), (10, 10)) == \
        ((10, 90), (210, 130), (10, 4))
    assert adaptive_area([], 5, (10, 10), (210, 210), (7, 7)) is None


# -- the mesh ------------------------------------------------------------------

@pytest.mark.parametrize("pps", [(3, 1), (2, 2), (0, 0)])
def test_lagrange_reproduces_a_tilted_plane_everywhere(pps):
    mesh = plane_mesh("lagrange" if max(pps) else "direct", pps)
    fine = mesh.fine
    fine_x = np.linspace(0, 240, fine.shape[1])
    fine_y = np.linspace(0, 120, fine.shape[0])
    assert fine == pytest.approx(plane(*np.meshgrid(fine_x, fine_y)), abs=EXACT)
    rng = np.random.default_rng(14)
    points = rng.uniform((0, 0), (240, 120), size=(500, 2))
    assert mesh.z_at_points(points) == pytest.approx(plane(points[:, 0], points[:, 1]),
                                                     abs=EXACT)


def test_bicubic_follows_klippers_cardinal_spline_on_a_plane():
    """Klipper's bicubic is not exact on a plane (see mendel.probing.mesh): with
    pps 1 the inner midpoints are, the edge midpoints are off by -/+ tension*s/8."""
    tension = 0.2
    mesh = plane_mesh("bicubic", (1, 1), count=(6, 4), high=(250.0, 120.0),
                      tension=tension)
    row = mesh.fine[0]                   # y = 0: z = 0.002 x + 0.05, x every 25 mm
    rise = 0.002 * 50                    # per probed segment
    exact = plane(np.linspace(0, 250, 11), 0.0)
    error = row - exact
    assert error[[0, 2, 4, 6, 8, 10]] == pytest.approx([0] * 6, abs=EXACT)   # probed
    assert error[[3, 5, 7]] == pytest.approx([0] * 3, abs=EXACT)             # inner middles
    assert error[1] == pytest.approx(-tension * rise / 8, abs=EXACT)
    assert error[9] == pytest.approx(tension * rise / 8, abs=EXACT)


@given(tension=st.floats(0.0, 2.0), pps=st.integers(1, 5))
def test_bicubic_inner_segments_match_the_hermite_error_formula(tension, pps):
    mesh = plane_mesh("bicubic", (pps, 1), count=(6, 4), high=(250.0, 120.0),
                      tension=tension)
    row = mesh.fine[0]
    rise = 0.002 * 50
    mult = pps + 1
    for index in range(2 * mult, 3 * mult):          # the third segment (inner)
        t = (index - 2 * mult) / mult
        expected = plane(index * 50 / mult, 0.0) \
            + (2 * tension - 1) * t * (2 * t - 1) * (t - 1) * rise
        assert row[index] == pytest.approx(expected, abs=EXACT)


@settings(max_examples=50)
@given(heights=st.lists(st.floats(-1.0, 1.0), min_size=20, max_size=20),
       algorithm=st.sampled_from(["lagrange", "bicubic"]))
def test_probed_points_are_returned_exactly(heights, algorithm):
    # 5 x 4 points 60 x 40 mm apart, pps 3, 1: fine steps 15 and 20 mm (exact in binary).
    probed = np.array(heights).reshape(4, 5)
    mesh = ZMesh(probed, (0, 0), (240, 120), (3, 1), algorithm)
    assert mesh.probed.tolist() == probed.tolist()
    assert mesh.fine[::2, ::4].tolist() == probed.tolist()
    xs, ys = np.meshgrid(np.arange(5) * 60.0, np.arange(4) * 40.0)
    for x, y, z in zip(xs.ravel(), ys.ravel(), probed.ravel()):
        assert mesh.z_at(x, y) == z
    assert mesh.z_at_points(np.column_stack([xs.ravel(), ys.ravel()])).tolist() == \
        probed.ravel().tolist()


@given(x=st.floats(-100, 400), y=st.floats(-100, 300))
def test_scalar_and_vector_lookups_agree_and_clamp_outside(x, y):
    mesh = ZMesh([[0.0, 0.3, -0.1], [0.2, 0.1, 0.4], [-0.2, 0.0, 0.1]], (20, 10),
                 (220, 190), (2, 2), "lagrange")
    z = mesh.z_at(x, y)
    assert mesh.z_at_points([[x, y]])[0] == pytest.approx(z, abs=EXACT)
    inside = mesh.z_at(min(max(x, 20), 220), min(max(y, 10), 190))
    assert z == pytest.approx(inside, abs=EXACT)


def test_bad_meshes_are_refused():
    with pytest.raises(MeshError, match="shape"):
        ZMesh([1.0, 2.0, 3.0], (0, 0), (10, 10))
    with pytest.raises(MeshError, match="finite"):
        ZMesh([[0, 1], [float("nan"), 0]], (0, 0), (10, 10))
    with pytest.raises(MeshError, match="above mesh min"):
        ZMesh([[0, 1], [1, 0]], (10, 0), (0, 10))
    with pytest.raises(MeshError, match="not one of"):
        ZMesh([[0, 1], [1, 0]], (0, 0), (10, 10), 2, "cubic")
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plane_mesh().z_at_points([1.0, 2.0, 3.0])


# -- saved profiles -------------------------------------------------------------

def test_profile_is_written_as_klipper_writes_it_and_reads_back():
    mesh = ZMesh([[0.0125, -0.02, 0.1], [0.05, 0.0, 0.123456789]], (10.0, 20.0),
                 (190.0, 180.0), (2, 3), "lagrange")
    profile = mesh.to_profile()
    assert profile == {
        "version": "1", "points": "\n  0.012500, -0.020000, 0.100000"
                                  "\n  0.050000, 0.000000, 0.123457",
        "x_count": "3", "y_count": "2", "mesh_x_pps": "2", "mesh_y_pps": "3",
        "algo": "lagrange", "tension": "0.2",
        "min_x": "10.0", "max_x": "190.0", "min_y": "20.0", "max_y": "180.0"}
    again = ZMesh.from_profile(profile)
    assert again.probed.tolist() == [[0.0125, -0.02, 0.1], [0.05, 0.0, 0.123457]]
    assert (again.bounds, again.mesh_pps, again.algorithm, again.tension) == \
        (mesh.bounds, mesh.mesh_pps, mesh.algorithm, mesh.tension)
    assert again.fine == pytest.approx(mesh.fine, abs=1e-6)


SAVED_CFG = """[printer]
kinematics: cartesian

[bed_mesh]
mesh_min: 10, 10
mesh_max: 190, 190

#*# <---------------------- SAVE_CONFIG ---------------------->
#*# DO NOT EDIT THIS BLOCK OR BELOW. The contents are auto-generated.
#*#
#*# [bed_mesh default]
#*# version = 1
#*# points =
#*# \t  -0.012500, 0.002500, 0.030000
#*# \t  0.000000, 0.015000, 0.040000
#*# \t  0.010000, 0.030000, 0.062500
#*# x_count = 3
#*# y_count = 3
#*# mesh_x_pps = 2
#*# mesh_y_pps = 2
#*# algo = lagrange
#*# tension = 0.2
#*# min_x = 10.0
#*# max_x = 190.0
#*# min_y = 10.0
#*# max_y = 190.0
"""


def test_profile_from_a_save_config_block(tmp_path):
    cfg = tmp_path / "printer.cfg"
    cfg.write_text(SAVED_CFG)
    mesh = ZMesh.from_profile(read_profile(str(cfg)))
    assert mesh.probed.tolist() == [[-0.0125, 0.0025, 0.03], [0.0, 0.015, 0.04],
                                    [0.01, 0.03, 0.0625]]
    assert mesh.bounds == ((10.0, 10.0), (190.0, 190.0))
    with pytest.raises(MeshError, match=r"no saved bed mesh profile 'hot' \(profiles: default\)"):
        read_profile(str(cfg), "hot")


def test_bad_profiles_are_refused_with_the_key_named():
    good = ZMesh([[0, 1, 2], [1, 2, 3], [2, 3, 4]], (0, 0), (100, 100)).to_profile()
    with pytest.raises(MeshError, match="'old': version 0"):
        ZMesh.from_profile({k: v for k, v in good.items() if k != "version"}, "old")
    with pytest.raises(MeshError, match="x_count 4 and y_count 3"):
        ZMesh.from_profile(dict(good, x_count="4"))
    with pytest.raises(MeshError, match="tension = 'soft' is not float"):
        ZMesh.from_profile(dict(good, tension="soft"))
    with pytest.raises(MeshError, match="missing min_y"):
        ZMesh.from_profile({k: v for k, v in good.items() if k != "min_y"})


# -- fade, zero reference, inverse ----------------------------------------------------

def fade_mesh():
    # z = 0.001 (x + y) over 0..200: fine grid average 0.2 exactly, 0.1 at (50, 50).
    return ZMesh([[0, 0.1, 0.2], [0.1, 0.2, 0.3], [0.2, 0.3, 0.4]], (0, 0), (200, 200))


def test_fade_full_below_start_between_and_none_above_end():
    transform = MeshTransform(fade_mesh(), fade_start=1.0, fade_end=10.0)
    assert transform.fade_target == 0.2                 # the mesh average
    at = lambda z: transform.offset(50, 50, z)          # noqa: E731
    assert at(0.2) == pytest.approx(0.1, abs=EXACT)     # full: mesh height
    assert at(1.0) == pytest.approx(0.1, abs=EXACT)     # fade starts here
    assert at(5.5) == pytest.approx(0.15, abs=EXACT)    # half way: 0.5 (0.1 - 0.2) + 0.2
    assert at(10.0) == pytest.approx(0.2, abs=EXACT)    # faded: the fade target
    assert at(50.0) == pytest.approx(0.2, abs=EXACT)
    no_fade = MeshTransform(fade_mesh())                # fade_end 0: no fade
    assert no_fade.fade_target == 0.0
    assert no_fade.offset(50, 50, 200.0) == pytest.approx(0.1, abs=EXACT)
    chosen = MeshTransform(fade_mesh(), 1.0, 10.0, fade_target=0.0)
    assert chosen.offset(50, 50, 10.0) == 0.0


def test_fade_refusals():
    with pytest.raises(MeshError, match="fade_target 0.5000 lies outside"):
        MeshTransform(fade_mesh(), 1.0, 10.0, fade_target=0.5)
    with pytest.raises(MeshError, match="taller than the fade distance 0.30"):
        MeshTransform(fade_mesh(), 1.0, 1.3)
    with pytest.raises(MeshError, match="move_check_distance 2 is below"):
        MeshTransform(fade_mesh(), move_check_distance=2)
    with pytest.raises(MeshError, match="split_delta_z 0.005 is below"):
        MeshTransform(fade_mesh(), split_delta_z=0.005)


def test_zero_reference_makes_that_spot_height_zero():
    transform = MeshTransform(fade_mesh(), zero_reference_position=(100, 100))
    assert transform.offset(100, 100, 0.2) == pytest.approx(0.0, abs=EXACT)
    assert transform.offset(50, 50, 0.2) == pytest.approx(-0.1, abs=EXACT)
    # The shifted mesh is the one saved, as Klipper saves it.
    assert transform.mesh.to_profile()["points"].split("\n")[1] == \
        "  -0.200000, -0.100000, 0.000000"
    with pytest.raises(MeshError, match="outside the mesh"):
        MeshTransform(fade_mesh(), zero_reference_position=(250, 100))


@given(x=st.floats(0, 200), y=st.floats(0, 200), z=st.floats(0, 20),
       fade=st.sampled_from([(1.0, 10.0), (1.0, 0.0), (0.5, 2.0)]))
def test_inverse_recovers_the_gcode_z(x, y, z, fade):
    transform = MeshTransform(fade_mesh(), *fade)
    adjusted = z + transform.offset(x, y, z)
    assert transform.inverse(x, y, adjusted) == pytest.approx(z, abs=1e-9)


# -- splitting moves ---------------------------------------------------------------

def x_slope_transform(split_delta_z=0.022):
    # z = 0.001 x over 0..200, flat in Y.
    mesh = ZMesh([[0, 0.1, 0.2]] * 3, (0, 0), (200, 200))
    return MeshTransform(mesh, split_delta_z=split_delta_z)


def test_split_where_the_correction_changes_enough():
    # Checks every 5 mm; corrections 0.005 x..: 0.025 >= 0.022 first at x = 25,
    # then every 25 mm; the end point closes the move.
    points = x_slope_transform().split([0, 50, 0.2, 0], [100, 50, 0.2, 10])
    assert len(points) == 4
    expected = [[25, 50, 0.225, 2.5], [50, 50, 0.25, 5], [75, 50, 0.275, 7.5]]
    for point, want in zip(points, expected):
        assert point == pytest.approx(want, abs=EXACT)
    assert points[-1][:2] == [100, 50] and points[-1][3] == 10
    assert points[-1][2] == pytest.approx(0.3, abs=EXACT)


def test_moves_that_are_not_split():
    transform = x_slope_transform()
    assert transform.split([0, 50, 0.2, 0], [4, 50, 0.2, 1]) == \
        [[4, 50, pytest.approx(0.204, abs=EXACT), 1]]                  # shorter than a check
    assert transform.split([30, 50, 0.2, 0], [30, 50, 5.0, 0]) == \
        [[30, 50, pytest.approx(5.03, abs=EXACT), 0]]                  # Z only
    flat = MeshTransform(ZMesh([[0.1] * 3] * 3, (0, 0), (200, 200)))
    assert len(flat.split([0, 0, 0.2, 0], [200, 200, 0.2, 5])) == 1
    faded = MeshTransform(fade_mesh(), 1.0, 10.0)
    assert faded.split([0, 0, 12, 0], [200, 200, 12, 5]) == [[200, 200, 12.2, 5]]


@settings(max_examples=60)
@given(start=st.tuples(st.floats(0, 200), st.floats(0, 200)),
       end=st.tuples(st.floats(0, 200), st.floats(0, 200)),
       e=st.floats(-5, 5), delta=st.floats(0.01, 0.05), check=st.floats(3, 10))
def test_split_points_lie_on_the_move_and_keep_the_surface_within_delta(start, end, e,
                                                                        delta, check):
    mesh = ZMesh(0.1 * np.sin(np.arange(25.0).reshape(5, 5)), (0, 0), (200, 200))
    transform = MeshTransform(mesh, move_check_distance=check, split_delta_z=delta)
    first, last = [start[0], start[1], 0.3, 0.0], [end[0], end[1], 0.3, e]
    points = transform.split(first, last)
    assert points[-1][:2] == list(end) and points[-1][3] == e
    assert points[-1][2] == pytest.approx(0.3 + mesh.z_at(*end), abs=EXACT)
    length = np.hypot(end[0] - start[0], end[1] - start[1])
    previous = transform.offset(start[0], start[1], 0.3)
    for point in points[:-1]:
        along = np.hypot(point[0] - start[0], point[1] - start[1])
        assert along / check == pytest.approx(round(along / check), abs=1e-6)   # a check point
        assert point[3] == pytest.approx(e * along / length, abs=1e-9)
        offset = point[2] - 0.3
        assert offset == pytest.approx(mesh.z_at(point[0], point[1]), abs=EXACT)
        assert abs(offset - previous) >= delta - EXACT
        previous = offset


# -- BED_MESH_OUTPUT -------------------------------------------------------------------

def test_output_shows_the_bed_from_above_with_its_range():
    mesh = ZMesh([[-0.0125, 0.0025, 0.03], [0.0, 0.015, 0.04], [0.01, 0.03, 0.0625]],
                 (10, 10), (190, 190))
    text = format_output(mesh, profile="default")
    lines = text.splitlines()
    assert lines[0] == "Bed mesh 'default': 3 x 3 probed points over X 10.00 .. 190.00, " \
                       "Y 10.00 .. 190.00 mm"
    assert "Range: -0.012500 .. 0.062500 mm (spread 0.075000 mm)" in text
    table = lines[lines.index("Probed heights, mm (rows by Y, highest first):") + 1:]
    assert table[0].split("|")[1].split() == ["10.00", "100.00", "190.00"]
    assert table[2].split() == ["190.00", "|", "0.010000", "0.030000", "0.062500"]
    assert table[4].split() == ["10.00", "|", "-0.012500", "0.002500", "0.030000"]
    assert "Interpolated" not in text
    fine = format_output(mesh, interpolated=True)
    assert "Interpolated heights, mm:" in fine and len(fine.splitlines()) == len(lines) + 11


# -- mendel plot --mesh ------------------------------------------------------------------

def _plot(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "mendel", "plot", *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_render_draws_the_mesh_over_its_rectangle(tmp_path):
    from mendel.ux.plot_mesh import render_mesh
    mesh = plane_mesh()
    drawn = render_mesh(str(tmp_path / "m.png"), mesh, "tilted")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn["xlim"] == (0.0, 240.0) and drawn["ylim"] == (0.0, 120.0)
    assert drawn["clim"] == pytest.approx((plane(0, 120), plane(240, 0)), abs=EXACT)


def test_cli_plots_a_saved_profile_and_a_mesh_json(tmp_path):
    (tmp_path / "printer.cfg").write_text(SAVED_CFG)
    result = _plot(tmp_path, "--mesh", "--config", "printer.cfg")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "printer-mesh.png").read_bytes()[:4] == b"\x89PNG"
    assert "3 x 3 probed points over X 10.00 .. 190.00" in result.stdout
    assert "heights -0.0125 .. 0.0625 mm (range 0.0750 mm)" in result.stdout
    (tmp_path / "mesh.json").write_text(json.dumps(
        {"probed": [[0, 0.1, 0.2], [0.1, 0.2, 0.3], [0.2, 0.3, 0.4]], "min": [0, 0],
         "max": [200, 200], "pps": [2, 2], "algorithm": "lagrange"}))
    result = _plot(tmp_path, "--mesh-json", "mesh.json", "--out", "j.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "j.png").read_bytes()[:4] == b"\x89PNG"
    assert "heights 0.0000 .. 0.4000 mm" in result.stdout


def test_cli_mesh_refusals(tmp_path):
    (tmp_path / "printer.cfg").write_text(SAVED_CFG)
    result = _plot(tmp_path, "--mesh")
    assert result.returncode != 0 and "needs one source" in result.stderr
    result = _plot(tmp_path, "--mesh", "--config", "printer.cfg", "--profile", "cold")
    assert result.returncode != 0 and "no saved bed mesh profile 'cold'" in result.stderr
    (tmp_path / "bad.json").write_text('{"probed": [[0, 1], [1, 0]], "min": [0, 0]}')
    result = _plot(tmp_path, "--mesh-json", "bad.json")
    assert result.returncode != 0 and 'needs "probed", "min" and "max"' in result.stderr
    assert not list(tmp_path.glob("*.png"))
