# Mendel host: `mendel config check`.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load and validate a printer.cfg; summarise it, or list its problems.

:func:`check` returns a dict: ``ok``, ``file``, and either ``errors`` (list
of ``{file, line, section, key, message}``) or the summary: ``board`` (id,
name, mcu, serial), ``kinematics`` and ``kinematics_params`` (delta geometry,
mm and degrees), ``limits`` (mm/s, mm/s^2), ``steppers``
(name -> motor, steps_per_mm, position_min/max/endstop mm, homing_speed
mm/s, pins), ``extruder`` (nozzle/filament diameter mm, pressure_advance s),
``heaters`` (name -> sensor_type, control, gains, min/max_temp degC, pins),
``fan``, ``macros`` (name -> description, variables, file:line) and
``warnings`` (read but not applied: pressure advance, endstops).
"""
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
                              "pins": _pins(cfg, s.name, STEPPER_KEYS)}
                     for s in cfg.steppers.values()},
        "extruder": {"nozzle_diameter": cfg.extrusion.nozzle_diameter,
                     "filament_diameter": cfg.extrusion.filament_diameter,
                     "pressure_advance": cfg.pressure_advance},
        "heaters": heaters,
        "fan": {"name": cfg.fan, "pins": _pins(cfg, "fan", ("pin",))},
        "macros": {m.name: {"description": m.description, "variables": m.variables,
                            "where": m.where()} for m in (cfg.macros or ())},
        "warnings": list(cfg.warnings),
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
    for name, heater in result["heaters"].items():
        lines.append("  %-12s %s, %s, %g..%g C%s" % (
            name, heater["sensor_type"], heater["control"], heater["min_temp"],
            heater["max_temp"], _pin_text(heater)))
    lines.append("  %-12s %s%s" % ("fan", result["fan"]["name"], _pin_text(result["fan"])))
    for name, macro in result["macros"].items():
        lines.append("  macro        %s (%s): %s" % (name, macro["where"],
                                                    macro["description"]))
    lines += ["  warning: " + w for w in result["warnings"]]
    return "\n".join(lines)


def _pin_text(entry):
    pins = entry.get("pins")
    if not pins:
        return ""
    return "; " + " ".join("%s=%s" % item for item in pins.items())
