# Mendel host: the text of BED_MESH_OUTPUT.
# SPDX-License-Identifier: GPL-3.0-or-later
"""What ``BED_MESH_OUTPUT`` prints: the probed heights as the bed is seen from
above (highest Y on top, X to the right, each row and column labelled with
its coordinate), where the mesh lies, its range, and on request the
interpolated grid. Heights in mm with 6 decimals as Klipper reports them."""
import numpy as np


def format_output(mesh, interpolated=False, profile=None, fade=None):
    """Lines of text (joined by newlines) describing ``mesh`` (a ZMesh).

    ``interpolated``: also print the fine grid; ``profile``: the profile
    name to mention; ``fade``: ``(fade_start, fade_end, fade_target)`` mm if
    fading is on.
    """
    (min_x, min_y), (max_x, max_y) = mesh.bounds
    probed, fine = mesh.probed, mesh.fine
    ny, nx = probed.shape
    low, high = mesh.z_range()
    lines = ["Bed mesh%s: %d x %d probed points over X %.2f .. %.2f, Y %.2f .. %.2f mm"
             % (" %r" % profile if profile else "", nx, ny, min_x, max_x, min_y, max_y),
             "Interpolation: %s, %d x %d points per segment, %d x %d grid%s"
             % (mesh.algorithm, mesh.mesh_pps[0], mesh.mesh_pps[1], fine.shape[1],
                fine.shape[0], ", tension %.2f" % mesh.tension
                if mesh.algorithm == "bicubic" else ""),
             "Range: %.6f .. %.6f mm (spread %.6f mm), average %.2f mm"
             % (low, high, high - low, mesh.average())]
    if fade:
        lines.append("Fade: full correction below Z %.2f, none from Z %.2f up, where moves "
                     "are raised by the fade target %.4f mm" % tuple(fade))
    xs, ys = mesh.probe_coordinates()
    lines += ["", "Probed heights, mm (rows by Y, highest first):"] + _table(probed, xs, ys)
    if interpolated:
        fine_xs = np.linspace(min_x, max_x, fine.shape[1])
        fine_ys = np.linspace(min_y, max_y, fine.shape[0])
        lines += ["", "Interpolated heights, mm:"] + _table(fine, fine_xs, fine_ys)
    return "\n".join(lines)


def _table(matrix, xs, ys):
    header = "%9s |" % "Y \\ X" + "".join("%11.2f" % x for x in xs)
    rows = ["%9.2f |" % y + "".join("%11.6f" % z for z in row)
            for y, row in zip(ys[::-1], matrix[::-1].tolist())]
    return [header, "-" * len(header)] + rows
