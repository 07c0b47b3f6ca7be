# Mendel host: the bed mesh applied to moves (fade, zero reference, move splitting).
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Z correction of a bed mesh, as Klipper's move transform applies it.

Suffixes: ``_mm`` millimetres. Positions are ``[x, y, z, e]`` mm; "G-code Z"
is the Z the file asks for, "adjusted Z" the one sent to the planner.

Correction at G-code height z over (x, y), with mesh height m(x, y):

    offset = f(z) * (m(x, y) - fade_target) + fade_target

f(z) is 1 below ``fade_start``, 0 from ``fade_end`` up, linear between.
Fading out hands the bed's shape back to the print over a few layers
while keeping its mean height (``fade_target``, by default the mesh average
rounded to 0.01 mm): above ``fade_end`` every move is raised by
fade_target, so the part is not squashed or stretched. ``fade_end`` 0 (or
below ``fade_start``) disables fading: f = 1 and fade_target = 0.

A move's f comes from its *end* Z, for the whole move (Klipper's rule; a
move that changes Z across the fade band is rare: layer changes are short).

Splitting: walking the move in steps of ``move_check_distance`` (of XYZ
length), a point is emitted whenever the correction there differs by at least
``split_delta_z`` from the last emitted one; the move then ends at its
endpoint, corrected. Moves without XY motion are not split. E and Z are
interpolated linearly with the XY position.
"""
from mendel.probing import MeshError

NO_MOTION_MM = 1e-10         # an axis moving less than this is treated as still
MIN_MOVE_CHECK_DISTANCE_MM = 3.0     # Klipper's bounds for the two split options
MIN_SPLIT_DELTA_Z_MM = 0.01
GRID_RASTER_MM = 0.01        # probe spacing is floored to this (grid.py)


class MeshTransform:
    """A mesh applied to G-code moves.

    ``mesh``: a :class:`mendel.probing.mesh.ZMesh`; ``fade_start``,
    ``fade_end``: mm of G-code Z (fade_end <= fade_start: no fade);
    ``fade_target``: mm, None for the mesh average; ``zero_reference_position``:
    ``(x, y)`` mm inside the mesh whose height becomes 0, or None;
    ``move_check_distance`` (>= 3), ``split_delta_z`` (>= 0.01): mm.

    Raises MeshError (Klipper's refusals) when fade_target lies outside the
    mesh's height range (and is not 0), when the mesh is taller than the fade
    distance, when the zero reference lies outside the mesh, or when a split
    option is below its minimum. ``mesh`` (the attribute) is the mesh in use,
    shifted by the zero reference: the one to save.
    """

    def __init__(self, mesh, fade_start=1.0, fade_end=0.0, fade_target=None,
                 zero_reference_position=None, move_check_distance=5.0, split_delta_z=0.025):
        if move_check_distance < MIN_MOVE_CHECK_DISTANCE_MM:
            raise MeshError("bed_mesh: move_check_distance %g is below its minimum %g mm"
                            % (move_check_distance, MIN_MOVE_CHECK_DISTANCE_MM))
        if split_delta_z < MIN_SPLIT_DELTA_Z_MM:
            raise MeshError("bed_mesh: split_delta_z %g is below its minimum %g mm"
                            % (split_delta_z, MIN_SPLIT_DELTA_Z_MM))
        if zero_reference_position is not None:
            mesh = mesh.with_zero_reference(*_inside(mesh, zero_reference_position))
        self.mesh = mesh
        self.move_check_distance = float(move_check_distance)
        self.split_delta_z = float(split_delta_z)
        self.fade_start, self.fade_end = float(fade_start), float(fade_end)
        self.fading = self.fade_end > self.fade_start
        self.fade_target = 0.0
        if self.fading:
            self.fade_target = self._fade_target(fade_target)

    def _fade_target(self, target):
        low, high = self.mesh.z_range()
        if target is None:
            target = self.mesh.average()
        elif target != 0.0 and not low <= target <= high:
            raise MeshError("bed_mesh: fade_target %.4f lies outside the mesh's height range "
                            "%.4f .. %.4f mm" % (target, low, high))
        distance = self.fade_end - self.fade_start
        if distance <= max(abs(low), abs(high)):
            raise MeshError("bed_mesh: the mesh (heights %.4f .. %.4f mm) is taller than the "
                            "fade distance %.2f mm (fade_start %g .. fade_end %g): raise "
                            "fade_end or level the bed" % (low, high, distance,
                                                           self.fade_start, self.fade_end))
        return float(target)

    def factor(self, z):
        """Share of the mesh applied at G-code height ``z`` mm: 1, fading, 0."""
        if not self.fading or z < self.fade_start:
            return 1.0
        if z >= self.fade_end:
            return 0.0
        return (self.fade_end - z) / (self.fade_end - self.fade_start)

    def offset(self, x, y, z):
        """mm to add to G-code Z ``z`` at ``(x, y)`` (all mm)."""
        return self._offset(x, y, self.factor(z))

    def _offset(self, x, y, factor):
        target = self.fade_target
        return factor * (self.mesh.z_at(x, y) - target) + target

    def split(self, start, end):
        """The move ``start`` -> ``end`` (``[x, y, z, e]`` mm, G-code coordinates)
        as the adjusted points to move through: a list of ``[x, y, z, e]``,
        the last one ``end`` with its Z corrected (see the module note)."""
        factor = self.factor(end[2])
        last = [float(end[0]), float(end[1]), float(end[2]), float(end[3])]
        if not factor:
            last[2] += self.fade_target
            return [last]
        deltas = [b - a for a, b in zip(start, end)]
        length = sum(d * d for d in deltas[:3]) ** 0.5
        moving = [abs(d) > NO_MOTION_MM for d in deltas]
        points = []
        if moving[0] or moving[1]:
            current = self._offset(start[0], start[1], factor)
            checked = self.move_check_distance
            while checked < length:
                t = checked / length
                point = [a + t * d if move else float(a)
                         for a, d, move in zip(start, deltas, moving)]
                offset = self._offset(point[0], point[1], factor)
                if abs(offset - current) >= self.split_delta_z:
                    current = offset
                    point[2] += offset
                    points.append(point)
                checked += self.move_check_distance
        last[2] += self._offset(last[0], last[1], factor)
        points.append(last)
        return points

    def inverse(self, x, y, z_adjusted):
        """The G-code Z whose adjusted Z at ``(x, y)`` is ``z_adjusted`` (all mm):
        for reporting the position (M114, get_position) after a corrected move."""
        target = self.fade_target
        above = self.mesh.z_at(x, y) - target
        factor = 1.0
        if self.fading:
            # z_adj = z + f(z) * above + target with f(z) = (fade_end - z) / distance
            # in the fade band, solved for f; outside the band it clamps to 0 or 1.
            distance = self.fade_end - self.fade_start
            factor = (self.fade_end + target - z_adjusted) / (distance - above)
            factor = min(max(factor, 0.0), 1.0)
        return z_adjusted - factor * above - target


def _inside(mesh, position):
    """``position`` as floats if it lies in the mesh. The probed rectangle may
    end up to 0.01 mm per probe spacing short of the configured ``mesh_max``
    (:mod:`mendel.probing.grid`), so a reference on the configured edge
    counts as inside; the height there is the edge's."""
    (min_x, min_y), (max_x, max_y) = mesh.bounds
    ny, nx = mesh.probed.shape
    slack_x, slack_y = GRID_RASTER_MM * (nx - 1), GRID_RASTER_MM * (ny - 1)
    x, y = float(position[0]), float(position[1])
    if not (min_x <= x <= max_x + slack_x and min_y <= y <= max_y + slack_y):
        raise MeshError("bed_mesh: zero_reference_position %.2f, %.2f lies outside the mesh "
                        "%.2f, %.2f .. %.2f, %.2f: probe that spot and subtract its height "
                        "instead" % (x, y, min_x, min_y, max_x, max_y))
    return x, y
