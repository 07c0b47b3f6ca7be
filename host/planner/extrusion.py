# Mendel host: extruder safety checks of a move.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Refuse moves no extruder should make, before anything is sent.

After Klipper's documented [extruder] checks (Config_Reference.md; our code):

* an extruding move whose filament volume per mm of travel is above
  ``max_extrude_cross_section`` (default 4 x nozzle diameter squared) is
  refused: the nozzle cannot pass it (and it is how a wrong E unit shows);
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


def check_extrusion(limits, start, end):
    """Raise CommandError if the move from ``start`` to ``end`` ([x, y, z, e] mm)
    breaks the cross-section, extrude-only or retraction limits of ``limits``."""
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
    if area > limits.max_extrude_cross_section:
        raise CommandError("move exceeds the maximum extrusion: %.3f mm^2 cross section "
                           "over max_extrude_cross_section %.3f mm^2"
                           % (area, limits.max_extrude_cross_section))


def check_temperature(limits, start, end, hot_end_temp):
    """Raise CommandError for an E move while the hot end is below min_extrude_temp."""
    if abs(end[3] - start[3]) > _EPSILON and hot_end_temp < limits.min_extrude_temp:
        raise CommandError("extrude below minimum temp: hot end at %.1f C, "
                           "min_extrude_temp %.1f C" % (hot_end_temp, limits.min_extrude_temp))
