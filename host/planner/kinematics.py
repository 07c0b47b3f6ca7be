# Mendel host: kinematics of cartesian and CoreXY printers.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Map toolhead positions to motor positions, check moves, split them.

Units: ``_mm`` millimetres of toolhead or motor travel, ``_mm_s`` mm/s,
``_mm_s2`` mm/s^2. A *motor position* is the travel of a motor's belt,
screw or carriage in mm (``steps = round(motor_mm * steps_per_mm)``).

The models follow Klipper's documented Kinematics.md (our own code):

* cartesian: ``stepper_x = x``, ``stepper_y = y``, ``stepper_z = z``;
* CoreXY: ``stepper_x`` drives motor A ``= x + y``, ``stepper_y`` motor B
  ``= x - y``, ``stepper_z = z``;
* linear delta: see :mod:`mendel.planner.delta`.

Every kinematics offers the same interface (:class:`Kinematics`); pick one
with :func:`from_config`. The extruder is never part of it: E is its own
motor, ``motor_mm = e``.
"""
import math

import numpy as np

from mendel.errors import CommandError

EPSILON_MM = 1e-9      # rounding allowance of range checks and zero-length tests
INF = math.inf


class KinematicsError(CommandError):
    """A move the kinematics cannot make (out of the envelope); nothing moved."""


def as_points(points):
    """``points`` as an (N, 3) float64 array; raises ValueError on another shape."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError("expected (N, 3) positions in mm, got shape %r" % (array.shape,))
    return array


def move_distance(start, end):
    """Length (mm) of the straight move from ``start`` to ``end`` (x, y, z mm).

    The arithmetic of the C planner and feed, operation for operation
    (``dx * dx``, not ``dx ** 2``, which libm's pow may round differently),
    so that a check here and one in C agree to the last bit.
    """
    dx = end[0] - start[0]
    dy = end[1] - start[1]
    dz = end[2] - start[2]
    return math.sqrt(dx * dx + dy * dy + dz * dz)


def z_limits(start, end, max_z_velocity_mm_s, max_z_accel_mm_s2):
    """Speed and acceleration limits along a move from its Z travel.

    Klipper's Z scaling: with ``z_ratio = move_d / |dz|`` the move obeys
    ``max_z_velocity * z_ratio`` and ``max_z_accel * z_ratio`` (mm/s,
    mm/s^2 along the move); ``(inf, inf)`` without Z travel.
    """
    dz = abs(end[2] - start[2])
    if dz < EPSILON_MM:
        return INF, INF
    z_ratio = move_distance(start, end) / dz
    return max_z_velocity_mm_s * z_ratio, max_z_accel_mm_s2 * z_ratio


class Kinematics:
    """Base of every kinematics: the interface the planner and step generator use.

    Attributes: ``motors`` (config stepper suffixes in motor order, E
    excluded), ``is_linear`` and ``matrix`` ((3, 3) float64 with
    ``motor_mm = matrix @ xyz_mm``; ``None`` when not linear).
    """

    motors = ()
    is_linear = False
    matrix = None

    def calc_motor_positions(self, xyz):
        """Inverse kinematics: (N, 3) float64 mm toolhead -> (N, 3) float64 mm motors."""
        raise NotImplementedError

    def calc_toolhead_positions(self, motor_mm):
        """Forward kinematics: (N, 3) float64 mm motors -> (N, 3) float64 mm toolhead."""
        raise NotImplementedError

    def check_move(self, start, end):
        """Check a straight move ``[x, y, z, e]`` mm -> ``[x, y, z, e]`` mm.

        Returns ``(max_speed_mm_s, max_accel_mm_s2)`` along the move that the
        kinematics impose (``inf`` when none). Raises KinematicsError naming
        the axis and the limit when any point of the move is out of reach.
        """
        raise NotImplementedError

    def split_move(self, start, end, tolerance=0.002):
        """Points ``[x, y, z, e]`` after ``start``, ending with ``end``.

        Within each piece every motor's position stays within ``tolerance``
        mm of the straight interpolation of its end values; E is linear.
        """
        return [list(end)]

    def home_position(self):
        """Toolhead ``[x, y, z]`` mm with every motor at its endstop."""
        raise NotImplementedError


class LinearKinematics(Kinematics):
    """Kinematics where motor positions are ``matrix @ xyz`` (cartesian, CoreXY).

    ``axis_min``/``axis_max``: toolhead [x, y, z] range (mm), from the
    ``position_min``/``position_max`` of ``stepper_x``, ``stepper_y``,
    ``stepper_z`` as in Klipper; ``home``: [x, y, z] of the endstops.
    Without arguments the range is unlimited (a bare step-generation model).
    """

    motors = ("x", "y", "z")
    is_linear = True

    def __init__(self, axis_min=(-INF,) * 3, axis_max=(INF,) * 3, home=(0.0,) * 3,
                 max_z_velocity=INF, max_z_accel=INF):
        self.axis_min = tuple(float(v) for v in axis_min)
        self.axis_max = tuple(float(v) for v in axis_max)
        self.home = [float(v) for v in home]
        self.max_z_velocity = max_z_velocity
        self.max_z_accel = max_z_accel
        self.inverse = np.linalg.inv(self.matrix)

    @classmethod
    def from_config(cls, config):
        """Build from a :class:`mendel.config.PrinterConfig`."""
        steppers = [config.steppers[axis] for axis in "xyz"]
        return cls(axis_min=[s.position_min for s in steppers],
                   axis_max=[s.position_max for s in steppers],
                   home=[s.position_endstop for s in steppers],
                   max_z_velocity=config.max_z_velocity, max_z_accel=config.max_z_accel)

    def calc_motor_positions(self, xyz):
        return as_points(xyz) @ self.matrix.T

    def calc_toolhead_positions(self, motor_mm):
        return as_points(motor_mm) @ self.inverse.T

    def check_move(self, start, end):
        # The range is a box: a straight move stays inside when both ends do.
        for point in (start, end):
            for i, axis in enumerate("XYZ"):
                low, high = self.axis_min[i], self.axis_max[i]
                if not low - EPSILON_MM <= point[i] <= high + EPSILON_MM:
                    raise KinematicsError("move out of range: %s=%.3f outside %.3f..%.3f mm"
                                          % (axis, point[i], low, high))
        return z_limits(start, end, self.max_z_velocity, self.max_z_accel)

    def home_position(self):
        return list(self.home)


class CartesianKinematics(LinearKinematics):
    """One motor per axis: ``stepper_x = x``, ``stepper_y = y``, ``stepper_z = z``."""

    matrix = np.eye(3)

    def calc_motor_positions(self, xyz):
        return as_points(xyz).copy()      # the identity, exactly

    def calc_toolhead_positions(self, motor_mm):
        return as_points(motor_mm).copy()


class CoreXYKinematics(LinearKinematics):
    """CoreXY (Klipper's Kinematics.md): ``stepper_x`` drives A ``= x + y``,
    ``stepper_y`` drives B ``= x - y``, ``stepper_z = z``.

    The axis ranges of ``stepper_x``/``stepper_y`` bound the toolhead's X/Y,
    as Klipper reads them.
    """

    matrix = np.array([[1.0, 1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])


def from_config(config):
    """The kinematics named by ``config.kinematics`` (cartesian, corexy, delta).

    Raises ValueError for another name (the config loader refuses it first).
    """
    from mendel.planner.delta import DeltaKinematics
    kinds = {"cartesian": CartesianKinematics, "corexy": CoreXYKinematics,
             "delta": DeltaKinematics}
    try:
        kind = kinds[config.kinematics]
    except KeyError:
        raise ValueError("unknown kinematics %r; one of %s"
                         % (config.kinematics, ", ".join(sorted(kinds)))) from None
    return kind.from_config(config)


def __getattr__(name):
    # DeltaKinematics lives in its own module (it imports this one).
    if name == "DeltaKinematics":
        from mendel.planner.delta import DeltaKinematics
        return DeltaKinematics
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
