# Mendel host: heater and fan printer objects.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``extruder``, ``heater_bed`` (temperature, target, power; the extruder
also can_extrude, pressure_advance, smooth_time), ``heaters``
(available_heaters, available_sensors, available_monitors), ``fan`` (speed)
and each ``fan_generic NAME`` (speed), with Klipper's fields.

Units: degC; ``power`` and ``speed`` 0..1; ``pressure_advance`` s (mm of
filament per mm/s of extrusion speed), ``smooth_time`` s. ``temperature`` is the
last reading the host took (about once a second while idle), ``target`` the
target the G-code last set.
"""


def objects(sources):
    machine = sources.machine
    if not hasattr(machine, "heater_status"):
        return {}
    found = {}
    for name in machine.heater_status():
        found[name] = lambda _t, n=name: heater(sources, n)
    found["heaters"] = lambda _t: heaters(machine)
    if hasattr(machine, "fan_speed"):
        found["fan"] = lambda _t: {"speed": machine.fan_speed}
    generic = getattr(machine, "generic_fans", None)      # [fan_generic NAME]: name -> 0..1
    for name in dict(generic or {}):
        found["fan_generic " + name] = lambda _t, n=name: {"speed": generic[n]}
    return found


def heater(sources, name):
    """Status of heater ``name`` ("extruder" or "heater_bed")."""
    machine, config = sources.machine, sources.config
    temperature, target = machine.heater_status()[name]
    readings = getattr(getattr(machine, "heaters", None), "readings", None) or {}
    status = {"temperature": temperature, "target": target}
    reading = dict(readings).get(name)
    if reading is not None:
        status["power"] = reading[2]
    if name == "extruder" and config is not None:
        advance, smooth_time = getattr(machine, "pressure_advance", None) or (
            config.pressure_advance, config.pressure_advance_smooth_time)
        status.update(can_extrude=temperature >= config.extrusion.min_extrude_temp,
                      pressure_advance=advance, smooth_time=smooth_time)
    return status


def heaters(machine):
    """The ``heaters`` object: every heater is also a sensor; no monitors."""
    names = sorted(machine.heater_status())
    return {"available_heaters": names, "available_sensors": list(names),
            "available_monitors": []}
