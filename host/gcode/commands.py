# Mendel host: tables of the G-code dialect.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Codes that are known but need no action here, each with the reason.

A code listed here is counted and otherwise ignored without a warning; a
code in neither this table nor the interpreter's handlers is reported once as
unsupported (or refused with ``--strict``).
"""

KNOWN_IGNORED = {
    # Reports and housekeeping a file print does not need.
    "M105": "temperature report; `mendel print` reports temperatures itself",
    "M300": "beep: the simulated board has no buzzer",
    "M31": "print time report",
    "M75": "print job timer start", "M76": "print job timer pause",
    "M77": "print job timer stop",
    "M17": "enable motors: done before every move",
    "M501": "restore settings: none stored", "M500": "save settings: none stored",
    "M502": "factory reset of settings: none stored",
    # Prusa printer/firmware checks.
    "M862.1": "Prusa nozzle diameter check", "M862.2": "Prusa printer model code check",
    "M862.3": "Prusa printer model name check", "M862.4": "Prusa firmware version check",
    "M862.5": "Prusa G-code level check", "M862.6": "Prusa firmware feature check",
    # Bambu Lab AMS and firmware hooks.
    "M620": "Bambu AMS filament switch begin", "M621": "Bambu AMS filament switch end",
    "M622": "Bambu conditional block", "M623": "Bambu conditional block end",
    "M624": "Bambu object skip begin", "M625": "Bambu object skip end",
    "M1002": "Bambu firmware hook (judge flags, gcode claims)",
    "M981": "Bambu spaghetti detector", "M1003": "Bambu power loss recovery",
    "M991": "Bambu layer notification",
    # Legacy volumetric extruder on/off (Skeinforge era).
    "M101": "legacy extruder on", "M103": "legacy extruder off",
    "M108": "legacy extruder speed / cancel heating wait", "M113": "legacy extruder PWM",
    # Hardware the default machine does not have.
    "G29": "no probe and [bed_mesh] in printer.cfg", "G80": "Prusa mesh bed levelling: no probe",
    "M191": "chamber heater: none configured", "M141": "chamber heater: none configured",
    "M907": "stepper current: set by the board file", "M906": "stepper current",
    "M350": "microstepping: set by printer.cfg", "M92": "steps per mm: set by printer.cfg",
    "M149": "temperature units: degrees C", "M142": "heatbreak temperature: no sensor",
}
