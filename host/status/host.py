# Mendel host: status of the host itself: webhooks, system_stats, gcode, macros.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``webhooks`` (state, state_message), ``system_stats`` (sysload, cputime,
memavail), ``gcode`` (commands) and each ``gcode_macro NAME`` (its
variables), with Klipper's fields (docs/Status_Reference.md).

Units: ``cputime`` s of CPU this process used, ``memavail`` kB (the kernel's
MemAvailable), ``sysload`` the 1-minute load average.
"""
import os
import time

from mendel.gcode import commands as dialect
from mendel.gcode.macro_commands import COMMANDS as MACRO_COMMANDS
from mendel.printjob import HELP as JOB_HELP

READY_MESSAGE = "Printer is ready"          # Klipper's words for state "ready"
MEMINFO = "/proc/meminfo"


def objects(sources):
    """{name: status(eventtime)} of the host objects."""
    found = {
        "webhooks": lambda _t: webhooks(sources.session),
        "system_stats": lambda _t: system_stats(),
    }
    if sources.interpreter is None:
        return found
    found["gcode"] = lambda _t: {"commands": commands(sources.interpreter, sources.session)}
    macros = _macros(sources)
    for macro in macros or ():
        found["gcode_macro " + macro.name] = lambda _t, m=macro: dict(m.variables)
    return found


def _macros(sources):
    return sources.macros if sources.macros is not None else sources.interpreter.macros


def webhooks(session):
    """``state`` ("startup", "ready", "shutdown", "error") and
    ``state_message``; "ready" outside ``mendel serve``."""
    if session is None:
        return {"state": "ready", "state_message": READY_MESSAGE}
    return {"state": session.state, "state_message": session.state_message}


def system_stats():
    """Klipper's ``system_stats``: load average, CPU time, available memory."""
    stats = {"sysload": round(os.getloadavg()[0], 2), "cputime": time.process_time()}
    memavail = _memavail_kb()
    if memavail is not None:
        stats["memavail"] = memavail
    return stats


def _memavail_kb():
    try:
        with open(MEMINFO) as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def commands(interpreter, session=None):
    """``{NAME: {"help": text}}`` of every command the interpreter (and the
    serving session) runs; ``{}`` for one without help. Help is a macro's
    ``description``, the print job's or the session's help table, else the
    first line of its handler's docstring."""
    found = {}
    for name, handler in interpreter.command_handlers().items():
        found[name] = {"help": JOB_HELP[name]} if name in JOB_HELP else _help(handler)
    for name in getattr(dialect, "TEXT_REPLIES", ()):     # M117/M118 where run outside handlers
        found.setdefault(name, {})
    macros = interpreter.macros
    if macros:                              # commands that come with macros
        for name, handler in MACRO_COMMANDS.items():
            found[name] = _help(handler)
        for macro in macros:
            found[macro.name] = {"help": macro.description}
    session_help = getattr(session, "command_help", None)
    if session_help is not None:            # commands the session runs itself
        for name, text in session_help().items():
            found[name] = {"help": text}
    return found


def _help(handler):
    doc = (getattr(handler, "__doc__", None) or "").strip()
    return {"help": doc.split("\n", 1)[0].strip()} if doc else {}


def command_help(interpreter, session=None):
    """``{NAME: help}`` of the commands that have help (``gcode/help``)."""
    return {name: entry["help"] for name, entry in commands(interpreter, session).items()
            if "help" in entry}
