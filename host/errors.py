# Mendel host: the kinds of error.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Error kinds shared across the host (STYLE: config, command, shutdown)."""


class MendelError(Exception):
    """Base of every error Mendel reports to its user."""


class CommandError(MendelError):
    """One G-code line refused: bad syntax, an impossible move, a value out of
    range. Nothing of that line was executed; the reader attaches the file,
    line number and text."""


def printable(text, limit=120):
    """``text`` safe to show a user: control characters escaped, long text cut."""
    shown = "".join(c if c.isprintable() else "\\x%02x" % (ord(c) & 0xFF) for c in text)
    return shown if len(shown) <= limit else shown[:limit] + "..."
