# Mendel host: command line.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``mendel print FILE``: print a G-code file on the simulated board or a real one.

``mendel pid-tune``: relay autotune of a heater (see mendel.thermal.cli).
"""
import argparse
import contextlib
import json
import sys

import serial

from mendel import config as config_mod
from mendel.mcu.link import LinkError
from mendel.mcu.mcu import Mcu, McuShutdown
from mendel.printer import Printer, PrintError
from mendel.sim.board import SimBoard, SimulatorError
from mendel.thermal import cli as thermal_cli
from mendel.thermal.autotune import AutotuneError


def _parser():
    parser = argparse.ArgumentParser(prog="mendel", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    job = commands.add_parser("print", help="print a G-code file")
    job.add_argument("file", help="G-code file")
    job.add_argument("--config", help="printer.cfg (default: the bundled i3-class cartesian)")
    job.add_argument("--port", help="serial device of a real board (default: start the "
                                    "simulated board)")
    job.add_argument("--baud", type=int, default=250000, help="baud rate for --port")
    job.add_argument("--sim-realtime", action="store_true",
                     help="run the simulated board's clock at wall-clock speed")
    job.add_argument("--step-log", help="simulated board: write every step run to this file")
    job.add_argument("--json", action="store_true", help="print the summary as JSON")
    thermal_cli.add_print_options(job)
    thermal_cli.add_commands(commands, _board_options)
    return parser


def _board_options(parser):
    parser.add_argument("--config", help="printer.cfg (default: the bundled i3-class "
                                          "cartesian)")
    parser.add_argument("--port", help="serial device of a real board (default: start "
                                       "the simulated board)")
    parser.add_argument("--baud", type=int, default=250000, help="baud rate for --port")
    parser.add_argument("--sim-realtime", action="store_true",
                        help="run the simulated board's clock at wall-clock speed")


@contextlib.contextmanager
def _board(args, cfg):
    """Yield a connected Mcu: on ``--port``, or on a fresh simulated board."""
    with contextlib.ExitStack() as stack:
        if args.port:
            device = args.port
        else:
            sim = stack.enter_context(SimBoard(cfg.board, realtime=args.sim_realtime,
                                               step_log=getattr(args, "step_log", None),
                                               plants=thermal_cli.plant_overrides(cfg)))
            device = sim.port
        port = stack.enter_context(serial.Serial(device, args.baud, timeout=0.1))
        mcu = Mcu(port)
        mcu.connect()
        yield mcu


def _report(summary):
    lines = [
        "printed %s" % summary.file,
        "  lines %d, moves %d" % (summary.lines, summary.moves),
        "  print time %.1f s (simulated), wall time %.1f s, %.0fx real time"
        % (summary.print_time_s, summary.wall_time_s, summary.speedup),
        "  final position:",
    ]
    for axis, mm in summary.position_mm.items():
        lines.append("    %s %10.3f mm  %9d steps" % (axis.upper(), mm,
                                                      summary.position_steps[axis]))
    peaks = ", ".join("%s %.1f C" % (name, temp)
                      for name, temp in summary.peak_temperatures.items())
    lines.append("  peak temperatures: " + peaks)
    if summary.unsupported:
        lines.append("  ignored (unsupported): " + ", ".join(
            "%s x%d" % item for item in sorted(summary.unsupported.items())))
    link = summary.link
    lines.append("  link: %d frames, %d bytes, %d bad frames resent"
                 % (link["frames_ok"], link["bytes_sent"], link["frames_bad"]))
    return "\n".join(lines)


def cmd_print(args):
    cfg = config_mod.load(args.config)
    warn = (lambda text: print(text, file=sys.stderr))
    with _board(args, cfg) as mcu:
        printer = Printer(cfg, mcu, warn=warn)
        try:
            thermal_cli.schedule_faults(printer, args.sim_fault)
            summary = printer.print_file(args.file)
        finally:
            with contextlib.suppress(LinkError, McuShutdown, OSError):
                printer.shutdown()
    if args.json:
        print(json.dumps(summary.__dict__, indent=2))
    else:
        print(_report(summary))
    if summary.position_steps != summary.expected_steps:
        print("error: board step positions %s differ from the host's %s"
              % (summary.position_steps, summary.expected_steps), file=sys.stderr)
        return 1
    return 0


def cmd_pid_tune(args):
    cfg = config_mod.load(args.config)
    with _board(args, cfg) as mcu:
        printer = Printer(cfg, mcu, warn=lambda text: print(text, file=sys.stderr))
        try:
            result = printer.heaters.autotune(args.heater, args.target, args.cycles, args.rule)
        except McuShutdown as exc:
            raise PrintError("the board shut down during the autotune: %s" % exc) from None
        finally:
            with contextlib.suppress(LinkError, McuShutdown, OSError):
                printer.shutdown()
    print(json.dumps(result.__dict__, indent=2) if args.json
          else thermal_cli.tune_report(result))
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return cmd_pid_tune(args) if args.command == "pid-tune" else cmd_print(args)
    except (config_mod.ConfigError, PrintError, LinkError, McuShutdown, AutotuneError,
            SimulatorError, serial.SerialException, ValueError, OSError) as exc:
        print("mendel: error: %s" % exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
