# Mendel host: the [bed_mesh] section and saved [bed_mesh NAME] profiles.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bed mesh settings as Klipper's Config_Reference and Bed_Mesh docs give
them. Units: mm, mm/s.

``[bed_mesh]`` keys (defaults): a rectangular bed has ``mesh_min``,
``mesh_max`` (x, y; min below max on both axes) and ``probe_count`` (x, y
or one number for both, each >= 3; (3, 3)); a round bed (delta) has
``mesh_radius`` (> 0), ``mesh_origin`` (x, y; (0, 0)) and one odd
``round_probe_count`` (>= 3; 5) instead. ``mesh_pps`` (x, y points
interpolated between probed ones, >= 0; (2, 2)); ``algorithm`` lagrange or
bicubic (lagrange: at most 6 points per axis; bicubic with fewer than 4
points on an axis becomes lagrange, with a warning, unless the other axis
has more than 6: an error; mesh_pps 0, 0 means no interpolation:
"direct"); ``bicubic_tension`` (0..2; 0.2); ``fade_start`` (1), ``fade_end``
(0: no fade; fading is off unless fade_end > fade_start), ``fade_target``
(None: the mesh's mean); ``move_check_distance`` (>= 3; 5),
``split_delta_z`` (>= 0.01; 0.025), ``zero_reference_position`` (x, y or
None), ``horizontal_move_z`` (5), ``speed`` (50), ``adaptive_margin`` (0).

A saved profile ``[bed_mesh NAME]`` (written by SAVE_CONFIG) has
``version``, ``points`` (rows of numbers, one row per y, comma separated),
``x_count``, ``y_count``, ``mesh_x_pps``, ``mesh_y_pps``, ``algo``,
``tension``, ``min_x``, ``max_x``, ``min_y``, ``max_y``.
"""
import dataclasses

PROFILE_VERSION = 1     # Klipper's bed_mesh profile format version
_INT_KEYS = ("version", "x_count", "y_count", "mesh_x_pps", "mesh_y_pps")
_FLOAT_KEYS = ("tension", "min_x", "max_x", "min_y", "max_y")


@dataclasses.dataclass
class BedMeshConfig:
    """``[bed_mesh]``: where and how densely to probe, how to interpolate and
    how to apply the mesh (see the module doc for units and defaults)."""
    mesh_min: tuple = None
    mesh_max: tuple = None
    probe_count: tuple = (3, 3)
    mesh_radius: float = None
    mesh_origin: tuple = (0.0, 0.0)
    mesh_pps: tuple = (2, 2)
    algorithm: str = "lagrange"
    bicubic_tension: float = 0.2
    fade_start: float = 1.0
    fade_end: float = 0.0
    fade_target: float = None
    move_check_distance: float = 5.0
    split_delta_z: float = 0.025
    zero_reference_position: tuple = None
    horizontal_move_z: float = 5.0
    speed: float = 50.0
    adaptive_margin: float = 0.0


def load(sec, warnings):
    """BedMeshConfig from Section ``sec`` (None: no section); a forced
    algorithm change is appended to ``warnings``. Raises ConfigError."""
    if sec is None:
        return None
    mesh = BedMeshConfig()
    if sec.has("mesh_radius"):
        _round_bed(sec, mesh)
    else:
        _rectangular_bed(sec, mesh)
    mesh.mesh_pps = sec.getints("mesh_pps", 2, (2, 2), minval=0)
    mesh.algorithm = _algorithm(sec, mesh, warnings)
    mesh.bicubic_tension = sec.getfloat("bicubic_tension", 0.2, minval=0.0, maxval=2.0)
    mesh.fade_start = sec.getfloat("fade_start", 1.0)
    mesh.fade_end = sec.getfloat("fade_end", 0.0)
    if sec.has("fade_target"):
        mesh.fade_target = sec.getfloat("fade_target")
    mesh.move_check_distance = sec.getfloat("move_check_distance", 5.0, minval=3.0)
    mesh.split_delta_z = sec.getfloat("split_delta_z", 0.025, minval=0.01)
    if sec.has("zero_reference_position"):
        mesh.zero_reference_position = sec.getfloats("zero_reference_position", 2)
    mesh.horizontal_move_z = sec.getfloat("horizontal_move_z", 5.0)
    mesh.speed = sec.getfloat("speed", 50.0, above=0.0)
    mesh.adaptive_margin = sec.getfloat("adaptive_margin", 0.0, minval=0.0)
    return mesh


def _rectangular_bed(sec, mesh):
    mesh.mesh_min = sec.getfloats("mesh_min", 2)
    mesh.mesh_max = sec.getfloats("mesh_max", 2)
    if not all(low < high for low, high in zip(mesh.mesh_min, mesh.mesh_max)):
        sec._fail("mesh_max", "%g, %g must be above mesh_min %g, %g on both axes"
                  % (mesh.mesh_max + mesh.mesh_min))
    mesh.probe_count = sec.getints("probe_count", 2, (3, 3), minval=3)


def _round_bed(sec, mesh):
    for key in ("mesh_min", "mesh_max", "probe_count"):
        if sec.has(key):
            sec._fail(key, "a round bed (mesh_radius) takes mesh_origin and "
                           "round_probe_count instead")
    mesh.mesh_radius = sec.getfloat("mesh_radius", above=0.0)
    mesh.mesh_origin = sec.getfloats("mesh_origin", 2, (0.0, 0.0))
    count = sec.getint("round_probe_count", 5, minval=3)
    if count % 2 == 0:
        sec._fail("round_probe_count", "%d must be odd (a round mesh has a centre point)"
                  % count)
    mesh.probe_count = (count, count)


def _algorithm(sec, mesh, warnings):
    """Klipper's rules for the interpolation and the probe counts."""
    algorithm = sec.getchoice("algorithm", ("lagrange", "bicubic"), "lagrange")
    most, least = max(mesh.probe_count), min(mesh.probe_count)
    if max(mesh.mesh_pps) == 0:
        return "direct"
    if algorithm == "lagrange" and most > 6:
        sec._fail("algorithm", "lagrange interpolation takes at most 6 points per axis "
                  "(probe_count %d, %d): use bicubic" % mesh.probe_count)
    if algorithm == "bicubic" and least < 4:
        if most > 6:
            sec._fail("probe_count", "%d, %d: bicubic interpolation cannot take 3 points on "
                      "one axis and more than 6 on the other" % mesh.probe_count)
        warnings.append(str(sec.problem("algorithm", "bicubic needs 4 points per axis "
                                        "(probe_count %d, %d): lagrange is used"
                                        % mesh.probe_count)))
        return "lagrange"
    return algorithm


def profile(sec):
    """A saved ``[bed_mesh NAME]`` profile as a dict (``points``: list of
    rows of floats, one per y); raises ConfigError."""
    values = {key: sec.getint(key) for key in _INT_KEYS}
    values.update({key: sec.getfloat(key) for key in _FLOAT_KEYS})
    values["algo"] = sec.getchoice("algo", ("lagrange", "bicubic", "direct"))
    rows = [line for line in sec.get("points").splitlines() if line.strip()]
    try:
        values["points"] = [[float(v) for v in row.split(",")] for row in rows]
    except ValueError:
        sec._fail("points", "not rows of numbers separated by commas")
    shape = (len(values["points"]), {len(row) for row in values["points"]})
    if shape != (values["y_count"], {values["x_count"]}):
        sec._fail("points", "%d rows of %s numbers; x_count %d and y_count %d ask for "
                  "%d rows of %d" % (shape[0], "/".join(str(n) for n in sorted(shape[1])),
                                     values["x_count"], values["y_count"],
                                     values["y_count"], values["x_count"]))
    return values
