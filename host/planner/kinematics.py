# Mendel host: kinematics.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Map toolhead positions (x, y, z, e in mm) to motor positions (mm of motor travel)."""


class CartesianKinematics:
    """Each of x, y, z and e has its own motor: motor position = axis position.

    ``motor_ratios(move)`` gives, per motor, its start position (mm) and its mm
    of travel per mm along the move; both are what step generation needs.
    """

    motors = ("x", "y", "z", "e")

    def calc_motor_positions(self, xyz):
        """Motor positions (N, 3) float64 mm of toolhead positions ``xyz`` (N, 3) mm."""
        import numpy as np
        return np.array(xyz, dtype=np.float64).reshape(-1, 3)

    def motor_positions(self, position):
        """Motor positions (mm) of toolhead ``position`` ``[x, y, z, e]``."""
        return list(position)

    def motor_ratios(self, move):
        """``[(start_mm, mm_per_move_mm), ...]`` for each motor of ``move``."""
        move_d = move.move_d
        return [(move.start[i], move.axes_d[i] / move_d) for i in range(4)]
