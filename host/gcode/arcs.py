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

An R no circle through both end points has (shorter than half the chord) is
a half circle when the shortfall is at most ``RADIUS_SHORTFALL_MM``: slicers
and arc welders round R and the end points (R1.6249 for a 3.25 mm chord).
Marlin, since its fix for that rounding, takes any such radius as a half
circle; Mendel takes only a rounding error and refuses a real mistake.
"""
import math

_FULL_CIRCLE_EPS = 1e-9
# Largest shortfall of |R| below half the chord that is drawn as a half circle
# (mm). Rounding every number to 3 decimals in mm leaves at most 0.0005 mm on
# R and 0.00035 mm on the half chord; 4 decimals in inches, 0.0022 mm in all.
# The half circle strays from a circle of the written R by the shortfall at
# most: 0.005 mm is half the default chord tolerance of the segments
# (Settings.arc_tolerance 0.01 mm), an error the drawing makes anyway.
RADIUS_SHORTFALL_MM = 0.005


class ArcError(ValueError):
    """An arc that cannot be drawn (radius too small for the end point, ...)."""


def arc_center(start, end, clockwise, i=None, j=None, r=None):
    """Centre ``(cx, cy)`` of an arc from ``start`` to ``end`` (x, y in mm):
    ``start`` plus the offsets ``i``, ``j`` (mm), or from the radius ``r``
    (mm; negative for the arc of more than a half circle).

    Raises ArcError for an R arc whose end is its start, or whose |R| falls
    short of half the chord by more than ``RADIUS_SHORTFALL_MM``."""
    if r is None:
        return start[0] + (i or 0.0), start[1] + (j or 0.0)
    dx, dy = end[0] - start[0], end[1] - start[1]
    chord = math.hypot(dx, dy)
    if chord < _FULL_CIRCLE_EPS:
        raise ArcError("an R arc needs an end point different from its start")
    half = chord / 2.0
    if half - abs(r) > RADIUS_SHORTFALL_MM:
        raise ArcError("radius %.6g mm is %.3g mm short of half the chord (%.6g mm): no "
                       "circle joins the end points (up to %g mm short is taken as a half "
                       "circle)" % (abs(r), half - abs(r), half, RADIUS_SHORTFALL_MM))
    # Distance of the centre from the chord's midpoint; 0 (a half circle) for
    # a radius within the shortfall. Factored: less rounding than r*r - h*h.
    height = math.sqrt(max((abs(r) - half) * (abs(r) + half), 0.0))
    # Centre is left of the chord for a counter-clockwise short arc.
    left = (not clockwise) == (r > 0)
    sign = 1.0 if left else -1.0
    mx, my = start[0] + dx / 2.0, start[1] + dy / 2.0
    return mx - sign * height * dy / chord, my + sign * height * dx / chord


def segment_arc(start, end, clockwise, center, tolerance, max_segment=None):
    """Points along the arc, excluding ``start`` and ending exactly at ``end``.

    ``start``/``end`` are ``[x, y, z, e]`` in mm; ``center`` is ``(cx, cy)``;
    ``tolerance`` is the largest chord-to-arc distance (mm); ``max_segment``
    (mm, or None) the longest segment along the arc (Klipper's ``[gcode_arcs]
    resolution``). Returns a list of ``[x, y, z, e]``.
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
    if max_segment is not None:
        length = math.hypot(abs(sweep) * radius, end[2] - start[2])
        count = max(count, int(math.ceil(length / max_segment - 1e-12)))
    points = []
    for k in range(1, count):
        fraction = k / count
        angle = a0 + sweep * fraction
        points.append([cx + radius * math.cos(angle), cy + radius * math.sin(angle),
                       start[2] + (end[2] - start[2]) * fraction,
                       start[3] + (end[3] - start[3]) * fraction])
    points.append(list(end))
    return points
