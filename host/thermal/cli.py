# Mendel host: the command-line parts about heaters.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The heater parts of the command line: ``mendel pid-tune`` and ``mendel print --sim-fault``.

``--sim-fault FAULT[:HEATER]@SECONDS`` (repeatable; simulated board only)
starts a plant fault SECONDS of board time after the print starts, on HEATER
(default ``extruder``). FAULT is one of firmware/hal/simplant.py's words:
thermistor_loose, heater_failed, thermistor_open, thermistor_short,
mosfet_stuck_on, fan_full. Example: ``--sim-fault thermistor_open@120``.
"""
import argparse
import dataclasses
import re

from mendel.firmware.hal.simplant import FAULTS
from mendel.thermal import autotune

_FAULT = re.compile(r"^([a-z_]+)(?::([a-z_]+))?@([0-9]+(?:\.[0-9]*)?)$")


@dataclasses.dataclass
class FaultSpec:
    """One ``--sim-fault``: fault word, heater name, seconds after the start."""
    fault: str
    heater: str
    after_s: float


def parse_fault(text):
    """FaultSpec from ``FAULT[:HEATER]@SECONDS``; argparse.ArgumentTypeError if bad."""
    match = _FAULT.match(text.strip())
    if not match or match.group(1) not in FAULTS:
        raise argparse.ArgumentTypeError(
            "%r is not FAULT[:HEATER]@SECONDS with FAULT one of %s" % (text, ", ".join(FAULTS)))
    return FaultSpec(match.group(1), match.group(2) or "extruder", float(match.group(3)))


def add_print_options(job):
    """Options of ``mendel print`` that concern heaters."""
    job.add_argument("--sim-fault", type=parse_fault, action="append", default=[],
                     metavar="FAULT[:HEATER]@SECONDS",
                     help="simulated board: inject a heater fault (" + ", ".join(FAULTS)
                          + ") SECONDS after the print starts; repeatable")


def add_commands(commands, common):
    """Register ``mendel pid-tune``; ``common(parser)`` adds --config/--port/... ."""
    tune = commands.add_parser("pid-tune", help="PID autotune of a heater (relay method)")
    tune.add_argument("--heater", default="extruder", help="extruder (default) or heater_bed")
    tune.add_argument("--target", type=float, default=210.0, help="degC (default 210)")
    tune.add_argument("--cycles", type=int, default=8, help="relay cycles (default 8)")
    tune.add_argument("--rule", choices=sorted(autotune.RULES), default=autotune.DEFAULT_RULE,
                      help="tuning rule (default %s)" % autotune.DEFAULT_RULE)
    tune.add_argument("--json", action="store_true", help="print the result as JSON")
    common(tune)
    return tune


def plant_overrides(cfg):
    """Per-heater sim plant overrides from the printer.cfg (for SimBoard)."""
    overrides = {}
    for heater in cfg.heaters.values():
        plant = dict(heater.sim_plant)
        if heater.sim_sensor:
            plant["sim_sensor"] = heater.sim_sensor
        overrides[heater.name] = plant
    return overrides


def schedule_faults(printer, faults):
    """Send each FaultSpec to the (simulated) board, timed from now."""
    mcu = printer.mcu
    if faults and "sim_fault" not in mcu.commands:
        raise ValueError("--sim-fault needs the simulated board")
    start = mcu.estimated_clock()
    for spec in faults:
        printer.heaters.inject_fault(spec.heater, spec.fault,
                                     start + int(spec.after_s * mcu.clock_freq))


def tune_report(result):
    """Text that ``mendel pid-tune`` prints."""
    lines = ["PID autotune of %s at %.1f C (%d relay cycles, %s rule)"
             % (result.heater, result.target_c, result.cycles, result.rule),
             "  ultimate gain Ku %.4f (output fraction per C), period Tu %.2f s"
             % (result.ku, result.tu_s),
             "  for [%s] in printer.cfg:" % result.heater]
    lines += ["    " + line for line in result.config_lines()]
    return "\n".join(lines)
