# Mendel host: the KEY=VALUE arguments of Klipper-style extended commands.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and check a command's ``KEY=VALUE`` words before it acts.

``Params(command, allowed)`` takes every word of an extended command
(``PROBE SAMPLES=3 PROBE_SPEED=2``) and refuses at once a key the command
does not have; the getters then convert and bound-check one key each, as
Klipper's ``gcmd.get_float(name, default, minval=, maxval=, above=)`` does,
with its words (``Error on 'PROBE SAMPLES=0': SAMPLES must have minimum of
1``) shortened to the part after the colon. Nothing here acts, so a
command reads all its arguments first and changes nothing when one fails.
"""
import shlex

from mendel.errors import CommandError


class ParamError(CommandError):
    """An argument of an extended command is missing, unknown or out of range."""


def key_values(text, code=None):
    """``{KEY: value text}`` of an extended command's words (keys
    upper-cased). A value may be quoted as Klipper reads them (shell words:
    ``FILENAME="my part.gcode"``). Raises ParamError for a word without ``=``
    (named with the command's ``code`` when given) or an unclosed quote."""
    pairs = {}
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        raise ParamError("%smalformed arguments %r (%s)"
                         % (code + ": " if code else "", text, exc)) from None
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise ParamError("%sexpected KEY=VALUE, found %r" % (code + ": " if code else "", word))
        pairs[key.upper()] = value
    return pairs


class Params:
    """The ``KEY=VALUE`` words of ``command`` (keys upper-cased); ``allowed``
    the keys the command has. Raises ParamError for a word without ``=``
    or a key not allowed."""

    def __init__(self, command, allowed=()):
        self.code = command.code
        self.values = key_values(command.text, self.code)
        for key in self.values:
            if key not in allowed:
                raise ParamError("%s has no parameter %s (it has: %s)"
                                 % (self.code, key, " ".join(allowed) or "none"))

    def __contains__(self, key):
        return key in self.values

    def get(self, key, default=None):
        """The text of ``key``, or ``default``."""
        return self.values.get(key, default)

    def get_float(self, key, default=None, minval=None, maxval=None, above=None):
        """``key`` as a float (``default`` when absent, unchecked); raises
        ParamError for text or a value out of bounds."""
        if key not in self.values:
            return default
        try:
            value = float(self.values[key])
        except ValueError:
            raise ParamError("%s: %s=%s is not a number" % (self.code, key, self.values[key])) \
                from None
        self._check(key, value, minval, maxval, above)
        return value

    def get_int(self, key, default=None, minval=None, maxval=None):
        """``key`` as an int (``default`` when absent); raises ParamError."""
        if key not in self.values:
            return default
        try:
            value = int(self.values[key])
        except ValueError:
            raise ParamError("%s: %s=%s is not a whole number"
                             % (self.code, key, self.values[key])) from None
        self._check(key, value, minval, maxval, None)
        return value

    def _check(self, key, value, minval, maxval, above):
        if value != value:
            raise ParamError("%s: %s must be a number, not nan" % (self.code, key))
        if minval is not None and value < minval:
            raise ParamError("%s: %s must have minimum of %s" % (self.code, key, minval))
        if maxval is not None and value > maxval:
            raise ParamError("%s: %s must have maximum of %s" % (self.code, key, maxval))
        if above is not None and value <= above:
            raise ParamError("%s: %s must be above %s" % (self.code, key, above))
