# Mendel host: Klipper's printer objects (status).
# SPDX-License-Identifier: GPL-3.0-or-later
"""The printer's state as Klipper's printer objects (docs/Status_Reference.md
in Klipper's repository): ``toolhead``, ``gcode_move``, ``extruder``,
``heater_bed``, ``configfile``, ``webhooks``, ``print_stats`` and the rest,
with Klipper's field names and units.

One source for both readers: the API server's ``objects/query`` and
``objects/subscribe`` (:mod:`mendel.api`) and the ``printer`` object of
G-code macro templates (:mod:`mendel.gcode.macros`). See
:class:`mendel.status.objects.PrinterObjects`.
"""
from mendel.status.objects import PrinterObjects, Sources
from mendel.status.view import Status

__all__ = ["PrinterObjects", "Sources", "Status"]
