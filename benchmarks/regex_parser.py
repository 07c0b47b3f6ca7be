# Mendel benchmark baseline: a straightforward pure-Python regex G-code parser.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The baseline ``benchmarks/parse_speed.py`` compares the Cython lexer against.

It was Mendel's first parser; it turns one line of G-code into a :class:`Command`.

Syntax follows the RepRap wiki "G-code" page: a word is a letter and a number,
spaces between words are optional (``G1X10Y-5.5E.2``), ``;`` starts a comment
to the end of the line and ``( ... )`` is an inline comment. A line number
``N`` may lead and a ``*`` checksum (XOR of the bytes before it) may end the
line; the checksum is verified. Numbers never take an exponent (``X1E3`` is
X=1, E=3). ``M117``/``M118``/``M23`` keep their text argument verbatim.
Klipper-style extended commands (``SET_VELOCITY_LIMIT ACCEL=500``) are
recognised by name and carry their ``KEY=VALUE`` arguments as text.
"""
import re

_WORD = re.compile(r'([A-Za-z])\s*(?:([-+]?(?:\d+\.?\d*|\.\d+))|"([^"]*)")?')
_EXTENDED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*[_][A-Za-z0-9_]*|[A-Za-z]{2,}[A-Za-z0-9_]*)"
                       r"(?:\s+(.*))?$")
_TEXT_CODES = ("M117", "M118", "M23", "M28", "M30", "M32")


class GcodeError(Exception):
    """A line that cannot be parsed; the message says what is wrong."""


class Command:
    """One parsed line.

    ``code`` is like ``"G1"``, ``"M104"``, ``"T0"`` or an extended command name;
    ``params`` maps upper-case letters to float values (``None`` for a bare
    letter such as ``G28 X``, a str for a quoted value such as
    ``M862.3 P "MK3S"``); ``text`` holds a verbatim text argument;
    ``lineno`` is the line's 1-based number in its file; ``error`` says why
    the arguments did not parse (then ``params`` is empty).
    """

    __slots__ = ("code", "params", "text", "lineno", "raw", "error")

    def __init__(self, code, params, text, lineno, raw, error=None):
        self.code = code
        self.params = params
        self.text = text
        self.lineno = lineno
        self.raw = raw
        self.error = error

    def __repr__(self):
        return "Command(%r, %r, line %d)" % (self.code, self.params, self.lineno)


def _strip_comments(line):
    if "(" in line:
        line = re.sub(r"\([^)]*\)", " ", line)
    return line.split(";", 1)[0].strip()


def _check_checksum(line):
    body, _star, given = line.rpartition("*")
    expected = 0
    for char in body.encode():
        expected ^= char
    if not given.strip().isdigit() or int(given) != expected:
        raise GcodeError("checksum mismatch: line says %s, computed %d" % (given.strip(), expected))
    return body


def parse_line(line, lineno=0):
    """Parse one line; returns a Command, or None for a blank/comment line.

    Raises GcodeError for malformed input (bad checksum, stray characters).
    """
    text = _strip_comments(line)
    if not text or text == "%":
        return None
    if "*" in text:
        text = _check_checksum(text).strip()
    if text[:1] in "Nn" and len(text) > 1 and (text[1].isdigit() or text[1] == " "):
        match = re.match(r"[Nn]\s*\d+\s*", text)
        text = text[match.end():] if match else text
        if not text:
            return None
    head = re.match(r"([A-Za-z])\s*(\d+(?:\.\d+)?)", text)
    if head is None:
        return _parse_extended(text, lineno, line)
    code = head.group(1).upper() + _normal_number(head.group(2))
    rest = text[head.end():]
    if code in _TEXT_CODES:
        return Command(code, {}, rest.strip(), lineno, line)
    try:
        return Command(code, _parse_words(rest, lineno), None, lineno, line)
    except GcodeError as exc:
        # Kept, not raised: a command nobody executes (M115 U3.11.0) may carry
        # arguments of its own syntax; one that is executed raises it then.
        return Command(code, {}, rest.strip(), lineno, line, error=str(exc))


def _normal_number(number):
    whole, _dot, frac = number.partition(".")
    whole = str(int(whole))
    return whole + "." + frac if frac else whole


def _parse_words(rest, lineno):
    params = {}
    pos = 0
    rest = rest.rstrip()
    while pos < len(rest):
        if rest[pos].isspace():
            pos += 1
            continue
        match = _WORD.match(rest, pos)
        if match is None:
            raise GcodeError("unexpected %r at column %d" % (rest[pos], pos + 1))
        number, quoted = match.group(2), match.group(3)
        if number is not None:
            params[match.group(1).upper()] = float(number)
        else:
            params[match.group(1).upper()] = quoted  # None for a bare flag
        pos = match.end()
    return params


def _parse_extended(text, lineno, line):
    match = _EXTENDED.match(text)
    if match is None:
        raise GcodeError("not a G-code word: %r" % text)
    return Command(match.group(1).upper(), {}, (match.group(2) or "").strip(), lineno, line)
