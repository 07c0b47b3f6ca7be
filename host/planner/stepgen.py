# Mendel host: step generation for planned moves.
# SPDX-License-Identifier: GPL-3.0-or-later
"""From planned moves to compressed step runs of every motor.

The step times (closed forms per trapezoid phase) and the runs fitted to
them live in the Cython kernel (:mod:`mendel.planner._stepcompress`); this
layer feeds it planned moves and returns the runs of all motors in time
order, encoded, ready to send.

With an input shaper on X/Y or pressure advance on the extruder, the motors
concerned follow the shaped position instead (the kernel's ``ShapedPath``,
see ``_shaping.pxi``): their steps lag the moves by the shaper's reach, and
:meth:`StepGenerator.finish` generates the tails once the motion rests.
"""
import numpy as np

from mendel.planner._stepcompress import (AxisShaper, ShapedPath, SmoothedAdvance,
                                          StepCompressor, encode_runs, generate_steps)
from mendel.shaping import shapers as shapers_mod

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
        self.shapers = {"x": None, "y": None}   # axis -> (type, freq Hz, damping ratio)
        self.pressure_advance = (0.0, 0.040)    # (advance s, smooth_time s)
        self._path = None                       # ShapedPath, when shaping or advancing
        self._lead = 0.0                        # its lead (s), fixed until it is rebuilt
        self._plain = list(range(len(self.compressors)))   # motors on the exact path
        self._point = [0.0, 0.0, 0.0, 0.0]       # toolhead mm after the last move added

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
        self._point = [float(v) for v in moves["end"][-1]]
        if self._path is None:
            return generate_steps(self.compressors, moves, self.motor_positions(moves["start"]),
                                  self.motor_positions(moves["end"]), print_time)
        if self._plain:
            plain = self._plain
            generate_steps([self.compressors[m] for m in plain], moves,
                           np.ascontiguousarray(self.motor_positions(moves["start"])[:, plain]),
                           np.ascontiguousarray(self.motor_positions(moves["end"])[:, plain]),
                           print_time)
        return self._path.add_moves(moves, print_time)

    # -- input shaping and pressure advance -------------------------------
    @property
    def shaped(self):
        """True when some motor follows a shaped position."""
        return self._path is not None

    @property
    def lead_time(self):
        """Seconds before a move's start at which its shaped steps may begin."""
        return self._lead

    def finish(self):
        """The motion rests after the last move: generate the shaped tails.
        Returns the time (s) from which new moves may start (their shaped
        steps may begin ``lead_time`` before it), or None when no motion
        waits for its tail (no shaping, or nothing added since the last
        finish)."""
        return self._path.finish() if self._path is not None else None

    def set_input_shaper(self, axis, shaper_type, freq, damping_ratio):
        """Shape ``axis`` ("x" or "y") with ``shaper_type`` at ``freq`` Hz
        (0: no shaping) and ``damping_ratio``. Only between motions (after
        :meth:`finish`). Raises ValueError for a bad type/frequency/damping,
        or shaping on kinematics that are not linear."""
        if axis not in ("x", "y"):
            raise ValueError("input shaping is for X and Y, not %r" % (axis,))
        if freq:
            shapers_mod.pulses(shaper_type, freq, damping_ratio)    # checks the values
            if not self.kinematics.is_linear:
                raise ValueError("input shaping needs cartesian or CoreXY kinematics")
            self.shapers[axis] = (shaper_type, float(freq), float(damping_ratio))
        else:
            self.shapers[axis] = None
        self._build()

    def set_pressure_advance(self, advance, smooth_time, tag=None):
        """Pressure advance ``advance`` s (0: off), smoothed over ``smooth_time``
        s (> 0). With ``tag`` (the look-ahead's count of moves queued), while
        the extruder already advances with that smooth time: from the move
        tagged ``tag`` on, the moves before keep theirs, and nothing stops
        (returns True). Otherwise only between motions (after :meth:`finish`);
        returns False."""
        if advance < 0.0 or not smooth_time > 0.0:
            raise ValueError("pressure_advance must be >= 0 and smooth_time > 0")
        stage = self._extruder_stage()
        live = tag is not None and stage is not None and \
            float(smooth_time) == self.pressure_advance[1]
        self.pressure_advance = (float(advance), float(smooth_time))
        if live:
            stage.schedule(tag, float(advance))
            return True
        self._build()
        return False

    def advances_live(self, smooth_time):
        """True when a change of the advance alone (same ``smooth_time``) can
        take effect at a move without stopping the motion."""
        return self._extruder_stage() is not None and \
            float(smooth_time) == self.pressure_advance[1]

    def _extruder_stage(self):
        return self._path.extruder if self._path is not None else None

    def _build(self):
        """(Re)make the ShapedPath for the current settings."""
        if self._path is not None and not self._path.finished:
            raise ValueError("shaping changes only while the motion rests (finish first)")
        point = self._point
        shaped_xy = any(self.shapers.values())
        advance, smooth_time = self.pressure_advance
        motors = len(self.compressors)
        driven = []
        stages = [None, None, None, None]
        if shaped_xy:
            driven = [m for m in range(motors) if m < 3]
            for k, axis in enumerate("xyz"):
                stage = AxisShaper()
                settings = self.shapers.get(axis)
                if settings:
                    stage.set_pulses(*[v.tolist() for v in shapers_mod.pulses(*settings)])
                stages[k] = stage
        if advance > 0.0 and motors > 3:
            driven.append(3)
            stage = SmoothedAdvance()
            stage.configure(advance, smooth_time, 1.0 / self.steps_per_mm[3])
            stages[3] = stage
        if not driven:
            self._path = None
            self._lead = 0.0
            self._plain = list(range(motors))
            return
        rows = np.zeros((len(driven), 4), dtype=np.float64)
        for i, m in enumerate(driven):
            if m < 3:
                rows[i, :3] = self.kinematics.matrix[m]
            else:
                rows[i, 3] = 1.0
        self._path = ShapedPath([self.compressors[m] for m in driven], rows, stages)
        self._lead = self._path.lead()
        self._path.reset([float(v) for v in point])
        self._plain = [m for m in range(motors) if m not in driven]

    def set_position(self, point):
        """Set every motor's step position from toolhead ``point`` [x, y, z, e] mm
        (nothing moves; before the first move)."""
        motors = self.motor_positions([point])[0]
        for compressor, mm, spm in zip(self.compressors, motors, self.steps_per_mm):
            compressor.position = int(round(mm * spm))
        self._point = [float(v) for v in point]
        if self._path is not None:
            self._path.reset(self._point)

    def flush_encoded(self, oids, set_clock_id, queue_step_id):
        """Runs of every motor since the last flush, encoded as link messages in
        step time order: ``(data, ends, motors, last_clocks)``, see
        :func:`~mendel.planner._stepcompress.encode_runs`."""
        return encode_runs(self.compressors, oids, set_clock_id, queue_step_id)

    def positions(self):
        """Step position of every motor after all generated steps."""
        return [c.position for c in self.compressors]
