# Mendel host: extruder safety checks of a move.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Refuse moves no extruder should make, before anything is sent.

After Klipper's documented [extruder] checks (Config_Reference.md; our code):

* an extruding move whose filament volume per mm of travel is above
  ``max_extrude_cross_section`` (default 4 x nozzle diameter squared) is
  refused: the nozzle cannot pass it (and it is how a wrong E unit shows);
* an extrude-only move longer than ``max_extrude_only_distance`` is refused;
* any E move with the hot end below ``min_extrude_temp`` is refused (cold
  extrusion grinds filament and can break the extruder).
"""
import math

from mendel.errors import CommandError

_EPSILON = 1e-9


def check_extrusion(limits, start, end):
    """Raise CommandError if the move from ``start`` to ``end`` ([x, y, z, e] mm)
    breaks the cross-section or extrude-only limits of ``limits``."""
    de = end[3] - start[3]
    if abs(de) <= _EPSILON:
        return
    move_d = math.sqrt(sum((end[i] - start[i]) ** 2 for i in range(3)))
    if move_d <= _EPSILON:
        if abs(de) > limits.max_extrude_only_distance:
            raise CommandError("extrude-only move too long: %.3f mm over "
                               "max_extrude_only_distance %.3f mm"
                               % (abs(de), limits.max_extrude_only_distance))
        return
    if de > 0:
        area = de * limits.filament_area / move_d
        if area > limits.max_extrude_cross_section:
            raise CommandError("move exceeds the maximum extrusion: %.3f mm^2 cross section "
                               "over max_extrude_cross_section %.3f mm^2"
                               % (area, limits.max_extrude_cross_section))


def check_temperature(limits, start, end, hot_end_temp):
    """Raise CommandError for an E move while the hot end is below min_extrude_temp."""
    if abs(end[3] - start[3]) > _EPSILON and hot_end_temp < limits.min_extrude_temp:
        raise CommandError("extrude below minimum temp: hot end at %.1f C, "
                           "min_extrude_temp %.1f C" % (hot_end_temp, limits.min_extrude_temp))
