# Mendel host: idle_timeout, heaters and motors off when nothing happens.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Klipper's ``[idle_timeout]``: the printer is ``Printing`` while it runs
commands or moves, ``Ready`` once everything has stopped, and after
``timeout`` seconds of Ready it runs its ``gcode`` (``TURN_OFF_HEATERS``,
``M84``) and is ``Idle``. A file printing from the virtual_sdcard keeps it
Printing; a paused one does not (as in Klipper: set a longer timeout to keep
the heaters on through a long pause). Times are print time (s, the board's
clock). ``SET_IDLE_TIMEOUT TIMEOUT=<s>`` changes the timeout.

``status()``: Klipper's idle_timeout fields ``state`` and ``printing_time``
(s in the current Printing state).
"""


class IdleTimeout:
    """``timeout``: s; ``gcode``: the script run at the timeout."""

    def __init__(self, timeout, gcode):
        self.timeout = timeout
        self.gcode = gcode
        self.state = "Idle"
        self._printing_since = 0.0
        self._ready_since = 0.0
        self._now = 0.0

    def note_busy(self, now):
        """A command or a file line ran at print time ``now``."""
        self._now = now
        if self.state != "Printing":
            self.state = "Printing"
            self._printing_since = now

    def check(self, now, busy_until, printing):
        """The idle tick: ``busy_until`` is the print time the planned motion
        ends; ``printing``: a file is being read. Returns the G-code script to
        run now (the timeout's), or None."""
        self._now = now
        if printing or busy_until > now:
            self.note_busy(now)
            return None
        if self.state == "Printing":
            self.state = "Ready"
            self._ready_since = max(busy_until, self._printing_since)
            return None
        if self.state == "Ready" and now - self._ready_since >= self.timeout:
            self.state = "Idle"
            return self.gcode
        return None

    def status(self, _eventtime=None):
        printing = self._now - self._printing_since if self.state == "Printing" else 0.0
        return {"state": self.state, "printing_time": printing}
