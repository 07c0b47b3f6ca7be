# Mendel host: printer configuration.
# SPDX-License-Identifier: GPL-3.0-or-later
"""A printer.cfg in the manner of Klipper's (INI sections, same key names).

Every key read is checked for type and range, and an error names the file,
line, section and key (``printer.cfg:23: [stepper_x] rotation_distance: -40
must be above 0``). The file is read by :mod:`mendel.config.file`
(configparser, with the line of each key and Klipper's ``[include]``); pins
are checked against the board file by :mod:`mendel.config.pins`; G-code
macros (``[gcode_macro NAME]``) are built by :mod:`mendel.gcode.macros`.
Each further feature reads its own sections in its own module:
:mod:`~mendel.config.homing` (stepper homing keys, ``[safe_z_home]``,
``[homing_override]``), :mod:`~mendel.config.probe` (``[probe]``,
``[bltouch]``), :mod:`~mendel.config.bed_mesh`, :mod:`~mendel.config.resonance_tester`,
:mod:`~mendel.config.simplant`
(the simulated printer) and :mod:`mendel.thermal.settings` (heaters);
:mod:`~mendel.config.autosave` keeps SAVE_CONFIG's block at the end of the
file. Typed values stop at the first error; unknown sections and keys, pins
and macros are all reported together.

Steps per mm follow Klipper's Config_Reference "rotation_distance":
``steps_per_mm = full_steps_per_rotation * microsteps * gear_ratio /
rotation_distance``.
"""
import dataclasses
import math

from mendel import resources
from mendel.config import bed_mesh as bed_mesh_mod, file as configfile, homing
from mendel.config import gcode_extras, pins as configpins, printjob, probe as probe_mod
from mendel.config import accel as accel_mod, resonance_tester as resonance_mod, shaping
from mendel.config import simplant
from mendel.config.section import ConfigError, Problem, Section as _Section, optional
from mendel.boards import BoardError, load_board
from mendel.gcode import macros
from mendel.thermal.settings import HeaterConfig, heater_config  # noqa: F401 (re-export)

AXES = "xyz"
# Config stepper section suffixes of the kinematic motors (E is separate).
KINEMATIC_STEPPERS = {"cartesian": "xyz", "corexy": "xyz", "delta": "abc"}
DELTA_ANGLES = (210.0, 330.0, 90.0)   # Klipper's default tower angles (degrees)
DELTA_MOTORS = "xyz"   # board drivers of towers a, b, c by default (as RAMPS deltas wire them)


@dataclasses.dataclass
class StepperConfig:
    """One motor: its board motor name, steps per mm, travel (mm), homing
    (mm, mm/s; :mod:`mendel.config.homing`), direction and endstop input.

    ``dir_inverted``: ``dir_pin: !...`` reverses the motor. ``endstop``: the
    board endstop (boards/<id>.json "endstops" name) that ``endstop_pin``
    names, ``"probe"`` for ``probe:z_virtual_endstop``, None without an
    endstop_pin; ``endstop_inverted`` (``!``) and ``endstop_pull`` ("up" for
    ``^``, "down" for ``~``, None) as written there.
    """
    name: str
    motor: str
    steps_per_mm: float
    position_endstop: float = 0.0
    position_min: float = 0.0
    position_max: float = 0.0
    homing_speed: float = 5.0
    second_homing_speed: float = 2.5
    homing_retract_dist: float = 5.0
    homing_retract_speed: float = 5.0
    homing_positive_dir: bool = False
    dir_inverted: bool = False
    endstop: str = None
    endstop_inverted: bool = False
    endstop_pull: str = None


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
    # [fan_generic NAME] (SET_FAN_SPEED FAN=NAME): NAME -> the board fan its pin is.
    fan_generic: dict = dataclasses.field(default_factory=dict)
    minimum_cruise_ratio: float = 0.5
    instantaneous_corner_velocity: float = 1.0
    # Kinematics-specific keys (delta: delta_radius, print_radius,
    # minimum_z_position, arm_length/angle/position_min per tower).
    kinematics_params: dict = dataclasses.field(default_factory=dict)
    serial: str = None               # [board] serial: the board's port, if given
    baud: int = 250000
    pressure_advance: float = 0.0    # s of extrusion velocity (mm per mm/s)
    pressure_advance_smooth_time: float = 0.040
    pins: dict = dataclasses.field(default_factory=dict)    # "[section] key" -> Pin
    macros: "macros.MacroSet" = None
    warnings: list = dataclasses.field(default_factory=list)
    values: dict = dataclasses.field(default_factory=dict)   # [section] -> {key: text}, as read
    # Homing, probing and bed levelling (None when the section is absent).
    probe: "probe_mod.ProbeConfig" = None
    safe_z_home: "homing.SafeZHome" = None
    homing_override: "homing.HomingOverride" = None
    bed_mesh: "bed_mesh_mod.BedMeshConfig" = None
    mesh_profiles: dict = dataclasses.field(default_factory=dict)   # name -> profile dict
    # [resonance_tester] (mendel.config.resonance_tester), None without.
    resonance_tester: "resonance_mod.ResonanceTesterConfig" = None
    # [virtual_sdcard], [pause_resume], [idle_timeout] (mendel.config.printjob).
    printjob: "printjob.PrintJobConfig" = None
    input_shaper: "shaping.InputShaperConfig" = None     # [input_shaper], or None
    # [respond], [gcode_arcs], [display_status], [exclude_object]
    # (mendel.config.gcode_extras).
    gcode_extras: "gcode_extras.GcodeExtras" = dataclasses.field(
        default_factory=lambda: gcode_extras.GcodeExtras())
    # The simulated printer (mendel.config.simplant): bed surface, switch
    # and carriage positions per stepper name, probe error.
    sim_bed: dict = dataclasses.field(default_factory=dict)
    sim_steppers: dict = dataclasses.field(default_factory=dict)
    sim_probe: dict = dataclasses.field(default_factory=dict)
    # [sim_plant toolhead]: resonance_freq_x/y (Hz), damping_ratio_x/y.
    sim_toolhead: dict = dataclasses.field(default_factory=lambda: simplant.toolhead(None))
    # [adxl345] / [adxl345 NAME] (mendel.config.accel): name -> AccelConfig.
    accelerometers: dict = dataclasses.field(default_factory=dict)

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
        **homing.stepper_homing(sec, position_min, position_max, position_endstop),
        **_pin_modifiers(sec))


def _pin_modifiers(sec):
    """dir_inverted, endstop_inverted and endstop_pull from the ``!``/``^``/``~``
    of dir_pin and endstop_pin (a pin that does not parse is reported by
    the pin check)."""
    found = {}
    for key, fields in (("dir_pin", ("dir_inverted", None)),
                        ("endstop_pin", ("endstop_inverted", "endstop_pull"))):
        text = sec.parser.get(sec.name, key, fallback="").strip()
        if not text or text == configpins.PROBE_ENDSTOP:
            continue
        try:
            pin = configpins.parse_pin(text, can_pull=key == "endstop_pin")
        except ValueError:
            continue
        found[fields[0]] = pin.invert
        if fields[1]:
            found[fields[1]] = pin.pull
    return found


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
        low = params["minimum_z_position"] if position_min is None else position_min
        steppers[tower] = StepperConfig(
            name=sec.name, motor=sec.get("motor", driver), steps_per_mm=_steps_per_mm(sec),
            position_endstop=endstop, position_min=low, position_max=endstop,
            **homing.stepper_homing(sec, low, endstop, endstop, delta=True,
                                    default_speed=first.homing_speed if first else 5.0),
            **_pin_modifiers(sec))
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
    _read_levelling(parser, path, read_keys, config)
    config.resonance_tester = resonance_mod.load(
        optional(parser, path, "resonance_tester", read_keys))
    config.printjob = printjob.load(
        path, *(optional(parser, path, name, read_keys)
                for name in ("virtual_sdcard", "pause_resume", "idle_timeout")),
        warnings=config.warnings)
    config.gcode_extras = gcode_extras.load(
        *(optional(parser, path, name, read_keys)
          for name in ("respond", "gcode_arcs", "display_status", "exclude_object")))
    _read_accelerometers(parser, path, read_keys, config)
    _validate(parser, path, read_keys, config)
    return config


def _read_accelerometers(parser, path, read_keys, config):
    """[adxl345] and [adxl345 NAME] against the board file's accelerometers."""
    sections = [_Section(parser, path, name, read_keys) for name in parser.sections()
                if name.split(None, 1)[0] == "adxl345"]
    if not sections:
        return
    try:
        board = load_board(config.board)
    except BoardError:
        board = None            # _validate reports the board
    config.accelerometers = accel_mod.load(sections, board)


def _read_levelling(parser, path, read_keys, config):
    """[probe]/[bltouch], [safe_z_home], [bed_mesh] and its saved profiles,
    and the simulated printer's [sim_plant bed|probe|STEPPER]."""
    def section(name):
        return optional(parser, path, name, read_keys)
    config.probe = probe_mod.load(section("probe"), section("bltouch"))
    config.safe_z_home = homing.safe_z_home(section("safe_z_home"))
    config.bed_mesh = bed_mesh_mod.load(section("bed_mesh"), config.warnings)
    if config.bed_mesh is not None and config.probe is None:
        config.warnings.append("[bed_mesh] needs a [probe] or [bltouch] to calibrate "
                               "(Mendel probes only automatically); saved profiles still load")
    for name in parser.sections():
        words = name.split(None, 1)
        if words[0] == "bed_mesh" and len(words) == 2:
            config.mesh_profiles[words[1].strip()] = bed_mesh_mod.profile(section(name))
    config.sim_bed = simplant.bed(section("sim_plant bed"))
    config.sim_probe = simplant.probe(section("sim_plant probe"))
    config.sim_toolhead = simplant.toolhead(section("sim_plant toolhead"))
    delta = config.kinematics == "delta"
    config.sim_steppers = {
        stepper.name: simplant.stepper(section("sim_plant " + stepper.name), stepper, delta)
        for stepper in config.steppers.values() if stepper.name != "extruder"}


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
    config.values = {name: dict(parser.items(name)) for name in parser.sections()}
    config.macros = macros.MacroSet.from_sections(
        [_Section(parser, path, name, read_keys) for name in parser.sections()
         if name.split(None, 1)[0] == macros.SECTION], problems)
    config.homing_override = homing.homing_override(
        optional(parser, path, "homing_override", read_keys), problems)
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
    config.input_shaper = shaping.load(optional(parser, path, "input_shaper", read_keys),
                                       config.kinematics in ("cartesian", "corexy"))


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
    for title in parser.sections():
        words = title.split(None, 1)
        if words[0] == "fan_generic":
            section = _Section(parser, path, title, read_keys)
            board_fan = check.fan_generic(section, config.fan, words[1:])
            if board_fan is not None:
                config.fan_generic[words[1].strip()] = board_fan
    for stepper in config.steppers.values():
        stepper.endstop = check.endstops.get(stepper.name)
        if stepper.endstop == "probe" and config.probe is None:
            check.problems.append(_Section(parser, path, stepper.name, read_keys).problem(
                "endstop_pin", "%s needs a [probe] or [bltouch] section"
                % configpins.PROBE_ENDSTOP))
    if config.probe is not None:
        sec = _Section(parser, path, config.probe.kind, read_keys)
        config.probe.pin = check.probe(sec, "pin" if config.probe.kind == "probe"
                                       else "sensor_pin")
        if config.probe.kind == "bltouch":
            config.probe.control_pin = check.servo(sec, "control_pin")
    config.pins = check.pins


# The messages of a section or key no reader asked for (mendel.config.klipper_import
# leaves such sections and keys out of an imported Klipper config).
UNKNOWN_SECTION = "is not a section Mendel knows"
UNKNOWN_KEY = "unknown key"
# Klipper sections Mendel refuses, by their first word ("tmc": any TMC
# driver), and what to do instead.
REFUSED_SECTIONS = {
    "mcu": "Mendel takes the MCU and its pins from a board file: write [board] name = "
           "<id> (boards/*.json)",
    "tmc": "the drivers' wiring (UART pins, address) is in the board file; Mendel does not "
           "set driver currents or modes yet",
    "probe_eddy_current": "Mendel reads switch probes: [probe] or [bltouch]",
    "smart_effector": "Mendel reads switch probes: [probe] or [bltouch]",
}


def _refusal(section):
    word = section.split(None, 1)[0]
    return REFUSED_SECTIONS.get("tmc" if word.startswith("tmc") else word)


def _unknown(parser, path, read_keys):
    """Every section and key must be one Mendel reads: a typo is an error."""
    problems = []
    for section in parser.sections():
        if section not in read_keys:
            where = parser.where(section) or (path, None)
            why = _refusal(section)
            problems.append(Problem(where[0], where[1], section,
                                    message=UNKNOWN_SECTION + (": " + why if why else "")))
            continue
        for key in sorted(set(parser.options(section)) - read_keys[section]):
            where = parser.where(section, key) or (path, None)
            problems.append(Problem(where[0], where[1], section, key, UNKNOWN_KEY))
    return problems
