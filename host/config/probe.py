# Mendel host: the [probe] / [bltouch] section of printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Z probe as Klipper's Config_Reference describes ``[probe]`` and
``[bltouch]`` (one of them; both is an error). Units: mm, mm/s, s.

Keys (defaults): ``pin`` ([probe]) or ``sensor_pin`` ([bltouch]): the
board endstop input the probe is wired to (``^``/``!`` modifiers as for
endstop_pin); ``control_pin`` ([bltouch]): the board servo output that
deploys and stows the pin; ``x_offset``, ``y_offset`` (0), ``z_offset``
(required: the nozzle height when the probe triggers); ``speed`` (5),
``lift_speed`` (speed), ``samples`` (1), ``sample_retract_dist`` (2),
``samples_result`` (average or median), ``samples_tolerance`` (0.100),
``samples_tolerance_retries`` (0). [bltouch] only:
``pin_up_reports_not_triggered`` (True), ``pin_move_time`` (0.680 s),
``stow_on_each_sample`` (True), ``probe_with_touch_mode`` (False).
"""
import dataclasses

from mendel.config.pins import parse_pin


@dataclasses.dataclass
class ProbeConfig:
    """A probe: ``kind`` ("probe" or "bltouch"), its input (``pin``: the board
    endstop name, set when the pins are checked; ``pin_text`` as written),
    servo ``control_pin`` (board pin name, bltouch), offsets and sampling."""
    kind: str
    pin_text: str
    z_offset: float
    pin: str = None
    inverted: bool = False
    pull: str = None
    control_pin: str = None
    x_offset: float = 0.0
    y_offset: float = 0.0
    speed: float = 5.0
    lift_speed: float = 5.0
    samples: int = 1
    sample_retract_dist: float = 2.0
    samples_result: str = "average"
    samples_tolerance: float = 0.100
    samples_tolerance_retries: int = 0
    pin_up_reports_not_triggered: bool = True
    pin_move_time: float = 0.680
    stow_on_each_sample: bool = True
    probe_with_touch_mode: bool = False


def load(probe_sec, bltouch_sec):
    """ProbeConfig from the ``[probe]`` or ``[bltouch]`` Section (each may be
    None); None when there is neither. Raises ConfigError."""
    if probe_sec is not None and bltouch_sec is not None:
        bltouch_sec._fail(None, "a printer has one probe: remove [probe] or [bltouch]")
    sec = probe_sec or bltouch_sec
    if sec is None:
        return None
    kind = sec.name
    pin_key = "pin" if kind == "probe" else "sensor_pin"
    text = sec.get(pin_key)
    try:
        pin = parse_pin(text, can_pull=True)
    except ValueError as exc:
        sec._fail(pin_key, str(exc))
    speed = sec.getfloat("speed", 5.0, above=0.0)
    probe = ProbeConfig(
        kind=kind, pin_text=text, inverted=pin.invert, pull=pin.pull,
        z_offset=sec.getfloat("z_offset"),
        x_offset=sec.getfloat("x_offset", 0.0), y_offset=sec.getfloat("y_offset", 0.0),
        speed=speed, lift_speed=sec.getfloat("lift_speed", speed, above=0.0),
        samples=sec.getint("samples", 1, minval=1),
        sample_retract_dist=sec.getfloat("sample_retract_dist", 2.0, above=0.0),
        samples_result=sec.getchoice("samples_result", ("average", "median"), "average"),
        samples_tolerance=sec.getfloat("samples_tolerance", 0.100, minval=0.0),
        samples_tolerance_retries=sec.getint("samples_tolerance_retries", 0, minval=0))
    if kind == "bltouch":
        _bltouch(sec, probe)
    return probe


def _bltouch(sec, probe):
    probe.control_pin = sec.get("control_pin")
    probe.pin_up_reports_not_triggered = sec.getboolean("pin_up_reports_not_triggered", True)
    probe.pin_move_time = sec.getfloat("pin_move_time", 0.680, above=0.0)
    probe.stow_on_each_sample = sec.getboolean("stow_on_each_sample", True)
    probe.probe_with_touch_mode = sec.getboolean("probe_with_touch_mode", False)
