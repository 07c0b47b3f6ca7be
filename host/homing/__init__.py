# Mendel host: homing against endstops.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Homing: rails against their endstops (:mod:`.rails`), and the G-code
commands around it (:mod:`.commands`: G28 with [safe_z_home] and
[homing_override], SET_KINEMATIC_POSITION, QUERY_ENDSTOPS, M119)."""
