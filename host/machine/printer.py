# Mendel host: one printer, from a config and a board to a finished print.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machine the G-code interpreter drives, and the print job around it."""
import contextlib
import dataclasses
import time

from mendel.machine.check import check_file
from mendel.accel.adxl345 import make_accelerometers
from mendel.config.autosave import PendingSave
from mendel.errors import CommandError
from mendel.gcode.interpreter import GcodeError, Interpreter, Settings
from mendel.gcode.reader import LineCounter, iter_batches
from mendel.mcu.mcu import McuShutdown
from mendel.mcu.timed import TimedOutputs
from mendel.planner.extrusion import check_temperature
from mendel.planner.kinematics import KinematicsError
from mendel.probing.commands import ProbeCommands
from mendel.probing.bed_mesh import BedMesh
from mendel.machine.toolhead import Toolhead, ToolheadMachine
from mendel.thermal.autotune import AutotuneError
from mendel.thermal.heaters import HEATERS, HostHeaters, TemperatureError, check_target

# M303 E values: 0 the hot end, -1 the bed (Marlin).
AUTOTUNE_HEATERS = {0: "extruder", -1: "heater_bed"}


class PrintError(Exception):
    """The print stopped; the message says why and where."""


@dataclasses.dataclass
class PrintSummary:
    """What a finished print reports (``mendel print`` prints it)."""
    file: str
    lines: int
    moves: int
    print_time_s: float
    wall_time_s: float
    position_mm: dict
    position_steps: dict     # the board's step counters + the offsets homing found
    expected_steps: dict     # the host's: round(mm * steps/mm) from the machine origin
    peak_temperatures: dict
    unsupported: dict
    link: dict
    estimated_time_s: float = None     # preflight's planned motion + dwells; None without
    layers: int = None                 # the file's layers (preflight); None without
    filament_mm: float = 0.0           # net E of the extruder motor, mm of filament
    # Steps sent to each motor (sum of |count| of its runs): a homing move is
    # sent whole, and cut short on the board at its endstop.
    steps_moved: dict = None
    warnings: list = dataclasses.field(default_factory=list)
    log: str = None                    # run log path (set by the caller that wrote it)
    kinematics: str = "cartesian"      # [printer] kinematics: names the motors of the steps
    # The simulated nozzle's height above the bed on the first layer against the
    # file's first-layer Z (mendel.sim.surface): {max, rms} mm, samples; None without.
    first_layer_height_error_mm: dict = None

    @property
    def speedup(self):
        return self.print_time_s / self.wall_time_s if self.wall_time_s else 0.0


class Printer(ToolheadMachine):
    """A printer on a connected board: heaters configured, toolhead ready."""

    extruder_count = 1

    def __init__(self, config, mcu, warn=print, settings=None):
        self.config = config
        self.mcu = mcu
        self.warn = warn
        self.settings = settings or Settings()
        self.events = {}
        self.outputs = TimedOutputs(mcu)
        self.heaters = HostHeaters(config, mcu, self.outputs)
        self.heater_ids = self.heaters.ids
        self.fan_id = mcu.info["fans"].index(config.fan)
        # [fan_generic NAME]: NAME -> the board's fan index; speeds (0..1) as last set.
        self.generic_fan_ids = {name: mcu.info["fans"].index(board_fan)
                                for name, board_fan in config.fan_generic.items()}
        self.generic_fans = dict.fromkeys(config.fan_generic, 0.0)
        self.peaks = self.heaters.peaks
        self.tunes = []
        self.preflight_report = None     # mendel.machine.check's report of the last print_file
        # Sees the print as it goes (mendel.ux.monitor.PrintMonitor or None):
        # ``begin(report)``, ``commands(iterable)``, ``event(kind, value)``.
        self.observer = None
        self.targets = {}            # heater -> target degC, as the G-code last set it
        self.fan_speed = 0.0         # part fan, 0..1, as the G-code last set it
        self.toolhead = Toolhead(config, mcu, on_temperatures=self.poll_temperatures)
        self.pending = PendingSave(config.path)    # results waiting for SAVE_CONFIG
        self.probing = ProbeCommands(self)          # PROBE..., PROBE_CALIBRATE's manual probe
        self.bed_mesh = None                        # BED_MESH_*; adjusts every G-code move
        if config.bed_mesh is not None:
            self.bed_mesh = BedMesh(self.toolhead, config.bed_mesh, config.mesh_profiles,
                                    self.pending, probe=lambda: self.probing.probe)
        self._unadjusted = 0                        # inside unadjusted_moves()
        # [adxl345] sections: name -> mendel.accel.adxl345.Accelerometer.
        self.accelerometers = make_accelerometers(config, mcu, self.toolhead)
        self._configure()
        if not self.outputs.supported:
            warn("board firmware %s %s has no queue_heater/queue_fan: temperature and fan "
                 "changes act when their line is read, not when the motion reaches it"
                 % (mcu.info.get("firmware"), mcu.info.get("version")))

    def _configure(self):
        self.heaters.configure()
        self._configure_endstops()
        self.mcu.send("enable_motors", 1)
        self.mcu.flush()
        # Let the board's control loop take its first sensor readings.
        self.mcu.wait_until(self.mcu.estimated_clock() + self.mcu.clock_freq // 5)
        self.poll_temperatures()

    def _configure_endstops(self):
        """printer.cfg's ``!``: endstop inputs read inverted or not (the
        endstop_pin and probe pin say), and reversed motors (``dir_pin: !``)."""
        mcu = self.mcu
        if "set_inverted" not in mcu.commands:
            return
        names = list(mcu.info.get("endstops", ()))
        wanted = {}
        for stepper in self.config.steppers.values():
            if getattr(stepper, "endstop", None) in names:
                wanted[stepper.endstop] = stepper.endstop_inverted
        probe = self.config.probe
        if probe is not None and probe.pin in names:
            wanted[probe.pin] = probe.inverted
        for name, inverted in wanted.items():
            mcu.send("set_inverted", 0, names.index(name), 1 if inverted else 0)
        for oid, stepper in zip(self.toolhead.oids, self.config.steppers.values()):
            if stepper.dir_inverted:
                mcu.send("set_inverted", 1, oid, 1)

    # -- the machine interface of the interpreter ------------------------
    def _mesh_in_use(self):
        return self.bed_mesh is not None and self.bed_mesh.active and not self._unadjusted

    @property
    def position(self):
        """[x, y, z, e] mm in G-code coordinates: with a bed mesh in use, the
        toolhead's Z less the mesh's correction there."""
        if self._mesh_in_use():
            return self.bed_mesh.gcode_position(self.toolhead.position)
        return self.toolhead.position

    def move(self, target, speed):
        """Move to ``target`` (G-code coordinates, mm) at ``speed`` mm/s; with
        a bed mesh in use, as the points that make Z follow the bed."""
        check_temperature(self.config.extrusion, self.toolhead.position, target,
                          self.heaters.latest.get("extruder", 0.0))
        if not self._mesh_in_use():
            self.toolhead.move(target, speed)
            return
        points = self.bed_mesh.adjust(self.position, target)
        self._check_adjusted(points, target[2])
        for point in points:
            self.toolhead.move(point, speed)

    def _check_adjusted(self, points, gcode_z):
        """Raise KinematicsError, before any piece is queued, if a piece of a
        mesh-adjusted move (``points`` [x, y, z, e] mm, G-code end Z
        ``gcode_z`` mm) is out of reach; when the mesh's correction is what
        takes it there, the message says so."""
        kinematics = self.toolhead.kinematics
        transform = self.bed_mesh.transform
        start = self.toolhead.position
        for point in points:
            try:
                kinematics.check_move(start, point)
            except KinematicsError as exc:
                offset = transform.offset(point[0], point[1], gcode_z)
                plain = [point[0], point[1], point[2] - offset, point[3]]
                try:
                    kinematics.check_move(start, plain)
                except KinematicsError:
                    raise exc from None
                raise KinematicsError(
                    "%s (G-code Z %.3f %s the bed mesh's %.3f mm at X%.3f Y%.3f: a Z "
                    "position_min below 0 lets the nozzle follow a low bed)"
                    % (exc, plain[2], "plus" if offset >= 0 else "less", abs(offset),
                       point[0], point[1])) from None
            start = point

    def move_feed(self):
        """The C fast path of plain moves, None while a bed mesh is in use
        (each move is then split and adjusted in :meth:`move`)."""
        if self._mesh_in_use():
            return None
        cold = self.heaters.latest.get("extruder", 0.0) < self.config.extrusion.min_extrude_temp
        return self.toolhead.move_feed(cold)

    @contextlib.contextmanager
    def unadjusted_moves(self):
        """Moves and positions inside are the toolhead's own, not adjusted by
        the bed mesh (homing's moves, as Klipper's manual moves)."""
        self._unadjusted += 1
        try:
            yield
        finally:
            self._unadjusted -= 1

    def motors_off(self):
        """M84/M18: drivers released, so no axis is homed any more."""
        self.toolhead.wait_moves()
        self.mcu.send("enable_motors", 0)
        self.mcu.flush()
        self.toolhead.homed.clear()

    def select_tool(self, tool):
        if tool >= self.extruder_count:
            raise CommandError("tool T%d does not exist: this printer has %d extruder(s)"
                               % (tool, self.extruder_count))

    def emergency_stop(self):
        """M112: the board stops everything at once, queued motion included."""
        self.mcu.emergency_stop()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            self.mcu.pump(0.01)        # raises McuShutdown once the board confirms
        raise PrintError("M112 sent but the board did not confirm its emergency stop")

    def respond(self, text):
        self.warn("echo: " + text)

    def event(self, kind, value):
        self.events[kind] = self.events.get(kind, 0) + 1
        if self.observer is not None:
            self.observer.event(kind, value)

    def set_fan(self, fraction):
        """Part fan at ``fraction`` (0..1) of full speed from the moment the
        motion reaches this line (the look-ahead goes on)."""
        value = round(fraction * 255)
        self.fan_speed = value / 255.0
        self.toolhead.at_motion_time(lambda clock: self._fan_at(clock, self.fan_id, value))

    def set_generic_fan(self, name, fraction):
        """``[fan_generic NAME]`` at ``fraction`` (0..1) of full speed from the
        moment the motion reaches this line (SET_FAN_SPEED)."""
        fan_id = self.generic_fan_ids[name]
        value = round(fraction * 255)
        self.generic_fans[name] = fraction
        self.toolhead.at_motion_time(lambda clock: self._fan_at(clock, fan_id, value))

    def _fan_at(self, clock, fan_id, value):
        if self.outputs.supported:
            self.outputs.send("queue_fan", clock, fan_id, value)
            return
        self.mcu.send("set_fan", fan_id, value)
        self.mcu.flush()

    def set_temperature(self, heater, temp, wait, cooling=False):
        """Set a heater target (degC) for the moment the motion reaches this
        line; with ``wait``, wait for the motion to end, then for the heater.
        TemperatureError (at the line) for a target out of range.

        M109/M190 semantics as Marlin: ``S`` (cooling False) waits only when
        heating, ``R`` (cooling True) waits for cooling too.
        """
        check_target(self.config, heater, temp)
        self.targets[heater] = temp
        self.toolhead.at_motion_time(
            lambda clock: self.heaters.set_target(heater, temp, clock))
        if wait and temp > 0:
            self.toolhead.wait_moves()
            self.heaters.wait(heater, temp, cooling_too=cooling)

    def wait_temperature(self, sensor, minimum, maximum):
        """TEMPERATURE_WAIT: once the moves are done, wait until ``sensor``
        reads at least ``minimum`` and at most ``maximum`` degC (None: no
        bound)."""
        self.toolhead.wait_moves()
        self.heaters.wait_range(sensor, minimum, maximum)

    def heaters_off(self):
        """Every heater off now, and no change queued on the board turns one
        back on (a client that hung up)."""
        for name in HEATERS:
            self.heaters.set_target(name, 0.0)
            self.targets[name] = 0.0

    def heater_status(self):
        """{heater: (last reading degC, target degC)}, for macros."""
        return {name: (self.heaters.latest.get(name, 0.0), self.targets.get(name, 0.0))
                for name in HEATERS}

    def pid_tune(self, heater_index, target, cycles):
        """M303 E<heater_index> S<target> C<cycles>: relay autotune, gains applied."""
        name = AUTOTUNE_HEATERS.get(int(heater_index))
        if name is None:
            raise CommandError("M303 E%d: no such heater (E0 hot end, E-1 bed)" % heater_index)
        self.toolhead.wait_moves()
        try:
            result = self.heaters.autotune(name, target, int(cycles))
        except (AutotuneError, TemperatureError) as exc:
            raise CommandError(str(exc)) from None
        self.tunes.append(result)
        self.warn("PID autotune %s at %.0f C: Ku %.4f/C, Tu %.2f s -> %s"
                  % (name, target, result.ku, result.tu_s, ", ".join(result.config_lines())))
        return result

    def poll_temperatures(self):
        """Read every heater's temperature (degC), keep the peaks; returns them."""
        return self.heaters.poll()

    # -- a print job ---------------------------------------------------
    def preflight(self, path):
        """Check the whole file before anything moves; raises PrintError."""
        report = check_file(path, self.config, self.settings)
        if report["fits"]:
            return report
        lines = ["%s cannot be printed on this printer:" % path]
        lines += ["  " + problem for problem in report["problems"]]
        lines += ["  %s:%d: %s: %s" % (path, e["line"], e["text"], e["reason"])
                  for e in report["errors"][:10]]
        raise PrintError("\n".join(lines))

    def print_file(self, path, preflight=True):
        """Stream a G-code file; returns a PrintSummary. Raises PrintError."""
        report = self.preflight(path) if preflight else None
        self.preflight_report = report
        if self.observer is not None:
            self.observer.begin(report)
        start_wall = time.monotonic()
        start_clock = self.mcu.estimated_clock()
        interpreter = Interpreter(self, self.settings, warn=self.warn, filename=path,
                                  macros=self.config.macros and self.config.macros.session())
        counter = LineCounter()
        try:
            with open(path, "rb") as stream:
                interpreter.run_batches(iter_batches(stream), counter, self.observer)
            if self.observer is not None:
                self.observer.read_all(counter.lines)
            self.toolhead.wait_moves()
            self.poll_temperatures()
        except McuShutdown as exc:
            raise PrintError("the board shut down at %s line %d: %s"
                             % (path, interpreter.lines, exc)) from None
        except GcodeError as exc:
            raise PrintError(str(exc)) from None
        return self._summary(path, counter.lines, interpreter, start_clock,
                             time.monotonic() - start_wall, report)

    def _summary(self, path, lines, interpreter, start_clock, wall, report=None):
        mcu = self.mcu
        motors = list(self.config.steppers)          # x, y, z or a, b, c; then e
        # The board's counters, from the machine origin that homing found
        # (counter + offset), beside the host's own count.
        offsets = self.toolhead.step_offsets
        board_steps = {}
        for i, motor in enumerate(motors):
            board_steps[motor] = mcu.motor_position(self.toolhead.oids[i]) + offsets[i]
        expected = dict(zip(motors, self.toolhead.stepgen.positions()))
        return PrintSummary(
            file=path, lines=lines, moves=interpreter.moves,
            print_time_s=(mcu.estimated_clock() - start_clock) / mcu.clock_freq,
            wall_time_s=wall,
            position_mm=dict(zip("xyze", self.toolhead.position)),
            position_steps=board_steps, expected_steps=expected,
            kinematics=self.config.kinematics,
            peak_temperatures=dict(self.peaks),
            unsupported={code: seen[0] for code, seen in interpreter.unsupported.items()},
            link=dict(mcu.stats(), retransmits=mcu.link.retransmits,
                      bytes_sent=mcu.link.bytes_sent),
            estimated_time_s=report["estimated_time_s"] if report else None,
            layers=report["layers"] if report else None,
            filament_mm=self.toolhead.position[3],
            steps_moved=dict(zip(motors, self.toolhead.steps_moved)))

    def shutdown(self):
        """Heaters off and motors released (end of a session)."""
        for name in HEATERS:
            self.mcu.send("set_heater", self.heater_ids[name], 0)
        self.mcu.send("enable_motors", 0)
        self.mcu.link.drain()
