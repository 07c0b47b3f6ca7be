# Mendel host: running the resonance test on a printer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shake the toolhead along one axis while an accelerometer records it
(TEST_RESONANCES and SHAPER_CALIBRATE, Klipper's Measuring_Resonances.md;
our code). Units: mm, mm/s, mm/s^2, Hz, s.

At each ``[resonance_tester] probe_points`` point: move there at
``move_speed``, let the motion end, ``start()`` the axis's accelerometer
(``printer.accelerometers[accel_chip]``), queue the test's moves
(:mod:`mendel.shaping.vibration_test`), wait for them to end and ``stop()``
it: the (N, 4) samples (print time s, ax, ay, az mm/s^2).

As Klipper does, the test raises the acceleration and velocity limits to
what it needs for its duration, even past printer.cfg's ``max_accel``
(``accel_per_hz * max_freq``: 10,000 mm/s^2 by default), with a minimum
cruise ratio of 0, and restores them after; input shaping, if on, is off
during the test ("Disabled [input_shaper] for resonance testing").
"""
import contextlib

from mendel.errors import CommandError
from mendel.shaping import vibration_test

SETTLE_S = 0.5           # dwell at the probe point before recording (Klipper's)
SPEED_MARGIN_MM_S = 1.0  # above the test's peak speed, so the planner never caps it
AXES = "xy"


class ResonanceError(CommandError):
    """The test cannot run (no accelerometer, a chip that measured nothing)."""


def accelerometer(machine, cfg, axis):
    """The accelerometer measuring ``axis`` ("x"/"y") on ``machine``, as
    ``[resonance_tester]`` names it. Raises ResonanceError."""
    name = cfg.chips[axis]
    chips = getattr(machine, "accelerometers", None) or {}
    chip = chips.get(name)
    if chip is None:
        raise ResonanceError("[resonance_tester] accel_chip%s: %r is not an accelerometer of "
                             "this printer (it has: %s)"
                             % ("" if cfg.chips["x"] == cfg.chips["y"] else "_" + axis, name,
                                ", ".join(sorted(chips)) or "none; add an [adxl345] section"))
    return chip


@contextlib.contextmanager
def test_limits(limits, accel_mm_s2, velocity_mm_s):
    """Limits ``limits`` (a mendel.planner.lookahead.Limits) raised to
    ``accel_mm_s2`` and ``velocity_mm_s`` with no minimum cruise, restored
    on leaving (also on an error)."""
    ceiling = dict(limits.ceiling)
    saved = (limits.max_velocity, limits.max_accel, limits.minimum_cruise_ratio)
    limits.ceiling["max_accel"] = max(ceiling["max_accel"], accel_mm_s2)
    limits.ceiling["max_velocity"] = max(ceiling["max_velocity"], velocity_mm_s)
    try:
        limits.update(velocity=velocity_mm_s, accel=accel_mm_s2, min_cruise_ratio=0.0)
        yield
    finally:
        limits.ceiling.clear()
        limits.ceiling.update(ceiling)
        limits.update(velocity=saved[0], accel=saved[1], min_cruise_ratio=saved[2])


@contextlib.contextmanager
def shaping_off(toolhead, respond):
    """Input shaping off inside (if the toolhead has any on), back on after."""
    current = dict(getattr(toolhead, "input_shaper", None) or {})
    active = {axis: value for axis, value in current.items() if value is not None}
    for axis, (shaper_type, _freq, damping) in active.items():
        toolhead.set_input_shaper(axis, shaper_type, 0.0, damping)
    if active:
        respond("Disabled [input_shaper] for resonance testing")
    try:
        yield
    finally:
        for axis, (shaper_type, freq, damping) in active.items():
            toolhead.set_input_shaper(axis, shaper_type, freq, damping)
        if active:
            respond("Re-enabled [input_shaper]")


def shake(toolhead, moves, axis, respond):
    """Queue the test ``moves`` (SweepMoves) along ``axis`` from where the
    toolhead is, answering "Testing frequency N Hz" at each whole Hz."""
    index = AXES.index(axis)
    point = list(toolhead.position)
    speed = moves.peak_speed_mm_s + SPEED_MARGIN_MM_S
    last_whole = 0
    with test_limits(toolhead.limits, moves.max_accel_mm_s2, speed):
        for freq, accel, distance in zip(moves.freq_hz.tolist(), moves.accel_mm_s2.tolist(),
                                         moves.distance_mm.tolist()):
            toolhead.set_limits(accel=accel)
            point[index] += distance
            toolhead.move(list(point), speed)
            if int(freq) > last_whole:
                last_whole = int(freq)
                respond("Testing frequency %.0f Hz" % freq)
        toolhead.flush()


def measure(machine, cfg, axis, moves, respond):
    """Run the test along ``axis`` at every probe point of ``cfg``; returns
    the list of (N, 4) sample arrays, one per point. Raises ResonanceError,
    or the toolhead's errors (not homed, out of reach)."""
    chip = accelerometer(machine, cfg, axis)
    toolhead = machine.toolhead
    recorded = []
    with shaping_off(toolhead, respond):
        for point in cfg.probe_points:
            toolhead.move(list(point) + [toolhead.position[3]], cfg.move_speed)
            if len(cfg.probe_points) > 1:
                respond("Probing point (%.3f, %.3f, %.3f)" % tuple(point))
            toolhead.wait_moves()
            toolhead.dwell(SETTLE_S)
            chip.start()
            try:
                shake(toolhead, moves, axis, respond)
                toolhead.wait_moves()
            finally:
                samples = chip.stop()
            if samples is None or len(samples) == 0:
                raise ResonanceError("accelerometer %r measured no data" % cfg.chips[axis])
            recorded.append(samples)
    return recorded
