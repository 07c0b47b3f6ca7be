# Mendel host: Klipper's small G-code sections of printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sections a Klipper printer.cfg carries for its G-code commands, as
Klipper's Config_Reference describes them:

* ``[respond]`` ``default_type`` (echo; or command, error) and
  ``default_prefix`` (by type: none for echo, ``//`` for command, ``!!`` for
  error): what ``RESPOND MSG=`` writes when the call gives no TYPE/PREFIX.
* ``[gcode_arcs]`` ``resolution`` (mm): G2/G3 are drawn with segments of at
  most this length, as Klipper draws them (without the section, Mendel's
  chord tolerance, ``--arc-tolerance``, alone decides).
* ``[display_status]`` and ``[exclude_object]`` take no keys: Mendel always
  has M117/M73 and the EXCLUDE_OBJECT commands, so the sections are taken
  and change nothing.
"""
import dataclasses

from mendel.gcode.macro_commands import RESPOND_PREFIXES, RESPOND_TYPES


@dataclasses.dataclass
class GcodeExtras:
    """``respond_type``/``respond_prefix`` (RESPOND's defaults),
    ``arc_resolution`` (mm, or None)."""
    respond_type: str = "echo"
    respond_prefix: str = None
    arc_resolution: float = None

    def default_prefix(self, kind):
        """The prefix RESPOND writes for ``kind`` without PREFIX=."""
        if self.respond_prefix is not None and kind == self.respond_type:
            return self.respond_prefix
        return RESPOND_PREFIXES[kind]


def load(respond_sec, arcs_sec, display_sec, exclude_sec):
    """GcodeExtras from the Sections (each may be None). Raises ConfigError."""
    del display_sec, exclude_sec            # taken: no keys to read
    extras = GcodeExtras()
    if respond_sec is not None:
        extras.respond_type = respond_sec.getchoice("default_type", RESPOND_TYPES, "echo")
        prefix = respond_sec.get("default_prefix", "")
        extras.respond_prefix = prefix.strip() or None
    if arcs_sec is not None:
        extras.arc_resolution = arcs_sec.getfloat("resolution", 1.0, above=0.0)
    return extras
