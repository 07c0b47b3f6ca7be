# Mendel host: G2/G3 arcs as straight segments.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Split an arc into chords whose distance from the arc stays within a tolerance.

A chord spanning the angle ``theta`` on a circle of radius ``r`` strays at
most ``r * (1 - cos(theta / 2))`` from the arc (the sagitta), so the largest
angle per segment for a tolerance ``e`` is ``2 * acos(1 - e / r)``. Z (helix)
and E move in proportion to the angle; the last segment ends exactly at the
commanded end point.

Arc forms (RepRap wiki G2/G3; Marlin semantics): the centre as I/J offsets
from the start, or the radius R (negative R takes the longer arc). With I/J,
an end point equal to the start is one full circle.
"""
import math

_FULL_CIRCLE_EPS = 1e-9


class ArcError(ValueError):
    """An arc that cannot be drawn (radius too small for the end point, ...)."""


def arc_center(start, end, clockwise, i=None, j=None, r=None):
    """Centre ``(cx, cy)`` of an arc from ``start`` to ``end`` (x, y in mm)."""
    if r is None:
        return start[0] + (i or 0.0), start[1] + (j or 0.0)
    dx, dy = end[0] - start[0], end[1] - start[1]
    chord = math.hypot(dx, dy)
    if chord < _FULL_CIRCLE_EPS:
        raise ArcError("an R arc needs an end point different from its start")
    half = chord / 2.0
    if abs(r) < half - 1e-9:
        raise ArcError("radius %.4f mm is shorter than half the chord (%.4f mm)"
                       % (abs(r), half))
    height = math.sqrt(max(r * r - half * half, 0.0))
    # Centre is left of the chord for a counter-clockwise short arc.
    left = (not clockwise) == (r > 0)
    sign = 1.0 if left else -1.0
    mx, my = start[0] + dx / 2.0, start[1] + dy / 2.0
    return mx - sign * height * dy / chord, my + sign * height * dx / chord


def segment_arc(start, end, clockwise, center, tolerance):
    """Points along the arc, excluding ``start`` and ending exactly at ``end``.

    ``start``/``end`` are ``[x, y, z, e]`` in mm; ``center`` is ``(cx, cy)``;
    ``tolerance`` is the largest chord-to-arc distance (mm). Returns a list of
    ``[x, y, z, e]``.
    """
    cx, cy = center
    radius = math.hypot(start[0] - cx, start[1] - cy)
    if radius < _FULL_CIRCLE_EPS:
        raise ArcError("arc radius is zero")
    a0 = math.atan2(start[1] - cy, start[0] - cx)
    a1 = math.atan2(end[1] - cy, end[0] - cx)
    sweep = a1 - a0
    if clockwise:
        if sweep >= -_FULL_CIRCLE_EPS:
            sweep -= 2.0 * math.pi
    elif sweep <= _FULL_CIRCLE_EPS:
        sweep += 2.0 * math.pi
    if tolerance >= radius:
        per_segment = math.pi / 2.0
    else:
        per_segment = 2.0 * math.acos(1.0 - tolerance / radius)
    count = max(1, int(math.ceil(abs(sweep) / per_segment - 1e-12)))
    points = []
    for k in range(1, count):
        fraction = k / count
        angle = a0 + sweep * fraction
        points.append([cx + radius * math.cos(angle), cy + radius * math.sin(angle),
                       start[2] + (end[2] - start[2]) * fraction,
                       start[3] + (end[3] - start[3]) * fraction])
    points.append(list(end))
    return points
