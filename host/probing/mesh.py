# Mendel host: the bed mesh, a probed height grid and its interpolation.
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bed mesh as Klipper builds it: probed heights, a finer interpolated grid,
bilinear look-up in the fine grid, and the saved-profile form.

Suffixes: ``_mm`` millimetres. Matrices are ``(rows, columns)`` = ``(Y, X)``,
row 0 at the lowest Y, column 0 at the lowest X.

The fine grid: ``mesh_pps`` points are interpolated between neighbouring
probed points on each axis, so an axis of ``n`` probed points has
``(n - 1) * (pps + 1) + 1`` fine points, evenly spaced over the probed
rectangle; the probed points are copied into it unchanged. Interpolation is
separable: along X on the probed rows first, then along Y on every fine
column. Both passes are linear in the heights, so each is a weight matrix
``W`` (fine points x probed points) and ``fine = Wy @ probed @ Wx.T``.

* ``lagrange``: the polynomial through all probed points of the row (or
  column). It reproduces any polynomial of degree < n exactly, a tilted plane
  in particular.
* ``bicubic``: a cardinal (Hermite) spline per segment, with the tangent at a
  probed point ``tension * (next - previous)``; at the mesh edges the missing
  neighbour is the edge point itself. With Klipper's default tension 0.2 this
  does *not* reproduce a tilted plane between probed points: on linear data
  rising by ``s`` per segment, an inner segment is off by
  ``(2 * tension - 1) * t * (2t - 1) * (t - 1) * s`` at fraction ``t``
  (0 at the midpoint, and everywhere only for tension 0.5), and the edge
  segments are off even at their midpoints (``-tension * s / 8`` at the
  first, ``+tension * s / 8`` at the last). Mendel keeps Klipper's formula so
  that a saved profile gives the same mesh in both.
* ``direct``: no interpolation (both pps 0); the fine grid is the probed one.

Between fine points the height is bilinear; outside the probed rectangle the
nearest edge value is used (the fine cell index and the fraction are clamped).
"""
import math

import numpy as np

from mendel.probing import MeshError

ALGORITHMS = ("lagrange", "bicubic", "direct")
PROFILE_VERSION = 1
# Saved-profile keys besides "version" and "points", in the order Klipper writes them.
PROFILE_KEYS = ("x_count", "y_count", "mesh_x_pps", "mesh_y_pps", "algo", "tension",
                "min_x", "max_x", "min_y", "max_y")
DECIMALS = 6                 # profiles and reports keep heights to 1 nm (Klipper's "%.6f")
AVERAGE_DECIMALS = 2         # the mesh average is rounded to 0.01 mm (a whole number of
                             # Z steps on common printers; it becomes the fade target)


class ZMesh:
    """Probed bed heights over a rectangle and their interpolated fine grid.

    ``probed``: ``(ny, nx)`` mm, row j at Y = min_y + j * (max_y - min_y) /
    (ny - 1), X ascending; ``mesh_min``, ``mesh_max``: ``(x, y)`` mm of the
    probed rectangle's corners; ``mesh_pps``: ``(x, y)`` points interpolated
    per segment (one int for both); ``algorithm``: "lagrange", "bicubic" or
    "direct" (see the module note; :func:`mendel.probing.grid.effective_algorithm`
    turns the configured choice into this one); ``tension``: bicubic only.
    Raises MeshError for a bad shape, rectangle or algorithm, or heights
    that are not finite.
    """

    def __init__(self, probed, mesh_min, mesh_max, mesh_pps=(2, 2), algorithm="lagrange",
                 tension=0.2):
        probed = np.array(probed, dtype=np.float64)
        if probed.ndim != 2 or min(probed.shape) < 2:
            raise MeshError("bed_mesh: probed heights must be a (ny, nx) grid of at least "
                            "2 x 2, not shape %s" % (probed.shape,))
        if not np.all(np.isfinite(probed)):
            raise MeshError("bed_mesh: probed heights must be finite numbers")
        if isinstance(mesh_pps, (int, np.integer)):
            mesh_pps = (mesh_pps, mesh_pps)
        self._pps = tuple(int(p) for p in mesh_pps)
        if algorithm not in ALGORITHMS:
            raise MeshError("bed_mesh: algorithm %r is not one of %s"
                            % (algorithm, ", ".join(ALGORITHMS)))
        if min(self._pps) < 0 or (algorithm == "direct" and max(self._pps) != 0):
            raise MeshError("bed_mesh: mesh_pps %d, %d does not suit algorithm %s"
                            % (self._pps + (algorithm,)))
        self._min = (float(mesh_min[0]), float(mesh_min[1]))
        self._max = (float(mesh_max[0]), float(mesh_max[1]))
        if not (self._max[0] > self._min[0] and self._max[1] > self._min[1]):
            raise MeshError("bed_mesh: mesh max %s must be above mesh min %s in X and Y"
                            % (self._max, self._min))
        self._algorithm = algorithm
        self._tension = float(tension)
        self._probed = probed
        ny, nx = probed.shape
        weights_x = _weights(algorithm, nx, self._pps[0], self._tension)
        weights_y = _weights(algorithm, ny, self._pps[1], self._tension)
        self._fine = weights_y @ probed @ weights_x.T
        self._set_lookup()

    def _set_lookup(self):
        rows, columns = self._fine.shape
        self._step = ((self._max[0] - self._min[0]) / (columns - 1),
                      (self._max[1] - self._min[1]) / (rows - 1))
        self._rows = self._fine.tolist()       # the scalar look-up reads lists (fast)

    # -- what it is --------------------------------------------------------------

    @property
    def probed(self):
        """``(ny, nx)`` probed heights, mm (a copy)."""
        return self._probed.copy()

    @property
    def fine(self):
        """``(fine ny, fine nx)`` interpolated heights, mm (a copy)."""
        return self._fine.copy()

    @property
    def bounds(self):
        """``((min_x, min_y), (max_x, max_y))`` mm of the probed rectangle."""
        return self._min, self._max

    @property
    def mesh_pps(self):
        """``(x, y)`` points interpolated between probed points."""
        return self._pps

    @property
    def algorithm(self):
        return self._algorithm

    @property
    def tension(self):
        return self._tension

    def probe_coordinates(self):
        """``(xs, ys)`` mm of the probed columns and rows."""
        ny, nx = self._probed.shape
        return (np.linspace(self._min[0], self._max[0], nx),
                np.linspace(self._min[1], self._max[1], ny))

    def z_range(self):
        """``(lowest, highest)`` mm of the fine grid."""
        return float(self._fine.min()), float(self._fine.max())

    def average(self):
        """Mean of the fine grid, mm, rounded to 0.01 mm (the default fade target)."""
        return round(float(self._fine.mean()), AVERAGE_DECIMALS)

    # -- heights -----------------------------------------------------------------

    def z_at(self, x, y):
        """Height (mm) at ``(x, y)`` mm: bilinear in the fine grid, edge value outside.

        Pure Python (no numpy call): cheap for the one point per move check.
        """
        tx, ix = _cell(x, self._min[0], self._step[0], len(self._rows[0]))
        ty, iy = _cell(y, self._min[1], self._step[1], len(self._rows))
        low, high = self._rows[iy], self._rows[iy + 1]
        z0 = (1.0 - tx) * low[ix] + tx * low[ix + 1]
        z1 = (1.0 - tx) * high[ix] + tx * high[ix + 1]
        return (1.0 - ty) * z0 + ty * z1

    def z_at_points(self, points):
        """Heights (mm) at ``(N, 2)`` points (mm) -> ``(N,)``, as :meth:`z_at` each."""
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError("z_at_points takes an (N, 2) array of x, y, not shape %s"
                             % (points.shape,))
        rows, columns = self._fine.shape
        tx, ix = _cells(points[:, 0], self._min[0], self._step[0], columns)
        ty, iy = _cells(points[:, 1], self._min[1], self._step[1], rows)
        f = self._fine
        z0 = (1.0 - tx) * f[iy, ix] + tx * f[iy, ix + 1]
        z1 = (1.0 - tx) * f[iy + 1, ix] + tx * f[iy + 1, ix + 1]
        return (1.0 - ty) * z0 + ty * z1

    def shifted(self, offset_mm):
        """This mesh with ``offset_mm`` subtracted from every height (probed and fine)."""
        moved = object.__new__(ZMesh)
        moved.__dict__.update(self.__dict__)
        moved._probed = self._probed - offset_mm
        moved._fine = self._fine - offset_mm
        moved._set_lookup()
        return moved

    def with_zero_reference(self, x, y):
        """This mesh shifted so that its height at ``(x, y)`` mm is 0
        (``zero_reference_position``: Z is then relative to that spot, where Z
        was homed or calibrated). The saved profile keeps the shifted heights,
        as Klipper's does."""
        return self.shifted(self.z_at(x, y))

    # -- saved profile ----------------------------------------------------------

    def to_profile(self):
        """The ``[bed_mesh NAME]`` section of SAVE_CONFIG as ``{key: text}``.

        ``version``, then ``points`` (one line per Y row, each starting with a
        newline and two spaces, heights ``"%.6f"`` joined by ``", "``), then
        PROFILE_KEYS with Python's ``str`` of their values, as Klipper writes.
        """
        ny, nx = self._probed.shape
        points = "".join("\n  " + ", ".join("%.6f" % round(z, DECIMALS) for z in row)
                         for row in self._probed.tolist())
        values = (nx, ny, self._pps[0], self._pps[1], self._algorithm, self._tension,
                  self._min[0], self._max[0], self._min[1], self._max[1])
        profile = {"version": str(PROFILE_VERSION), "points": points}
        profile.update((key, str(value)) for key, value in zip(PROFILE_KEYS, values))
        return profile

    @classmethod
    def from_profile(cls, profile, name="default"):
        """A mesh from a saved profile (``{key: text or value}``, as :meth:`to_profile`).

        ``name`` is only for messages. Raises MeshError naming the profile
        and key for a wrong version, a missing or malformed key, or points
        that do not make an ``x_count`` by ``y_count`` grid.
        """
        where = "bed_mesh profile %r" % name
        version = _profile_value(profile, "version", int, where, default=0)
        if version != PROFILE_VERSION:
            raise MeshError("%s: version %d, Mendel reads version %d (re-probe and save it)"
                            % (where, version, PROFILE_VERSION))
        kinds = dict(zip(PROFILE_KEYS, (int, int, int, int, str, float,
                                         float, float, float, float)))
        v = {key: _profile_value(profile, key, kind, where) for key, kind in kinds.items()}
        rows = _profile_points(profile.get("points"), where)
        if len(rows) != v["y_count"] or any(len(row) != v["x_count"] for row in rows):
            raise MeshError("%s: points has %s values per row over %d rows, x_count %d and "
                            "y_count %d expect %d x %d"
                            % (where, sorted({len(r) for r in rows}), len(rows),
                               v["x_count"], v["y_count"], v["x_count"], v["y_count"]))
        try:
            return cls(rows, (v["min_x"], v["min_y"]), (v["max_x"], v["max_y"]),
                       (v["mesh_x_pps"], v["mesh_y_pps"]), v["algo"].strip().lower(),
                       v["tension"])
        except MeshError as exc:
            raise MeshError("%s: %s" % (where, exc)) from None


def _cell(coord, low, step, count):
    """Klipper's look-up: the fine cell left of ``coord`` and the fraction into it,
    both clamped to the grid."""
    index = min(max(int(math.floor((coord - low) / step)), 0), count - 2)
    t = (coord - (low + step * index)) / step
    return min(max(t, 0.0), 1.0), index


def _cells(coords, low, step, count):
    index = np.clip(np.floor((coords - low) / step), 0, count - 2).astype(np.intp)
    t = (coords - (low + step * index)) / step
    return np.clip(t, 0.0, 1.0), index


def _weights(algorithm, count, pps, tension):
    """``(fine, count)`` weights: fine point i = sum_k W[i, k] * probed[k].
    Rows at probed points are exact unit rows (the probed value is copied)."""
    mult = pps + 1
    fine = (count - 1) * mult + 1
    if algorithm == "direct" or mult == 1:
        return np.eye(count)
    weights = np.zeros((fine, count))
    for i in range(fine):
        segment, step = divmod(i, mult)
        if step == 0:
            weights[i, segment] = 1.0
        elif algorithm == "lagrange":
            weights[i] = _lagrange_row(i / mult, count)
        else:
            _spline_row(weights[i], segment, step / mult, count, tension)
    return weights


def _lagrange_row(u, count):
    """Lagrange basis polynomials of nodes 0..count-1 at ``u`` (node units)."""
    row = np.ones(count)
    for k in range(count):
        for j in range(count):
            if j != k:
                row[k] *= (u - j) / (k - j)
    return row


def _spline_row(row, k, t, count, tension):
    """Cardinal spline weights for fraction ``t`` of segment ``k`` .. ``k + 1``:
    value = h00 p1 + h01 p2 + h10 m1 + h11 m2, tangents m1 = tension (p2 - p0),
    m2 = tension (p3 - p1); p0 = p1 at the first segment, p3 = p2 at the last."""
    h00 = 2 * t ** 3 - 3 * t ** 2 + 1
    h01 = -2 * t ** 3 + 3 * t ** 2
    h10 = t ** 3 - 2 * t ** 2 + t
    h11 = t ** 3 - t ** 2
    p0, p1, p2, p3 = max(k - 1, 0), k, k + 1, min(k + 2, count - 1)
    row[p1] += h00 - tension * h11
    row[p2] += h01 + tension * h10
    row[p0] -= tension * h10
    row[p3] += tension * h11


def _profile_value(profile, key, kind, where, default=None):
    value = profile.get(key, default)
    if value is None:
        raise MeshError("%s: missing %s" % (where, key))
    try:
        return kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise MeshError("%s: %s = %r is not %s" % (where, key, value, kind.__name__)) from None


def _profile_points(points, where):
    """Rows of heights from the saved text (rows on lines, values by commas) or lists."""
    if points is None:
        raise MeshError("%s: missing points" % where)
    if not isinstance(points, str):
        return [[float(z) for z in row] for row in points]
    try:
        return [[float(z) for z in line.split(",")]
                for line in points.splitlines() if line.strip()]
    except ValueError:
        raise MeshError("%s: points must be numbers separated by commas, one row per line"
                        % where) from None
