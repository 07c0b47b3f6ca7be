# Mendel host: reading printer.cfg with the line of every section and key.
# SPDX-License-Identifier: GPL-3.0-or-later
"""configparser, as Klipper reads printer.cfg, plus where each value was written.

:func:`read` parses a file with :class:`LineConfigParser` (a
``configparser.RawConfigParser``: ``#`` and ``;`` comments, also after a value;
multi-line values by indenting; no ``%`` interpolation, so G-code templates
keep their text; a later section or key of the same name adds to or
replaces the earlier one, as in Klipper). ``[include PATTERN]`` reads the
files matching the glob PATTERN (relative to the including file, in sorted
order) at that point, as Klipper's ``[include]`` does.

Line numbers: configparser stores each section in a dict made by its
``dict_type``; the dict given here records, for every key set while a file
is being read, the file and line being read at that moment. Nothing of
configparser's parsing is repeated here.
"""
import ast
import configparser
import glob
import os
import re

_INCLUDE = re.compile(r"\[include\s+([^\]]+?)\s*\](\s*[#;].*)?$")


class ConfigFileError(Exception):
    """The file cannot be read or parsed; the message names file and line."""


class _Reading:
    """Which file and line configparser is reading (None between reads)."""

    def __init__(self):
        self.path = None
        self.line = 0
        self.active = False

    def lines(self, lines, path, first):
        """Yield ``lines`` (the text of ``path`` from line ``first`` on) to
        configparser, keeping the current line; blank lines in front make
        configparser's own error line numbers those of the file."""
        self.path, self.active = path, True
        try:
            for number, line in enumerate(["\n"] * (first - 1) + lines, 1):
                self.line = number
                yield line
        finally:
            self.active = False


class LineConfigParser(configparser.RawConfigParser):
    """RawConfigParser that knows the file and line of each section and key."""

    def __init__(self):
        reading = _Reading()

        class _ValueLines(list):
            """A value's lines as configparser collects them, with their line numbers."""

            def __init__(self, values):
                super().__init__(values)
                self.numbers = [reading.line] * len(values)

            def append(self, value):
                self.numbers.append(reading.line)
                super().append(value)

        class _LineDict(dict):
            """A dict that records where each of its keys was read."""

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.where = {}
                self.value_lines = {}

            def __setitem__(self, key, value):
                # configparser sets each key when it reads its line, and again
                # after the read when it joins multi-line values: keep the first.
                if reading.active:
                    self.where[key] = (reading.path, reading.line)
                    if isinstance(value, list):
                        value = _ValueLines(value)
                        self.value_lines[key] = value.numbers
                super().__setitem__(key, value)

        self._reading = reading
        super().__init__(strict=False, inline_comment_prefixes=("#", ";"),
                         dict_type=_LineDict)

    def where(self, section, key=None):
        """``(path, line)`` of ``[section]`` (its first header) or of its ``key``;
        None if unknown."""
        if key is None:
            return self._sections.where.get(section)
        values = self._sections.get(section)
        return values.where.get(self.optionxform(key)) if values is not None else None

    def value_lines(self, section, key):
        """File line numbers of each line of a multi-line value (its first
        line is the key's own line); [] if unknown."""
        values = self._sections.get(section)
        if values is None:
            return []
        return list(values.value_lines.get(self.optionxform(key), ()))

    def read_lines(self, lines, path, first=1):
        """Parse ``lines`` of file ``path`` that start at line ``first``.

        Raises ConfigFileError naming the file and line of a line that is
        neither a section header, a key nor a continuation.
        """
        try:
            self.read_file(self._reading.lines(lines, path, first), source=path)
        except configparser.MissingSectionHeaderError as exc:
            raise ConfigFileError("%s:%d: %r comes before any [section]"
                                  % (path, exc.lineno, exc.line.strip())) from None
        except configparser.ParsingError as exc:
            lineno, text = exc.errors[0]
            if text[:1] in "'\"":           # Python < 3.13 keeps the line's repr
                text = ast.literal_eval(text)
            raise ConfigFileError("%s:%d: cannot read %r: not a [section], 'key: value' "
                                  "or an indented continuation"
                                  % (path, lineno, text.strip())) from None


def read(path, autosave=True, missing=None):
    """A LineConfigParser holding ``path`` and the files it includes, then
    (``autosave``) the SAVE_CONFIG block at the end of ``path``, whose
    values override theirs (:mod:`mendel.config.autosave`).

    Raises ConfigFileError: missing or unreadable file, bad line (in the
    block too, by its line in ``path``), include loop, include of a file
    that does not exist -- unless ``missing`` is given: then
    ``missing(path, line, pattern)`` is called for such an include and
    reading goes on (``mendel config import`` lists it).
    """
    from mendel.config import autosave as block     # it reads files with this module
    parser = LineConfigParser()
    _read_file(parser, path, [], missing)
    if autosave:
        with open(path, encoding="utf-8", newline="") as f:
            _user, lines, header_line = block.split(f.read())
        if header_line is not None:
            parser.read_lines(lines, path, header_line + len(block.PREAMBLE))
    return parser


def _read_file(parser, path, including, missing=None):
    real = os.path.realpath(path)
    if real in including:
        raise ConfigFileError("%s: included again from itself (include loop)" % path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
    except FileNotFoundError:
        raise ConfigFileError("%s: no such config file" % path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError("%s: cannot read: %s" % (path, exc)) from None
    start = 0
    for index, line in enumerate(lines):
        match = _INCLUDE.match(line.strip())
        if match is None:
            continue
        parser.read_lines(lines[start:index], path, start + 1)
        start = index + 1
        for name in _include_paths(path, index + 1, match.group(1), missing):
            _read_file(parser, name, including + [real], missing)
    parser.read_lines(lines[start:], path, start + 1)


def _include_paths(path, lineno, pattern, missing=None):
    full = os.path.join(os.path.dirname(path), pattern)
    names = sorted(glob.glob(full))
    if not names and not glob.has_magic(pattern) and missing is not None:
        missing(path, lineno, pattern)
    elif not names and not glob.has_magic(pattern):
        raise ConfigFileError("%s:%d: [include %s]: no such file %s"
                              % (path, lineno, pattern, full))
    return names
