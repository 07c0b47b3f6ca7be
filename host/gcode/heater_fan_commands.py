# Mendel host: Klipper's heater and fan commands.
# SPDX-License-Identifier: GPL-3.0-or-later
"""TURN_OFF_HEATERS, SET_HEATER_TEMPERATURE, TEMPERATURE_WAIT and
SET_FAN_SPEED, with the parameters of Klipper's G-Codes document. Units:
degC, fan speed as a fraction 0..1.

* ``TURN_OFF_HEATERS``: every heater's target to 0, as M104 S0 / M140 S0
  (when the motion reaches the line).
* ``SET_HEATER_TEMPERATURE HEATER=<extruder|heater_bed> [TARGET=<degC>]``:
  set a target without waiting (no TARGET: 0, off).
* ``TEMPERATURE_WAIT SENSOR=<extruder|heater_bed> [MINIMUM=<degC>]
  [MAXIMUM=<degC>]``: wait for the moves to finish, then until the sensor
  reads within the bounds (at least one of them is required); the
  machine's ``wait_temperature(sensor, minimum, maximum)`` does the waiting.
* ``SET_FAN_SPEED FAN=<name> SPEED=<0..1>``: a ``[fan_generic NAME]`` of
  printer.cfg, through the machine's ``set_generic_fan(name, fraction)``
  (when the motion reaches the line).

Every parameter is checked before anything acts; an unknown heater, sensor
or fan is refused with the names the printer has.
"""
from mendel.errors import CommandError
from mendel.gcode.params import Params
from mendel.thermal.heaters import HEATERS


def handlers(interpreter):
    """``{command: handler(command)}`` for ``interpreter``'s table."""
    machine = interpreter.machine
    return {
        "TURN_OFF_HEATERS": lambda command: turn_off_heaters(machine, command),
        "SET_HEATER_TEMPERATURE": lambda command: set_heater_temperature(machine, command),
        "TEMPERATURE_WAIT": lambda command: temperature_wait(machine, command),
        "SET_FAN_SPEED": lambda command: set_fan_speed(machine, command),
    }


def turn_off_heaters(machine, command):
    """TURN_OFF_HEATERS: every heater off."""
    Params(command)
    for heater in HEATERS:
        machine.set_temperature(heater, 0.0, False, False)


def set_heater_temperature(machine, command):
    """SET_HEATER_TEMPERATURE HEATER= [TARGET=]."""
    params = Params(command, ("HEATER", "TARGET"))
    heater = _heater(command, params.get("HEATER"), "HEATER")
    target = params.get_float("TARGET", 0.0, minval=0.0)
    machine.set_temperature(heater, target, False, False)


def temperature_wait(machine, command):
    """TEMPERATURE_WAIT SENSOR= [MINIMUM=] [MAXIMUM=]."""
    params = Params(command, ("SENSOR", "MINIMUM", "MAXIMUM"))
    sensor = _heater(command, params.get("SENSOR"), "SENSOR")
    minimum = params.get_float("MINIMUM")
    maximum = params.get_float("MAXIMUM")
    if minimum is None and maximum is None:
        raise CommandError("TEMPERATURE_WAIT needs MINIMUM= or MAXIMUM= (degC)")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise CommandError("TEMPERATURE_WAIT: MINIMUM=%g is above MAXIMUM=%g"
                           % (minimum, maximum))
    wait = getattr(machine, "wait_temperature", None)
    if wait is None:
        raise CommandError("TEMPERATURE_WAIT: this machine cannot read temperatures")
    wait(sensor, minimum, maximum)


def set_fan_speed(machine, command):
    """SET_FAN_SPEED FAN= SPEED=."""
    params = Params(command, ("FAN", "SPEED"))
    name = params.get("FAN")
    fans = getattr(getattr(machine, "config", None), "fan_generic", None) or {}
    if not name:
        raise CommandError("SET_FAN_SPEED needs FAN=<name> (fans: %s)" % _names(fans))
    if name not in fans:
        raise CommandError("SET_FAN_SPEED: no fan %r: printer.cfg has no [fan_generic %s] "
                           "(fans: %s)" % (name, name, _names(fans)))
    speed = params.get_float("SPEED", None, minval=0.0, maxval=1.0)
    if speed is None:
        raise CommandError("SET_FAN_SPEED needs SPEED=<0..1>")
    machine.set_generic_fan(name, speed)


def _heater(command, name, key):
    if not name:
        raise CommandError("%s needs %s=<%s>" % (command.code, key, "|".join(HEATERS)))
    if name not in HEATERS:
        raise CommandError("%s: no %s %r on this printer (%s)"
                           % (command.code, key.lower(), name, ", ".join(HEATERS)))
    return name


def _names(fans):
    return ", ".join(sorted(fans)) or "none; add a [fan_generic NAME] section with its pin"
