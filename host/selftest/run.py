# Mendel host: the order of the selftest checks and the report they make.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run every check on a connected board and gather the report.

The checks run in :data:`CHECKS` order, cheapest and safest first: the sensors are
read before anything moves, and nothing is heated before everything else
has passed or failed. A board shutdown or a dead
link fails the check that was running (with the board's reason) and skips
the rest, which are reported as not run (``passed`` None).
"""
import dataclasses
import datetime
import platform

from mendel import __version__
from mendel.machine.printer import Printer
from mendel.mcu.link import LinkError
from mendel.mcu.mcu import McuShutdown
from mendel.selftest import checks, motion, thermal
from mendel.thermal import cli as thermal_cli

REPORT_SCHEMA = 1
# (key, title, check): the report's order.
CHECKS = (
    ("identity", "Identity", checks.identity),
    ("thermistors", "Thermistor plausibility", thermal.thermistors),
    ("endstops", "Endstop reads", motion.endstops),
    ("clock", "Clock rate", checks.clock),
    ("steps", "Step timing", motion.step_timing),
    ("heaters", "Heater response", thermal.heaters),
    ("link", "Link under load", checks.link),
)
TITLES = {key: title for key, title, _check in CHECKS}


@dataclasses.dataclass
class Bench:
    """What the checks work on: the connected ``mcu`` (mendel.mcu.mcu.Mcu),
    the printer ``config``, ``simulated`` (the simulated board), the board
    id the user said it is (``expected_board``, or None), and the
    ``printer`` (configured once, before the first check that needs it)."""
    mcu: object
    config: object
    simulated: bool
    expected_board: str = None
    printer: object = None


def run_checks(bench, sim_faults=()):
    """Every check's :class:`~mendel.selftest.checks.Result`, in CHECKS order.

    ``sim_faults``: FaultSpecs (mendel.thermal.cli) injected into the
    simulated board once the heaters are configured (tests and the bench-rig
    guide show a failing check that way)."""
    results, stopped = [], None
    for key, _title, check in CHECKS:
        if stopped:
            results.append(checks.Result(key, None, "not run: " + stopped))
            continue
        try:
            if bench.printer is None and key != "identity":
                bench.printer = Printer(bench.config, bench.mcu, warn=lambda _text: None)
                thermal_cli.schedule_faults(bench.printer, sim_faults)
            results.append(check(bench))
        except McuShutdown as exc:
            stopped = "the board shut down"
            results.append(checks.Result(key, False, "the board shut down: %s" % exc))
        except LinkError as exc:
            stopped = "the link failed"
            results.append(checks.Result(key, False, "the link failed: %s" % exc))
    return results


def finish(results, step_log, mcu_info):
    """Results with the step timing judged from the simulated board's step
    log (``step_log``, complete once the board has ended)."""
    if step_log is None:
        return results
    return [motion.from_step_log(r, step_log, len(mcu_info["motors"]), mcu_info["clock_freq"])
            if r.name == "steps" and r.passed else r for r in results]


def report(results, mcu_info, port, simulated, tester=None, printed=False):
    """The report (a JSON-able dict) of ``results`` from the board that
    described itself with ``mcu_info`` on ``port``."""
    return {
        "schema": REPORT_SCHEMA,
        "mendel": __version__,
        "date": datetime.date.today().isoformat(),
        "board": {"id": mcu_info.get("board"), "mcu": mcu_info.get("mcu"),
                  "firmware": "%s %s" % (mcu_info.get("firmware"), mcu_info.get("version")),
                  "clock_freq": mcu_info.get("clock_freq"), "simulated": simulated,
                  "port": "simulated" if simulated else port},
        "host": {"python": platform.python_version(), "system": platform.system(),
                 "machine": platform.machine()},
        "tester": tester,
        "printed": bool(printed),
        "passed": all(r.passed for r in results),
        "checks": [dict(dataclasses.asdict(r), title=TITLES[r.name]) for r in results],
    }
