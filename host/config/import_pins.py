# Mendel host: a Klipper config's pins, mapped through a Mendel board file.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pin keys of an imported Klipper printer.cfg, written as the board file wires them.

Mendel's firmware drives the pins its board file (``boards/<id>.json``)
names, for the roles it names: motors (step, dir, enable), endstops,
heaters (heater, sensor), fans and servos (:mod:`mendel.config.pins`). A
Klipper config names the MCU's pins directly. For each pin key of a
section Mendel reads, :class:`PinMapper` finds the board role the section
uses and writes that role's pin:

* the Klipper pin is the board's pin for that role: it is carried, with
  Klipper's modifiers where they are the config's own (``!`` of
  ``dir_pin``, ``^``/``~``/``!`` of an endstop or probe input) and the
  board's where the firmware decides (step, enable, heater, sensor, fan);
* the Klipper pin is the board's pin of another motor, heater or fan (say
  the Z axis on the board's E driver): the section gets Mendel's ``motor``
  (``heater``, ``fan``) key naming it, so the pins stay where they are;
* the Klipper pin is not on this board (a config written for another board,
  or a pin of a second MCU such as ``EBBCan:PB5``): the board's pin for the
  section's usual role is written, modifiers and all, and a note says so;
  the machine's motor directions and endstop polarity are the user's to
  check then, as after any rewiring.

Notes and gaps are :class:`Note` (where in the Klipper file, section, key,
text).
"""
import dataclasses

from mendel import config as config_mod
from mendel.config.pins import HEATER_KEYS, PROBE_ENDSTOP, STEPPER_KEYS, board_roles, parse_pin

# Role kind ("motor", "heater", "fan") -> the key naming it in printer.cfg and
# the pin key that tells which one a Klipper section uses.
_CHOSEN_BY = {"motor": ("motor", "step_pin"), "heater": ("heater", "heater_pin"),
              "fan": ("fan", "pin")}


@dataclasses.dataclass
class Entry:
    """One key's value text, where it was written (``(path, line)`` or None)
    and, when it moves to another section, the Klipper section it came from."""
    value: str
    where: tuple = None
    section: str = None


@dataclasses.dataclass
class Note:
    """Something the import changed or could not carry: where, section, key, why."""
    where: tuple
    section: str
    key: str
    text: str

    def __str__(self):
        place = "%s:%d: " % self.where if self.where and self.where[1] else (
            "%s: " % self.where[0] if self.where else "")
        if self.section is None:
            return place + self.text
        if self.key is None:
            return "%s[%s] %s" % (place, self.section, self.text)
        return "%s[%s] %s: %s" % (place, self.section, self.key, self.text)


def _section_roles(section, kinematics):
    """``{pin key: (role kind, usual role name)}`` of a section Mendel reads
    pins in (:func:`mendel.config._check_pins`), {} for others."""
    roles = {}
    steppers = config_mod.KINEMATIC_STEPPERS.get(kinematics, config_mod.AXES)
    if section.startswith("stepper_") and section[8:] in steppers:
        motor = section[8:]
        if kinematics == "delta":
            motor = config_mod.DELTA_MOTORS[steppers.index(motor)]
        roles = {key: ("motor", motor) for key in STEPPER_KEYS[:3]}
        roles["endstop_pin"] = ("endstop", motor)
    elif section == "extruder":
        roles = {key: ("motor", "e") for key in STEPPER_KEYS[:3]}
    if section in ("extruder", "heater_bed"):
        roles.update({key: ("heater", section) for key in HEATER_KEYS})
    elif section == "fan":
        roles = {"pin": ("fan", "fan")}
    elif section == "probe":
        roles = {"pin": ("endstop", "probe")}
    elif section == "bltouch":
        roles = {"sensor_pin": ("endstop", "probe"), "control_pin": ("servo", "probe")}
    return roles


class PinMapper:
    """Maps the pin keys of imported sections onto ``board`` (a board dict).

    ``notes``: pins changed on the way (list of Note); ``gaps``: pin keys
    left out, with the reason.
    """

    def __init__(self, board, kinematics):
        self.board = board
        self.kinematics = kinematics
        self.wired = {}          # (kind, name, key) -> Pin
        self.owner = {}          # pin name -> (kind, name, key)
        for (kind, name), text, key in board_roles(board):
            pin = parse_pin(text, can_pull=True)
            self.wired[(kind, name, key)] = pin
            self.owner.setdefault(pin.name, (kind, name, key))
        self.notes = []
        self.gaps = []

    def section(self, name, entries):
        """Rewrite the pin keys of section ``name`` (dict key -> Entry) in place."""
        roles = _section_roles(name, self.kinematics)
        chosen = {kind: self._chosen(name, entries, kind, usual)
                  for kind, usual in set(roles.values()) if kind in _CHOSEN_BY}
        for key, (kind, usual) in roles.items():
            if key in entries and entries[key].value != PROBE_ENDSTOP:
                self._map(name, entries, key, kind, chosen.get(kind, usual))

    def _chosen(self, section, entries, kind, usual):
        """The board's motor/heater/fan this section uses: the one whose pin
        the section's step_pin/heater_pin/pin is, else the usual one. A
        choice other than the usual one is written as Mendel's key."""
        key, pin_key = _CHOSEN_BY[kind]
        entry = entries.get(pin_key)
        owner = self.owner.get(self._name(entry.value)) if entry else None
        if owner is None or owner[0] != kind or owner[2] != pin_key or owner[1] == usual:
            return usual
        entries[key] = Entry(owner[1], entry.where, entry.section)
        self.notes.append(Note(entry.where, section, key, "%s (%s is the board's %s of %s %r)"
                               % (owner[1], self._name(entry.value), pin_key, kind, owner[1])))
        return owner[1]

    @staticmethod
    def _name(text):
        try:
            return parse_pin(text, can_pull=True).name
        except ValueError:
            return None

    def _map(self, section, entries, key, kind, role):
        entry = entries[key]
        try:
            pin = parse_pin(entry.value, can_pull=True)
            foreign = None
        except ValueError as exc:
            pin, foreign = None, str(exc)
        if kind in ("endstop", "servo"):
            wired = self._input(pin, kind, role)
        else:
            wired = self.wired.get((kind, role, key))
        if wired is None:
            del entries[key]
            self.gaps.append(Note(entry.where, section, key, "%s: the board %r has no %s %r "
                                  "for it" % (entry.value, self.board["id"], kind, role)))
            return
        if pin is not None and pin.name == wired.name:
            # dir_pin's "!" and an input's modifiers are the config's own
            # (mendel.config.pins); the firmware drives outputs as wired.
            own = key == "dir_pin" or kind in ("endstop", "servo")
            entries[key] = dataclasses.replace(entry, value=str(pin if own else wired))
            if not own and pin != wired:
                self.notes.append(Note(entry.where, section, key, "%s -> %s: modifiers as "
                                       "the board file wires this pin" % (entry.value, wired)))
            return
        entries[key] = dataclasses.replace(entry, value=str(wired))
        why = foreign or self._elsewhere(pin)
        check = {"dir_pin": "; check the motor's direction on the machine",
                 "endstop_pin": "; check the switch's polarity on the machine"}.get(key, "")
        self.notes.append(Note(entry.where, section, key, "%s -> %s: %s; written as the "
                               "board's %s of %s %r%s" % (entry.value, wired, why, key,
                                                          kind, role, check)))

    def _input(self, pin, kind, role):
        """An endstop or servo input: the pin itself if the board has it as
        that kind (whichever one: modifiers are the config's), else the
        board's ``role`` input."""
        owner = self.owner.get(pin.name) if pin else None
        if owner is not None and owner[0] == kind:
            return pin
        return self.wired.get((kind, role, "endstop_pin" if kind == "endstop"
                               else "control_pin"))

    def _elsewhere(self, pin):
        owner = self.owner.get(pin.name)
        if owner is None:
            return "%s is not a pin of the board %r" % (pin.name, self.board["id"])
        return "%s is the board's %s of %s %r" % (pin.name, owner[2], owner[0], owner[1])
