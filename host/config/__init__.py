# Mendel host: printer configuration.
# SPDX-License-Identifier: GPL-3.0-or-later
"""A printer.cfg in the manner of Klipper's (INI sections, same key names).

Every key read is checked for type and range, and an error names the file,
line, section and key (``printer.cfg:23: [stepper_x] rotation_distance: -40
must be above 0``). The file is read by :mod:`mendel.config.file`
(configparser, with the line of each key and Klipper's ``[include]``); pins
are checked against the board file by :mod:`mendel.config.pins`; G-code
macros (``[gcode_macro NAME]``) are built by :mod:`mendel.gcode.macros`.
Typed values stop at the first error; unknown sections and keys, pins and
macros are all reported together.

Steps per mm follow Klipper's Config_Reference "rotation_distance":
``steps_per_mm = full_steps_per_rotation * microsteps * gear_ratio /
rotation_distance``.
"""
import dataclasses
import difflib
import math

from mendel import resources
from mendel.config import file as configfile, pins as configpins
from mendel.boards import BoardError, load_board
from mendel.gcode import macros
from mendel.thermal.settings import HeaterConfig, heater_config  # noqa: F401 (re-export)

AXES = "xyz"
# Config stepper section suffixes of the kinematic motors (E is separate).
KINEMATIC_STEPPERS = {"cartesian": "xyz", "corexy": "xyz", "delta": "abc"}
DELTA_ANGLES = (210.0, 330.0, 90.0)   # Klipper's default tower angles (degrees)
DELTA_MOTORS = "xyz"   # board drivers of towers a, b, c by default (as RAMPS deltas wire them)


@dataclasses.dataclass
class Problem:
    """One thing wrong in a printer.cfg: where (file, line, section, key) and why."""
    path: str = None
    line: int = None
    section: str = None
    key: str = None
    message: str = ""

    def __str__(self):
        where = ""
        if self.path:
            where = self.path + (":%d" % self.line if self.line else "") + ": "
        if self.section is None:
            return where + self.message
        if self.key is None:
            return "%s[%s] %s" % (where, self.section, self.message)
        return "%s[%s] %s: %s" % (where, self.section, self.key, self.message)


class ConfigError(Exception):
    """A printer.cfg value is missing or wrong.

    ``problems``: list of Problem (str or Problem arguments); the message has
    one line per problem.
    """

    def __init__(self, *problems):
        self.problems = [p if isinstance(p, Problem) else Problem(message=str(p))
                         for p in problems]
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclasses.dataclass
class StepperConfig:
    """One motor: its board motor name and its steps per mm."""
    name: str
    motor: str
    steps_per_mm: float
    position_endstop: float = 0.0
    position_min: float = 0.0
    position_max: float = 0.0
    homing_speed: float = 5.0


@dataclasses.dataclass
class PrinterConfig:
    """Everything the host needs to drive one printer (units: mm, s, degC)."""
    path: str
    board: str
    kinematics: str
    max_velocity: float
    max_accel: float
    square_corner_velocity: float
    max_z_velocity: float
    max_z_accel: float
    steppers: dict
    max_extrude_only_velocity: float
    max_extrude_only_accel: float
    extrusion: "ExtrusionLimits"
    heaters: dict
    fan: str
    minimum_cruise_ratio: float = 0.5
    instantaneous_corner_velocity: float = 1.0
    # Kinematics-specific keys (delta: delta_radius, print_radius,
    # minimum_z_position, arm_length/angle/position_min per tower).
    kinematics_params: dict = dataclasses.field(default_factory=dict)
    serial: str = None               # [board] serial: the board's port, if given
    baud: int = 250000
    pressure_advance: float = 0.0    # s; read and checked, not applied by the planner yet
    pressure_advance_smooth_time: float = 0.040
    pins: dict = dataclasses.field(default_factory=dict)    # "[section] key" -> Pin
    macros: "macros.MacroSet" = None
    warnings: list = dataclasses.field(default_factory=list)

    def steps_per_mm(self):
        """Steps per mm of each motor: the kinematic ones (x, y, z or a, b, c), then e."""
        return [stepper.steps_per_mm for stepper in self.steppers.values()]


@dataclasses.dataclass
class ExtrusionLimits:
    """Extruder safety limits, Klipper's [extruder] keys (mm, mm^2, degC)."""
    nozzle_diameter: float = 0.4
    filament_diameter: float = 1.75
    max_extrude_cross_section: float = 0.64
    max_extrude_only_distance: float = 50.0
    min_extrude_temp: float = 170.0

    @property
    def filament_area(self):
        return math.pi * (self.filament_diameter / 2.0) ** 2


def _extrusion(sec):
    nozzle = sec.getfloat("nozzle_diameter", 0.4, above=0.0)
    return ExtrusionLimits(
        nozzle_diameter=nozzle,
        filament_diameter=sec.getfloat("filament_diameter", 1.75, above=0.0),
        # Klipper's default: 4 * nozzle_diameter^2.
        max_extrude_cross_section=sec.getfloat("max_extrude_cross_section",
                                               4.0 * nozzle * nozzle, above=0.0),
        max_extrude_only_distance=sec.getfloat("max_extrude_only_distance", 50.0,
                                               minval=0.0),
        min_extrude_temp=sec.getfloat("min_extrude_temp", 170.0, minval=0.0))


class _Section:
    """Typed, checked access to one section of the file; remembers the keys read."""

    def __init__(self, parser, path, name, read_keys):
        if not parser.has_section(name):
            close = difflib.get_close_matches(name, parser.sections(), n=1, cutoff=0.6)
            where = parser.where(close[0]) if close else None
            if where:
                # A misspelt header: point at it.
                header_path, line = where
                raise ConfigError(Problem(header_path, line, message=(
                    "missing section [%s] (is [%s] on line %d a typo?)"
                    % (name, close[0], line))))
            raise ConfigError(Problem(path, message="missing section [%s]" % name))
        self.parser, self.path, self.name = parser, path, name
        self.read_keys = read_keys.setdefault(name, set())

    def has(self, key):
        """Is ``key`` written in this section?"""
        return self.parser.has_option(self.name, key)

    def keys(self):
        """The keys written in this section."""
        return self.parser.options(self.name)

    def problem(self, key, why):
        """A Problem at ``key``'s line (the section's line if the key is absent)."""
        where = (self.parser.where(self.name, key) or self.parser.where(self.name)
                 or (self.path, None))
        return Problem(where[0], where[1], self.name, key, why)

    def _fail(self, key, why):
        raise ConfigError(self.problem(key, why))

    def get(self, key, default=None):
        self.read_keys.add(key)
        value = self.parser.get(self.name, key, fallback=default)
        if value is None:
            self._fail(key, "required key is missing" + self._typo_hint(key))
        return value.strip()

    def _typo_hint(self, key):
        close = difflib.get_close_matches(key, self.keys(), n=1, cutoff=0.8)
        if not close:
            return ""
        return " (is %s on line %d a typo?)" % (close[0], self.parser.where(self.name,
                                                                              close[0])[1])

    def getfloat(self, key, default=None, minval=None, above=None, maxval=None, below=None):
        raw = self.get(key, None if default is None else str(default))
        try:
            value = float(raw)
        except ValueError:
            self._fail(key, "%r is not a number" % raw)
        if not math.isfinite(value):
            self._fail(key, "%r is not a finite number" % raw)
        if minval is not None and value < minval:
            self._fail(key, "%g is below the minimum %g" % (value, minval))
        if above is not None and value <= above:
            self._fail(key, "%g must be above %g" % (value, above))
        if maxval is not None and value > maxval:
            self._fail(key, "%g is above the maximum %g" % (value, maxval))
        if below is not None and value >= below:
            self._fail(key, "%g must be below %g" % (value, below))
        return value

    def getint(self, key, default=None, minval=None):
        value = self.getfloat(key, default, minval=minval)
        if value != int(value):
            self._fail(key, "%g is not a whole number" % value)
        return int(value)


def _steps_per_mm(sec):
    rotation_distance = sec.getfloat("rotation_distance", above=0.0)
    microsteps = sec.getint("microsteps", minval=1)
    full_steps = sec.getint("full_steps_per_rotation", 200, minval=1)
    return full_steps * microsteps * _gear_ratio(sec) / rotation_distance


def _gear_ratio(sec):
    """Klipper's ``gear_ratio``: ``"57:11, 2:1"`` is (57/11) * (2/1)."""
    gear = sec.get("gear_ratio", "1:1")
    ratio = 1.0
    for pair in gear.split(","):
        try:
            num, den = (float(part) for part in pair.split(":"))
        except ValueError:
            sec._fail("gear_ratio", "%r is not like '3:1' or '57:11, 2:1'" % gear)
        if not (num > 0.0 and den > 0.0 and math.isfinite(num / den)):
            sec._fail("gear_ratio", "%r: every ratio needs two positive numbers" % gear)
        ratio *= num / den
    return ratio


def _stepper(parser, path, axis, read_keys):
    sec = _Section(parser, path, "stepper_" + axis, read_keys)
    position_min = sec.getfloat("position_min", 0.0)
    position_max = sec.getfloat("position_max", above=max(position_min, 0.0))
    position_endstop = sec.getfloat("position_endstop", 0.0)
    if not position_min <= position_endstop <= position_max:
        # Homing sets the axis to position_endstop: outside the travel, the
        # first move after G28 would be refused or drive into the frame.
        sec._fail("position_endstop", "%g is outside position_min..position_max (%g..%g)"
                  % (position_endstop, position_min, position_max))
    return StepperConfig(
        name="stepper_" + axis, motor=sec.get("motor", axis),
        steps_per_mm=_steps_per_mm(sec),
        position_endstop=position_endstop, position_min=position_min,
        position_max=position_max,
        homing_speed=sec.getfloat("homing_speed", 5.0, above=0.0))


def _delta(parser, path, printer, read_keys):
    """Steppers a, b, c and the geometry of a linear delta (Klipper's keys).

    ``position_endstop``, ``arm_length`` and ``homing_speed`` of stepper_b/c
    default to stepper_a's; ``angle`` to 210, 330, 90 degrees; ``print_radius`` to
    ``delta_radius``. Returns ``(steppers, params)``.
    """
    radius = printer.getfloat("delta_radius", above=0.0)
    params = {"delta_radius": radius,
              "print_radius": printer.getfloat("print_radius", radius, above=0.0),
              "minimum_z_position": printer.getfloat("minimum_z_position", 0.0),
              "arm_length": [], "angle": [], "position_min": []}
    steppers = {}
    first = None
    for tower, default_angle, driver in zip("abc", DELTA_ANGLES, DELTA_MOTORS):
        sec = _Section(parser, path, "stepper_" + tower, read_keys)
        endstop = sec.getfloat("position_endstop", first and first.position_endstop)
        arm = sec.getfloat("arm_length", first and params["arm_length"][0], above=radius)
        position_min = None
        if parser.has_option(sec.name, "position_min"):
            position_min = sec.getfloat("position_min", maxval=endstop)
        if endstop <= params["minimum_z_position"]:
            sec._fail("position_endstop", "%g must be above minimum_z_position %g"
                      % (endstop, params["minimum_z_position"]))
        params["arm_length"].append(arm)
        params["angle"].append(sec.getfloat("angle", default_angle))
        params["position_min"].append(position_min)
        steppers[tower] = StepperConfig(
            name=sec.name, motor=sec.get("motor", driver), steps_per_mm=_steps_per_mm(sec),
            position_endstop=endstop,
            position_min=params["minimum_z_position"] if position_min is None else position_min,
            position_max=endstop,
            homing_speed=sec.getfloat("homing_speed", first.homing_speed if first else 5.0,
                                      above=0.0))
        first = first or steppers[tower]
    if len({angle % 360.0 for angle in params["angle"]}) < 3:
        printer._fail("kinematics", "the towers' angles %s must differ" % params["angle"])
    return steppers, params


def _heater(parser, path, name, read_keys):
    def optional(title):
        if not parser.has_section(title):
            return None
        return _Section(parser, path, title, read_keys)
    return heater_config(_Section(parser, path, name, read_keys), optional, name)


def load(path=None):
    """Read a printer.cfg; ``None`` loads the bundled i3-class default.

    Raises ConfigError naming the file, line, section and key of each problem
    (``problems``: list of Problem).
    """
    path = path or resources.default_config()
    try:
        parser = configfile.read(path)
    except configfile.ConfigFileError as exc:
        raise ConfigError(str(exc)) from None
    read_keys = {}
    printer = _Section(parser, path, "printer", read_keys)
    kinematics = printer.get("kinematics")
    if kinematics not in KINEMATIC_STEPPERS:
        printer._fail("kinematics", "%r is not one of %s"
                      % (kinematics, ", ".join(KINEMATIC_STEPPERS)))
    max_velocity = printer.getfloat("max_velocity", above=0.0)
    max_accel = printer.getfloat("max_accel", above=0.0)
    params = {}
    if kinematics == "delta":
        steppers, params = _delta(parser, path, printer, read_keys)
    else:
        steppers = {axis: _stepper(parser, path, axis, read_keys) for axis in AXES}
    extruder = _Section(parser, path, "extruder", read_keys)
    steppers["e"] = StepperConfig(name="extruder", motor=extruder.get("motor", "e"),
                                  steps_per_mm=_steps_per_mm(extruder))
    config = PrinterConfig(
        path=path, board=_Section(parser, path, "board", read_keys).get("name"),
        kinematics=kinematics, max_velocity=max_velocity, max_accel=max_accel,
        square_corner_velocity=printer.getfloat("square_corner_velocity", 5.0, minval=0.0),
        max_z_velocity=printer.getfloat("max_z_velocity", max_velocity, above=0.0),
        max_z_accel=printer.getfloat("max_z_accel", max_accel, above=0.0),
        steppers=steppers,
        max_extrude_only_velocity=extruder.getfloat("max_extrude_only_velocity", 50.0,
                                                    above=0.0),
        max_extrude_only_accel=extruder.getfloat("max_extrude_only_accel", max_accel,
                                                 above=0.0),
        extrusion=_extrusion(extruder),
        heaters={"extruder": _heater(parser, path, "extruder", read_keys),
                 "heater_bed": _heater(parser, path, "heater_bed", read_keys)},
        fan=_Section(parser, path, "fan", read_keys).get("fan", "fan"),
        minimum_cruise_ratio=printer.getfloat("minimum_cruise_ratio", 0.5, minval=0.0,
                                              below=1.0),
        instantaneous_corner_velocity=extruder.getfloat("instantaneous_corner_velocity", 1.0,
                                                        minval=0.0),
        kinematics_params=params)
    _read_more(parser, path, read_keys, config, extruder)
    _validate(parser, path, read_keys, config)
    return config


def _validate(parser, path, read_keys, config):
    """Pins, macros, unknown sections and keys: raises one ConfigError with all
    their problems, main file first, by line."""
    problems = []
    board = _Section(parser, path, "board", read_keys)
    try:
        check = configpins.PinCheck(load_board(config.board), "boards/%s.json" % config.board)
    except BoardError as exc:
        problems.append(board.problem("name", str(exc)))
        _skip_pins(parser, read_keys)
    else:
        _check_pins(check, parser, path, read_keys, config)
        problems += check.problems
    config.macros = macros.MacroSet.from_sections(
        [_Section(parser, path, name, read_keys) for name in parser.sections()
         if name.split(None, 1)[0] == macros.SECTION], problems)
    problems += _unknown(parser, path, read_keys)
    if problems:
        raise ConfigError(*sorted(problems, key=lambda p: (p.path != path, p.path or "",
                                                           p.line or 0)))


def _read_more(parser, path, read_keys, config, extruder):
    """[board] serial/baud and [extruder] pressure advance (additive keys)."""
    board = _Section(parser, path, "board", read_keys)
    config.serial = board.get("serial", "") or None
    config.baud = board.getint("baud", 250000, minval=1)
    config.pressure_advance = extruder.getfloat("pressure_advance", 0.0, minval=0.0,
                                                maxval=1.0)
    config.pressure_advance_smooth_time = extruder.getfloat(
        "pressure_advance_smooth_time", 0.040, above=0.0, maxval=0.200)
    if config.pressure_advance:
        config.warnings.append(str(extruder.problem(
            "pressure_advance", "%g s is read but not applied: the planner has no "
            "pressure advance yet" % config.pressure_advance)))


def _skip_pins(parser, read_keys):
    """Without a board to check them against, pin keys are not also unknown."""
    keys = set(configpins.STEPPER_KEYS + configpins.HEATER_KEYS + ("pin",))
    for section in parser.sections():
        if section in read_keys:
            read_keys[section].update(keys)


def _check_pins(check, parser, path, read_keys, config):
    """Pins of the steppers, heaters and fan against the board (mendel.config.pins)."""
    for stepper in config.steppers.values():
        check.stepper(_Section(parser, path, stepper.name, read_keys), stepper.motor)
    for name, heater in config.heaters.items():
        check.heater(_Section(parser, path, name, read_keys), heater.name)
    check.fan(_Section(parser, path, "fan", read_keys), config.fan)
    config.pins = check.pins
    if any(section.has("endstop_pin") for section in
           (_Section(parser, path, s.name, read_keys) for s in config.steppers.values())):
        config.warnings.append("endstop_pin is checked but not used yet: G28 moves to "
                               "position_endstop without reading the endstops")


def _unknown(parser, path, read_keys):
    """Every section and key must be one Mendel reads: a typo is an error."""
    problems = []
    for section in parser.sections():
        if section not in read_keys:
            where = parser.where(section) or (path, None)
            problems.append(Problem(where[0], where[1], section,
                                    message="is not a section Mendel knows"))
            continue
        for key in sorted(set(parser.options(section)) - read_keys[section]):
            where = parser.where(section, key) or (path, None)
            problems.append(Problem(where[0], where[1], section, key, "unknown key"))
    return problems
