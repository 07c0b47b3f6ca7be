# Mendel host: objects of a print, and the ones left out (Klipper's exclude_object).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Objects a sliced file labels, and excluding some of them mid-print.

Commands, as Klipper's G-Codes and Exclude_Object documents describe them:

* ``EXCLUDE_OBJECT_DEFINE NAME=<name> [CENTER=x,y] [POLYGON=[[x,y],...]]``
  declares an object (mm); ``RESET=1`` forgets every object; with no NAME it
  lists the objects.
* ``EXCLUDE_OBJECT_START NAME=<name>`` / ``EXCLUDE_OBJECT_END [NAME=<name>]``
  frame the lines of one object (an object not declared is declared then).
* ``EXCLUDE_OBJECT [NAME=<name>] [CURRENT=1] [RESET=1] [LIST_OBJECTS=1]``:
  exclude the named or the current object; RESET=1 un-excludes the named one,
  or all; LIST_OBJECTS=1 lists the objects; no argument lists the excluded.
* Marlin's ``M486`` on the same state (Marlin's M486 page; named by the id,
  as Klipper's sample M486 macro does): ``T<n>`` starts a new set of objects
  ``0..n-1``, ``S<id>`` starts object ``id`` (``S-1``: no object),
  ``A<name>`` labels the current object (kept for the check report),
  ``P<id>`` excludes object ``id``, ``U<id>`` un-excludes it, ``C``
  excludes the current one.

Names are upper-cased, as Klipper does. While the current object is an
excluded one no move reaches the machine; the interpreter keeps the G-code
position as if they had run. At the first move after it (the next object's
travel) the toolhead travels, without extruding, from where it stopped to
the G-code position when that move extrudes (a travel goes straight to its
end), and the extruder goes on from where it stopped: the filament of the
excluded lines is never pushed (Klipper's exclude_object transform does the
same). :meth:`ExcludeObject.diverted` tells the
interpreter to run lines one by one until then (the C move feed plans from
the G-code position).
"""
import json

from mendel.errors import CommandError
from mendel.gcode.params import key_values


# M486 T<count>: more objects than this is taken for a wrong line (Klipper's
# EXCLUDE_OBJECT_DEFINE has no limit; a plate of 1,000 parts is already huge).
MAX_OBJECTS = 1000


class ExcludeObjectError(CommandError):
    """An EXCLUDE_OBJECT* or M486 line that cannot be carried out."""


class ExcludeObject:
    """The objects of one print, the excluded ones and the current one.

    ``interpreter``: the G-code interpreter (its machine, position, feed)."""

    def __init__(self, interpreter):
        self._interpreter = interpreter
        self.objects = {}            # NAME -> {"name", "center" [x, y] mm, "polygon"}
        self.excluded = []           # NAMEs, in the order excluded
        self.current = None          # NAME of the object being printed, or None
        self.labels = {}             # M486 id or EXCLUDE_OBJECT name -> name as written
        self._held = False           # moves were left out and the toolhead not yet caught up

    # -- state read by the interpreter and by servers -----------------------
    @property
    def excluding(self):
        """True inside an excluded object: moves are left out."""
        return self.current is not None and self.current in self.excluded

    @property
    def diverted(self):
        """True while moves must go line by line through the interpreter."""
        return self._held or self.excluding

    def polygons(self):
        """Polygons of the defined objects: list of [(x, y), ...] mm."""
        return [obj["polygon"] for obj in self.objects.values() if obj.get("polygon")]

    def status(self, eventtime=None):
        """Klipper's ``exclude_object`` object: {"objects": [{"name", "center",
        "polygon"}], "excluded_objects": [NAME], "current_object": NAME or
        None}; a center or polygon not given is left out of its object.
        ``eventtime`` (s) is accepted for the status interface and not used."""
        return {"objects": [dict(obj) for obj in self.objects.values()],
                "excluded_objects": list(self.excluded),
                "current_object": self.current}

    def reset(self):
        """Forget every object (a new print)."""
        self.objects.clear()
        self.excluded.clear()
        self.labels.clear()
        self.current = None

    # -- moves ------------------------------------------------------------
    def allow_moves(self):
        """Before an arc or a firmware retraction: False while excluding (the
        caller then only updates its G-code position). The first call after
        an excluded object brings the toolhead to the interpreter's X, Y, Z
        with no extrusion and takes the extruder's real position as the
        interpreter's, so E goes on from where it stopped."""
        if self.excluding:
            self._held = True
            return False
        if self._held:
            self._held = False
            self._catch_up()
        return True

    def adjust(self, target):
        """A G0/G1 move to ``target`` ([x, y, z, e] mm, from the interpreter's
        G-code position) while :attr:`diverted`: None inside an excluded
        object (nothing is sent); else the target to send, its E re-based on
        the extruder's real position. Only a move that extrudes first
        travels to the G-code position (so it lays its line where the file
        puts it); a travel goes straight from where the toolhead stopped.
        Sets the interpreter's position to the machine's."""
        if self.excluding:
            self._held = True
            return None
        self._held = False
        interpreter = self._interpreter
        e_mm = target[3] - interpreter.position[3]
        self._catch_up(travel=e_mm != 0.0)
        return list(target[:3]) + [interpreter.position[3] + e_mm]

    def _catch_up(self, travel=True):
        """The interpreter's position becomes the machine's; with ``travel``,
        after a move (no extrusion) to the interpreter's X, Y, Z."""
        interpreter = self._interpreter
        machine = interpreter.machine
        real = list(machine.position)
        if travel:
            target = list(interpreter.position[:3]) + [real[3]]
            if target[:3] != real[:3]:
                machine.move(target, interpreter.feed * interpreter.speed_factor)
                interpreter.moves += 1
            real = target
        interpreter.position = real

    # -- commands ---------------------------------------------------------
    def handlers(self):
        """``{command: handler(command)}`` for the interpreter's table."""
        return {"EXCLUDE_OBJECT_DEFINE": self._define, "EXCLUDE_OBJECT_START": self._start,
                "EXCLUDE_OBJECT_END": self._end, "EXCLUDE_OBJECT": self._exclude,
                "M486": self._m486}

    def _define(self, command):
        args = _args(command, ("NAME", "CENTER", "POLYGON", "RESET"))
        if args.get("RESET", "0") not in ("0", ""):
            self.reset()
            return
        name = args.get("NAME")
        if not name:
            self._list()
            return
        obj = {"name": name.upper()}
        if "CENTER" in args:
            obj["center"] = _center(name, args["CENTER"])
        if "POLYGON" in args:
            obj["polygon"] = _polygon(name, args["POLYGON"])
        self.objects[obj["name"]] = obj
        self.labels.setdefault(name, name)
        self._event(command, name)

    def _start(self, command):
        name = _name(command, _args(command, ("NAME",)))
        self._begin(name)
        self._event(command, name)

    def _end(self, command):
        args = _args(command, ("NAME",))
        name = args.get("NAME")
        if self.current is None:
            self._interpreter.machine.respond(
                "EXCLUDE_OBJECT_END: no object is being printed")
        elif name and name.upper() != self.current:
            self._interpreter.machine.respond(
                "EXCLUDE_OBJECT_END NAME=%s does not match the current object %s"
                % (name, self.current))
        self.current = None
        self._event(command, name)

    def _exclude(self, command):
        args = _args(command, ("NAME", "CURRENT", "RESET", "LIST_OBJECTS"))
        flag = lambda key: args.get(key, "0") not in ("0", "")      # noqa: E731
        if flag("LIST_OBJECTS"):
            self._list()
        elif flag("RESET"):
            name = args.get("NAME")
            self.excluded[:] = [] if not name else [n for n in self.excluded
                                                    if n != name.upper()]
        elif flag("CURRENT"):
            if self.current is None:
                raise ExcludeObjectError("EXCLUDE_OBJECT CURRENT=1: no object is being "
                                         "printed")
            self._exclude_name(self.current)
        elif args.get("NAME"):
            self._exclude_name(args["NAME"].upper())
        else:
            self._interpreter.machine.respond(
                "Excluded objects: %s" % (" ".join(self.excluded) or "none"))

    def _exclude_name(self, name):
        """Exclude ``name``; one not defined yet (Klipper allows it, a file may
        define its objects later) is said so."""
        if name not in self.excluded:
            self.excluded.append(name)
            self._interpreter.machine.respond(
                "Excluding object %s%s" % (name, "" if name in self.objects else
                                           " (not defined yet; objects: %s)"
                                           % (" ".join(self.objects) or "none")))

    def _list(self):
        respond = self._interpreter.machine.respond
        respond("Known objects: %s" % (" ".join(self.objects) or "none"))

    def _begin(self, name):
        name = name.upper()
        if name not in self.objects:
            self.objects[name] = {"name": name}
        self.current = name

    def _m486(self, command):
        """Marlin's M486 on the same state (see the module doc)."""
        params = command.params
        ids = {letter: _object_id(letter, params[letter]) for letter in "TSPU"
               if letter in params}
        if "T" in ids:
            self.reset()
            for i in range(ids["T"]):
                self.objects[str(i)] = {"name": str(i)}
        if "S" in ids:
            object_id = ids["S"]
            if object_id < 0:
                self.current = None
            else:
                self._begin(str(object_id))
            self._interpreter.machine.event("object", params["S"])
        if "A" in params:
            self._label(params["A"])
        if "C" in params:
            if self.current is None:
                raise ExcludeObjectError("M486 C: no object is being printed")
            self._exclude_name(self.current)
        if "P" in ids:
            self._exclude_name(str(ids["P"]))
        if "U" in ids:
            name = str(ids["U"])
            self.excluded[:] = [n for n in self.excluded if n != name]

    def _label(self, label):
        if self.current is None:
            raise ExcludeObjectError("M486 A%s names no object: give M486 S<id> first" % label)
        key = int(self.current) if self.current.isdigit() else self.current
        self.labels[key] = label
        self._interpreter.machine.event("object_name", label)

    def _event(self, command, name):
        self._interpreter.machine.event(command.code.lower(), name)


def _object_id(letter, value):
    """M486's number after ``letter``: a whole number -1..MAX_OBJECTS (S-1
    only), else ExcludeObjectError."""
    if value is None or value != value or not -1 <= value <= MAX_OBJECTS \
            or value != int(value) or (value < 0 and letter != "S"):
        raise ExcludeObjectError("M486 %s needs a whole number 0..%d%s, not %s"
                                 % (letter, MAX_OBJECTS, " (or -1)" if letter == "S" else "",
                                    value))
    return int(value)


def _args(command, allowed):
    args = key_values(command.text, command.code)
    for key in args:
        if key not in allowed:
            raise ExcludeObjectError("%s has no parameter %s (it has: %s)"
                                     % (command.code, key, " ".join(allowed)))
    return args


def _name(command, args):
    if not args.get("NAME"):
        raise ExcludeObjectError("%s needs NAME=<object>" % command.code)
    return args["NAME"]


def _center(name, text):
    try:
        x, y = (float(part) for part in text.split(","))
    except ValueError:
        raise ExcludeObjectError("EXCLUDE_OBJECT_DEFINE NAME=%s: CENTER=%s is not x,y (mm)"
                                 % (name, text[:40])) from None
    return [x, y]


def _polygon(name, text):
    """POLYGON=[[x,y],...] (JSON, mm) as a list of [x, y]."""
    try:
        return [[float(x), float(y)] for x, y in json.loads(text)]
    except (ValueError, TypeError):
        raise ExcludeObjectError("EXCLUDE_OBJECT_DEFINE NAME=%s: POLYGON=%s is not a list "
                                 "of [x,y] points" % (name, text[:40])) from None
