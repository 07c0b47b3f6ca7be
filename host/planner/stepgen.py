# Mendel host: step generation for planned moves.
# SPDX-License-Identifier: GPL-3.0-or-later
"""From planned moves to compressed step runs of every motor.

The exact step times and their compression run in the Cython kernel
(:mod:`mendel.planner._stepcompress`); this layer feeds it move by move and
returns the runs of all motors in time order, ready to send.
"""
from mendel.planner._stepcompress import StepCompressor

DEFAULT_MAX_ERROR_S = 25e-6


class StepRun:
    """A run ready to send: motor ``oid``, optional reference clock, the run.

    Clocks in MCU ticks; ``count`` is signed by direction.
    """

    __slots__ = ("oid", "reference", "interval", "count", "add", "first_clock",
                 "last_clock")

    def __init__(self, oid, reference, interval, count, add, first_clock, last_clock):
        self.oid = oid
        self.reference = reference
        self.interval = interval
        self.count = count
        self.add = add
        self.first_clock = first_clock
        self.last_clock = last_clock


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

    def target_steps(self, motor_positions):
        """Step positions (ints) of motor positions in mm: round(mm * steps/mm)."""
        return [round(pos * spm) for pos, spm in zip(motor_positions, self.steps_per_mm)]

    def add_move(self, move):
        """Generate the steps of a planned move (``move.print_time`` set)."""
        targets = self.target_steps(self.kinematics.motor_positions(move.end))
        ratios = self.kinematics.motor_ratios(move)
        for compressor, (start, ratio), target in zip(self.compressors, ratios, targets):
            if target != compressor.position:
                compressor.add_move(move.print_time, move.accel_t, move.cruise_t,
                                    move.start_v, move.cruise_v, move.accel, move.move_d,
                                    start, ratio, target)

    def flush(self):
        """Runs of every motor generated since the last flush, by first step time."""
        runs = []
        for oid, compressor in enumerate(self.compressors):
            runs.extend(StepRun(oid, *run) for run in compressor.flush())
        runs.sort(key=lambda run: run.first_clock)
        return runs

    def positions(self):
        """Step position of every motor after all generated steps."""
        return [c.position for c in self.compressors]
