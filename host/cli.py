# Mendel host: command line.
# SPDX-License-Identifier: GPL-3.0-or-later
"""mendel: print G-code on the simulated board or a real one, check it first,
autotune a heater's PID, type G-code at it (console), plot a file's motion,
measure the link, or run a board's firmware on an emulated RP2040."""
import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading

import serial

from mendel import __version__
from mendel import config as config_mod
from mendel.machine.check import check_file
from mendel.errors import MendelError
from mendel.gcode.interpreter import Settings
from mendel.gcode.reader import sniff_gcode
from mendel.mcu.faults import FaultSpecError, FaultyPort, parse_faults
from mendel.mcu.link import LinkError
from mendel.mcu.mcu import Mcu, McuShutdown
from mendel.machine.printer import Printer, PrintError
from mendel.sim import surface
from mendel.sim.board import SimBoard, SimulatorError
from mendel.thermal import cli as thermal_cli
from mendel.thermal.autotune import AutotuneError
from mendel.thermal.heaters import TemperatureError
from mendel.ux import plot_cli
from mendel.ux.argparser import Parser
from mendel.ux import session as ux_session

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def _parser():
    parser = Parser(prog="mendel", description=__doc__)
    parser.add_argument("--version", action="version", version="mendel " + __version__)
    commands = parser.add_subparsers(dest="command", required=True)

    job = commands.add_parser("print", help="print a G-code file")
    job.add_argument("file", help="G-code file")
    _common(job)
    _board_options(job, config=False)
    job.add_argument("--step-log", help="write every step run to this file: the one the "
                                        "simulated board runs, or with --port the one the "
                                        "host sends (motor first_clock interval count add)")
    job.add_argument("--sim-link-faults", type=_link_faults, metavar="SPEC",
                     help="damage the link on purpose: drop=, flip=, dup=, insert= "
                          "(per-byte rates), cut=SECONDS@AFTER, seed=N; comma-separated")
    job.add_argument("--no-preflight", action="store_true",
                     help="start without checking the whole file first")
    thermal_cli.add_print_options(job)
    ux_session.add_progress_options(job)
    ux_session.add_log_options(job)
    job.set_defaults(run=cmd_print)

    check = commands.add_parser("check", help="parse and plan a G-code file, report, "
                                              "exit 1 if it cannot be printed")
    check.add_argument("file", help="G-code file")
    _common(check)
    check.set_defaults(run=cmd_check)

    tune = thermal_cli.add_commands(commands, _board_options)
    tune.set_defaults(run=cmd_pid_tune)

    plot_cli.add_command(commands, _config_option).set_defaults(run=cmd_plot)

    console = commands.add_parser("console", help="type G-code at the printer "
                                                  "(simulated board in real time by default)")
    _board_options(console)
    console.add_argument("--sim-virtual", dest="sim_realtime", action="store_false",
                         help="simulated board on its virtual clock (time moves only "
                              "while a command waits): for scripts")
    ux_session.add_log_options(console)
    console.set_defaults(run=cmd_console, sim_realtime=True)

    cfg = commands.add_parser("config", help="`mendel config check CFG`: validate a "
                                             "printer.cfg, summarise it, exit 1 on errors; "
                                             "`mendel config import KLIPPER.cfg --board NAME`: "
                                             "a Mendel printer.cfg from a Klipper one")
    actions = cfg.add_subparsers(dest="action", required=True)
    cfg_check = actions.add_parser("check", help="validate a printer.cfg, summarise it, "
                                                 "exit 1 on errors")
    cfg_check.add_argument("file", help="printer.cfg")
    cfg_check.add_argument("--json", action="store_true", help="print the report as JSON")
    cfg_check.set_defaults(run=cmd_config)
    cfg_import = actions.add_parser("import", help="write a Mendel printer.cfg from a Klipper "
                                                   "one; list what is not carried (stderr "
                                                   "and the file's top); exit 1 if the "
                                                   "result does not load")
    cfg_import.add_argument("file", help="Klipper's printer.cfg")
    cfg_import.add_argument("--board", required=True,
                            help="the Mendel board (boards/<NAME>.json) the pins map onto")
    cfg_import.add_argument("-o", "--output", help="write here (default: standard output)")
    cfg_import.set_defaults(run=cmd_config_import)

    serve = commands.add_parser("serve", help="a virtual serial port that speaks Marlin's "
                                              "protocol, for OctoPrint or Pronterface; "
                                              "with --api-socket also Klipper's API "
                                              "server, for Moonraker")
    _board_options(serve)
    serve.add_argument("--link", metavar="PATH",
                       help="also make this symlink to the port (e.g. /tmp/printer)")
    serve.add_argument("--step-log", help="simulated board: write every step run to this file")
    serve.add_argument("--api-socket", metavar="PATH",
                       help="also serve Klipper's API server (as klippy.py -a) on this Unix "
                            "socket, for Moonraker (its klippy_uds_address), e.g. "
                            "~/printer_data/comms/klippy.sock")
    serve.add_argument("--api-socket-mode", metavar="OCTAL", type=_octal_mode, default="600",
                       help="file mode of the API socket (default 600: only this user; "
                            "660 lets the file's group in)")
    serve.add_argument("--no-serial-port", action="store_true",
                       help="serve the API socket alone: no Marlin serial port (pty) "
                            "(needs --api-socket)")
    serve.set_defaults(run=cmd_serve)

    bench = commands.add_parser("bench", help="measure: `mendel bench` the motion pipeline, "
                                              "`mendel bench link` the link, "
                                              "`mendel bench firmware` the board")
    bench.add_argument("what", nargs="?", choices=["motion", "link", "firmware"],
                       default="motion",
                       help="motion (default): look-ahead and the host pipeline; "
                            "link: the pty and the firmware; firmware: step runs/s the "
                            "firmware takes, beside what real prints need")
    bench.add_argument("--rp2040", action="store_true",
                       help="firmware: also on an emulated RP2040 (needs MENDEL_RP2_UF2 "
                            "and MENDEL_RP2_BOOTROM)")
    bench.add_argument("--file", help="G-code file (default: the bundled example)")
    _config_option(bench)
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.set_defaults(run=cmd_bench)

    flash = commands.add_parser("flash", help="put MicroPython and the firmware on a board")
    flash.add_argument("--board", required=True, help="board id: a file in boards/ "
                                                      "(btt-skr-pico-v1.0, fysetc-e4, ...)")
    flash.add_argument("--port", required=True, help="the board's serial port")
    flash.add_argument("--firmware-image", metavar="FILE",
                       help="MicroPython image to write first (.uf2 RP2040, .bin ESP32)")
    flash.add_argument("--boot-drive", metavar="DIR",
                       help="RP2040 boot drive folder (default: the mounted RPI-RP2)")
    flash.add_argument("--remote-dir", default="", metavar="DIR",
                       help="folder on the board (default: its root)")
    flash.add_argument("--dry-run", action="store_true",
                       help="print every step with its commands; change nothing")
    flash.add_argument("--quiet", action="store_true", help="no progress bars")
    flash.set_defaults(run=cmd_flash)

    selftest = commands.add_parser("selftest", help="bench-rig checks of a board (the "
                                                    "simulated one without --port); "
                                                    "writes a report to publish")
    _board_options(selftest)
    selftest.add_argument("--board", help="board id the board must say it is (a file in "
                                          "boards/: btt-skr-pico-v1.0, ...)")
    selftest.add_argument("--report", required=True, metavar="FILE",
                          help="write FILE.json and FILE.md (docs/reports/ to publish)")
    selftest.add_argument("--tester", metavar="NAME", help="who ran it (in the report)")
    selftest.add_argument("--printed", action="store_true",
                          help="the tester has printed with this board (maturity table)")
    selftest.add_argument("--sim-fault", type=thermal_cli.parse_fault, action="append",
                          default=[], metavar="FAULT[:HEATER]@SECONDS",
                          help="simulated board: inject a heater fault SECONDS after "
                               "the heaters are configured; repeatable")
    selftest.add_argument("--json", action="store_true", help="print the report as JSON")
    selftest.set_defaults(run=cmd_selftest)

    from mendel.emulate import cli as emulate_cli
    emulate_cli.add_command(commands).set_defaults(run=cmd_emulate)
    return parser


def _common(sub):
    _config_option(sub)
    sub.add_argument("--strict", action="store_true",
                     help="treat unsupported G-code commands as errors")
    sub.add_argument("--arc-tolerance", type=float, default=0.01,
                     help="largest distance of an arc's chords from the arc, mm "
                          "(default 0.01)")
    sub.add_argument("--json", action="store_true", help="print the report as JSON")


def _link_faults(text):
    try:
        return parse_faults(text)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _settings(args):
    if not args.arc_tolerance > 0:
        raise MendelError("--arc-tolerance must be positive")
    return Settings(arc_tolerance=args.arc_tolerance, strict=args.strict)


def _readable(path):
    """``path`` if it is a G-code text file; raises MendelError (one line) for
    a folder, a missing file or binary data. An empty file passes (its
    command warns)."""
    if not os.path.isfile(path):
        raise MendelError("%s: %s" % (path, "a folder, not a G-code file"
                                      if os.path.isdir(path) else "no such G-code file"))
    sniff_gcode(path)
    return path


def _config_option(parser):
    parser.add_argument("--config", help="printer.cfg (default: the bundled i3-class "
                                          "cartesian)")


def _board_options(parser, config=True):
    """--port, --baud, --sim-realtime (and --config unless the caller adds it)."""
    if config:
        _config_option(parser)
    parser.add_argument("--port", help="serial device of a real board (default: "
                                       "printer.cfg's [board] serial, else start the "
                                       "simulated board)")
    parser.add_argument("--baud", type=int, default=250000, help="baud rate for --port")
    parser.add_argument("--sim-realtime", action="store_true",
                        help="run the simulated board's clock at wall-clock speed")
    parser.add_argument("--clear-shutdown", action="store_true",
                        help="the board is shut down since its last session: report why, "
                             "then go on")


@contextlib.contextmanager
def _board(args, cfg):
    """Yield a connected Mcu: on ``--port``, or on a fresh simulated board."""
    with contextlib.ExitStack() as stack:
        baud = args.baud
        if args.port or cfg.serial:
            # --port wins over printer.cfg's [board] serial (and its baud).
            device = args.port or cfg.serial
            baud = args.baud if args.port else cfg.baud
        else:
            if getattr(args, "step_log", None):
                folder = os.path.dirname(os.path.abspath(args.step_log))
                if os.path.isdir(args.step_log) or not os.access(folder, os.W_OK):
                    raise MendelError("cannot write the step log %s" % args.step_log)
            sim = stack.enter_context(SimBoard(cfg.board, realtime=args.sim_realtime,
                                               step_log=getattr(args, "step_log", None),
                                               plants=thermal_cli.plant_overrides(cfg),
                                               config=cfg))
            device = sim.port
        try:
            port = stack.enter_context(serial.Serial(device, baud, timeout=0.1))
        except (serial.SerialException, OSError) as exc:
            raise MendelError("cannot open the board's port %s: %s" % (device, exc)) from None
        faults = getattr(args, "sim_link_faults", None)
        if faults:
            port = FaultyPort(port, faults)
        mcu = Mcu(port)
        mcu.connect(clear_shutdown=getattr(args, "clear_shutdown", False))
        if mcu.previous_shutdown:
            print("mendel: the board had shut down: %s (cleared)" % mcu.previous_shutdown,
                  file=sys.stderr)
        yield mcu


def _sent_run_log(args, mcu):
    """With --step-log on a board that keeps no log (not the simulated one), the
    host writes the runs it sends (mendel.mcu.runlog); else None."""
    if not args.step_log or "sim_advance" in mcu.commands:
        return None
    from mendel.mcu.runlog import SentRunLog
    return SentRunLog(args.step_log, mcu.commands)


def _report_print(summary, log_where=None):
    lines = [
        "printed %s" % summary.file,
        "  lines %d, moves %d" % (summary.lines, summary.moves),
        "  print time %.1f s (simulated), wall time %.1f s, %.0fx real time"
        % (summary.print_time_s, summary.wall_time_s, summary.speedup),
    ]
    if summary.estimated_time_s is not None:
        lines.append("  planned motion %.1f s (estimate, heat-up not included), layers %d"
                     % (summary.estimated_time_s, summary.layers))
    lines += [
        "  filament %.1f mm" % summary.filament_mm,
        "  final position:",
    ]
    if summary.kinematics == "cartesian":
        for axis, mm in summary.position_mm.items():
            lines.append("    %s %10.3f mm  %9d steps" % (axis.upper(), mm,
                                                          summary.position_steps[axis]))
    else:
        # The motors are not the axes (CoreXY's A = X + Y, a delta's towers).
        lines.append("    " + "  ".join("%s %.3f" % (axis.upper(), mm)
                                        for axis, mm in summary.position_mm.items()) + " mm")
        lines.append("    motor steps (%s): " % summary.kinematics + ", ".join(
            "stepper_%s %d" % (motor, steps) if motor != "e" else "extruder %d" % steps
            for motor, steps in summary.position_steps.items()))
    peaks = ", ".join("%s %.1f C" % (name, temp)
                      for name, temp in summary.peak_temperatures.items())
    lines.append("  peak temperatures: " + peaks)
    if summary.unsupported:
        lines.append("  ignored (unsupported): " + ", ".join(
            "%s x%d" % item for item in sorted(summary.unsupported.items())))
    link = summary.link
    lines.append("  link: %d frames, %d bytes; %d damaged frames refused, %d resends"
                 % (link["frames_ok"], link["bytes_sent"], link["frames_bad"],
                    link["retransmits"]))
    error = summary.first_layer_height_error_mm
    if error:
        lines.append("  first layer: nozzle height off by max %.4f mm, rms %.4f mm "
                     "(%d extruder steps, simulated bed)"
                     % (error["max"], error["rms"], error["samples"]))
    if summary.log:
        lines.append("  run log: %s" % (log_where or summary.log))
    return "\n".join(lines)


def cmd_print(args):
    cfg = config_mod.load(args.config)
    path = _readable(args.file)
    with _metric_step_log(args, cfg) as simulated:
        with ux_session.RunSession(args, "print", path) as run, _board(args, cfg) as mcu:
            for text in cfg.warnings + [sniff_gcode(path)]:
                if text:
                    run.warn("mendel: warning: " + text)
            printer = Printer(cfg, mcu, warn=run.warn, settings=_settings(args))
            run.watch(printer)
            sent = _sent_run_log(args, mcu)
            if sent is not None:
                printer.toolhead.sent_runs = sent.add
            try:
                thermal_cli.schedule_faults(printer, args.sim_fault)
                summary = printer.print_file(path, preflight=not args.no_preflight)
            finally:
                if sent is not None:
                    sent.close()
                with contextlib.suppress(LinkError, McuShutdown, OSError):
                    printer.shutdown()
            summary.warnings = run.monitor.warnings
            summary.log = run.log_path
            run.summary = summary.__dict__
        if simulated and args.step_log:      # the board has ended: its log is whole
            summary.first_layer_height_error_mm = surface.print_figures(
                args.step_log, cfg, printer.preflight_report)
    if args.json:
        print(json.dumps(summary.__dict__, indent=2))
    else:
        print(_report_print(summary, run.log_where()))
    if summary.position_steps != summary.expected_steps:
        print("error: board step positions %s differ from the host's %s"
              % (summary.position_steps, summary.expected_steps), file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _metric_step_log(args, cfg):
    """Yield True on the simulated board. There, without --step-log, a
    printer with a simulated bed or a probe (mendel.sim.surface.wants_step_log)
    has the board write its step log to a temporary file (args.step_log) for
    the first layer's height error; the file is removed afterwards."""
    simulated = not (args.port or cfg.serial)
    if not simulated or args.step_log or not surface.wants_step_log(cfg):
        yield simulated
        return
    fd, args.step_log = tempfile.mkstemp(prefix="mendel-steps-", suffix=".log")
    os.close(fd)
    try:
        yield simulated
    finally:
        os.unlink(args.step_log)
        args.step_log = None


def _report_check(report):
    lines = ["%s: %s" % (report["file"], "fits this printer" if report["fits"]
                         else "CANNOT be printed on this printer")]
    for key in ("lines", "commands", "moves", "extrude_moves", "travel_moves", "arcs",
                "layers"):
        lines.append("  %-15s %d" % (key, report[key]))
    lines.append("  %-15s %.1f mm" % ("filament", report["filament_mm"]))
    lines.append("  %-15s %s" % ("estimated time", _duration(report["estimated_time_s"])))
    for key in ("print_bounds", "travel_bounds"):
        bounds = report[key]
        if bounds:
            lines.append("  %-15s X %.2f..%.2f  Y %.2f..%.2f  Z %.2f..%.2f mm" % (
                key.replace("_", " "), bounds["min"][0], bounds["max"][0],
                bounds["min"][1], bounds["max"][1], bounds["min"][2], bounds["max"][2]))
    if report["unsupported"]:
        lines.append("  unsupported:    " + ", ".join(
            "%s x%d" % item for item in report["unsupported"].items()))
    if report.get("objects"):
        lines.append("  objects:        " + ", ".join(report["objects"]))
    if report.get("macros"):
        lines.append("  macros:         " + ", ".join(
            "%s x%d" % item for item in report["macros"].items()))
    lines += ["  problem: " + p for p in report["problems"]]
    lines += ["  error: line %d: %s: %s" % (e["line"], e["text"], e["reason"])
              for e in report["errors"][:20]]
    lines += ["  warning: " + w for w in report["warnings"][:20]]
    return "\n".join(lines)


def _duration(seconds):
    hours, rest = divmod(int(round(seconds)), 3600)
    return "%dh %02dm %02ds" % (hours, rest // 60, rest % 60)


def cmd_check(args):
    cfg = config_mod.load(args.config)
    report = check_file(_readable(args.file), cfg, _settings(args))
    print(json.dumps(report, indent=2) if args.json else _report_check(report))
    return 0 if report["fits"] else 1


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


def cmd_console(args):
    from mendel.ux.console import Console
    cfg = config_mod.load(args.config)
    with ux_session.RunSession(args, "console", "console") as run, _board(args, cfg) as mcu:
        printer = Printer(cfg, mcu, warn=run.warn)
        run.watch(printer)
        console = Console(printer, sys.stdout, run.log)
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        print("mendel console on %s: G-code per line; Ctrl-\\ emergency stop, Ctrl-D quit%s"
              % (args.port or "the simulated board", "; run log " + run.log_where()
                 if run.log_path else ""), file=sys.stderr)
        try:
            status = console.run(sys.stdin, interactive)
        finally:
            with contextlib.suppress(LinkError, McuShutdown, OSError):
                printer.shutdown()
    return status


def cmd_plot(args):
    if plot_cli.wants_resonances(args):  # a CSV of TEST_RESONANCES: no printer config
        print("\n".join(plot_cli.run_resonances(args)))
        return 0
    if plot_cli.wants_mesh(args):       # a Klipper printer.cfg with [bed_mesh]: no motion config
        print("\n".join(plot_cli.run_mesh(args)))
        return 0
    settings = Settings()
    print("\n".join(plot_cli.run(args, config_mod.load(args.config), settings)))
    return 0


def cmd_config(args):
    from mendel.config import check as configcheck
    result = configcheck.check(args.file)
    print(json.dumps(result, indent=2) if args.json else configcheck.report(result))
    return 0 if result["ok"] else 1


def cmd_config_import(args):
    from mendel.config.klipper_import import import_klipper
    if args.output and os.path.exists(args.output) and os.path.samefile(args.output, args.file):
        raise ValueError("-o %s is the Klipper file itself: write the import elsewhere"
                         % args.output)
    result = import_klipper(args.file, args.board)
    text = result.text(args.output or "printer.cfg")
    for title, notes in (("not carried", result.gaps), ("changed", result.changes),
                         ("not applied yet", result.warnings),
                         ("refused by Mendel, left in", result.refused)):
        for note in notes:
            print("mendel: %s: %s" % (title, note), file=sys.stderr)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    print("mendel: %s%s: %s" % (
        "wrote " if args.output else "", args.output or "printer.cfg",
        "loads with Mendel's config reader" if result.loads else
        "does not load yet: fix the %d key(s) listed as refused" % len(result.refused)),
        file=sys.stderr)
    return 0 if result.loads else 1


def cmd_bench(args):
    from mendel import resources
    path = _readable(args.file or resources.example_gcode())
    if args.what == "link":
        from mendel.bench import link as module
        figures = module.bench_link(path, args.config)
    elif args.what == "firmware":
        from mendel.bench import firmware as module
        figures = module.bench_firmware(args.config, rp2040=args.rp2040)
    else:
        from mendel.bench import motion as module
        figures = module.bench_motion(path, args.config)
    print(json.dumps(figures, indent=2) if args.json else module.report(figures))
    return 0


def cmd_flash(args):
    from mendel.flash import Flash
    job = Flash(args.board, args.port, image=args.firmware_image,
                boot_drive=args.boot_drive, remote_dir=args.remote_dir, quiet=args.quiet)
    summary = job.run(dry_run=args.dry_run)
    if not args.dry_run:
        print("flashed %s on %s: %d files, %.1f KB, verified"
              % (summary["board"], summary["port"], summary["files"], summary["bytes"] / 1024))
    return 0


def cmd_selftest(args):
    from mendel.selftest import report as st_report, run as st_run
    cfg = config_mod.load(args.config)
    simulated = not (args.port or cfg.serial)
    if simulated and args.board not in (None, cfg.board):
        raise MendelError("--board %s needs --port: without it the selftest runs on the "
                          "simulated board" % args.board)
    if args.sim_fault and not simulated:
        raise MendelError("--sim-fault needs the simulated board (no --port)")
    folder = os.path.dirname(os.path.abspath(args.report))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise MendelError("cannot write the report into %s: no such folder, or not "
                          "writable" % folder)
    args.clear_shutdown = True          # a board on the bench may have stopped last time
    with tempfile.TemporaryDirectory(prefix="mendel-selftest-") as work:
        args.step_log = os.path.join(work, "steps.log") if simulated else None
        with _board(args, cfg) as mcu:
            bench = st_run.Bench(mcu, cfg, simulated, expected_board=args.board)
            try:
                results = st_run.run_checks(bench, args.sim_fault)
            finally:
                with contextlib.suppress(LinkError, McuShutdown, OSError):
                    if bench.printer is not None:
                        bench.printer.shutdown()
        results = st_run.finish(results, args.step_log, mcu.info)
    report = st_run.report(results, mcu.info, args.port or cfg.serial, simulated,
                           tester=args.tester, printed=args.printed)
    json_path, md_path = st_report.write(report, args.report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(st_report.markdown(report) + "\nwrote %s and %s" % (json_path, md_path))
    return 0 if report["passed"] else 1


def cmd_emulate(args):
    from mendel.emulate import cli as emulate_cli
    emulate_cli.run(args)
    return 0


def cmd_serve(args):
    from mendel.serve import server
    if args.no_serial_port and not args.api_socket:
        raise MendelError("--no-serial-port leaves nothing to serve: give --api-socket PATH")
    if args.no_serial_port and args.link:
        raise MendelError("--link names the serial port, and --no-serial-port serves none")
    cfg = config_mod.load(args.config)
    with _board(args, cfg) as mcu:
        return server.run(cfg, mcu, link=args.link, api_socket=args.api_socket,
                          api_mode=args.api_socket_mode, serial_port=not args.no_serial_port)


def _octal_mode(text):
    """A file mode given in octal (600, 0660); argparse's type."""
    try:
        mode = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an octal file mode such as 600" % text) \
            from None
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError("%r is not a file mode (000..777)" % text)
    return mode


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (systemd, a CI timeout, a closed terminal): stopped
    as Ctrl-C stops a command. ``signum``: the signal."""

    def __init__(self, signum):
        KeyboardInterrupt.__init__(self, signum)
        self.signum = signum


def _terminate(signum, _frame):
    raise Terminated(signum)


def main(argv=None):
    args = _parser().parse_args(argv)
    with _stop_signals():
        return _run(args)


@contextlib.contextmanager
def _stop_signals():
    """SIGTERM and SIGHUP stop a command as Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    before = {name: signal.signal(getattr(signal, name), _terminate) for name in names}
    try:
        yield
    finally:
        for name, handler in before.items():
            signal.signal(getattr(signal, name), handler)


def _run(args):
    try:
        return args.run(args)
    except Terminated as exc:
        _stopped(args, "stopped by %s; heaters off, board stopped"
                 % signal.Signals(exc.signum).name)
        return 128 + exc.signum
    except KeyboardInterrupt:
        _stopped(args, "interrupted; heaters off, board stopped")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stderr.close()
        return EXIT_ERROR
    except (config_mod.ConfigError, PrintError, LinkError, McuShutdown, SimulatorError,
            AutotuneError, TemperatureError, MendelError, serial.SerialException,
            ValueError, OSError) as exc:
        _stopped(args, "error: %s" % exc, str(exc))
        return EXIT_ERROR


def _stopped(args, text, error=None):
    """Say why the command stopped: on stderr, and with --json as ``{"error":
    ..., "log": ...}`` on stdout (labs parse it)."""
    print("mendel: " + text, file=sys.stderr)
    if getattr(args, "json", False):
        report = {"error": error or text}
        if getattr(args, "log_path", None):
            report["log"] = args.log_path
        print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
