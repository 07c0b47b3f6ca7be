# Mendel host: bed probing maths (probe grid, bed mesh, mesh transform).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bed mesh levelling as Klipper's ``[bed_mesh]`` does it, in pure Python + numpy.

Nothing here talks to the board: the probe grid to visit
(:mod:`.grid`), the mesh built from the probed heights (:mod:`.mesh`), the
Z correction applied to moves (:mod:`.transform`) and the text of
``BED_MESH_OUTPUT`` (:mod:`.output`). Option names are Klipper's printer.cfg
keys. Units: mm throughout.
"""
from mendel.errors import MendelError


class MeshError(MendelError):
    """A mesh that cannot be made or used: bad probe count or rectangle, an
    unknown algorithm, a saved profile that does not parse, a fade range the
    mesh does not fit in. The message names the option or profile at fault."""
