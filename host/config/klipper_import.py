# Mendel host: `mendel config import`, a Mendel printer.cfg from a Klipper one.
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Mendel printer.cfg written from a Klipper printer.cfg, and what could not come along.

Reading: the Klipper file is read by :func:`mendel.config.file.read`, its
``[include]`` files expanded at their place (an include that does not exist
is listed, not fatal); its SAVE_CONFIG block (``#*#`` lines) separately by
:func:`mendel.config.autosave.block_parser`, and written out again as the
new file's block, so saved values (PID gains, a probe's z_offset, bed mesh
profiles, a delta's calibration) still override the sections above them.

Carrying: ``[board] name`` is the board given; ``[mcu]``'s keys move to
``[board]`` (``serial``, ``baud``); every other section is copied key for
key; pin keys are mapped through the board file
(:mod:`mendel.config.import_pins`). Which sections and keys Mendel has is
not a list kept here: Mendel's own reader (:func:`mendel.config.load`)
decides. The result is loaded; each section or key it names as unknown, or
whose value it refuses, is left out and listed with the reader's reason,
and the result loaded again, until it loads. A key the reader needs but
refuses (a thermistor Mendel has no table for) cannot be left out: it stays
in and is listed as refused, so ``mendel config check`` on the output
reports only what the import listed.
"""
import dataclasses
import os
import re
import tempfile

from mendel import config as config_mod, resources
from mendel.boards import BoardError, load_board
from mendel.config import autosave, file as configfile
from mendel.config.import_pins import Entry, Note, PinMapper
from mendel.config.section import REQUIRED

# Each round of loading leaves out at least one key or section (or puts one
# back for good), so a file ends well before this; it bounds a reader bug.
MAX_ROUNDS = 1000
_INDENT = "    "        # continuation lines of a multi-line value (G-code)


@dataclasses.dataclass
class Imported:
    """The imported config and its lists.

    ``sections``: section -> {key: Entry}, in the order written;
    ``headers``: section -> ``(path, line)`` of its Klipper header;
    ``block``: the SAVE_CONFIG block's sections, likewise; ``gaps``: Notes
    of what was left out and why; ``changes``: carried with a change (pins,
    ``[mcu]`` keys); ``warnings``: carried, read but not applied (the
    reader's warnings); ``refused``: left in, refused by the reader.
    """
    source: str
    board: str
    sections: dict
    headers: dict
    block: dict
    gaps: list
    changes: list
    warnings: list = dataclasses.field(default_factory=list)
    refused: list = dataclasses.field(default_factory=list)

    @property
    def loads(self):
        """Does the result load with Mendel's config reader?"""
        return not self.refused

    def text(self, name="printer.cfg"):
        """The new printer.cfg (``name``: what the header calls it)."""
        lines = self._header(name) + [""]
        for section, entries in self.sections.items():
            lines.append("[%s]" % section)
            for key, entry in entries.items():
                first, *rest = entry.value.split("\n")
                lines.append(("%s = %s" % (key, first)).rstrip())
                lines += [_INDENT + line if line.strip() else "" for line in rest]
            lines.append("")
        block = autosave.block_text({section: {key: e.value for key, e in entries.items()}
                                     for section, entries in self.block.items() if entries})
        return "\n".join(lines) + ("\n" + block if block else "")

    def _header(self, name):
        included = sorted({e.where[0] for entries in self.sections.values()
                           for e in entries.values() if e.where} - {self.source})
        head = ["# Mendel printer.cfg for the board %s (boards/%s.json), imported from the"
                % (self.board, self.board),
                "# Klipper config %s by `mendel config import`. Klipper's comments are not"
                % self.source,
                "# carried. Check it: mendel config check %s" % name]
        if included:
            head.append("# Its [include] files are written out in full here: %s"
                        % ", ".join(included))
        for title, notes in (("Not carried", self.gaps),
                             ("Carried with a change", self.changes),
                             ("Carried, read but not applied yet", self.warnings),
                             ("Left in, but Mendel refuses it: fix these", self.refused)):
            if notes:
                head += ["#", "# %s (%d):" % (title, len(notes))]
                head += ["#   %s" % note for note in notes]
        return head


def import_klipper(path, board):
    """Import Klipper config ``path`` for Mendel board ``board`` (a
    ``boards/<id>.json`` id); an :class:`Imported`. Raises ConfigError: no
    such board, the file cannot be read or has a line that is not a
    section, key or continuation."""
    try:
        wiring = load_board(board)
    except BoardError as exc:
        raise config_mod.ConfigError(str(exc)) from None
    try:
        result = _read(path, board)
    except configfile.ConfigFileError as exc:
        raise config_mod.ConfigError(str(exc)) from None
    printer = result.block.get("printer", {}).get("kinematics") or result.sections.get(
        "printer", {}).get("kinematics")
    mapper = PinMapper(wiring, printer.value if printer else None)
    for name, entries in result.sections.items():
        mapper.section(name, entries)
    result.gaps += mapper.gaps
    result.changes += mapper.notes
    _settle(result)
    result.changes += [Note(e.where, "mcu", key, "moves to [board] %s%s" % (key, _renamed(e)))
                       for key, e in result.sections["board"].items() if e.section == "mcu"]
    for notes in (result.gaps, result.changes, result.refused):
        notes.sort(key=lambda n: (n.where is None, n.where and n.where[0] != path,
                                  n.where or ("", 0)))
    return result


SIM_BOARD = "sim"          # boards/sim.json: run by MicroPython's unix port, no port


def _renamed(entry):
    """A word on a serial port named after Klipper's firmware (``/dev/serial/by-id/
    usb-Klipper_...``): the board has another name once Mendel's firmware is on it."""
    if "klipper" not in entry.value.lower():
        return ""
    return (" (named after Klipper's firmware: with Mendel's firmware on the board, its "
            "port has another name)")


def _read(path, board):
    """The Klipper file as an Imported with nothing settled yet."""
    gaps = []

    def missing(including, line, pattern):
        gaps.append(Note((including, line), "include " + pattern, None,
                         "no such file: nothing of it is carried"))
    parser = configfile.read(path, autosave=False, missing=missing)
    sections = {"board": {"name": Entry(board)}}
    headers = {"board": parser.where("mcu")}
    for name in parser.sections():
        target = "board" if name == "mcu" else name
        entries = sections.setdefault(target, {})
        headers.setdefault(target, parser.where(name))
        for key, value in parser.items(name):
            if name == "mcu" and key in ("serial", "baud") and board == SIM_BOARD:
                gaps.append(Note(parser.where(name, key), name, key,
                                 "left out: the simulated board has no port (mendel serve "
                                 "and mendel print start it themselves)"))
                continue
            entries[key] = Entry(value, parser.where(name, key), name if target != name else None)
    saved = autosave.block_parser(path)
    block = {name: {key: Entry(value, saved.where(name, key))
                    for key, value in saved.items(name)} for name in saved.sections()}
    headers.update({name: saved.where(name) for name in block if name not in headers})
    return Imported(path, board, sections, headers, block, gaps, [])


def _settle(result):
    """Load the result, leave out what the reader names, and again, until it
    loads or nothing more can go; a needed key the reader refuses stays
    (``result.refused``, with the last round's problems)."""
    state = _Settling(result)
    with tempfile.TemporaryDirectory(prefix="mendel-import-") as folder:
        path = os.path.join(folder, "printer.cfg")
        for _round in range(MAX_ROUNDS):
            with open(path, "w", encoding="utf-8") as f:
                f.write(state.candidate())
            try:
                cfg = config_mod.load(path)
            except config_mod.ConfigError as exc:
                if not state.leave_out(exc.problems):
                    result.refused = state.refused() + [
                        state.note(p) for p in exc.problems
                        if (p.section, p.key) not in state.kept]
                    return
                continue
            prefix = re.compile(r"^%s(:\d+)?: " % re.escape(path))
            result.warnings = [prefix.sub("", warning) for warning in cfg.warnings]
            result.refused = state.refused()
            return
    raise RuntimeError("config import: no end after %d rounds" % MAX_ROUNDS)


def _stand_ins():
    """The bundled printer.cfg files (host/configs/), default first: where a
    refused key's stand-in comes from."""
    default = resources.default_config()
    folder = os.path.dirname(default)
    paths = [default] + sorted(os.path.join(folder, name) for name in os.listdir(folder)
                               if name.endswith(".cfg") and name != os.path.basename(default))
    return [configfile.read(path) for path in paths]


class _Settling:
    """What :func:`_settle` has left out (to put a needed key back) and kept.

    A needed key the reader refuses stops its reading there (typed values
    stop at the first error), so the rest would go unchecked: while
    settling, such a key is given the value a bundled printer.cfg writes
    there (its stand-in), and the rest is read; the output keeps the
    Klipper value.
    """

    def __init__(self, result):
        self.result = result
        self.dropped = {}        # (section, key) -> (entries, Entry, gap Note)
        self.kept = {}           # (section, key) -> Note: refused, but needed
        self.bundled = None

    def candidate(self):
        """The result's text with each kept key's stand-in in place."""
        swapped = []
        for (section, key) in self.kept:
            for layer in self._layers(section):
                entry = layer[section].get(key)
                value = self._stand_in(section, key)
                if entry is not None and value is not None:
                    swapped.append((entry, entry.value))
                    entry.value = value
        try:
            return self.result.text()
        finally:
            for entry, value in swapped:
                entry.value = value

    def _stand_in(self, section, key):
        if self.bundled is None:
            self.bundled = _stand_ins()
        for parser in self.bundled:
            if parser.has_option(section, key):
                return parser.get(section, key)
        return None

    def refused(self):
        return list(self.kept.values())

    def leave_out(self, problems):
        """Act on one round's problems; did anything change?"""
        done = set()
        for problem in problems:
            spot = (problem.section, problem.key)
            if spot not in done and spot not in self.kept and self._one(problem):
                done.add(spot)
        return bool(done)

    def _layers(self, section):
        result = self.result
        return [layer for layer in (result.block, result.sections) if section in layer]

    def _one(self, problem):
        section, key = problem.section, problem.key
        layers = self._layers(section)
        if not layers:
            return False
        if key is None:
            if not problem.message.startswith(config_mod.UNKNOWN_SECTION):
                return False
            for layer in layers:
                del layer[section]
            self.result.gaps.append(Note(self.result.headers.get(section), section, None,
                                         problem.message))
            return True
        having = [layer for layer in layers if key in layer[section]]
        if not having:
            return self._put_back(problem)
        # An unknown key goes from the block and the sections; a refused
        # value only where it is in use (the block's overrides the other).
        for layer in having if problem.message == config_mod.UNKNOWN_KEY else having[:1]:
            entry = layer[section].pop(key)
            note = Note(entry.where, entry.section or section, key, problem.message)
            self.result.gaps.append(note)
            self.dropped[(section, key)] = (layer[section], entry, note)
        return True

    def _put_back(self, problem):
        """A key left out for its value that the reader then needs: back in, refused."""
        spot = (problem.section, problem.key)
        if not problem.message.startswith(REQUIRED) or spot not in self.dropped:
            return False
        entries, entry, note = self.dropped.pop(spot)
        entries[problem.key] = entry
        self.result.gaps.remove(note)
        self.kept[spot] = note
        return True

    def note(self, problem):
        """A last-round problem as a Note at its place in the Klipper file."""
        where = self.result.headers.get(problem.section)
        for layer in self._layers(problem.section):
            entry = layer[problem.section].get(problem.key)
            if entry is not None:
                where = entry.where
        return Note(where, problem.section, problem.key, problem.message)
