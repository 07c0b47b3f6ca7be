# Mendel host: the pins of printer.cfg against the board's wiring.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pin keys of printer.cfg, checked against the board file and its MCU.

Keys (Klipper's names): ``step_pin``, ``dir_pin``, ``enable_pin`` and
``endstop_pin`` in ``[stepper_x]``.. and ``[extruder]``; ``heater_pin`` and
``sensor_pin`` in ``[extruder]`` and ``[heater_bed]``; ``pin`` in ``[fan]``;
``pin`` in ``[probe]``, ``sensor_pin`` and ``control_pin`` in ``[bltouch]``.
A value is a pin name with Klipper's modifiers in front: ``^`` pull-up or
``~`` pull-down (input pins: endstops and probes), then ``!`` inverted; e.g.
``^!gpio4``. A ``chip:`` prefix other than ``mcu:`` is refused (one MCU);
``endstop_pin: probe:z_virtual_endstop`` makes the probe the Z endstop.

The board file (``boards/<id>.json``) is the firmware's wiring: the firmware
drives the pins it names (an enable line is inverted where the board says
``"enable_inverted": true``). So a step, dir, enable, heater, sensor or fan
pin key is optional, and when given it must be the board file's pin for
that role, modifiers included (``enable_pin: !gpio12`` for an inverted
enable line); a different pin or modifier is refused, with the board's pin
in the message, rather than silently ignored. Only ``dir_pin`` may add
``!``: the host then reverses that motor. An input (``endstop_pin``, a
probe's pin) must be one of the board's ``"endstops"``, whichever; its
modifiers are the config's own, as in Klipper (the board file's ``pull``
and ``active`` describe its usual wiring). A ``control_pin`` must be one
of the board's ``"servos"``. Each pin must also exist on the MCU
(``boards/mcu/<family>.json``), a ``sensor_pin`` must be ADC-capable, an
output must not be an input-only pin, and no pin may serve two roles
(steppers may share an ``enable_pin``, as boards with one driver enable
line do).
"""
import dataclasses
import re

from mendel.boards import BoardError, mcu_pins

STEPPER_KEYS = ("step_pin", "dir_pin", "enable_pin", "endstop_pin")
HEATER_KEYS = ("heater_pin", "sensor_pin")
# Klipper's name for "the probe is this axis' endstop" (endstop_pin of stepper_z).
PROBE_ENDSTOP = "probe:z_virtual_endstop"
_PULLS = {"^": "up", "~": "down"}


@dataclasses.dataclass(frozen=True)
class Pin:
    """A pin as printer.cfg writes it: ``name``, ``pull`` ("up", "down" or
    None) and ``invert``."""
    name: str
    pull: str = None
    invert: bool = False

    def __str__(self):
        prefix = {"up": "^", "down": "~"}.get(self.pull, "")
        return prefix + ("!" if self.invert else "") + self.name


def parse_pin(text, can_pull=False):
    """Pin from ``text`` such as ``^!gpio4``; raises ValueError saying why."""
    rest = text.strip()
    pull = None
    if rest[:1] in _PULLS:
        if not can_pull:
            raise ValueError("%r: %s (pull-%s) applies only to input pins such as endstop_pin"
                             % (text, rest[0], _PULLS[rest[0]]))
        pull, rest = _PULLS[rest[0]], rest[1:].strip()
    invert = rest.startswith("!")
    if invert:
        rest = rest[1:].strip()
    chip, sep, name = rest.rpartition(":")
    if sep and chip.strip() != "mcu":
        raise ValueError("%r: Mendel drives one MCU; %r is not it" % (text, chip))
    name = name.strip()
    if not name or any(c.isspace() or c in "^~!:" for c in name):
        raise ValueError("%r is not a pin name (like gpio4, ^gpio4, !gpio10)" % text)
    return Pin(name, pull, invert)


class Catalogue:
    """The pins of an MCU (``boards/mcu/<family>.json``) and of one board.

    Catalogue keys: ``pins`` (every GPIO name) or ``pin_pattern`` (regex),
    ``adc`` (pin -> channel) or ``adc_pattern``, ``input_only``, ``no_pull``
    (no internal pull resistor), ``reserved`` (pin -> why); the board adds
    ``reserved_pins`` (pin -> why).
    """

    def __init__(self, family, data, board_reserved=None):
        self.family = family
        self.names = set(data.get("pins", ()))
        self.pattern = re.compile(data["pin_pattern"]) if data.get("pin_pattern") else None
        self.adc = set(data.get("adc", ()))
        self.adc_pattern = re.compile(data["adc_pattern"]) if data.get("adc_pattern") else None
        self.input_only = set(data.get("input_only", ()))
        self.no_pull = set(data.get("no_pull", ()))
        self.reserved = dict(data.get("reserved", {}))
        self.reserved.update(board_reserved or {})

    @classmethod
    def for_board(cls, board):
        """The catalogue for ``board`` (a board dict); raises BoardError.

        Without a catalogue for the ``sim`` family, the sim board's pins are
        the ones its board file names, its ADC pins its heaters' sensor pins.
        """
        family = board.get("mcu", "sim")
        try:
            data = mcu_pins(family)
        except BoardError:
            if family != "sim":
                raise
            data = {"pins": [parse_pin(p, True).name for _r, p, _k in board_roles(board)],
                    "adc": [h["sensor_pin"] for h in board.get("heaters", ())]}
        return cls(family, data, board.get("reserved_pins"))

    def _exists(self, name):
        return name in self.names or bool(self.pattern and self.pattern.match(name))

    def _analog(self, name):
        return name in self.adc or bool(self.adc_pattern and self.adc_pattern.match(name))

    def problem(self, pin, key):
        """Why ``pin`` cannot serve as ``key`` on this MCU and board, or None."""
        if not self._exists(pin.name):
            return "%s is not a pin of the %s" % (pin.name, self.family)
        if pin.name in self.reserved:
            return "%s is reserved: %s" % (pin.name, self.reserved[pin.name])
        if key == "sensor_pin" and not self._analog(pin.name):
            return "%s cannot read analog values (ADC pins of the %s: %s)" % (
                pin.name, self.family, ", ".join(sorted(self.adc)) or "sim_adc*")
        if key not in ("endstop_pin", "sensor_pin") and pin.name in self.input_only:
            return "%s is input-only on the %s and cannot drive an output" % (
                pin.name, self.family)
        if pin.pull and pin.name in self.no_pull:
            return "%s has no internal pull resistor on the %s: leave out the %s" % (
                pin.name, self.family, str(pin)[0])
        return None


def board_roles(board):
    """``(role, pin text, key)`` of every pin the board file wires; role as
    ``("motor", name)``, ``("endstop", name)``, ``("heater", name)``, ``("fan", name)``."""
    for motor in board.get("motors", ()):
        for key in ("step_pin", "dir_pin", "enable_pin"):
            if motor.get(key):
                invert = "!" if motor.get(key.replace("_pin", "_inverted")) else ""
                yield ("motor", motor["name"]), invert + motor[key], key
    for stop in board.get("endstops", ()):
        pull = {"up": "^", "down": "~"}.get(stop.get("pull"), "")
        yield ("endstop", stop["name"]), pull + stop["pin"], "endstop_pin"
    for heater in board.get("heaters", ()):
        for key in HEATER_KEYS:
            yield ("heater", heater["name"]), heater[key], key
    for fan in board.get("fans", ()):
        yield ("fan", fan["name"]), fan["pin"], "pin"
    for servo in board.get("servos", ()):
        yield ("servo", servo["name"]), servo["pin"], "control_pin"


class PinCheck:
    """Checks one printer.cfg's pins against ``board`` (dict, from ``board_path``).

    Sections are config._Section objects (``name``, ``get``, ``has``,
    ``problem(key, why)``); problems accumulate in ``problems``.
    """

    def __init__(self, board, board_path):
        self.board = board
        self.board_path = board_path
        self.catalogue = Catalogue.for_board(board)
        self.wiring = {}
        for role, text, key in board_roles(board):
            self.wiring[(role, key)] = parse_pin(text, can_pull=True)
        self.used = {}           # pin name -> (description, shareable)
        self.problems = []
        self.pins = {}           # "[section] key" -> Pin, given or wired by the board
        self.endstops = {}       # stepper section -> board endstop name (or "probe")

    def stepper(self, section, motor):
        """Check ``[stepper_?]`` / ``[extruder]`` driving board motor ``motor``."""
        if not self._has(section, "motor", motor, "motor"):
            return
        for key in STEPPER_KEYS[:3]:
            self._pin(section, key, ("motor", motor))
        if section.has("endstop_pin") and section.get("endstop_pin") == PROBE_ENDSTOP:
            self.endstops[section.name] = "probe"
        elif section.has("endstop_pin"):
            self.endstops[section.name] = self._input(section, "endstop_pin", "endstop")

    def probe(self, section, key):
        """Check a probe's input ``key``; the board endstop name it is, or None."""
        return self._input(section, key, "endstop")

    def servo(self, section, key):
        """Check a servo output ``key`` (a BLTouch control_pin); its pin name or None."""
        return self._input(section, key, "servo")

    def _input(self, section, key, kind):
        """The board ``kind`` ("endstop", "servo" or "fan") whose pin ``key`` names
        (modifiers are the config's own: ``!`` inverts, ``^``/``~`` pull), or
        None after recording why not."""
        try:
            pin = parse_pin(section.get(key), can_pull=kind == "endstop")
        except ValueError as exc:
            self.problems.append(section.problem(key, str(exc)))
            return None
        wired = {text.name: role[1] for (role, _k), text in self.wiring.items()
                 if role[0] == kind}
        why = self.catalogue.problem(pin, "endstop_pin" if kind == "endstop" else key)
        if why is None and pin.name not in wired:
            why = ("%s is not a%s %s of the board %r (%s: %s; %s)" % (
                pin.name, "n" if kind[0] in "aeiou" else "", kind, self.board["id"],
                kind + "s", ", ".join("%s %s" % (name, pin_name) for pin_name, name
                                     in sorted(wired.items(), key=lambda i: i[1]))
                or "none", self.board_path))
        if why is not None:
            self.problems.append(section.problem(key, why))
            return None
        self.pins["[%s] %s" % (section.name, key)] = pin
        self._use(pin, section, key, key)
        return pin.name if kind == "servo" else wired[pin.name]

    def heater(self, section, heater):
        """Check the heater and sensor pins of heater section for board heater ``heater``."""
        if self._has(section, "heater", heater, "heater"):
            for key in HEATER_KEYS:
                self._pin(section, key, ("heater", heater))

    def fan(self, section, fan):
        """Check ``[fan]`` driving board fan ``fan``."""
        if self._has(section, "fan", fan, "fan"):
            self._pin(section, "pin", ("fan", fan))

    def fan_generic(self, section, part_fan, name):
        """Check ``[fan_generic NAME]`` (``name``: [NAME], or [] when missing):
        its ``pin`` must be a fan output of the board that ``[fan]`` (board
        fan ``part_fan``) does not use. Returns that board fan's name, or None
        after recording why not."""
        if not name or not name[0].strip():
            self.problems.append(section.problem(None, "give the fan a name: "
                                                       "[fan_generic NAME]"))
            return None
        fans = sorted({role[1] for role, _k in self.wiring if role[0] == "fan"})
        if fans == [part_fan]:
            section.get("pin", "")
            pin = self.wiring[(("fan", part_fan), "pin")]
            self.problems.append(section.problem(
                "pin", "the board %r has one fan output (%s, pin %s) and [fan] drives it: "
                "there is no second fan output for [%s] (%s)"
                % (self.board["id"], part_fan, pin, section.name, self.board_path)))
            return None
        if not section.has("pin"):
            self.problems.append(section.problem("pin", "required key is missing (a fan "
                                                        "output of the board: %s)"
                                                 % ", ".join(fans)))
            return None
        return self._input(section, "pin", "fan")

    def _has(self, section, kind, name, key):
        """Does the board have the ``kind`` named ``name``? Else record why not."""
        names = sorted({role[1] for role, _k in self.wiring if role[0] == kind})
        if name in names:
            return True
        self.problems.append(section.problem(
            key, "the board %r has no %s %r (%s: %s; %s)"
            % (self.board["id"], kind, name, kind + "s", ", ".join(names) or "none",
               self.board_path)))
        return False

    def _pin(self, section, key, role):
        wired = self.wiring.get((role, key))
        text = section.get(key, "") if section.has(key) else ""
        if not text:
            if wired is not None:
                self.pins["[%s] %s" % (section.name, key)] = wired
                self._use(wired, section, key, "%s (board wiring)" % key)
            return
        try:
            pin = parse_pin(text, can_pull=key == "endstop_pin")
        except ValueError as exc:
            self.problems.append(section.problem(key, str(exc)))
            return
        why = self.catalogue.problem(pin, key)
        if key == "dir_pin" and wired is not None:
            # A reversed motor: the host flips its direction bit.
            wired = dataclasses.replace(wired, invert=pin.invert)
        if why is None and wired is not None and pin != wired:
            why = ("%s is not the board's %s for %s %r, which is %s (%s); the firmware "
                   "drives the pins the board file names, so write %s or leave the key out"
                   % (pin, key, role[0], role[1], wired, self.board_path, wired))
        if why is not None:
            self.problems.append(section.problem(key, why))
            return
        self.pins["[%s] %s" % (section.name, key)] = pin
        self._use(pin, section, key, key)

    def _use(self, pin, section, key, label):
        shareable = key == "enable_pin"
        here = "[%s] %s" % (section.name, label)
        earlier = self.used.get(pin.name)
        if earlier is None:
            self.used[pin.name] = (here, shareable)
        elif not (shareable and earlier[1]):
            self.problems.append(section.problem(
                key, "%s is already used by %s" % (pin.name, earlier[0])))
