# Mendel host: the G-code commands of the bed mesh.
# SPDX-License-Identifier: GPL-3.0-or-later
"""BED_MESH_CALIBRATE, BED_MESH_PROFILE, BED_MESH_CLEAR, BED_MESH_OUTPUT and
BED_MESH_MAP with Klipper's parameters; the machine's ``bed_mesh`` (a
:class:`~mendel.probing.bed_mesh.BedMesh`, or a
:class:`~mendel.probing.bed_mesh.CheckedBedMesh` under ``mendel check``)
does the work. Each line's parameters are all checked before anything
moves; an unknown parameter is an error.

``BED_MESH_CALIBRATE ADAPTIVE=1`` probes around the polygons of the
file's EXCLUDE_OBJECT_DEFINE lines (``interpreter.exclude_object``).
"""
from mendel.gcode.params import key_values
from mendel.probing.bed_mesh import BedMeshError, plan

# BED_MESH_CALIBRATE parameters passed on to Probe.run, and their types.
PROBE_PARAMETERS = {"PROBE_SPEED": ("speed", float), "SAMPLES": ("samples", int),
                    "SAMPLE_RETRACT_DIST": ("retract", float),
                    "SAMPLES_RESULT": ("result", str), "SAMPLES_TOLERANCE": ("tolerance", float),
                    "SAMPLES_TOLERANCE_RETRIES": ("retries", int)}
MESH_PARAMETERS = ("PROFILE", "METHOD", "ADAPTIVE", "ADAPTIVE_MARGIN", "MESH_MIN", "MESH_MAX",
                   "PROBE_COUNT", "ALGORITHM", "MESH_PPS", "HORIZONTAL_MOVE_Z")


def handlers(interpreter):
    """``{command: handler(command)}`` for ``interpreter``'s handler table."""
    def run(action):
        return lambda command: action(interpreter, key_values(command.text, command.code))

    return {"BED_MESH_CALIBRATE": run(calibrate), "BED_MESH_PROFILE": run(profile),
            "BED_MESH_CLEAR": run(clear), "BED_MESH_OUTPUT": run(output),
            "BED_MESH_MAP": run(mesh_map)}


def g29(interpreter, command):
    """Marlin's G29 (automatic bed levelling) in a slicer's start code, when
    printer.cfg has no ``[gcode_macro G29]`` (that one runs instead): on a
    printer with a probe and ``[bed_mesh]``, BED_MESH_CALIBRATE (said once);
    else a known command this printer cannot run (counted and reported)."""
    machine = interpreter.machine
    config = getattr(machine, "config", None)
    if getattr(machine, "bed_mesh", None) is None or getattr(config, "probe", None) is None:
        interpreter.ignored["G29"] = interpreter.ignored.get("G29", 0) + 1
        return
    if not getattr(interpreter, "_g29_said", False):
        interpreter._g29_said = True
        interpreter.warn("%s:%d: G29 runs BED_MESH_CALIBRATE (Marlin's automatic bed "
                         "levelling; a [gcode_macro G29] replaces it)"
                         % (interpreter.filename, command.lineno))
    calibrate(interpreter, {})


def calibrate(interpreter, args):
    """BED_MESH_CALIBRATE [PROFILE=] [METHOD=automatic] [ADAPTIVE=1]
    [ADAPTIVE_MARGIN=] [MESH_MIN=x,y] [MESH_MAX=x,y] [PROBE_COUNT=n|nx,ny]
    [ALGORITHM=] [MESH_PPS=n|nx,ny] [HORIZONTAL_MOVE_Z=] and the probe's
    PROBE_SPEED, SAMPLES, SAMPLE_RETRACT_DIST, SAMPLES_RESULT,
    SAMPLES_TOLERANCE, SAMPLES_TOLERANCE_RETRIES."""
    unknown = [key for key in args if key not in MESH_PARAMETERS and key not in PROBE_PARAMETERS]
    if unknown:
        raise BedMeshError("BED_MESH_CALIBRATE has no parameter %s" % ", ".join(unknown))
    method = args.get("METHOD", "automatic").lower()
    if method != "automatic":
        raise BedMeshError("BED_MESH_CALIBRATE METHOD=%s: Mendel probes only with "
                           "METHOD=automatic" % args["METHOD"])
    overrides = {"probe": {name: _typed(key, args[key], kind)
                           for key, (name, kind) in PROBE_PARAMETERS.items() if key in args}}
    if "PROFILE" in args:
        overrides["profile"] = args["PROFILE"]
    for key, name, count, kind in (("MESH_MIN", "mesh_min", 2, float),
                                   ("MESH_MAX", "mesh_max", 2, float),
                                   ("PROBE_COUNT", "probe_count", 0, int),
                                   ("MESH_PPS", "mesh_pps", 0, int)):
        if key in args:
            overrides[name] = _pair(key, args[key], count, kind)
    if "ALGORITHM" in args:
        overrides["algorithm"] = args["ALGORITHM"].lower()
    if "HORIZONTAL_MOVE_Z" in args:
        overrides["horizontal_move_z"] = _typed("HORIZONTAL_MOVE_Z", args["HORIZONTAL_MOVE_Z"],
                                                float)
    adaptive = _typed("ADAPTIVE", args.get("ADAPTIVE", "0"), int)
    margin = _typed("ADAPTIVE_MARGIN", args["ADAPTIVE_MARGIN"], float) \
        if "ADAPTIVE_MARGIN" in args else None
    objects = None
    machine = interpreter.machine
    if adaptive:
        objects = interpreter.exclude_object.polygons()
        if not objects:
            machine.respond("bed_mesh: ADAPTIVE=1 but the file defines no objects "
                            "(EXCLUDE_OBJECT_DEFINE POLYGON=): probing the full mesh")
    mesh = _mesh(machine)
    calibration = plan(mesh.settings, overrides, objects, margin)
    _reply(machine, mesh.calibrate(calibration, respond=machine.respond))
    _resync(interpreter)


def profile(interpreter, args):
    """BED_MESH_PROFILE LOAD=name | SAVE=name | REMOVE=name (one of them)."""
    actions = [key for key in ("LOAD", "SAVE", "REMOVE") if key in args]
    if len(actions) != 1 or len(args) != 1 or not args[actions[0]]:
        raise BedMeshError("BED_MESH_PROFILE takes one of LOAD=name, SAVE=name, REMOVE=name")
    key = actions[0]
    name = args[key]
    mesh = _mesh(interpreter.machine)
    if key == "LOAD":
        mesh.load(name)
        _resync(interpreter)
    elif key == "SAVE":
        _reply(interpreter.machine, mesh.save(name))
    else:
        _reply(interpreter.machine, mesh.remove(name))


def clear(interpreter, args):
    """BED_MESH_CLEAR: no more correction; the G-code Z becomes the toolhead's."""
    _no_arguments("BED_MESH_CLEAR", args)
    _mesh(interpreter.machine).clear()
    _resync(interpreter)


def output(interpreter, args):
    """BED_MESH_OUTPUT [PGP=1]."""
    pgp = _typed("PGP", args.pop("PGP", "0"), int)
    _no_arguments("BED_MESH_OUTPUT", args)
    _reply(interpreter.machine, _mesh(interpreter.machine).output(bool(pgp)))


def mesh_map(interpreter, args):
    """BED_MESH_MAP: the mesh in use as JSON."""
    _no_arguments("BED_MESH_MAP", args)
    _reply(interpreter.machine, _mesh(interpreter.machine).map_json())


def _mesh(machine):
    mesh = getattr(machine, "bed_mesh", None)
    if mesh is None:
        raise BedMeshError("this printer has no [bed_mesh] section")
    return mesh


def _resync(interpreter):
    """The mesh changed under the toolhead (or it moved to probe): the
    interpreter's X, Y, Z become the machine's G-code position, as Klipper
    resets its G-code position after a mesh change."""
    interpreter.position[:3] = interpreter.machine.position[:3]


def _reply(machine, text):
    for line in (text or "").splitlines():
        machine.respond(line)


def _no_arguments(name, args):
    if args:
        raise BedMeshError("%s has no parameter %s" % (name, ", ".join(args)))


def _typed(key, value, kind):
    try:
        return kind(value)
    except ValueError:
        raise BedMeshError("%s=%s is not %s" % (key, value, "a whole number" if kind is int
                                                  else "a number")) from None


def _pair(key, value, count, kind):
    """``x,y`` (``count`` 2) or one value for both (``count`` 0)."""
    parts = [part for part in value.split(",") if part.strip()]
    if len(parts) == 1 and count == 0:
        parts = parts * 2
    if len(parts) != 2:
        raise BedMeshError("%s=%s: give two values, x,y" % (key, value))
    return tuple(_typed(key, part, kind) for part in parts)
