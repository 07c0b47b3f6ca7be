# Mendel: board definitions (data) and how to read them.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Board definitions: the JSON files beside this module.

Import as ``mendel.boards`` (``load_board``, ``mcu_pins``). A board file
``boards/<id>.json`` is the firmware's wiring; ``boards/mcu/<family>.json`` is
the catalogue of an MCU family's pins. (Minimal reader for printer.cfg
validation; the board-definition work owns this module.)
"""
import json
import os

from mendel.errors import MendelError


class BoardError(MendelError):
    """A board definition is missing or invalid."""


def boards_dir():
    """Folder of the bundled board definitions (``boards/``)."""
    return os.path.dirname(os.path.abspath(__file__))


def board_ids():
    """Ids of every bundled board, sorted."""
    return sorted(name[:-5] for name in os.listdir(boards_dir()) if name.endswith(".json"))


def board_path(board_id):
    """Path of ``boards/<board_id>.json``; raises BoardError naming the known ids."""
    path = os.path.join(boards_dir(), board_id + ".json")
    if "/" in board_id or not os.path.isfile(path):
        raise BoardError("no board %r; known boards: %s" % (board_id, ", ".join(board_ids())))
    return path


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError as exc:
        raise BoardError("%s %s is not valid JSON: %s" % (what, path, exc)) from None


def load_board(board_id):
    """The board definition ``boards/<board_id>.json`` as a dict; raises BoardError."""
    return _read_json(board_path(board_id), "board file")


def mcu_pins(family):
    """The pin catalogue ``boards/mcu/<family>.json`` of an MCU family as a dict;
    raises BoardError for an unknown family."""
    path = os.path.join(boards_dir(), "mcu", family + ".json")
    if "/" in family or not os.path.isfile(path):
        raise BoardError("no pin catalogue for MCU family %r" % family)
    return _read_json(path, "pin catalogue")
