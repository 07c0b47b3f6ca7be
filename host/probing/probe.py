# Mendel host: a Z probe on the board's endstop stop.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Probing: lower the nozzle until the probe triggers, as Klipper's [probe]
and [bltouch] do.

A probe is one of the board's endstops (``[probe] pin``, ``[bltouch]
sensor_pin``); a probing move arms it on the motors that move Z and goes
down at ``speed`` to ``position_min`` of Z. The board stops the motors after
the step that triggers the probe, as in homing, and the nozzle's Z there is
the result: the bed is ``z_offset`` below it (``probe_z - z_offset`` is the
bed's height under the probe tip, which is at the nozzle + ``x_offset``,
``y_offset``). Several ``samples`` are taken ``sample_retract_dist`` apart
and combined by ``samples_result`` (average or median); when they spread
more than ``samples_tolerance`` the set is retried up to
``samples_tolerance_retries`` times, then refused. A BLTouch's pin is
deployed before and stowed after (each sample with
``stow_on_each_sample``) by its control pin's servo pulse (``set_servo``).

Errors are Klipper's: ``Probe triggered prior to movement``, ``No trigger on
probe after full movement``, ``Probe samples exceed samples_tolerance``,
``Must home before probe``.
"""
import statistics

from mendel.boards import load_board
from mendel.errors import CommandError

# BLTouch control pulses (us at 50 Hz), from its maker's manual.
PIN_DOWN_US = 650
PIN_UP_US = 1475


class ProbeError(CommandError):
    """Probing failed; nothing is recorded."""


class Probe:
    """The probe of ``toolhead``'s printer (``config.probe``)."""

    def __init__(self, toolhead):
        self.toolhead = toolhead
        self.config = toolhead.config.probe
        if self.config is None:
            raise ProbeError("this printer has no probe: add a [probe] or [bltouch] section")
        names = list(toolhead.mcu.info.get("endstops", ()))
        if self.config.pin not in names:
            raise ProbeError("the board has no endstop input %r for the probe"
                             % self.config.pin)
        self.endstop_id = names.index(self.config.pin)
        self.last_z = None           # nozzle Z at the last probe result (mm)
        self.deployed = False

    @property
    def offsets(self):
        """(x_offset, y_offset, z_offset) mm."""
        return self.config.x_offset, self.config.y_offset, self.config.z_offset

    # -- the pin (BLTouch) ---------------------------------------------
    def deploy(self):
        if self.config.kind == "bltouch" and not self.deployed:
            self._set_pin(True)

    def stow(self):
        if self.config.kind == "bltouch" and self.deployed:
            self._set_pin(False)

    def _set_pin(self, deployed):
        mcu = self.toolhead.mcu
        self.toolhead.wait_moves()
        mcu.send("set_servo", self._servo_id(), PIN_DOWN_US if deployed else PIN_UP_US)
        mcu.flush()
        mcu.wait_until(mcu.estimated_clock() + int(self.config.pin_move_time * mcu.clock_freq))
        self.deployed = deployed

    def _servo_id(self):
        """The board's servo (board file "servos") on [bltouch] control_pin."""
        servos = [spec["pin"] for spec in load_board(self.toolhead.config.board).get("servos", [])]
        if self.config.control_pin not in servos:
            raise ProbeError("the board has no servo output %r for the BLTouch"
                             % self.config.control_pin)
        return servos.index(self.config.control_pin)

    def triggered(self):
        """True when the probe reads triggered now."""
        mcu = self.toolhead.mcu
        _eid, state = mcu.query("endstop_query", (self.endstop_id,), "endstop_state",
                                match=lambda args: args[0] == self.endstop_id)
        return bool(state)

    # -- probing -------------------------------------------------------
    def probe_once(self, speed=None):
        """One probing move down; returns the toolhead [x, y, z] mm at the
        trigger. Raises ProbeError."""
        toolhead = self.toolhead
        if "z" not in toolhead.homed:
            raise ProbeError("Must home before probe")
        speed = speed or self.config.speed
        self.deploy()
        try:
            if self.triggered():
                raise ProbeError("Probe triggered prior to movement")
            target = list(toolhead.position)
            target[2] = toolhead.config.steppers["z"].position_min \
                if "z" in toolhead.config.steppers else toolhead.kinematics.axis_min[2]
            motors = toolhead.motors_moving_z()
            stopped = toolhead.homing_move(target, speed, [(self.endstop_id, motors)])
            if not all(stopped.values()):
                raise ProbeError("No trigger on probe after full movement")
        finally:
            if self.config.stow_on_each_sample:
                self.stow()
        return list(toolhead.position[:3])

    def run(self, speed=None, samples=None, retract=None, result=None, tolerance=None,
            retries=None, report=None):
        """Probe ``samples`` times at the current X, Y; returns the combined
        [x, y, z] mm. ``report(text)`` gets Klipper's one line per sample
        (``probe at X,Y is z=Z``)."""
        cfg = self.config
        samples = cfg.samples if samples is None else int(samples)
        retract = cfg.sample_retract_dist if retract is None else retract
        result = cfg.samples_result if result is None else result
        tolerance = cfg.samples_tolerance if tolerance is None else tolerance
        retries = cfg.samples_tolerance_retries if retries is None else int(retries)
        if samples < 1:
            raise ProbeError("SAMPLES must be at least 1")
        if result not in ("average", "median"):
            raise ProbeError("SAMPLES_RESULT must be average or median, not %r" % result)
        toolhead = self.toolhead
        attempt = 0
        try:
            while True:
                points = []
                while len(points) < samples:
                    point = self.probe_once(speed)
                    points.append(point)
                    if report is not None:
                        report("probe at %.3f,%.3f is z=%.6f" % tuple(point))
                    if len(points) < samples:
                        self.lift_to(point[2] + retract, cfg.lift_speed)
                zs = [p[2] for p in points]
                if max(zs) - min(zs) <= tolerance:
                    break
                attempt += 1
                if attempt > retries:
                    raise ProbeError("Probe samples exceed samples_tolerance")
                if report is not None:
                    report("Probe samples exceed tolerance. Retrying...")
                self.lift_to(points[-1][2] + retract, cfg.lift_speed)
        finally:
            self.stow()
        z = statistics.median(zs) if result == "median" else sum(zs) / len(zs)
        x, y = points[-1][0], points[-1][1]
        self.last_z = z
        if toolhead.position[2] < z + retract:
            self.lift_to(z + retract, cfg.lift_speed)
        return [x, y, z]

    def lift_to(self, z, speed):
        """Move the nozzle straight up to ``z`` mm."""
        target = list(self.toolhead.position)
        target[2] = z
        self.toolhead.move(target, speed)
