# Mendel host: where BED_MESH_CALIBRATE probes.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The probe grid of a rectangular bed mesh, adaptive meshes, algorithm choice.

Suffixes: ``_mm`` millimetres. Points are probe positions (``mesh_min`` and
``mesh_max`` are where the *probe* goes, as in Klipper's Bed_Mesh.md).

Klipper's grid rule, reproduced here: the spacing on each axis is
``(max - min) / (count - 1)`` floored to 0.01 mm, so that the probed points
lie on a 0.01 mm raster; the last column therefore sits at
``min_x + spacing * (count - 1)``, at most ``0.01 * (count - 1)`` mm short of
``mesh_max``. The probe visits rows from ``mesh_min`` Y upwards, X ascending
on even rows and descending on odd ones (serpentine), which keeps travel
short.
"""
import math

import numpy as np

from mendel.probing import MeshError

ALGORITHMS = ("lagrange", "bicubic")
MIN_PROBE_COUNT = 3          # Klipper's minimum per axis
MIN_SPACING_MM = 1.0         # closer probe points are refused (Klipper's rule)
LAGRANGE_MAX_COUNT = 6       # a degree-6+ polynomial oscillates between points
BICUBIC_MIN_COUNT = 4        # the spline wants a neighbour on each side


def grid_spacing(mesh_min, mesh_max, probe_count):
    """``(dx_mm, dy_mm)``: probe spacing floored to 0.01 mm.

    Raises MeshError when a count is below 3, the rectangle is empty or the
    spacing is under 1 mm.
    """
    counts = _counts(probe_count)
    spacing = []
    for axis, name in enumerate("XY"):
        low, high = float(mesh_min[axis]), float(mesh_max[axis])
        if not high > low:
            raise MeshError("bed_mesh: mesh_max %s (%g) must be above mesh_min %s (%g)"
                            % (name, high, name, low))
        step = math.floor((high - low) / (counts[axis] - 1) * 100.0) / 100.0
        if step < MIN_SPACING_MM:
            raise MeshError("bed_mesh: mesh_min/mesh_max too close together for probe_count "
                            "%d, %d: %s spacing %.2f mm, need at least %.0f mm"
                            % (counts[0], counts[1], name, step, MIN_SPACING_MM))
        spacing.append(step)
    return tuple(spacing)


def probe_points(mesh_min, mesh_max, probe_count):
    """The probe positions in the order the probe visits them.

    ``mesh_min``, ``mesh_max``: ``(x, y)`` mm; ``probe_count``: ``(nx, ny)``
    or one int for both. Returns an ``(nx * ny, 2)`` float64 array (mm):
    row ``j`` (Y = min_y + j * dy) left to right when ``j`` is even, right to
    left when odd. Raises MeshError as :func:`grid_spacing`.
    """
    nx, ny = _counts(probe_count)
    dx, dy = grid_spacing(mesh_min, mesh_max, (nx, ny))
    columns = float(mesh_min[0]) + dx * np.arange(nx)
    points = np.empty((nx * ny, 2))
    for row in range(ny):
        points[row * nx:(row + 1) * nx, 0] = columns if row % 2 == 0 else columns[::-1]
        points[row * nx:(row + 1) * nx, 1] = float(mesh_min[1]) + dy * row
    return points


def probed_rectangle(mesh_min, mesh_max, probe_count):
    """``((min_x, min_y), (max_x, max_y))`` mm actually probed (see the module note)."""
    nx, ny = _counts(probe_count)
    dx, dy = grid_spacing(mesh_min, mesh_max, (nx, ny))
    low = (float(mesh_min[0]), float(mesh_min[1]))
    return low, (low[0] + dx * (nx - 1), low[1] + dy * (ny - 1))


def probed_matrix(points, heights, probe_count):
    """Arrange probe results, in probing order, as the ``(ny, nx)`` mesh rows.

    ``points``: from :func:`probe_points`; ``heights``: ``(nx * ny,)`` mm in
    the same order. Row ``j`` of the result is Y row ``j``, X ascending.
    """
    nx, ny = _counts(probe_count)
    heights = np.asarray(heights, dtype=np.float64)
    if heights.shape != (nx * ny,) or len(points) != nx * ny:
        raise MeshError("bed_mesh: %d probe results for a %d x %d grid"
                        % (len(heights), nx, ny))
    rows = heights.reshape(ny, nx).copy()
    rows[1::2] = rows[1::2, ::-1]       # odd rows were probed right to left
    return rows


def effective_algorithm(algorithm, probe_count, mesh_pps):
    """The interpolation a mesh will use, as Klipper settles it.

    ``"direct"`` (no interpolation) when both ``mesh_pps`` are 0; bicubic
    with fewer than 4 points on an axis falls back to lagrange. Raises
    MeshError for an unknown algorithm, lagrange over more than 6 points, or
    bicubic with 3 points on one axis and more than 6 on the other.
    """
    nx, ny = _counts(probe_count)
    name = str(algorithm).strip().lower()
    if name not in ALGORITHMS:
        raise MeshError("bed_mesh: algorithm %r is not one of %s"
                        % (algorithm, ", ".join(ALGORITHMS)))
    if max(mesh_pps) == 0:
        return "direct"
    if name == "lagrange" and max(nx, ny) > LAGRANGE_MAX_COUNT:
        raise MeshError("bed_mesh: lagrange interpolation takes at most %d points per axis, "
                        "probe_count is %d, %d (use algorithm: bicubic)"
                        % (LAGRANGE_MAX_COUNT, nx, ny))
    if name == "bicubic" and min(nx, ny) < BICUBIC_MIN_COUNT:
        if max(nx, ny) > LAGRANGE_MAX_COUNT:
            raise MeshError("bed_mesh: bicubic interpolation cannot take probe_count %d, %d: "
                            "3 points on one axis with more than %d on the other"
                            % (nx, ny, LAGRANGE_MAX_COUNT))
        return "lagrange"
    return name


def adaptive_area(objects, margin, mesh_min, mesh_max, probe_count):
    """The mesh of ``BED_MESH_CALIBRATE ADAPTIVE=1`` for the objects of a print.

    ``objects``: ``EXCLUDE_OBJECT_DEFINE`` polygons, a list of lists of
    ``(x, y)`` mm; ``margin``: ``adaptive_margin`` mm added on every side;
    ``mesh_min``/``mesh_max``/``probe_count``: the configured full mesh.
    Returns ``(area_min, area_max, (nx, ny))``, or None when there are no
    object points (then the full mesh is probed).

    Klipper's rule: the objects' bounding box grown by the margin and clipped
    to the configured rectangle; each axis keeps the configured count scaled
    by the share of the configured length it spans, rounded up, at least 3
    (at least 4 on both axes if one axis then has more than 6, the bicubic
    limit of :func:`effective_algorithm`).
    """
    xs = [float(p[0]) for polygon in objects for p in polygon]
    ys = [float(p[1]) for polygon in objects for p in polygon]
    if not xs:
        return None
    counts = _counts(probe_count)
    low = (max(min(xs) - margin, float(mesh_min[0])), max(min(ys) - margin, float(mesh_min[1])))
    high = (min(max(xs) + margin, float(mesh_max[0])), min(max(ys) + margin, float(mesh_max[1])))
    scaled = [int(math.ceil(counts[axis] * (high[axis] - low[axis])
                            / (float(mesh_max[axis]) - float(mesh_min[axis]))))
              for axis in (0, 1)]
    least = MIN_PROBE_COUNT
    if max(scaled) > LAGRANGE_MAX_COUNT and min(scaled) < BICUBIC_MIN_COUNT:
        least = BICUBIC_MIN_COUNT
    return low, high, (max(least, scaled[0]), max(least, scaled[1]))


def _counts(probe_count):
    if isinstance(probe_count, (int, np.integer)):
        probe_count = (probe_count, probe_count)
    nx, ny = (int(c) for c in probe_count)
    if min(nx, ny) < MIN_PROBE_COUNT:
        raise MeshError("bed_mesh: probe_count %d, %d: at least %d points per axis"
                        % (nx, ny, MIN_PROBE_COUNT))
    return nx, ny
