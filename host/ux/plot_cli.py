# Mendel host: the `mendel plot` command.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``mendel plot [FILE] [--layers A-B] [--what ...] [--log RUNLOG] [--out PNG]``,
``mendel plot --mesh (--config CFG [--profile NAME] | --mesh-json FILE) [--out PNG]``,
``mendel plot --resonances CSV [--max-smoothing MM] [-o PNG]``."""
import os

from mendel.errors import MendelError
from mendel.ux import plot

MOTION_KINDS = ("velocity", "accel", "steprate")


def add_command(commands, config_option):
    """Add the ``plot`` subcommand to argparse ``commands``; returns its parser."""
    sub = commands.add_parser("plot", help="plot speed, acceleration and step rates "
                                           "along a G-code file, or a run's temperatures")
    sub.add_argument("file", nargs="?", help="G-code file (optional with --log)")
    config_option(sub)
    sub.add_argument("--layers", type=_layers, metavar="A-B",
                     help="only layers A to B (numbered from 1, as mendel check counts)")
    sub.add_argument("--what", type=_kinds, metavar="KINDS",
                     help="comma-separated: velocity, accel, steprate, temperature "
                          "(default: the motion ones with FILE, temperature with --log)")
    sub.add_argument("--log", metavar="RUNLOG",
                     help="run log of `mendel print` for the temperature plot")
    sub.add_argument("-o", "--out", metavar="PNG", help="output file (default: <name>-plot.png, "
                                                  "<name>-mesh.png with --mesh, <name>.png "
                                                       "with --resonances)")
    sub.add_argument("--mesh", action="store_true",
                     help="draw a bed mesh as a height map: the profile saved in --config, "
                          "or --mesh-json")
    sub.add_argument("--profile", default="default", metavar="NAME",
                     help="with --mesh --config: the saved [bed_mesh NAME] (default: default)")
    sub.add_argument("--mesh-json", metavar="FILE",
                     help="with --mesh: a mesh as JSON (probed, min, max, pps, algorithm)")
    sub.add_argument("--resonances", metavar="CSV",
                     help="draw a TEST_RESONANCES / SHAPER_CALIBRATE CSV (or raw accelerometer "
                          "data): the spectrum and each fitted shaper's response")
    sub.add_argument("--max-smoothing", type=float, metavar="MM",
                     help="with --resonances: the largest shaper smoothing to allow")
    return sub


def _layers(text):
    try:
        return plot.parse_layers(text)
    except plot.PlotError as exc:
        import argparse
        raise argparse.ArgumentTypeError(str(exc)) from None


def _kinds(text):
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in plot.KINDS]
    if unknown or not kinds:
        import argparse
        raise argparse.ArgumentTypeError("--what takes %s, not %r"
                                         % (", ".join(plot.KINDS), text))
    return kinds


def wants_mesh(args):
    """True for ``mendel plot --mesh`` (which reads no printer config for motion)."""
    return bool(args.mesh or args.mesh_json)


def run_mesh(args):
    """Draw the bed mesh; returns the lines to print. Raises MendelError for bad use."""
    from mendel.probing import MeshError
    from mendel.ux import plot_mesh
    if args.file or args.log or args.what or args.layers:
        raise MendelError("mendel plot --mesh draws only the mesh: drop FILE, --log, "
                          "--what and --layers")
    source = args.mesh_json or args.config
    if not source or (args.mesh_json and args.config):
        raise MendelError("mendel plot --mesh needs one source: --config printer.cfg (its "
                          "saved [bed_mesh %s]) or --mesh-json FILE" % args.profile)
    _need_matplotlib()
    try:
        if args.mesh_json:
            mesh, name = plot_mesh.mesh_from_json(args.mesh_json), os.path.basename(source)
        else:
            mesh = plot_mesh.mesh_from_config(args.config, args.profile)
            name = "%s [bed_mesh %s]" % (os.path.basename(source), args.profile)
    except (OSError, MeshError) as exc:
        raise MendelError(str(exc)) from None
    out = args.out or os.path.splitext(os.path.basename(source))[0] + "-mesh.png"
    plot_mesh.render_mesh(out, mesh, name)
    (min_x, min_y), (max_x, max_y) = mesh.bounds
    low, high = mesh.z_range()
    ny, nx = mesh.probed.shape
    return ["wrote %s" % out,
            "bed mesh %s: %d x %d probed points over X %.2f .. %.2f, Y %.2f .. %.2f mm; "
            "heights %.4f .. %.4f mm (range %.4f mm)"
            % (name, nx, ny, min_x, max_x, min_y, max_y, low, high, high - low)]


def wants_resonances(args):
    """True for ``mendel plot --resonances`` (which reads no printer config)."""
    return bool(args.resonances)


def run_resonances(args):
    """Fit and draw a resonance measurement; returns the lines to print
    (Klipper's calibrate_shaper.py lines, then the file written). Raises
    MendelError for bad use or a file that cannot be read."""
    from mendel.shaping.calibrate import CalibrationError
    from mendel.ux import plot_resonances
    if args.file or args.log or args.what or args.layers or wants_mesh(args):
        raise MendelError("mendel plot --resonances draws only the resonances: drop FILE, "
                          "--log, --what, --layers and --mesh")
    if args.max_smoothing is not None and args.max_smoothing < 0.05:
        raise MendelError("--max-smoothing must be at least 0.05 mm, not %g"
                          % args.max_smoothing)
    _need_matplotlib()
    try:
        chart = plot_resonances.resonance_chart(args.resonances, args.max_smoothing)
    except (OSError, CalibrationError) as exc:
        raise MendelError(str(exc)) from None
    out = args.out or os.path.splitext(os.path.basename(args.resonances))[0] + ".png"
    plot_resonances.render_resonances(out, chart)
    return chart["lines"] + ["wrote %s" % out]


def _need_matplotlib():
    try:
        import matplotlib  # noqa: F401  (the "plot" extra of setup.py)
    except ImportError:
        # Mendel is not on PyPI: the extra installs from the clone, not by name.
        raise MendelError("mendel plot needs matplotlib: pip install matplotlib (or, in "
                          "the Mendel clone, pip install '.[plot]')") from None


def run(args, config, settings):
    """Make the plot; returns the lines to print. Raises MendelError for bad use."""
    kinds = args.what or ((MOTION_KINDS if args.file else ())
                          + (("temperature",) if args.log else ()))
    if not kinds:
        raise MendelError("mendel plot needs a G-code FILE, a run log (--log), or both")
    if set(kinds) & set(MOTION_KINDS) and not args.file:
        raise MendelError("velocity, accel and steprate plots need a G-code FILE")
    if "temperature" in kinds and not args.log:
        raise MendelError("the temperature plot needs a run log: --log RUNLOG")
    _need_matplotlib()
    name = args.file or args.log
    out = args.out or os.path.splitext(os.path.basename(name))[0] + "-plot.png"
    lines = []
    profile = temps = None
    try:
        if set(kinds) & set(MOTION_KINDS):
            planned = plot.planned_moves(args.file, config, settings)
            profile = plot.motion_profile(planned, config.steps_per_mm(),
                                          list(config.steppers), args.layers)
            lines.append(_motion_line(profile, args.layers))
        if "temperature" in kinds:
            temps = plot.temperatures(args.log)
            lines.append("temperatures: " + ", ".join(
                "%s %d readings, peak %.1f C" % (heater, len(values), max(values))
                for heater, (_t, values, _targets) in temps.items()))
    except plot.PlotError as exc:
        raise MendelError(str(exc)) from None
    title = os.path.basename(name) + (" layers %d-%d" % args.layers if args.layers else "")
    plot.render(out, profile, temps, kinds, title)
    return ["wrote %s" % out] + lines


def _motion_line(profile, layers):
    rates = ", ".join("%s %.0f" % (motor.upper(), max(rate))
                      for motor, rate in profile["steprate"].items())
    return ("%d moves%s over %.1f s planned: peak speed %.1f mm/s, peak step rates/s %s"
            % (profile["moves"], " in layers %d-%d" % layers if layers else "",
               profile["time_s"][-1] - profile["time_s"][0], max(profile["velocity"]),
               rates))
