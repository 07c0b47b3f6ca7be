# Mendel host: the [resonance_tester] section of printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where and how TEST_RESONANCES and SHAPER_CALIBRATE shake the toolhead,
Klipper's Config_Reference keys (its classic vibration test). Units: mm,
mm/s, Hz, mm/s^2 per Hz, Hz/s.

``probe_points`` (required): one or more ``x, y, z`` points, one a line, the
test runs at each; ``accel_chip``: the accelerometer measuring both axes
(``adxl345`` or ``adxl345 NAME``), or ``accel_chip_x`` and ``accel_chip_y``
one per axis (one of the two ways is required); ``max_smoothing`` (mm, at
least 0.05; none); ``move_speed`` (50) to the probe points; ``min_freq``
(5, >= 1), ``max_freq`` (133.33, min_freq..300), ``accel_per_hz`` (75,
> 0), ``hz_per_sec`` (1, 0.1..2).
"""
import dataclasses


@dataclasses.dataclass
class ResonanceTesterConfig:
    """[resonance_tester]: ``chips`` {"x": chip name, "y": chip name}."""
    probe_points: list
    chips: dict
    max_smoothing: float = None
    move_speed: float = 50.0
    min_freq: float = 5.0
    max_freq: float = 133.33
    accel_per_hz: float = 75.0
    hz_per_sec: float = 1.0


def load(sec):
    """ResonanceTesterConfig from the Section ``sec`` (None: None). Raises ConfigError."""
    if sec is None:
        return None
    min_freq = sec.getfloat("min_freq", 5.0, minval=1.0)
    config = ResonanceTesterConfig(
        probe_points=_points(sec), chips=_chips(sec),
        move_speed=sec.getfloat("move_speed", 50.0, above=0.0),
        min_freq=min_freq, max_freq=sec.getfloat("max_freq", 133.33, minval=min_freq,
                                                 maxval=300.0),
        accel_per_hz=sec.getfloat("accel_per_hz", 75.0, above=0.0),
        hz_per_sec=sec.getfloat("hz_per_sec", 1.0, minval=0.1, maxval=2.0))
    if sec.has("max_smoothing"):
        config.max_smoothing = sec.getfloat("max_smoothing", minval=0.05)
    return config


def _chips(sec):
    if sec.has("accel_chip_x") or sec.has("accel_chip_y"):
        if sec.has("accel_chip"):
            sec._fail("accel_chip", "give accel_chip or accel_chip_x and accel_chip_y, not both")
        return {"x": sec.get("accel_chip_x"), "y": sec.get("accel_chip_y")}
    chip = sec.get("accel_chip")
    return {"x": chip, "y": chip}


def _points(sec):
    raw = sec.get("probe_points")
    points = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        try:
            point = [float(part) for part in parts]
        except ValueError:
            point = []
        if len(point) != 3:
            sec._fail("probe_points", "%r is not a point x, y, z (one point a line)"
                      % line.strip())
        points.append(point)
    if not points:
        sec._fail("probe_points", "give at least one point x, y, z")
    return points
