# Mendel host: step generation for planned moves.
# SPDX-License-Identifier: GPL-3.0-or-later
"""From planned moves to compressed step runs of every motor.

The step times (closed forms per trapezoid phase) and the runs fitted to
them live in the Cython kernel (:mod:`mendel.planner._stepcompress`); this
layer feeds it planned moves and returns the runs of all motors in time
order, encoded, ready to send.
"""
import numpy as np

from mendel.planner._stepcompress import StepCompressor, encode_runs, generate_steps

DEFAULT_MAX_ERROR_S = 25e-6


class StepGenerator:
    """Step compressors of every motor.

    ``steps_per_mm``: one value per motor (steps/mm); ``clock_freq``: MCU
    ticks per second; ``max_error``: seconds a step may lie from its ideal time.
    """

    def __init__(self, kinematics, steps_per_mm, clock_freq,
                 max_error=DEFAULT_MAX_ERROR_S):
        self.kinematics = kinematics
        self.steps_per_mm = list(steps_per_mm)
        ticks = int(max_error * clock_freq)
        self.compressors = [StepCompressor(spm, clock_freq, ticks) for spm in steps_per_mm]

    def motor_positions(self, points):
        """Motor positions (N, M) float64 mm of toolhead ``points`` (N, 4) mm
        (x, y, z, e): the kinematics map x, y, z; the extruder is its own motor."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 4)
        result = np.empty((len(points), len(self.compressors)), dtype=np.float64)
        result[:, :3] = self.kinematics.calc_motor_positions(points[:, :3])
        result[:, 3] = points[:, 3]
        return result

    def add_moves(self, moves, print_time):
        """Generate the steps of planned ``moves`` (PLANNED_DTYPE rows) that
        start at ``print_time`` (s); returns when the last one ends (s)."""
        if not len(moves):
            return print_time
        return generate_steps(self.compressors, moves, self.motor_positions(moves["start"]),
                              self.motor_positions(moves["end"]), print_time)

    def set_position(self, point):
        """Set every motor's step position from toolhead ``point`` [x, y, z, e] mm
        (nothing moves; before the first move)."""
        motors = self.motor_positions([point])[0]
        for compressor, mm, spm in zip(self.compressors, motors, self.steps_per_mm):
            compressor.position = int(round(mm * spm))

    def flush_encoded(self, oids, set_clock_id, queue_step_id):
        """Runs of every motor since the last flush, encoded as link messages in
        step time order: ``(data, ends, motors, last_clocks)``, see
        :func:`~mendel.planner._stepcompress.encode_runs`."""
        return encode_runs(self.compressors, oids, set_clock_id, queue_step_id)

    def positions(self):
        """Step position of every motor after all generated steps."""
        return [c.position for c in self.compressors]
