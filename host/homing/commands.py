# Mendel host: the G-code commands of homing.
# SPDX-License-Identifier: GPL-3.0-or-later
"""G28 (with ``[safe_z_home]`` and ``[homing_override]``),
SET_KINEMATIC_POSITION, QUERY_ENDSTOPS and M119, as Klipper users know them.

``[homing_override]`` runs its G-code in place of G28 when G28 asks for
any of its ``axes``; a G28 inside it homes for real. Its
``set_position_x/y/z`` declare those axes' positions (homed) first.

``[safe_z_home]`` (Klipper's Config_Reference):

* ``z_hop`` mm is lifted before any homing: by ``z_hop`` from wherever Z is
  when Z is not homed (a move of unknown start, unchecked), or up to
  ``z_hop`` when Z is homed and lower;
* X and Y home as asked; Z homes at ``home_xy_position`` (the nozzle's X,
  Y), reached at ``speed``, which needs X and Y homed first;
* after Z, the toolhead lifts to ``z_hop`` again, and with
  ``move_to_previous`` returns to the X, Y it had before.
"""
import contextlib

from mendel.errors import CommandError


class HomingCommandError(CommandError):
    """A homing command that cannot run as given."""


def g28(interpreter, axes):
    """G28 ``axes`` ("XYZ" letters, all when none given) for ``interpreter``;
    returns the axes homed."""
    machine = interpreter.machine
    config = getattr(machine, "config", None)
    override = getattr(config, "homing_override", None)
    if override is not None and not getattr(interpreter, "_in_homing_override", False) \
            and any(axis.lower() in override.axes for axis in axes):
        return _override(interpreter, override, axes)
    safe = getattr(config, "safe_z_home", None)
    with _unadjusted(machine):
        if safe is None:
            return machine.home(axes)
        return _safe_z_home(interpreter, safe, axes)


def _unadjusted(machine):
    """Homing's own moves are not adjusted by a bed mesh (Klipper's manual
    moves): the machine's ``unadjusted_moves()`` context, where it has one
    (looked up on its class: test machines answer any name)."""
    hook = getattr(type(machine), "unadjusted_moves", None)
    return hook(machine) if hook is not None else contextlib.nullcontext()


def _override(interpreter, override, axes):
    machine = interpreter.machine
    if override.set_position:
        machine.set_kinematic_position(dict(override.set_position),
                                       set_homed="".join(override.set_position), clear_homed="")
        interpreter.homed_axes.update(override.set_position)
    interpreter._in_homing_override = True
    try:
        params = " ".join(axes) if len(axes) < 3 else ""
        interpreter.macros.run_macro(interpreter, override.macro, params)
    finally:
        interpreter._in_homing_override = False
    return sorted(interpreter.homed_axes)


def _safe_z_home(interpreter, safe, axes):
    machine = interpreter.machine
    homed = set(interpreter.homed_axes)
    if safe.z_hop > 0.0:
        position = list(machine.position)
        if "z" not in homed:
            machine.lift(safe.z_hop, safe.z_hop_speed)
        elif position[2] < safe.z_hop:
            position[2] = safe.z_hop
            machine.move(position, safe.z_hop_speed)
    done = []
    xy = [axis for axis in axes if axis.upper() in "XY"]
    if xy:
        done += machine.home(xy) or xy
        homed.update(axis.lower() for axis in done)
    if "Z" not in [axis.upper() for axis in axes]:
        return done
    if not {"x", "y"} <= homed:
        raise HomingCommandError("Must home X and Y axes first")
    previous = list(machine.position)
    target = list(previous)
    target[0], target[1] = safe.home_xy_position
    machine.move(target, safe.speed)
    done += machine.home(["Z"]) or ["Z"]
    if safe.z_hop > 0.0:
        lifted = list(machine.position)
        lifted[2] = safe.z_hop
        machine.move(lifted, safe.z_hop_speed)
    if safe.move_to_previous:
        back = list(machine.position)
        back[0], back[1] = previous[0], previous[1]
        machine.move(back, safe.speed)
    return done


def set_kinematic_position(interpreter, args):
    """SET_KINEMATIC_POSITION [X=] [Y=] [Z=] [SET_HOMED=xyz] [CLEAR_HOMED=]."""
    values = {}
    for key, value in args.items():
        if key in ("X", "Y", "Z"):
            values[key.lower()] = value
        elif key not in ("SET_HOMED", "CLEAR_HOMED"):
            raise HomingCommandError("SET_KINEMATIC_POSITION has no parameter %s" % key)
    set_homed = _axes(args.get("SET_HOMED", "xyz"), "SET_HOMED")
    clear_homed = _axes(args.get("CLEAR_HOMED", ""), "CLEAR_HOMED")
    interpreter.machine.set_kinematic_position(values, set_homed, clear_homed)
    interpreter.homed_axes.update(set_homed)
    interpreter.homed_axes.difference_update(clear_homed)
    return values


def _axes(text, key):
    axes = str(text).strip().lower()
    if any(axis not in "xyz" for axis in axes):
        raise HomingCommandError("%s=%s: axes are letters of xyz" % (key, text))
    return axes


def query_endstops(machine):
    """QUERY_ENDSTOPS: ``x:open y:open z:TRIGGERED`` (Klipper's words)."""
    return " ".join("%s:%s" % (name, "TRIGGERED" if on else "open")
                    for name, on in machine.query_endstops())


def m119(machine):
    """M119 as Marlin reports it (OctoPrint shows it): one line per endstop,
    ``x_min`` or ``x_max`` by the side its axis homes to (a delta: up)."""
    lines = ["Reporting endstop status"]
    at_top = {getattr(s, "endstop", None): s.homing_positive_dir
              for s in machine.config.steppers.values()}
    for name, on in machine.query_endstops():
        if name in at_top and name != "probe":      # Z on the probe: Marlin's probe line
            name += "_max" if at_top[name] else "_min"
        lines.append("%s: %s" % (name, "TRIGGERED" if on else "open"))
    return lines
