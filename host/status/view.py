# Mendel host: a read-only view of status dicts for G-code templates.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Klipper's templates read ``printer.toolhead.position.x`` and
``printer["gcode_macro NAME"].var``: attribute and item access on the status
dicts. :class:`Status` gives both, read-only; a dict inside a dict is viewed
the same way when it is read (lists, tuples and Coord stay as they are)."""


# The print job's objects (mendel.status.jobs): there only under `mendel serve`.
SERVE_ONLY_OBJECTS = ("print_stats", "virtual_sdcard", "pause_resume", "idle_timeout")


class ServeOnlyObject(RuntimeError):
    """A template read a print-job object outside `mendel serve` (not an
    AttributeError, so the template stops here with this message instead of
    an undefined value)."""


def view(value):
    """``value`` as a template sees it: a dict (or any mapping with
    ``items``) as a :class:`Status`, anything else as it is."""
    if isinstance(value, dict):
        return Status(value)
    return value


class Status:
    """Read-only view of a mapping: ``status.key`` and ``status["key"]``.

    ``values``: a dict, or an object with ``__getitem__``, ``__contains__``,
    ``keys`` (such as :class:`mendel.status.objects.TemplateObjects`, which
    builds each printer object on first read).
    """

    __slots__ = ("_values",)

    def __init__(self, values):
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name):
        try:
            return view(self._values[name])
        except KeyError:
            if name in SERVE_ONLY_OBJECTS and "toolhead" in self._values:
                raise ServeOnlyObject(
                    "printer.%s is there only in `mendel serve` (the print job's objects); "
                    "`mendel print` and `mendel check` have no print job to pause or "
                    "resume" % name) from None
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("the printer's state is read-only in a macro")

    def __getitem__(self, name):
        return view(self._values[name])

    def __contains__(self, name):
        return name in self._values

    def __iter__(self):
        return iter(self._values.keys())

    def __len__(self):
        return len(self._values.keys())

    def keys(self):
        return self._values.keys()

    def items(self):
        return [(key, self[key]) for key in self._values.keys()]

    def values(self):
        return [self[key] for key in self._values.keys()]

    def get(self, name, default=None):
        return self[name] if name in self._values else default

    def __repr__(self):
        return repr(dict(self.items()))
