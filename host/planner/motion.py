# Mendel host: from G-code moves to planned moves (kinematics + look-ahead).
# SPDX-License-Identifier: GPL-3.0-or-later
"""The motion model shared by printing and checking.

:class:`Motion` owns a printer's kinematics, its look-ahead planner and the
limits G-code may change. ``mendel print`` and ``mendel check`` both plan
through it, so the print-time estimate is the planned motion itself.
"""
import math

from mendel.planner import kinematics as kinematics_mod
from mendel.planner._lookahead import Planner
from mendel.planner.lookahead import Limits

# Moves of delta printers are split so that each carriage stays this close
# (mm) to a straight line within a piece: a tenth of a step at 80 steps/mm.
SPLIT_TOLERANCE = 0.00125


class Motion:
    """Kinematics, limits and look-ahead of one printer (``config``).

    ``position`` ([x, y, z, e] mm) starts where homing leaves the toolhead:
    the simulated board starts at its endstops.
    """

    def __init__(self, config):
        self.config = config
        self.kinematics = kinematics_mod.from_config(config)
        # The planner applies the Z limits as G-code sets them (M203, M201);
        # check_move adds what the kinematics impose (a delta's edge).
        self.planner = Planner(config.max_velocity, config.max_accel)
        self.limits = Limits(config, self.planner)
        self.position = list(self.kinematics.home_position()) + [0.0]
        self.planner.set_position(self.position)
        self.moves = 0

    def check(self, target):
        """``(max_speed, max_accel)`` the kinematics allow for a move to
        ``target``; raises KinematicsError if any point of it is out of reach."""
        return self.kinematics.check_move(self.position, target)

    def move(self, target, speed, limits=None, split=True):
        """Queue a straight move to ``target`` [x, y, z, e] mm at ``speed`` mm/s.

        ``limits``: what :meth:`check` returned (checked here when None);
        ``split=False`` plans a delta's move whole (a check's estimate of a
        move already found out of reach).
        A delta's move is planned as pieces along which each carriage moves
        in a straight line within SPLIT_TOLERANCE. Returns the number of
        planned moves ready to :meth:`take`. Raises KinematicsError (nothing
        queued) for a move out of reach.
        """
        speed_limit, accel_limit = limits if limits is not None else self.check(target)
        kinematics = self.kinematics
        pieces = [target] if kinematics.is_linear or not split else kinematics.split_move(
            self.position, target, SPLIT_TOLERANCE)
        released = 0
        for x, y, z, e in pieces:
            released = self.planner.add(x, y, z, e, speed, self.moves, speed_limit,
                                        accel_limit)
        self.position = list(target)
        self.moves += 1
        return released

    def set_position(self, point):
        """Declare the toolhead at ``point`` [x, y, z, e] mm (nothing queued
        may be waiting: flush first)."""
        self.position = [float(v) for v in point]
        self.planner.set_position(self.position)

    def home_moves(self, axes):
        """``[(target, speed), ...]`` that take ``axes`` ("XYZ" letters) to their
        endstops. A delta homes its three towers together whatever ``axes``
        (as Klipper does)."""
        if not self.kinematics.is_linear:
            target = list(self.kinematics.home_position()) + [self.position[3]]
            speed = min(s.homing_speed for s in self.config.steppers.values())
            return [(target, speed)] if target != self.position else []
        moves = []
        position = list(self.position)
        for axis in axes:
            i = "XYZ".index(axis.upper())
            stepper = self.config.steppers["xyz"[i]]
            target = list(position)
            target[i] = stepper.position_endstop
            if target != position:
                moves.append((target, stepper.homing_speed))
                position = target
        return moves

    def flush(self):
        """Plan every queued move; returns the number ready to :meth:`take`."""
        return self.planner.flush()

    def take(self):
        """Planned moves released so far (PLANNED_DTYPE rows)."""
        return self.planner.take()


def duration(moves):
    """Total time (s) of planned ``moves``."""
    if not len(moves):
        return 0.0
    return math.fsum((moves["accel_t"] + moves["cruise_t"] + moves["decel_t"]).tolist())
