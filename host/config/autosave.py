# Mendel host: SAVE_CONFIG's block at the end of printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The auto-generated block at the end of printer.cfg, in Klipper's format.

The block starts at the line :data:`HEADER`, then ``#*# DO NOT EDIT ...``
and ``#*#``; every following line is ``#*# `` plus a printer.cfg line
(``[section]``, ``key = value``, a tab-indented continuation of a
multi-line value). :func:`mendel.config.file.read` reads it after the
user's file and its includes, so its values override theirs.

:func:`save` rewrites only the block: every line before it is kept byte
for byte. It writes a temporary file beside printer.cfg and renames it over
(atomic), after keeping the previous file as ``printer-YYYYMMDD_HHMMSS.cfg``
(one backup: older ones of that pattern are removed). A key the block would
set that the user sets in an *included* file is refused (the block would
silently hide the included value; move it to printer.cfg itself).
"""
import glob
import os
import re
import time

from mendel.config import file as configfile

HEADER = "#*# <---------------------- SAVE_CONFIG ---------------------->"
PREAMBLE = (HEADER, "#*# DO NOT EDIT THIS BLOCK OR BELOW. The contents are auto-generated.",
             "#*#")
_PREFIX = "#*#"
_BACKUP = re.compile(r"-\d{8}_\d{6}\.cfg$")


class AutosaveError(configfile.ConfigFileError):
    """The block cannot be read or the save would conflict; names file and line."""


def split(text):
    """``(user text, block lines, number of the header line or None)``: the
    file's text before the header line, kept as is, and the block's lines
    with their ``#*#`` prefix removed (the three preamble lines left out)."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.rstrip("\r\n") == HEADER:
            return "".join(lines[:index]), _unprefixed(lines[index:], index), index + 1
    return text, [], None


def _unprefixed(lines, first_index):
    block = []
    for number, line in enumerate(lines, first_index + 1):
        text = line.rstrip("\r\n")
        if not text.startswith(_PREFIX):
            raise AutosaveError("line %d: %r in the SAVE_CONFIG block does not start with %s "
                                "(the block must stay last in the file)"
                                % (number, text[:40], _PREFIX))
        block.append(text[len(_PREFIX) + 1:] if text[len(_PREFIX):][:1] == " "
                     else text[len(_PREFIX):])
    return [line + "\n" for line in block[len(PREAMBLE):]]


def read_block(path):
    """The block of printer.cfg ``path``: dict section -> dict key -> value
    text (multi-line values joined with newlines); {} without a block.
    Raises AutosaveError."""
    parser = block_parser(path)
    return {section: dict(parser.items(section)) for section in parser.sections()}


def block_parser(path):
    """The block of printer.cfg ``path`` as a LineConfigParser (empty without
    a block; lines are those of ``path``). Raises AutosaveError."""
    with open(path, encoding="utf-8", newline="") as f:
        _user, block, header_line = split(f.read())
    parser = configfile.LineConfigParser()
    if header_line is not None:
        parser.read_lines(block, path, header_line + len(PREAMBLE))
    return parser


def save(path, changes, now=None):
    """Apply ``changes`` to the block of ``path``: section -> None (remove
    the section) or section -> dict key -> value text (None removes the key).
    Returns the backup's path. Raises AutosaveError (conflict with an
    included file, unreadable block) or OSError."""
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    user, _block, _line = split(text)
    sections = read_block(path)
    for section, values in changes.items():
        if values is None:
            sections.pop(section, None)
            continue
        merged = sections.setdefault(section, {})
        for key, value in values.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = str(value)
        if not merged:
            del sections[section]
    _refuse_include_conflicts(path, sections)
    return _write(path, user, sections, now)


def _refuse_include_conflicts(path, sections):
    parser = configfile.read(path, autosave=False)
    for section, values in sections.items():
        for key in values:
            where = parser.has_section(section) and parser.where(section, key)
            if where and os.path.realpath(where[0]) != os.path.realpath(path):
                raise AutosaveError(
                    "%s:%d: [%s] %s is set in an included file; SAVE_CONFIG cannot override "
                    "it from %s: move the key into %s (or remove it there) and save again"
                    % (where[0], where[1], section, key, path, path))


def block_text(sections):
    """The block for ``sections`` (dict section -> dict key -> value text),
    preamble included; "" when there is nothing to save."""
    if not sections:
        return ""
    lines = list(PREAMBLE)
    for section, values in sections.items():
        lines.append("%s [%s]" % (_PREFIX, section))
        for key, value in values.items():
            first, *rest = value.split("\n")
            lines.append(("%s %s = %s" % (_PREFIX, key, first)).rstrip())
            lines += ["%s \t%s" % (_PREFIX, more.strip()) for more in rest]
        lines.append(_PREFIX)
    return "\n".join(lines[:-1]) + "\n"


def _write(path, user, sections, now):
    block = block_text(sections)
    if block and user and not user.endswith("\n"):
        user += "\n"
    if block and not user.endswith("\n\n") and user:
        user += "\n"
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(now))
    root = path[:-4] if path.endswith(".cfg") else path
    backup = "%s-%s.cfg" % (root, stamp)
    temp = root + "_autosave.cfg"
    with open(path, "rb") as original, open(backup, "wb") as copy:
        copy.write(original.read())
    with open(temp, "w", encoding="utf-8", newline="") as f:
        f.write(user + block)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    for old in glob.glob(glob.escape(root) + "-*.cfg"):
        if old != backup and _BACKUP.search(old):
            os.remove(old)
    return backup


class PendingSave:
    """Results waiting for SAVE_CONFIG (Klipper's "save_config_pending"):
    PROBE_CALIBRATE's z_offset, BED_MESH_PROFILE SAVE's mesh, PID results.
    Commands :meth:`set` keys or :meth:`remove` sections; :meth:`save` writes
    them into ``path``'s block at once."""

    def __init__(self, path):
        self.path = path
        self.changes = {}

    def set(self, section, key, value):
        """Save ``value`` (text) as ``key`` of ``[section]``."""
        values = self.changes.get(section)
        if values is None:
            values = self.changes[section] = {}
        values[key] = str(value)

    def set_section(self, section, values):
        """Replace ``[section]`` of the block with ``values`` (key -> text)."""
        self.changes[section] = {key: str(value) for key, value in values.items()}

    def remove(self, section):
        """Drop ``[section]`` from the block."""
        self.changes[section] = None

    def __bool__(self):
        return bool(self.changes)

    def save(self, now=None):
        """Write the pending changes; returns the backup path (None when
        nothing was pending). Raises AutosaveError or OSError, keeping them."""
        if not self.changes:
            return None
        backup = save(self.path, self.changes, now)
        self.changes = {}
        return backup
