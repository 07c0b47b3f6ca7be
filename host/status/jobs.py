# Mendel host: printer objects of the print job and of G-code bookkeeping.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``print_stats``, ``virtual_sdcard``, ``pause_resume``, ``idle_timeout``
(from the serving session's print job, :mod:`mendel.printjob`),
``display_status`` and ``exclude_object`` (from the interpreter).

Each of those parts gives its own Klipper fields through ``status(eventtime)``;
this module only lists the ones the printer has: ``virtual_sdcard`` and
``print_stats`` with ``[virtual_sdcard]``, the job objects only under
``mendel serve``.
"""

JOB_OBJECTS = (("print_stats", "print_stats"), ("virtual_sdcard", "sdcard"),
               ("pause_resume", "pause_resume"), ("idle_timeout", "idle_timeout"))
INTERPRETER_OBJECTS = ("display_status", "exclude_object")


def objects(sources):
    found = {}
    jobs = getattr(sources.session, "jobs", None)
    for name, attribute in JOB_OBJECTS:
        part = getattr(jobs, attribute, None)
        if part is not None:
            found[name] = part.status
    for name in INTERPRETER_OBJECTS:
        part = getattr(sources.interpreter, name, None)
        if part is not None:
            found[name] = part.status
    return found
