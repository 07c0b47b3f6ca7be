# Mendel host: typed, checked access to one printer.cfg section.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Problem, ConfigError and Section: how every config reader reads a value.

A :class:`Section` reads one section of a parsed printer.cfg
(:mod:`mendel.config.file`), checks each value's type and range, raises
ConfigError naming the file, line, section and key, and remembers which
keys were read (a key nobody reads is reported as unknown).
"""
import dataclasses
import difflib
import math

# The message of a key a reader needs and the file does not give.
REQUIRED = "required key is missing"


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



class Section:
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
            self._fail(key, REQUIRED + self._typo_hint(key))
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

    def getboolean(self, key, default=None):
        """``True``/``False`` (also 1/0, yes/no, on/off, as configparser reads them)."""
        raw = self.get(key, None if default is None else str(default))
        value = {"true": True, "1": True, "yes": True, "on": True,
                 "false": False, "0": False, "no": False, "off": False}.get(raw.lower())
        if value is None:
            self._fail(key, "%r is not True or False" % raw)
        return value

    def getchoice(self, key, choices, default=None):
        """One of ``choices`` (strings, compared in lower case)."""
        raw = self.get(key, default).lower()
        if raw not in choices:
            self._fail(key, "%r is not one of %s" % (raw, ", ".join(choices)))
        return raw

    def getfloats(self, key, count, default=None, minval=None, above=None, maxval=None):
        """A tuple of ``count`` numbers written ``a, b``; ``default`` a tuple or None."""
        raw = self.get(key, None if default is None else ", ".join("%r" % v for v in default))
        return tuple(self._bounded(key, raw, part, float, minval, above, maxval)
                     for part in self._parts(key, raw, count))

    def getints(self, key, count, default=None, minval=None, maxval=None):
        """Like :meth:`getfloats` for whole numbers; one number alone is used
        for all ``count`` (Klipper's ``probe_count: 5``)."""
        raw = self.get(key, None if default is None else ", ".join(str(v) for v in default))
        parts = [raw.strip()] * count if "," not in raw else self._parts(key, raw, count)
        return tuple(self._bounded(key, raw, part, int, minval, None, maxval) for part in parts)

    def _parts(self, key, raw, count):
        parts = [part.strip() for part in raw.split(",")]
        if len(parts) != count:
            self._fail(key, "%r: give %d values separated by commas" % (raw, count))
        return parts

    def _bounded(self, key, raw, part, kind, minval, above, maxval):
        """``part`` of value ``raw`` as ``kind`` (float or int), range-checked."""
        try:
            value = kind(part)
        except ValueError:
            self._fail(key, "%r: %r is not a %s" % (
                raw, part, "number" if kind is float else "whole number"))
        if not math.isfinite(value):
            self._fail(key, "%r: %r is not a finite number" % (raw, part))
        if minval is not None and value < minval:
            self._fail(key, "%r: %g is below the minimum %g" % (raw, value, minval))
        if above is not None and value <= above:
            self._fail(key, "%r: %g must be above %g" % (raw, value, above))
        if maxval is not None and value > maxval:
            self._fail(key, "%r: %g is above the maximum %g" % (raw, value, maxval))
        return value


def optional(parser, path, name, read_keys):
    """The Section ``name`` if the file has it, else None."""
    return Section(parser, path, name, read_keys) if parser.has_section(name) else None
