# Mendel host: linear delta kinematics.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Linear delta: three vertical towers, each carriage holding a pair of rods.

Units: ``_mm`` millimetres, ``_mm_s`` mm/s, ``_mm_s2`` mm/s^2. Geometry and
config keys are Klipper's (Config_Reference ``[printer] kinematics: delta``;
Kinematics.md "Delta Robots"; our own code):

* tower ``i`` stands at ``(R cos angle_i, R sin angle_i)``, ``R`` the
  ``delta_radius``; default angles 210 (A), 330 (B), 90 (C) degrees;
* a motor position is its carriage's height (mm):
  ``carriage_i = z + sqrt(L_i^2 - (x - tx_i)^2 - (y - ty_i)^2)`` (Pythagoras,
  ``L_i`` the tower's ``arm_length``);
* ``position_endstop`` is the nozzle height at the centre when the carriages
  trigger their endstops, so the endstop carriage height is
  ``position_endstop + sqrt(L^2 - R^2)``; homing puts the toolhead at the
  forward kinematics of those heights;
* ``position_min`` of a tower (optional, same units as ``position_endstop``)
  is the lowest its carriage may go.

Envelope (checked for the whole straight move, not only its ends): XY within
the print radius, Z at or above ``minimum_z_position``, every carriage
between its ``position_min`` and its endstop. The print radius is
``print_radius`` (default ``delta_radius``) capped where a rod would lie
flatter than ``MAX_TOWER_RATIO`` (so every rod always reaches).

Speed near the edge (Kinematics.md, "Stepper motor acceleration limits"):
no carriage may move faster than ``CARRIAGE_CEILING`` times ``max_velocity``
nor accelerate faster than that times ``max_accel``; moves near the edge,
where rods lie flat and carriages move fast for little XY travel, are slowed
accordingly.
"""
import math

import numpy as np

from mendel.planner.kinematics import (
    EPSILON_MM, INF, Kinematics, KinematicsError, as_points, z_limits)

DEFAULT_ANGLES = (210.0, 330.0, 90.0)
# Carriage speed and acceleration may be this many times the configured
# toolhead maxima (Klipper's Kinematics.md: "three times").
CARRIAGE_CEILING = 3.0
# Rods may lie no flatter than this ratio of horizontal to vertical extent
# (about 85 degrees from vertical): there a carriage moves 12 mm per mm of XY.
MAX_TOWER_RATIO = 12.0
TOWER_NAMES = "ABC"


def _format_point(xyz):
    return "X%.3f Y%.3f Z%.3f" % (xyz[0], xyz[1], xyz[2])


class DeltaKinematics(Kinematics):
    """Linear delta; see the module docstring for the model.

    ``delta_radius`` (mm), ``arm_lengths`` (3 mm), ``angles`` (3 degrees),
    ``endstops`` (3 ``position_endstop`` mm), ``print_radius`` (mm or None),
    ``minimum_z_position`` (mm), ``position_min`` (3 mm or None each),
    ``max_velocity``/``max_z_velocity`` (mm/s), ``max_accel``/``max_z_accel``
    (mm/s^2). Raises ValueError for a rod not longer than the radius.
    """

    motors = ("a", "b", "c")
    is_linear = False
    matrix = None

    def __init__(self, delta_radius, arm_lengths, endstops, angles=DEFAULT_ANGLES,
                 print_radius=None, minimum_z_position=0.0, position_min=(None,) * 3,
                 max_velocity=INF, max_accel=INF, max_z_velocity=INF, max_z_accel=INF):
        self.radius_mm = float(delta_radius)
        self.arm_mm = np.array(arm_lengths, dtype=np.float64)
        if np.any(self.arm_mm <= self.radius_mm):
            raise ValueError("arm_length must be longer than delta_radius %g" % delta_radius)
        self.arm2 = self.arm_mm ** 2
        self.angles = tuple(float(a) for a in angles)
        rad = np.radians(self.angles)
        self.towers_mm = self.radius_mm * np.column_stack([np.cos(rad), np.sin(rad)])
        self._towers = [(float(tx), float(ty), float(arm2))
                        for (tx, ty), arm2 in zip(self.towers_mm, self.arm2)]
        centre_height = np.sqrt(self.arm2 - self.radius_mm ** 2)
        self.endstops = tuple(float(e) for e in endstops)
        self.carriage_max_mm = [e + h for e, h in zip(self.endstops, centre_height.tolist())]
        self.carriage_min_mm = [-INF if p is None else p + h
                                for p, h in zip(position_min, centre_height.tolist())]
        self.min_z_mm = float(minimum_z_position)
        reach_d = MAX_TOWER_RATIO * self.arm_mm / math.sqrt(1.0 + MAX_TOWER_RATIO ** 2)
        self.reach_radius_mm = float(np.min(reach_d)) - self.radius_mm
        self.print_radius_mm = min(self.radius_mm if print_radius is None else print_radius,
                                   self.reach_radius_mm)
        self.max_velocity, self.max_accel = max_velocity, max_accel
        self.max_z_velocity, self.max_z_accel = max_z_velocity, max_z_accel

    @classmethod
    def from_config(cls, config):
        """Build from a :class:`mendel.config.PrinterConfig` with delta parameters."""
        params = config.kinematics_params
        return cls(params["delta_radius"], params["arm_length"],
                   [config.steppers[m].position_endstop for m in cls.motors],
                   angles=params["angle"], print_radius=params["print_radius"],
                   minimum_z_position=params["minimum_z_position"],
                   position_min=params["position_min"],
                   max_velocity=config.max_velocity, max_accel=config.max_accel,
                   max_z_velocity=config.max_z_velocity, max_z_accel=config.max_z_accel)

    # -- inverse and forward kinematics --------------------------------
    def calc_motor_positions(self, xyz):
        """(N, 3) toolhead mm -> (N, 3) carriage heights mm (towers A, B, C).

        Raises KinematicsError when a point is beyond a rod's reach.
        """
        points = as_points(xyz)
        dx = points[:, 0:1] - self.towers_mm[:, 0]
        dy = points[:, 1:2] - self.towers_mm[:, 1]
        height2 = self.arm2 - dx * dx - dy * dy
        if np.any(height2 < 0.0):
            row, tower = np.argwhere(height2 < 0.0)[0]
            raise KinematicsError("%s is beyond the reach of tower %s's rods"
                                  % (_format_point(points[row]), TOWER_NAMES[tower]))
        return points[:, 2:3] + np.sqrt(height2)

    def calc_toolhead_positions(self, motor_mm):
        """(N, 3) carriage heights mm -> (N, 3) toolhead mm (trilateration).

        The nozzle hangs below the carriages: of the two points at rod
        length from all three rod joints, the lower one. Raises
        KinematicsError when the carriages are too far apart to meet.
        """
        carriages = as_points(motor_mm)
        count = len(carriages)
        joints = [np.column_stack([np.repeat(self.towers_mm[i:i + 1], count, axis=0),
                                   carriages[:, i]]) for i in range(3)]
        p1, p2, p3 = joints
        r1, r2, r3 = self.arm2
        ex = p2 - p1
        d = np.linalg.norm(ex, axis=1)
        ex /= d[:, None]
        p13 = p3 - p1
        i = np.einsum("ij,ij->i", ex, p13)
        ey = p13 - i[:, None] * ex
        j = np.linalg.norm(ey, axis=1)
        ey /= j[:, None]
        ez = np.cross(ex, ey)
        x = (r1 - r2 + d * d) / (2.0 * d)
        y = (r1 - r3 + i * i + j * j) / (2.0 * j) - i * x / j
        z2 = r1 - x * x - y * y
        if np.any(z2 < 0.0):
            raise KinematicsError("carriage heights %s cannot meet at one effector"
                                  % np.array2string(carriages[np.argmax(z2 < 0.0)]))
        # Step down from the joints' plane, whichever way ez points.
        down = -np.sign(ez[:, 2])[:, None] * ez
        return p1 + x[:, None] * ex + y[:, None] * ey + np.sqrt(z2)[:, None] * down

    def home_position(self):
        """Toolhead [x, y, z] mm with every carriage at its endstop."""
        return [float(v) for v in self.calc_toolhead_positions(self.carriage_max_mm)[0]]

    # -- envelope and limits --------------------------------------------
    # Plain Python floats from here on: these run once per move, where
    # numpy's call overhead on a few numbers would dominate.
    def _carriage(self, tower, x, y, z):
        """Height (mm) of ``tower``'s carriage with the toolhead at x, y, z mm."""
        tx, ty, arm2 = self._towers[tower]
        return z + math.sqrt(max(arm2 - (x - tx) ** 2 - (y - ty) ** 2, 0.0))

    def check_move(self, start, end):
        """Check the whole straight move; returns ``(max_speed_mm_s, max_accel_mm_s2)``.

        Raises KinematicsError naming the limit: below ``minimum_z_position``,
        outside the print radius, a carriage above its endstop or below its
        ``position_min`` anywhere along the move.
        """
        for point in (start, end):
            self._check_point(point)
        self._check_carriages(start, end)
        speed, accel = z_limits(start, end, self.max_z_velocity, self.max_z_accel)
        edge_speed, edge_accel = self._edge_limits(start, end)
        return min(speed, edge_speed), min(accel, edge_accel)

    def _check_point(self, point):
        # Z range and the print radius are convex: both ends in means all in.
        if point[2] < self.min_z_mm - EPSILON_MM:
            raise KinematicsError("move out of range: Z=%.3f below minimum_z_position %.3f mm"
                                  % (point[2], self.min_z_mm))
        radius = math.hypot(point[0], point[1])
        if radius > self.print_radius_mm + EPSILON_MM:
            raise KinematicsError(
                "move out of range: X=%.3f Y=%.3f is %.3f mm from the centre, beyond the "
                "print radius %.3f mm" % (point[0], point[1], radius, self.print_radius_mm))

    def _check_carriages(self, first, last):
        """Carriages stay between their limits along the segment ``first``-``last``.

        A carriage's height along a straight move is concave in the move's
        progress (a line plus the square root of a concave quadratic): its
        lowest point is at an end, its highest may lie inside the move
        (passing by the tower), found in closed form by :meth:`_highest`.
        """
        for i, name in enumerate(TOWER_NAMES):
            low = min(self._carriage(i, *first[:3]), self._carriage(i, *last[:3]))
            if low < self.carriage_min_mm[i] - EPSILON_MM:
                raise KinematicsError(
                    "move out of range: tower %s carriage would go %.3f mm below its "
                    "position_min" % (name, self.carriage_min_mm[i] - low))
            progress = self._highest(first, last, i)
            point = [a + progress * (b - a) for a, b in zip(first[:3], last[:3])]
            high = self._carriage(i, *point)
            if high > self.carriage_max_mm[i] + EPSILON_MM:
                raise KinematicsError(
                    "move out of range: tower %s carriage would rise %.3f mm above its "
                    "endstop at %s" % (name, high - self.carriage_max_mm[i],
                                       _format_point(point)))

    def _highest(self, first, last, tower):
        """Progress 0..1 along the move where tower's carriage is highest.

        With ``w(s) = u + s V`` the joint-to-tower XY offset, ``dz`` the Z
        travel and ``h`` the line's distance from the tower,
        ``d/ds [s dz + sqrt(L^2 - |w|^2)] = 0`` gives ``w.V/|V| = q`` with
        ``q = dz sqrt(L^2 - h^2) / sqrt(|V|^2 + dz^2)``.
        """
        tx, ty, arm2 = self._towers[tower]
        ux, uy = first[0] - tx, first[1] - ty
        vx, vy = last[0] - first[0], last[1] - first[1]
        dz = last[2] - first[2]
        v2 = vx * vx + vy * vy
        if v2 < EPSILON_MM ** 2:
            return 0.0 if dz < 0.0 else 1.0
        uv = ux * vx + uy * vy
        h2 = ux * ux + uy * uy - uv * uv / v2
        q = dz * math.sqrt(max(arm2 - h2, 0.0)) / math.sqrt(v2 + dz * dz)
        return min(max((q * math.sqrt(v2) - uv) / v2, 0.0), 1.0)

    def _tower_ratio(self, points):
        """Largest horizontal-to-vertical rod ratio ``k`` over ``points`` [x, y, ...]."""
        worst = 0.0
        for tx, ty, arm2 in self._towers:
            for point in points:
                d2 = (point[0] - tx) ** 2 + (point[1] - ty) ** 2
                worst = max(worst, d2 / (arm2 - d2))
        return math.sqrt(worst)

    def _edge_limits(self, start, end):
        """Speed/accel keeping carriages under ``CARRIAGE_CEILING`` times the maxima.

        A carriage moves ``dz/ds - (w . dxy/ds) / sqrt(L^2 - |w|^2)`` mm per
        mm of toolhead travel ``s``; with ``k = |w| / sqrt(L^2 - |w|^2)`` the
        rod ratio, that is at most ``gain = (|dz| + k |dxy|) / move_d``
        (``<= sqrt(1 + k^2)``). ``k`` grows with the distance from a tower,
        which is largest at an end of the move. ``inf`` where the ceiling
        does not bind or nothing moves. (The carriage's centripetal
        acceleration on curved paths is not bounded here, as in Klipper.)
        """
        dz = abs(end[2] - start[2])
        dxy = math.hypot(end[0] - start[0], end[1] - start[1])
        move_d = math.hypot(dxy, dz)
        if move_d < EPSILON_MM:
            return INF, INF
        gain = (dz + dxy * self._tower_ratio((start, end))) / move_d
        speed = CARRIAGE_CEILING * self.max_velocity / gain
        accel = CARRIAGE_CEILING * self.max_accel / gain
        return (speed if speed < self.max_velocity else INF,
                accel if accel < self.max_accel else INF)

    # -- splitting -------------------------------------------------------
    def split_move(self, start, end, tolerance=0.002):
        """Pieces within ``tolerance`` mm of every carriage's chord, longest first fit.

        Bound: a C2 function deviates from its chord over a piece of length
        ``h`` (in move progress 0..1) by at most ``max|f''| h^2 / 8``. For
        ``f = sqrt(L^2 - |u + s V|^2)`` (Z adds only a line),
        ``|f''| = |V|^2 / sqrt(g) + (w.V)^2 / g^1.5`` with ``g = L^2 - |w|^2``.
        Over a piece, ``g`` is smallest and ``(w.V)^2`` largest at one of its
        ends (``|w|^2`` and ``(w.V)^2`` are convex in ``s``), which bounds
        ``|f''|`` from the ends' values. Each piece starts with the length that the bound at its
        start allows, then shrinks to what the bound over that whole length
        allows (a shorter piece only lowers its bound, so it holds). Raises
        ValueError for a tolerance that is not positive, KinematicsError for
        a move beyond the rods' reach (check_move refuses it first).
        """
        if not tolerance > 0.0:
            raise ValueError("split tolerance must be positive, not %r" % (tolerance,))
        vx, vy = end[0] - start[0], end[1] - start[1]
        v2 = vx * vx + vy * vy
        if v2 < EPSILON_MM ** 2:
            return [list(end)]
        def curvature(*progress):
            worst = 0.0
            for tx, ty, arm2 in self._towers:
                g, wv2 = math.inf, 0.0
                for s in progress:
                    wx, wy = start[0] + s * vx - tx, start[1] + s * vy - ty
                    g = min(g, arm2 - wx * wx - wy * wy)
                    wv2 = max(wv2, (wx * vx + wy * vy) ** 2)
                if g <= 0.0:
                    raise KinematicsError("move out of range: beyond the reach of the rods")
                worst = max(worst, v2 / math.sqrt(g) + wv2 / g ** 1.5)
            return worst

        budget = 8.0 * tolerance
        cuts, s = [], 0.0
        while s < 1.0:
            trial = min(1.0, s + math.sqrt(budget / curvature(s)))
            s = min(1.0, s + math.sqrt(budget / curvature(s, trial)))
            cuts.append(s)
        points = [[a + (b - a) * c for a, b in zip(start, end)] for c in cuts[:-1]]
        points.append(list(end))
        return points
