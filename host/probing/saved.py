# Mendel host: reading a saved bed mesh profile from printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``[bed_mesh NAME]`` section of a printer.cfg, for ``mendel plot --mesh``.

Klipper's SAVE_CONFIG appends its results after a
``#*# <--- SAVE_CONFIG --->`` line and a note, every line prefixed with ``#*# ``; a
profile may also be written as a plain section. Both are read here with
configparser, the saved block winning (it is read after the user's part, as
Klipper does). A stand-in until printer.cfg's loader knows saved profiles:
:func:`read_profile` is the one entry point to swap.
"""
import configparser

from mendel.probing import MeshError

SAVED_PREFIX = "#*#"


def read_profile(path, name="default"):
    """``{key: text}`` of section ``[bed_mesh NAME]`` in printer.cfg ``path``.

    Raises OSError if the file cannot be read, MeshError (naming the file
    and the profiles it has) if there is no such profile or the file does
    not parse.
    """
    with open(path, encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    user = [line for line in lines if not line.startswith(SAVED_PREFIX)]
    saved = [line[len(SAVED_PREFIX):].lstrip(" ") for line in lines
             if line.startswith(SAVED_PREFIX)]
    # The block opens with the marker line and a "do not edit" note: skip to its
    # first section.
    first = next((i for i, line in enumerate(saved) if line.startswith("[")), len(saved))
    saved = saved[first:]
    parser = configparser.RawConfigParser(strict=False, inline_comment_prefixes=("#", ";"),
                                          interpolation=None)
    try:
        parser.read_string("\n".join(user) + "\n", source=path)
        parser.read_string("\n".join(saved) + "\n", source=path + " (SAVE_CONFIG block)")
    except configparser.Error as exc:
        raise MeshError("%s: %s" % (path, exc)) from None
    section = "bed_mesh " + name
    if not parser.has_section(section):
        names = [s.split(" ", 1)[1] for s in parser.sections() if s.startswith("bed_mesh ")]
        raise MeshError("%s has no saved bed mesh profile %r (%s)"
                        % (path, name, "profiles: " + ", ".join(names) if names
                           else "no profiles saved: run BED_MESH_CALIBRATE and SAVE_CONFIG"))
    return dict(parser.items(section))
