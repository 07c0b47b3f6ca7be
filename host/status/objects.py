# Mendel host: the printer objects of Klipper's status, from one place.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The set of printer objects and how a query reads them.

Each module of :data:`MODULES` has ``objects(sources)``: a dict of object
name -> ``status(eventtime)`` function for the objects it can give from
``sources`` (an object it cannot give is left out, as Klipper lists only the
objects a printer.cfg creates). :class:`PrinterObjects` puts them together
for the API server (``objects/list``, ``objects/query``) and for G-code
templates (:meth:`PrinterObjects.template_view`).

``eventtime``: seconds on ``time.monotonic()`` (Klipper's reactor time).
"""
import dataclasses
import time

from mendel.status import configfile, heaters, host, jobs, motion, motion_report
from mendel.status.view import Status

MODULES = (host, configfile, motion, motion_report, heaters, jobs)


@dataclasses.dataclass
class Sources:
    """What the objects are read from.

    ``interpreter``: the G-code interpreter (modal state; its ``machine`` is
    the printer, possibly a stand-in without ``config``), None while a
    session has no printer (only ``webhooks`` and ``system_stats`` then); ``macros``: the
    MacroSet whose variables ``gcode_macro NAME`` shows (None: the
    interpreter's); ``session``: a ``mendel serve`` Session (state, print
    job) or None; ``history``: a :class:`mendel.status.motion_report.MotionHistory`
    or None.
    """
    interpreter: object
    macros: object = None
    session: object = None
    history: object = None

    @property
    def machine(self):
        return self.interpreter.machine

    @property
    def config(self):
        return getattr(self.machine, "config", None)


class PrinterObjects:
    """Klipper's printer objects of one printer (Status_Reference.md names and
    units: mm, mm/s, degC, s)."""

    def __init__(self, sources):
        self.sources = sources
        self._objects = {}
        modules = MODULES if sources.interpreter is not None else (host,)
        for module in modules:
            self._objects.update(module.objects(sources))

    def names(self):
        """Names of the objects, as ``objects/list`` gives them."""
        return list(self._objects)

    def __contains__(self, name):
        return name in self._objects

    def get(self, name, eventtime):
        """Status dict of object ``name`` (all its fields); KeyError if there
        is no such object."""
        return self._objects[name](eventtime)

    def query(self, request, eventtime, cache=None):
        """``{name: {field: value}}`` for ``request`` ({name: [fields] or None
        for all}), as ``objects/query`` answers: an object the printer does
        not have gives ``{}``, a field it does not have is left out (as
        Klipper's webhooks do). ``cache``: a dict of objects already read at
        ``eventtime`` (name -> status), filled as objects are read."""
        cache = {} if cache is None else cache
        status = {}
        for name, fields in request.items():
            values = cache.get(name)
            if values is None:
                values = cache[name] = (self.get(name, eventtime)
                                        if name in self._objects else {})
            if fields is None:
                status[name] = dict(values)
            else:
                status[name] = {field: values[field] for field in fields if field in values}
        return status

    def template_view(self, eventtime=None):
        """The ``printer`` object of a G-code template: each object built when
        first read, once per render."""
        return Status(_TemplateObjects(self, time.monotonic() if eventtime is None
                                       else eventtime))


class _TemplateObjects:
    """Mapping of object name -> status dict, each built on first read."""

    def __init__(self, objects, eventtime):
        self._objects = objects
        self._eventtime = eventtime
        self._built = {}

    def __getitem__(self, name):
        if name not in self._built:
            if name not in self._objects:
                raise KeyError(name)
            self._built[name] = self._objects.get(name, self._eventtime)
        return self._built[name]

    def __contains__(self, name):
        return name in self._objects

    def keys(self):
        return self._objects.names()
