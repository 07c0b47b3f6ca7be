# Mendel host: heater blocks that the emulated RP2040's heater pins heat.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated board's thermal plant, wired to the emulated chip's pins.

Units: degC, seconds; ADC readings raw 12-bit (0..4095), as the RP2040's ADC
gives them; duty 0..1 (time the heater pin spent high).

Each heater of the board file gets the plant model of the simulated board
(``firmware/hal/simplant.py``: one thermal mass, a lagging noisy sensor,
faults) and the sensor model the firmware reads it with
(``firmware/thermal/sensor.py``). Every tick of emulated time the runner
reports how long each heater pin was high; the plant integrates that duty
and its sensor temperature becomes the raw reading of the heater's ADC pin
(GPIO26..29 are ADC channels 0..3).
"""
import json

from mendel.boards import load_board
from mendel.firmware.hal.simplant import ThermalPlant, sensor_mode
from mendel.firmware.thermal.sensor import make_sensor

ADC_RAW_MAX = 4095
ADC_FIRST_GPIO = 26
DEFAULT_SENSOR = "Generic 3950"
# Plants of heaters whose board file has no "sim_plant": the simulated board's
# own, by the heater's kind (boards/sim.json).
_SIM_BOARD = "sim"


def gpio_number(name):
    """27 from ``"gpio27"``; ValueError for another name."""
    if not str(name).startswith("gpio") or not str(name)[4:].isdigit():
        raise ValueError("%r is not an RP2040 pin name like 'gpio27'" % (name,))
    return int(str(name)[4:])


def adc_channel(pin):
    """ADC channel 0..3 of GPIO26..29 (``pin`` a name or number); ValueError otherwise."""
    number = pin if isinstance(pin, int) else gpio_number(pin)
    if not ADC_FIRST_GPIO <= number <= ADC_FIRST_GPIO + 3:
        raise ValueError("GPIO%d is not an ADC input (GPIO26..29)" % number)
    return number - ADC_FIRST_GPIO


def _default_plants():
    return {heater["kind"]: heater for heater in load_board(_SIM_BOARD)["heaters"]}


class HeaterPlant:
    """One heater: plant, sensor model, its pins (GPIO numbers) and ADC channel."""

    def __init__(self, spec, seed, sensor_type, overrides=None):
        defaults = _default_plants()
        model = dict(spec.get("sim_plant") or defaults[spec.get("kind", "hotend")]["sim_plant"])
        overrides = dict(overrides or {})
        sensor_type = overrides.pop("sim_sensor", "") or sensor_type
        model.update(overrides)
        self.name = spec["name"]
        self.plant = ThermalPlant(model, seed=seed)
        self.sensor = make_sensor(sensor_type, spec["pullup_ohm"], ADC_RAW_MAX)
        self.heater_pin = gpio_number(spec["heater_pin"])
        self.channel = adc_channel(spec["sensor_pin"])
        self.fan_pins = []

    def raw(self):
        """The ADC reading (raw 12-bit) of the plant's sensor now, noise and faults included."""
        mode = sensor_mode(self.plant)
        if mode is not None:
            return ADC_RAW_MAX if mode == "open" else 0
        value = int(round(self.sensor.adc(self.plant.reading())))
        return min(ADC_RAW_MAX, max(0, value))

    def advance(self, dt_s, duty):
        """Integrate ``dt_s`` seconds; ``duty``: {GPIO: fraction high} of the last tick."""
        self.plant.duty = duty.get(self.heater_pin, self.plant.duty)
        if self.fan_pins:
            self.plant.fan = max(duty.get(pin, 0.0) for pin in self.fan_pins)
        self.plant.advance(dt_s)


def board_plants(board, sensor_types=None, overrides=None):
    """A HeaterPlant per heater of ``board`` (a board dict).

    ``sensor_types``: {heater name: printer.cfg sensor_type} (the firmware is
    configured with these; default Generic 3950); ``overrides``: {heater name:
    sim_plant keys} as printer.cfg's ``[sim_plant NAME]`` gives them. The board's
    first fan (or one listing ``sim_cools``) cools the hot ends.
    """
    sensor_types = sensor_types or {}
    overrides = overrides or {}
    plants = [HeaterPlant(spec, seed=i + 1,
                          sensor_type=sensor_types.get(spec["name"], DEFAULT_SENSOR),
                          overrides=overrides.get(spec["name"]))
              for i, spec in enumerate(board["heaters"])]
    for index, fan in enumerate(board.get("fans", [])):
        cooled = fan.get("sim_cools")
        if cooled is None:
            cooled = [i for i, spec in enumerate(board["heaters"])
                      if index == 0 and spec.get("kind", "hotend") == "hotend"]
        for i in cooled:
            plants[i].fan_pins.append(gpio_number(fan["pin"]))
    return plants


def describe(plants):
    """One line per plant, for ``mendel emulate``."""
    return "\n".join("  %s: heater GPIO%d, sensor ADC%d, %s" % (
        p.name, p.heater_pin, p.channel, json.dumps({"temp_c": round(p.plant.temp, 1)}))
        for p in plants)
