# Mendel host: a bed mesh as a height map (`mendel plot --mesh`).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Draw a bed mesh: the interpolated heights as colours over the bed (mm),
the probed points marked, the range in the title. PNG, matplotlib Agg.

Suffixes: ``_mm`` millimetres.
"""
import json

import numpy as np

from mendel.probing import MeshError
from mendel.probing.mesh import ZMesh
from mendel.probing.saved import read_profile

RASTER = 400                 # pixels per side of the height map


def mesh_from_json(path):
    """A ZMesh from the mesh JSON of ``mendel print --json``: ``{"probed":
    [[mm...]...], "min": [x, y], "max": [x, y], "pps": [x, y] (default 2, 2),
    "algorithm": "lagrange" (default), "tension": 0.2 (default)}``.
    Raises OSError, MeshError naming the file and what is wrong."""
    with open(path, encoding="utf-8") as stream:
        try:
            data = json.load(stream)
        except ValueError as exc:
            raise MeshError("%s is not JSON: %s" % (path, exc)) from None
    data = data.get("bed_mesh", data) if isinstance(data, dict) else data
    if not isinstance(data, dict) or not {"probed", "min", "max"} <= set(data):
        raise MeshError("%s: a mesh needs \"probed\", \"min\" and \"max\"" % path)
    try:
        return ZMesh(data["probed"], data["min"], data["max"], data.get("pps", (2, 2)),
                     data.get("algorithm", "lagrange"), data.get("tension", 0.2))
    except (MeshError, TypeError, ValueError, IndexError) as exc:
        raise MeshError("%s: %s" % (path, exc)) from None


def mesh_from_config(path, profile="default"):
    """The ZMesh of profile ``[bed_mesh PROFILE]`` saved in printer.cfg ``path``."""
    return ZMesh.from_profile(read_profile(path, profile), profile)


def render_mesh(out, mesh, title=""):
    """Draw ``mesh`` (a ZMesh) into PNG file ``out``.

    Returns what was drawn: ``{"xlim": (min_x, max_x), "ylim": (min_y,
    max_y), "clim": (low, high)}`` in mm (axes and colour scale).
    """
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    (min_x, min_y), (max_x, max_y) = mesh.bounds
    low, high = mesh.z_range()
    # Colour each pixel with the height the printer applies at its centre (the
    # mesh's bilinear look-up), so the picture is the correction, not a smoothing.
    px = min_x + (np.arange(RASTER) + 0.5) * (max_x - min_x) / RASTER
    py = min_y + (np.arange(RASTER) + 0.5) * (max_y - min_y) / RASTER
    grid_x, grid_y = np.meshgrid(px, py)
    heights = mesh.z_at_points(np.column_stack([grid_x.ravel(), grid_y.ravel()]))
    figure, ax = pyplot.subplots(figsize=(7, 6))
    image = ax.imshow(heights.reshape(RASTER, RASTER), origin="lower",
                      extent=(min_x, max_x, min_y, max_y), cmap="coolwarm",
                      interpolation="nearest", aspect="equal", vmin=low, vmax=high)
    xs, ys = mesh.probe_coordinates()
    probe_x, probe_y = np.meshgrid(xs, ys)
    ax.scatter(probe_x.ravel(), probe_y.ravel(), s=30, c="black", marker="+",
               clip_on=False, zorder=3)
    figure.colorbar(image, ax=ax, label="height, mm")
    ax.set_xlim(min_x, max_x)
    ax.set_ylim(min_y, max_y)
    ax.set_xlabel("X, mm (+ probed points)")
    ax.set_ylabel("Y, mm")
    ax.set_title("%s\n%.3f .. %.3f mm (range %.3f mm), %d x %d points, %s"
                 % (title or "bed mesh", low, high, high - low, len(xs), len(ys),
                    mesh.algorithm), fontsize="medium")
    drawn = {"xlim": ax.get_xlim(), "ylim": ax.get_ylim(), "clim": image.get_clim()}
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    pyplot.close(figure)
    return drawn
