#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build Mendel's bundled example print: model (STL) and G-code.

The model is the "Mendel test block": a 20 x 20 mm block with a 0.4 mm
elephant-foot chamfer at the bottom edge, a 2 mm 45-degree chamfer round
the top, and a 6 x 6 x 3 mm square boss on top (16 mm tall in total).
It is built from stacked square rings with numpy only, written as a
binary STL, and then sliced with a real slicer (PrusaSlicer, from
Debian's ``prusa-slicer`` package) using the profile kept in
``examples/configs/``.

Usage (from anywhere)::

    python3 examples/make_example.py                # build STL and slice
    python3 examples/make_example.py --stl-only     # only write the STL
    python3 examples/make_example.py --slicer-cmd /opt/PrusaSlicer/prusa-slicer
"""

import argparse
import shlex
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLES_DIR = Path(__file__).resolve().parent
MODEL_NAME = "mendel-test-block"
CONFIG_FILE = EXAMPLES_DIR / "configs" / "mendel-mk3-pla-0.20mm.ini"
BED_CENTER = (125.0, 105.0)
SLICER_CANDIDATES = ("prusa-slicer", "PrusaSlicer", "prusaslicer")

# (z, half-width) of each square ring, bottom to top.  Two rings at the
# same height make a flat horizontal step; equal half-widths make a wall.
BLOCK_PROFILE = (
    (0.0, 9.6),    # bottom face edge, 0.4 mm elephant-foot chamfer
    (0.4, 10.0),   # full 20 mm width
    (11.0, 10.0),  # vertical walls
    (13.0, 8.0),   # 2 mm 45-degree top chamfer
    (13.0, 3.0),   # flat top shoulder, step in to the boss
    (16.0, 3.0),   # 6 x 6 x 3 mm boss
)


def square_ring(z, half_width):
    """Return the 4 corners of a square ring at height z, counter-clockwise."""
    h = half_width
    return np.array([[-h, -h, z], [h, -h, z], [h, h, z], [-h, h, z]], dtype=float)


def cap(ring, upward):
    """Triangulate a square ring as a flat cap facing up or down."""
    a, b, c, d = ring
    if upward:
        return [(a, b, c), (a, c, d)]
    return [(a, c, b), (a, d, c)]


def band(lower, upper):
    """Join two rings with outward-facing triangles (two per side)."""
    tris = []
    count = len(lower)
    for i in range(count):
        j = (i + 1) % count
        tris.append((lower[i], lower[j], upper[j]))
        tris.append((lower[i], upper[j], upper[i]))
    return tris


def stacked_solid(profile):
    """Build a closed triangle mesh (N x 3 x 3 array) from a ring profile."""
    rings = [square_ring(z, hw) for z, hw in profile]
    tris = cap(rings[0], upward=False)
    for lower, upper in zip(rings, rings[1:]):
        tris.extend(band(lower, upper))
    tris.extend(cap(rings[-1], upward=True))
    return np.array(tris, dtype=float)


def facet_normals(tris):
    """Unit normals of each triangle (right-hand rule on vertex order)."""
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.where(lengths > 0, lengths, 1.0)


def mesh_volume(tris):
    """Signed volume of a closed mesh; positive when normals face outward."""
    return float(np.einsum("ij,ij->i", tris[:, 0], np.cross(tris[:, 1], tris[:, 2])).sum() / 6.0)


def check_watertight(tris):
    """Raise ValueError unless every directed edge is matched by its reverse once."""
    edges = {}
    for tri in np.round(tris, 6):
        points = [tuple(p) for p in tri]
        for k in range(3):
            edge = (points[k], points[(k + 1) % 3])
            edges[edge] = edges.get(edge, 0) + 1
    for (start, end), count in edges.items():
        if count != 1 or edges.get((end, start)) != 1:
            raise ValueError(f"mesh not watertight at edge {start} -> {end}")
    if mesh_volume(tris) <= 0:
        raise ValueError("mesh is inside out (non-positive volume)")


def write_binary_stl(path, tris, solid_name):
    """Write triangles as a little-endian binary STL file."""
    normals = facet_normals(tris)
    header = f"{solid_name} - Mendel example model".encode("ascii")[:80].ljust(80, b" ")
    with open(path, "wb") as handle:
        handle.write(header)
        handle.write(struct.pack("<I", len(tris)))
        for normal, tri in zip(normals, tris):
            handle.write(struct.pack("<12fH", *normal, *tri.reshape(-1), 0))


def build_model(stl_path):
    """Create the test block STL and return (triangle count, volume mm^3)."""
    tris = stacked_solid(BLOCK_PROFILE)
    check_watertight(tris)
    stl_path.parent.mkdir(parents=True, exist_ok=True)
    write_binary_stl(stl_path, tris, MODEL_NAME)
    return len(tris), mesh_volume(tris)


def find_slicer(requested):
    """Return the slicer command as a list, from --slicer-cmd or PATH."""
    if requested:
        return shlex.split(requested)
    for name in SLICER_CANDIDATES:
        found = shutil.which(name)
        if found:
            return [found]
    raise SystemExit(
        "No PrusaSlicer found. Install it with 'apt-get install -y prusa-slicer' "
        "or pass --slicer-cmd."
    )


def slicer_command(slicer, stl_path, gcode_path, config_path):
    """Build the PrusaSlicer command line that slices one STL."""
    center = f"{BED_CENTER[0]:g},{BED_CENTER[1]:g}"
    return slicer + [
        "--export-gcode",
        "--loglevel", "1",
        "--load", str(config_path),
        "--center", center,
        "--output", str(gcode_path),
        str(stl_path),
    ]


def relative_to_cwd(path):
    """Show a path relative to the current directory when that is shorter."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def run_slicer(command):
    """Run the slicer, echoing the exact command; exit on failure."""
    print("$ " + " ".join(shlex.quote(str(part)) for part in command), flush=True)
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise SystemExit(f"slicer failed with exit code {result.returncode}")


def parse_args(argv):
    """Parse command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slicer-cmd", help="slicer executable (default: prusa-slicer on PATH)")
    parser.add_argument("--config", type=Path, default=CONFIG_FILE,
                        help="PrusaSlicer .ini profile (default: %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=EXAMPLES_DIR,
                        help="where to write models/<name>.stl and <name>.gcode")
    parser.add_argument("--stl-only", action="store_true", help="write the STL and stop")
    return parser.parse_args(argv)


def main(argv=None):
    """Build the example model and slice it into G-code."""
    args = parse_args(argv)
    stl_path = args.out_dir / "models" / f"{MODEL_NAME}.stl"
    gcode_path = args.out_dir / f"{MODEL_NAME}.gcode"

    count, volume = build_model(stl_path)
    print(f"wrote {stl_path} ({count} triangles, {volume:.1f} mm^3)")
    if args.stl_only:
        return 0

    slicer = find_slicer(args.slicer_cmd)
    command = slicer_command(
        slicer, relative_to_cwd(stl_path), relative_to_cwd(gcode_path), relative_to_cwd(args.config)
    )
    run_slicer(command)
    print(f"wrote {gcode_path} ({gcode_path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
