# Mendel host: `mendel config check`.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load and validate a printer.cfg; summarise it, or list its problems.

:func:`check` returns a dict: ``ok``, ``file``, and either ``errors`` (list
of ``{file, line, section, key, message}``) or the summary: ``board`` (id,
name, mcu, serial), ``kinematics`` and ``kinematics_params`` (delta geometry,
mm and degrees), ``limits`` (mm/s, mm/s^2), ``steppers``
(name -> motor, steps_per_mm, position_min/max/endstop mm, homing_speed
mm/s, pins), ``extruder`` (nozzle/filament diameter mm, pressure_advance and
pressure_advance_smooth_time s), ``input_shaper`` (per axis shaper_type,
shaper_freq Hz, damping_ratio; None without the section),
``heaters`` (name -> sensor_type, control, gains, min/max_temp degC, pins),
``fan``, ``macros`` (name -> description, variables, file:line),
``homing`` per stepper in ``steppers`` (endstop, speeds mm/s, retract mm,
direction), ``probe``, ``safe_z_home``, ``homing_override``, ``bed_mesh``
(their settings, or None), ``mesh_profiles`` (name -> x_count, y_count) and
``warnings`` (read but not applied: the bed mesh algorithm).
"""
import dataclasses

from mendel import config as config_mod
from mendel.boards import BoardError, load_board
from mendel.config.pins import HEATER_KEYS, STEPPER_KEYS


def check(path):
    """Validate printer.cfg ``path``; the report dict (see the module doc)."""
    try:
        cfg = config_mod.load(path)
    except config_mod.ConfigError as exc:
        return {"ok": False, "file": path,
                "errors": [{"file": p.path, "line": p.line, "section": p.section,
                            "key": p.key, "message": p.message} for p in exc.problems]}
    return dict(ok=True, file=path, **summary(cfg))


def _pins(cfg, section, keys):
    return {key: str(cfg.pins["[%s] %s" % (section, key)]) for key in keys
            if "[%s] %s" % (section, key) in cfg.pins}


def summary(cfg):
    """The summary part of the report for a loaded PrinterConfig."""
    try:
        board = load_board(cfg.board)
    except BoardError:
        board = {}
    heaters = {}
    for name, heater in cfg.heaters.items():
        heaters[name] = {
            "sensor_type": heater.sensor_type, "control": heater.control,
            "pid_kp": heater.pid_kp, "pid_ki": heater.pid_ki, "pid_kd": heater.pid_kd,
            "min_temp": heater.min_temp, "max_temp": heater.max_temp,
            "pins": _pins(cfg, name, HEATER_KEYS)}
    return {
        "board": {"id": cfg.board, "name": board.get("name"), "mcu": board.get("mcu"),
                  "serial": cfg.serial},
        "kinematics": cfg.kinematics,
        "limits": {"max_velocity": cfg.max_velocity, "max_accel": cfg.max_accel,
                   "square_corner_velocity": cfg.square_corner_velocity,
                   "max_z_velocity": cfg.max_z_velocity, "max_z_accel": cfg.max_z_accel,
                   "minimum_cruise_ratio": cfg.minimum_cruise_ratio},
        "kinematics_params": dict(cfg.kinematics_params),
        "steppers": {s.name: {"motor": s.motor, "steps_per_mm": round(s.steps_per_mm, 6),
                              "position_min": s.position_min, "position_max": s.position_max,
                              "position_endstop": s.position_endstop,
                              "homing_speed": s.homing_speed,
                              **_homing(s),
                              "pins": _pins(cfg, s.name, STEPPER_KEYS)}
                     for s in cfg.steppers.values()},
        "extruder": {"nozzle_diameter": cfg.extrusion.nozzle_diameter,
                     "filament_diameter": cfg.extrusion.filament_diameter,
                     "pressure_advance": cfg.pressure_advance,
                     "pressure_advance_smooth_time": cfg.pressure_advance_smooth_time},
        "input_shaper": None if cfg.input_shaper is None else {
            axis: {"shaper_type": kind, "shaper_freq": freq, "damping_ratio": damping}
            for axis, kind, freq, damping in cfg.input_shaper.axes()},
        "heaters": heaters,
        "fan": {"name": cfg.fan, "pins": _pins(cfg, "fan", ("pin",))},
        "macros": {m.name: {"description": m.description, "variables": m.variables,
                            "where": m.where()} for m in (cfg.macros or ())},
        **_levelling(cfg),
        "printjob": _printjob(cfg),
        "warnings": list(cfg.warnings),
    }


_HOMING_KEYS = ("second_homing_speed", "homing_retract_dist", "homing_retract_speed",
                "homing_positive_dir", "dir_inverted", "endstop", "endstop_inverted",
                "endstop_pull")


def _homing(stepper):
    return {key: getattr(stepper, key) for key in _HOMING_KEYS}


def _plain(obj, leave_out=()):
    """A dataclass as a JSON-ready dict (tuples as lists)."""
    if obj is None:
        return None
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(obj).items() if key not in leave_out}


def _levelling(cfg):
    override = cfg.homing_override
    return {
        "probe": _plain(cfg.probe),
        "safe_z_home": _plain(cfg.safe_z_home),
        "homing_override": None if override is None else {
            "axes": override.axes, "set_position": override.set_position,
            "where": override.macro.where()},
        "bed_mesh": _plain(cfg.bed_mesh),
        "mesh_profiles": {name: {"x_count": p["x_count"], "y_count": p["y_count"]}
                          for name, p in cfg.mesh_profiles.items()},
    }


def report(result):
    """``check``'s dict as text for a terminal."""
    if not result["ok"]:
        lines = ["%s: %d error(s)" % (result["file"], len(result["errors"]))]
        return "\n".join(lines + ["  " + str(config_mod.Problem(
            e["file"], e["line"], e["section"], e["key"], e["message"]))
            for e in result["errors"]])
    board = result["board"]
    lines = ["%s: OK" % result["file"],
             "  board        %s (%s, %s)%s" % (board["id"], board["name"], board["mcu"],
                                               ", serial " + board["serial"]
                                               if board["serial"] else ""),
             "  kinematics   %s%s" % (result["kinematics"], "".join(
                 "; %s %s" % item for item in result["kinematics_params"].items())),
             "  limits       %s" % ", ".join("%s %g" % item
                                             for item in result["limits"].items())]
    for name, stepper in result["steppers"].items():
        travel = ("" if name == "extruder" else ", %g..%g mm, endstop at %g mm" % (
            stepper["position_min"], stepper["position_max"], stepper["position_endstop"]))
        lines.append("  %-12s motor %s, %.3f steps/mm%s%s" % (
            name, stepper["motor"], stepper["steps_per_mm"], travel, _pin_text(stepper)))
        if stepper.get("endstop"):
            lines.append("  %-12s %s" % ("", _homing_text(stepper)))
    for name, heater in result["heaters"].items():
        lines.append("  %-12s %s, %s, %g..%g C%s" % (
            name, heater["sensor_type"], heater["control"], heater["min_temp"],
            heater["max_temp"], _pin_text(heater)))
    lines.append("  %-12s %s%s" % ("fan", result["fan"]["name"], _pin_text(result["fan"])))
    lines += _tuning_text(result)
    for name, macro in result["macros"].items():
        lines.append("  macro        %s (%s): %s" % (name, macro["where"],
                                                    macro["description"]))
    lines += _levelling_text(result)
    lines += _printjob_text(result)
    lines += ["  warning: " + w for w in result["warnings"]]
    return "\n".join(lines)


def _tuning_text(result):
    """Pressure advance and input shaping, as they are applied."""
    extruder = result["extruder"]
    lines = []
    if extruder["pressure_advance"]:
        lines.append("  %-12s pressure_advance %g s, smoothed over %g s (applied)"
                     % ("extruder", extruder["pressure_advance"],
                        extruder["pressure_advance_smooth_time"]))
    shaper = result.get("input_shaper")
    if shaper:
        lines.append("  %-12s %s (applied)" % ("input_shaper", "; ".join(
            "%s: %s at %g Hz, damping_ratio %g" % (axis, a["shaper_type"], a["shaper_freq"],
                                                   a["damping_ratio"])
            if a["shaper_freq"] else "%s: off" % axis for axis, a in shaper.items())))
    return lines


def _homing_text(stepper):
    return "endstop %s (%s), homes towards %s at %g/%g mm/s, retract %g mm at %g mm/s%s" % (
        stepper["endstop"], stepper["pins"].get("endstop_pin", "probe"),
        "+" if stepper["homing_positive_dir"] else "-", stepper["homing_speed"],
        stepper["second_homing_speed"], stepper["homing_retract_dist"],
        stepper["homing_retract_speed"], ", dir inverted" if stepper["dir_inverted"] else "")


def _printjob(cfg):
    job = cfg.printjob
    if job is None:
        return None
    return {"virtual_sdcard": _plain(job.virtual_sdcard),
            "recover_velocity": job.recover_velocity, "idle_timeout": job.idle_timeout}


def _printjob_text(result):
    job = result.get("printjob")
    if not job or not job["virtual_sdcard"]:
        return []
    return ["  %-12s %s (mendel serve); RESUME at %g mm/s; idle timeout %g s" % (
        "sdcard", job["virtual_sdcard"]["path"], job["recover_velocity"],
        job["idle_timeout"])]


def _levelling_text(result):
    lines = []
    probe = result.get("probe")
    if probe:
        lines.append("  %-12s %s on endstop %s, offset %g, %g, %g mm, %g mm/s, %d sample(s) "
                     "(%s)" % ("probe", probe["kind"], probe["pin"], probe["x_offset"],
                               probe["y_offset"], probe["z_offset"], probe["speed"],
                               probe["samples"], probe["samples_result"]))
    home = result.get("safe_z_home")
    if home:
        lines.append("  %-12s Z homes at %g, %g mm, z_hop %g mm" % (
            "safe_z_home", *home["home_xy_position"], home["z_hop"]))
    override = result.get("homing_override")
    if override:
        lines.append("  %-12s G28 of %s runs %s" % ("homing_override", override["axes"],
                                                    override["where"]))
    mesh = result.get("bed_mesh")
    if mesh:
        where = ("radius %g mm around %g, %g" % (mesh["mesh_radius"], *mesh["mesh_origin"])
                 if mesh["mesh_radius"] else "%g, %g .. %g, %g mm" % (
                     *mesh["mesh_min"], *mesh["mesh_max"]))
        lines.append("  %-12s %s, %d x %d points, %s" % (
            "bed_mesh", where, *mesh["probe_count"], mesh["algorithm"]))
    for name, profile in result.get("mesh_profiles", {}).items():
        lines.append("  mesh profile %s: %d x %d points (saved)" % (
            name, profile["x_count"], profile["y_count"]))
    return lines


def _pin_text(entry):
    pins = entry.get("pins")
    if not pins:
        return ""
    return "; " + " ".join("%s=%s" % item for item in pins.items())
