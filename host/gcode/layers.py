# Mendel host: which layer a G-code file is on.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Count layers as a print goes, by the same rule as ``mendel check``.

A file's own layer tags win: ``;LAYER_CHANGE`` (PrusaSlicer, Orca; Bambu Studio's ``; CHANGE_LAYER``)
if it has any, else ``;LAYER:<n>``-style tags (Cura, ideaMaker, Simplify3D,
KISSlicer); a file without tags counts the distinct Z heights (mm, to 0.1 µm)
at which filament is laid. Layers are numbered from 1; 0 means "before the
first layer". The first layer's Z (``first_z``) is that of the first move
laying filament after the first tag (a purge line before it is layer 0), or
in a file without tags of the first move laying filament at all.
"""

_EPSILON = 1e-9


def lays_filament(start, end):
    """True for a move from ``start`` to ``end`` ([x, y, z, e] mm) that extrudes
    (E grows by more than 1e-9 mm) while X, Y or Z moves (by more than 1e-9
    mm). The E growth is ``end - start``, as the extruder checks and the C
    feed (mendel.planner._lookahead.MoveFeed) compute it."""
    return end[3] - start[3] > _EPSILON and (
        abs(end[0] - start[0]) > _EPSILON or abs(end[1] - start[1]) > _EPSILON
        or abs(end[2] - start[2]) > _EPSILON)


class LayerTracker:
    """Current layer (``current``) from interpreter events and moves."""

    def __init__(self):
        self.changes = 0          # ;LAYER_CHANGE tags seen
        self.tags = 0             # ;LAYER:<n> tags seen
        self.heights = set()      # Z (mm, rounded) of extruding moves
        self._first_z = None      # Z of the first extruding move
        self._first_tagged_z = None   # ... of the first one after a layer tag

    def event(self, kind, _value=None):
        """An interpreter event (``kind`` as in ``Interpreter``'s ``event``)."""
        if kind == "layer_change":
            self.changes += 1
        elif kind == "layer":
            self.tags += 1

    def move(self, start, end):
        """A move from ``start`` to ``end`` ([x, y, z, e] mm)."""
        if lays_filament(start, end):
            self.add_height(end[2])

    def add_height(self, z):
        """Filament was laid at height ``z`` (mm)."""
        z = round(z, 4)
        self.heights.add(z)
        if self._first_z is None:
            self._first_z = z
        if self._first_tagged_z is None and (self.changes or self.tags):
            self._first_tagged_z = z

    @property
    def first_z(self):
        """The first layer's Z (mm; module docstring), None before any filament."""
        if self.changes or self.tags:
            return self._first_tagged_z
        return self._first_z

    @property
    def current(self):
        return self.changes or self.tags or len(self.heights)
