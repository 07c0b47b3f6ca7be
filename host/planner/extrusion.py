# Mendel host: extruder safety checks of a move.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Refuse moves no extruder should make, before anything is sent.

After Klipper's documented [extruder] checks (Config_Reference.md; our code):

* an extruding move whose filament volume per mm of travel is above
  ``max_extrude_cross_section`` (default 4 x nozzle diameter squared) is
  refused: the nozzle cannot pass it (and it is how a wrong E unit shows);
  unless its E is tiny, at most :func:`small_extrusion_mm` (the filament of
  one nozzle diameter of track at the largest cross-section, Klipper's
  exemption): a slicer's 0.0005 mm move with E0.02 is a dab, not an over-
  extrusion, and its cross-section over so short a move means nothing;
* a move of E without X/Y travel (extrude-only, or with Z alone, as a lift
  that primes), or a retraction (E shrinks while X/Y move), longer than
  ``max_extrude_only_distance`` is refused: Klipper's extruder puts every
  move without X/Y travel, and every retraction, under the extrude-only
  rules (its ``check_move``), and so does the planner's speed limit here;
* any E move with the hot end below ``min_extrude_temp`` is refused (cold
  extrusion grinds filament and can break the extruder).
"""
from mendel.errors import CommandError
from mendel.planner.kinematics import move_distance

_EPSILON = 1e-9


def small_extrusion_mm(limits):
    """E (mm of filament) up to which an extruding move is exempt from the
    cross-section check: ``nozzle_diameter * max_extrude_cross_section /
    filament_area``, the filament that fills one nozzle diameter of track at
    the largest cross-section (0.106 mm for a 0.4 mm nozzle, 1.75 mm filament
    and the default 0.64 mm^2)."""
    return limits.nozzle_diameter * limits.max_extrude_cross_section / limits.filament_area


def check_extrusion(limits, start, end):
    """Raise CommandError if the move from ``start`` to ``end`` ([x, y, z, e] mm)
    breaks the cross-section, extrude-only or retraction limits of ``limits``
    (a :class:`mendel.config.ExtrusionLimits`)."""
    de = end[3] - start[3]
    if abs(de) <= _EPSILON:
        return
    no_xy = abs(end[0] - start[0]) <= _EPSILON and abs(end[1] - start[1]) <= _EPSILON
    if no_xy or de < 0:
        if abs(de) > limits.max_extrude_only_distance:
            raise CommandError("%s too long: %.3f mm over max_extrude_only_distance %.3f mm"
                               % ("extrude-only move" if no_xy else "retraction",
                                  abs(de), limits.max_extrude_only_distance))
        return
    area = de * limits.filament_area / move_distance(start, end)
    if area > limits.max_extrude_cross_section and de > small_extrusion_mm(limits):
        raise CommandError("move exceeds the maximum extrusion: %.3f mm^2 cross section "
                           "over max_extrude_cross_section %.3f mm^2"
                           % (area, limits.max_extrude_cross_section))


def check_temperature(limits, start, end, hot_end_temp):
    """Raise CommandError for an E move while the hot end is below min_extrude_temp."""
    if abs(end[3] - start[3]) > _EPSILON and hot_end_temp < limits.min_extrude_temp:
        raise CommandError("extrude below minimum temp: hot end at %.1f C, "
                           "min_extrude_temp %.1f C" % (hot_end_temp, limits.min_extrude_temp))
