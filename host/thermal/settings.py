# Mendel host: heater settings from printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The [extruder] / [heater_bed] heater keys, [verify_heater NAME] and [sim_plant NAME].

Units: degC, seconds, W; PID gains in Klipper's units (output 0..255).

Heater keys follow Klipper's Config_Reference: ``sensor_type``, ``control``
(``pid`` or ``watermark``, i.e. bang-bang with ``max_delta``), ``pid_kp``,
``pid_ki``, ``pid_kd``, ``max_power`` (0..1), ``pwm_cycle_time`` (s),
``min_temp`` (default 5 degC: a 12 degC workshop is fine, an open thermistor
is not) and ``max_temp``.

``[verify_heater NAME]`` sets the board's supervision (firmware/thermal/
guard.py: Klipper's verify_heater, run on the board while the heater is
driven at full power; Klipper's keys and defaults, plus our stuck_rise):

=================  =========  =========  ========================================
key                hot end    bed        meaning
=================  =========  =========  ========================================
max_error          120        120        degC*s integrated below target -
                                         hysteresis at full power: trip
check_gain_time    20 s       60 s       while heating, time at full power to
heating_gain       2 degC     2 degC     rise by heating_gain
hysteresis         5 degC     5 degC     band below the target (or the best
                                         reading while heating) that is fine
stuck_rise         10 degC    10 degC    rise with output off = stuck MOSFET
=================  =========  =========  ========================================

``[sim_plant NAME]`` overrides the simulated board's plant for this printer
(keys: heat_capacity J/K, heater_power W, heat_loss W/K, fan_heat_loss W/K,
ambient_temp degC, sensor_lag s, sensor_noise degC, loose_lag s -- how fast a
thermistor out of the block (fault thermistor_loose) falls to ambient --,
sensor_type).
"""
import dataclasses

from mendel.firmware.thermal.sensor import sensor_names

# Highest heater max_temp accepted: above what all-metal hot ends reach.
MAX_TEMP = 500.0
# [verify_heater] key -> (hot end default, bed default, bounds); Klipper's
# defaults and bounds (docs/Config_Reference.md, [verify_heater]).
GUARD_KEYS = {"max_error": (120.0, 120.0, {"minval": 0.0}),
              "check_gain_time": (20.0, 60.0, {"minval": 1.0}),
              "hysteresis": (5.0, 5.0, {"minval": 0.0}),
              "heating_gain": (2.0, 2.0, {"above": 0.0}),
              "stuck_rise": (10.0, 10.0, {"above": 0.0})}
HOTEND_GUARD = {key: spec[0] for key, spec in GUARD_KEYS.items()}
BED_GUARD = {key: spec[1] for key, spec in GUARD_KEYS.items()}
# Keys of the Marlin-style checks these replaced: named in the error.
_OLD_GUARD_KEYS = ("watch_period", "watch_increase", "runaway_period", "runaway_hysteresis")
# printer.cfg key -> boards/sim.json "sim_plant" key
SIM_PLANT_KEYS = {
    "heat_capacity": "heat_capacity_j_per_k", "heater_power": "power_w",
    "heat_loss": "loss_w_per_k", "fan_heat_loss": "fan_loss_w_per_k",
    "ambient_temp": "ambient_c", "sensor_lag": "sensor_lag_s",
    "sensor_noise": "sensor_noise_c", "loose_lag": "loose_lag_s",
}


@dataclasses.dataclass
class HeaterConfig:
    """One heater: board heater name, sensor, control law, limits and supervision."""
    name: str
    sensor_type: str
    min_temp: float
    max_temp: float
    pid_kp: float
    pid_ki: float
    pid_kd: float
    control: str = "pid"
    max_delta: float = 2.0
    max_power: float = 1.0
    pwm_cycle_time: float = 0.1
    host_timeout: float = 3.0
    guard: dict = dataclasses.field(default_factory=lambda: dict(HOTEND_GUARD))
    sim_plant: dict = dataclasses.field(default_factory=dict)
    sim_sensor: str = ""


def heater_config(section, optional_section, name):
    """HeaterConfig from heater ``section`` (a config._Section).

    ``optional_section(title)`` returns the _Section ``title`` or None.
    """
    control = section.get("control", "pid")
    if control not in ("pid", "watermark"):
        section._fail("control", "%r is not 'pid' or 'watermark'" % control)
    pid = control == "pid"
    gains = [section.getfloat(key, None if pid else 0.0, minval=0.0)
             for key in ("pid_kp", "pid_ki", "pid_kd")]
    min_temp = section.getfloat("min_temp", 5.0)
    max_temp = section.getfloat("max_temp", above=min_temp, maxval=MAX_TEMP)
    sensor_type = section.get("sensor_type")
    if sensor_type not in sensor_names():
        section._fail("sensor_type", "%r is not one of: %s"
                      % (sensor_type, ", ".join(sensor_names())))
    config = HeaterConfig(
        name=section.get("heater", name), sensor_type=sensor_type,
        min_temp=min_temp, max_temp=max_temp, pid_kp=gains[0], pid_ki=gains[1],
        pid_kd=gains[2], control=control,
        max_delta=section.getfloat("max_delta", 2.0, above=0.0),
        max_power=section.getfloat("max_power", 1.0, above=0.0, maxval=1.0),
        pwm_cycle_time=section.getfloat("pwm_cycle_time", 0.1, above=0.0, maxval=5.0),
        # Longest time the heater stays on with no word from the host: the
        # board's watchdog (Klipper's heater max_duration plays this role).
        host_timeout=section.getfloat("host_timeout", 3.0, above=0.0, maxval=60.0))
    config.guard = _guard(optional_section("verify_heater " + name),
                          BED_GUARD if name == "heater_bed" else HOTEND_GUARD)
    plant = optional_section("sim_plant " + name)
    if plant is not None:
        for key, board_key in SIM_PLANT_KEYS.items():
            if plant.parser.has_option(plant.name, key):
                if key in ("heat_capacity", "heat_loss"):
                    config.sim_plant[board_key] = plant.getfloat(key, above=0.0)
                else:
                    config.sim_plant[board_key] = plant.getfloat(key, minval=0.0)
        config.sim_sensor = plant.get("sensor_type", "")
    return config


def _guard(section, defaults):
    guard = dict(defaults)
    if section is None:
        return guard
    for key in _OLD_GUARD_KEYS:
        if section.has(key):
            section._fail(key, "Marlin's watch/runaway checks were replaced by Klipper's "
                          "verify_heater: use max_error, check_gain_time, hysteresis, "
                          "heating_gain (README, Heaters and thermal safety)")
    for key, value in defaults.items():
        guard[key] = section.getfloat(key, value, **GUARD_KEYS[key][2])
    return guard
