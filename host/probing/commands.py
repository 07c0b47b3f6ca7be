# Mendel host: the G-code commands of a Z probe, and SAVE_CONFIG.
# SPDX-License-Identifier: GPL-3.0-or-later
"""PROBE, QUERY_PROBE, PROBE_ACCURACY, PROBE_CALIBRATE (with TESTZ, ACCEPT,
ABORT), Z_OFFSET_APPLY_PROBE, BLTOUCH_DEBUG and SAVE_CONFIG, as Klipper's
G-Codes.md describes them, with its reply lines. Units: mm, mm/s.

Each command reads and checks all its ``KEY=VALUE`` arguments first
(:class:`mendel.gcode.params.Params`), then acts on the machine's
``probing`` (a :class:`ProbeCommands` of a :class:`mendel.machine.printer.Printer`).
A machine without one (``mendel check``'s) gets the checks only: the
command is known and its arguments valid, nothing moves.

* ``PROBE``: ``Result is z=<nozzle Z at the trigger>``, after one ``probe at
  X,Y is z=Z`` line per sample.
* ``PROBE_CALIBRATE`` probes, lifts :data:`CALIBRATE_LIFT_MM`, moves the
  nozzle over the point the probe touched and starts a manual probe
  (:mod:`mendel.probing.manual`); on ``ACCEPT`` the new z_offset is the
  probed Z minus the Z the user lowered the nozzle to, pending for
  SAVE_CONFIG under the probe's section ([probe] or [bltouch]).
* ``Z_OFFSET_APPLY_PROBE``: z_offset minus the G-code Z offset
  (SET_GCODE_OFFSET / M290), pending for SAVE_CONFIG.
* ``BLTOUCH_DEBUG COMMAND=pin_down|pin_up`` drives the pin; Mendel's
  firmware has no servo signal for the BLTouch's other modes, so those
  are errors.
"""
import statistics

from mendel.config import saving
from mendel.config.autosave import AutosaveError
from mendel.errors import CommandError
from mendel.gcode.params import Params, ParamError
from mendel.probing.manual import ManualProbe, ManualProbeError
from mendel.probing.probe import Probe, ProbeError

CALIBRATE_LIFT_MM = 5.0      # PROBE_CALIBRATE lifts this far before the manual probe (Klipper)
ACCURACY_SAMPLES = 10        # PROBE_ACCURACY's default SAMPLES (Klipper)
PROBE_KEYS = ("PROBE_SPEED", "LIFT_SPEED", "SAMPLES", "SAMPLE_RETRACT_DIST", "SAMPLES_RESULT",
              "SAMPLES_TOLERANCE", "SAMPLES_TOLERANCE_RETRIES")
ACCURACY_KEYS = ("PROBE_SPEED", "LIFT_SPEED", "SAMPLES", "SAMPLE_RETRACT_DIST")
BLTOUCH_DRIVEN = ("pin_down", "pin_up")
# Klipper's BLTOUCH_DEBUG commands that need servo signals Mendel does not send.
BLTOUCH_OTHER = ("touch_mode", "self_test", "reset", "set_5V_output_mode",
                 "set_OD_output_mode", "output_mode_store")
SAVE_LINES = ("The SAVE_CONFIG command will update the printer config file with the above",
              "(Mendel reads it back at once: no restart).")


class ProbeCommands:
    """A printer's probing state: its Probe (made when first used) and a
    manual probe in progress (PROBE_CALIBRATE until ACCEPT / ABORT)."""

    def __init__(self, machine):
        self.machine = machine
        self._probe = None
        self.manual = None           # ManualProbe while PROBE_CALIBRATE waits
        self.calibrate_z = None      # the probed nozzle Z of that PROBE_CALIBRATE (mm)

    @property
    def probe(self):
        """The Probe on the machine's toolhead. Raises ProbeError."""
        if self._probe is None:
            self._probe = Probe(self.machine.toolhead)
        return self._probe


def handlers(interpreter):
    """{command: handler(command)} of these commands for ``interpreter``."""
    return {code: _bound(function, interpreter) for code, function in _COMMANDS.items()}


def _bound(function, interpreter):
    return lambda command: function(interpreter, command)


def _runtime(interpreter):
    return getattr(interpreter.machine, "probing", None)


def _probe_config(interpreter, code):
    probe = getattr(interpreter.machine.config, "probe", None)
    if probe is None:
        raise ProbeError("%s: this printer has no probe: add a [probe] or [bltouch] section"
                         % code)
    return probe


def _sync(interpreter):
    """The interpreter's position follows the moves a command made."""
    interpreter.position[:3] = interpreter.machine.position[:3]


def _probe_args(params):
    """Probe.run keyword arguments from PROBE-style parameters."""
    result = params.get("SAMPLES_RESULT")
    if result is not None and result.lower() not in ("average", "median"):
        raise ParamError("%s: SAMPLES_RESULT must be average or median, not %s"
                         % (params.code, result))
    return {"speed": params.get_float("PROBE_SPEED", above=0.0),
            "lift_speed": params.get_float("LIFT_SPEED", above=0.0),
            "samples": params.get_int("SAMPLES", minval=1),
            "retract": params.get_float("SAMPLE_RETRACT_DIST", above=0.0),
            "result": result and result.lower(),
            "tolerance": params.get_float("SAMPLES_TOLERANCE", minval=0.0),
            "retries": params.get_int("SAMPLES_TOLERANCE_RETRIES", minval=0)}


# -- PROBE, QUERY_PROBE, PROBE_ACCURACY ----------------------------------------
def probe(interpreter, command):
    """PROBE [PROBE_SPEED=] [LIFT_SPEED=] [SAMPLES=] [SAMPLE_RETRACT_DIST=]
    [SAMPLES_RESULT=] [SAMPLES_TOLERANCE=] [SAMPLES_TOLERANCE_RETRIES=]."""
    args = _probe_args(Params(command, PROBE_KEYS))
    _probe_config(interpreter, command.code)
    runtime = _runtime(interpreter)
    if runtime is None:
        return
    machine = interpreter.machine
    try:
        point = runtime.probe.run(report=machine.respond, **args)
    finally:
        _sync(interpreter)
    machine.respond("Result is z=%.6f" % point[2])


def query_probe(interpreter, command):
    """QUERY_PROBE: ``probe: open`` or ``probe: TRIGGERED`` once the queued
    moves are done."""
    Params(command)
    _probe_config(interpreter, command.code)
    runtime = _runtime(interpreter)
    if runtime is None:
        return
    interpreter.machine.wait_moves()
    triggered = runtime.probe.triggered()
    interpreter.machine.respond("probe: %s" % ("TRIGGERED" if triggered else "open"))


def probe_accuracy(interpreter, command):
    """PROBE_ACCURACY [SAMPLES=10] [SAMPLE_RETRACT_DIST=] [PROBE_SPEED=]
    [LIFT_SPEED=]: probes SAMPLES times, lifting after each, and reports."""
    params = Params(command, ACCURACY_KEYS)
    cfg = _probe_config(interpreter, command.code)
    samples = params.get_int("SAMPLES", ACCURACY_SAMPLES, minval=1)
    retract = params.get_float("SAMPLE_RETRACT_DIST", cfg.sample_retract_dist, above=0.0)
    speed = params.get_float("PROBE_SPEED", cfg.speed, above=0.0)
    lift_speed = params.get_float("LIFT_SPEED", cfg.lift_speed, above=0.0)
    runtime = _runtime(interpreter)
    if runtime is None:
        return
    machine = interpreter.machine
    x, y, z = machine.position[:3]
    machine.respond("PROBE_ACCURACY at X:%.3f Y:%.3f Z:%.3f (samples=%d retract=%.3f "
                    "speed=%.1f lift_speed=%.1f)" % (x, y, z, samples, retract, speed,
                                                     lift_speed))
    probe_ = runtime.probe
    try:
        points = probe_.samples(samples, speed, retract, lift_speed, machine.respond,
                                lift_last=True)
    finally:
        probe_.stow()
        _sync(interpreter)
    machine.respond(accuracy_summary([point[2] for point in points]))


def accuracy_summary(zs):
    """Klipper's PROBE_ACCURACY result line for sample heights ``zs`` (mm):
    maximum, minimum, range, average, median and the (population)
    standard deviation."""
    average = sum(zs) / len(zs)
    sigma = (sum((z - average) ** 2 for z in zs) / len(zs)) ** 0.5
    return ("probe accuracy results: maximum %.6f, minimum %.6f, range %.6f, average %.6f, "
            "median %.6f, standard deviation %.6f"
            % (max(zs), min(zs), max(zs) - min(zs), average, statistics.median(zs), sigma))


# -- PROBE_CALIBRATE and the manual probe --------------------------------------
def probe_calibrate(interpreter, command):
    """PROBE_CALIBRATE [PROBE parameters]: probe, then a manual probe at the
    same spot of the bed (TESTZ ... ACCEPT)."""
    args = _probe_args(Params(command, PROBE_KEYS))
    cfg = _probe_config(interpreter, command.code)
    runtime = _runtime(interpreter)
    if runtime is None:
        return
    if runtime.manual is not None:
        raise ManualProbeError("Already in a manual Z probe. Use ABORT to abort it.")
    machine = interpreter.machine
    probe_ = runtime.probe
    try:
        x, y, z = probe_.run(report=machine.respond, **args)
        probe_.lift_to(z + CALIBRATE_LIFT_MM, args["lift_speed"] or cfg.lift_speed)
        over = list(machine.toolhead.position)
        over[0], over[1] = x + cfg.x_offset, y + cfg.y_offset
        machine.toolhead.move(over, args["speed"] or cfg.speed)
    finally:
        _sync(interpreter)
    runtime.calibrate_z = z
    runtime.manual = ManualProbe(machine.toolhead)
    machine.respond("Starting manual Z probe. Use TESTZ to adjust position.")
    machine.respond("Finish with ACCEPT or ABORT command.")


def _manual(interpreter, code):
    runtime = _runtime(interpreter)
    if runtime is not None and runtime.manual is None:
        raise ManualProbeError("%s: no manual Z probe is in progress (PROBE_CALIBRATE "
                               "starts one)" % code)
    return runtime


def testz(interpreter, command):
    """TESTZ Z=<mm>|+|-|++|--."""
    params = Params(command, ("Z",))
    if "Z" not in params:
        raise ParamError("TESTZ needs Z=<mm> or Z=+ Z=- Z=++ Z=--")
    runtime = _manual(interpreter, command.code)
    if runtime is None:
        return
    try:
        lines = runtime.manual.testz(params.get("Z"))
    finally:
        _sync(interpreter)
    for line in lines:
        interpreter.machine.respond(line)


def accept(interpreter, command):
    """ACCEPT: the nozzle's Z is the bed; the new z_offset is pending."""
    Params(command)
    runtime = _manual(interpreter, command.code)
    if runtime is None:
        return
    manual, runtime.manual = runtime.manual, None
    z = manual.accept()
    cfg = interpreter.machine.config.probe
    _pending_z_offset(interpreter, cfg.kind, runtime.calibrate_z - z)


def abort(interpreter, command):
    """ABORT: the manual probe ends; nothing changes."""
    Params(command)
    runtime = _manual(interpreter, command.code)
    if runtime is None:
        return
    runtime.manual = None
    interpreter.machine.respond("Manual probe aborted: z_offset unchanged")


def _pending_z_offset(interpreter, section, z_offset):
    machine = interpreter.machine
    machine.respond("%s: z_offset: %.3f" % (section, z_offset))
    for line in SAVE_LINES:
        machine.respond(line)
    machine.pending.set(section, "z_offset", "%.3f" % z_offset)


def z_offset_apply_probe(interpreter, command):
    """Z_OFFSET_APPLY_PROBE: z_offset - the G-code Z offset, pending."""
    Params(command)
    cfg = _probe_config(interpreter, command.code)
    if _runtime(interpreter) is None:
        return
    offset = interpreter.homing_origin[2]
    if offset == 0.0:
        interpreter.machine.respond("Nothing to do: Z Offset is 0")
        return
    _pending_z_offset(interpreter, cfg.kind, cfg.z_offset - offset)


# -- BLTOUCH_DEBUG, SAVE_CONFIG ------------------------------------------------
def bltouch_debug(interpreter, command):
    """BLTOUCH_DEBUG [COMMAND=pin_down|pin_up]; without COMMAND, the list."""
    params = Params(command, ("COMMAND",))
    cfg = _probe_config(interpreter, command.code)
    if cfg.kind != "bltouch":
        raise ProbeError("BLTOUCH_DEBUG needs a [bltouch] section (this printer's probe is "
                         "[%s])" % cfg.kind)
    name = params.get("COMMAND")
    if name is not None:
        _check_bltouch_command(interpreter, name)
    runtime = _runtime(interpreter)
    machine = interpreter.machine
    if runtime is None:
        return
    if name is None:
        machine.respond("Possible commands: %s" % " ".join(BLTOUCH_DRIVEN))
        return
    machine.respond("Sending BLTOUCH_DEBUG COMMAND=%s" % name)
    runtime.probe.set_pin(name == "pin_down")


def _check_bltouch_command(interpreter, name):
    if name in BLTOUCH_DRIVEN:
        return
    if name in BLTOUCH_OTHER:
        sim = getattr(interpreter.machine.config, "board", None) == "sim"
        raise ProbeError("BLTOUCH_DEBUG COMMAND=%s: %s has no %s mode (Mendel drives %s)"
                         % (name, "the simulated BLTouch" if sim else "Mendel's BLTouch control",
                            name, " and ".join(BLTOUCH_DRIVEN)))
    raise ProbeError("BLTOUCH_DEBUG COMMAND=%s is not a BLTouch command (%s)"
                     % (name, " ".join(BLTOUCH_DRIVEN + BLTOUCH_OTHER)))


def save_config(interpreter, command):
    """SAVE_CONFIG: the pending results into printer.cfg's block, then read
    back into the running printer."""
    Params(command)
    machine = interpreter.machine
    pending = getattr(machine, "pending", None)
    if pending is None:
        return
    try:
        lines = saving.save_config(machine.config, pending)
    except AutosaveError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError("SAVE_CONFIG: cannot write %s: %s" % (pending.path, exc)) from None
    for line in lines:
        machine.respond(line)


_COMMANDS = {
    "PROBE": probe, "QUERY_PROBE": query_probe, "PROBE_ACCURACY": probe_accuracy,
    "PROBE_CALIBRATE": probe_calibrate, "TESTZ": testz, "ACCEPT": accept, "ABORT": abort,
    "Z_OFFSET_APPLY_PROBE": z_offset_apply_probe, "BLTOUCH_DEBUG": bltouch_debug,
    "SAVE_CONFIG": save_config,
}
