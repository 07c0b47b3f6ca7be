# Mendel firmware: heater and fan changes held until their board clock.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Timed output changes: a heater target or a fan speed applied at a clock.

Units: clocks in MCU ticks; heater values in degC x100, fan values 0..255
(the wire units of ``set_heater``/``set_fan``).

The host sends ``queue_heater``/``queue_fan`` with the board clock at which
the motion reaches the G-code line (M104/M140/M106/M107), so a fan changes on
its layer and an ``M104 S0`` at the end of a file does not cool the nozzle
under the last moves. The changes wait here, sorted by clock, in a fixed
queue of ``QUEUE_SIZE`` entries made at start-up. The main loop applies each
when the clock reaches it (:meth:`TimedOutputs.run` from the control timer;
on the virtual clock exactly at its clock). One that arrives with its clock
already passed is applied at once, so it keeps its order with the commands
around it.

* Full queue: the change is refused and the board shuts down with the
  reason (the host keeps the same books and never sends into a full queue).
* ``set_heater``/``set_fan`` (immediate) drop the changes still pending for
  that output first: "off now" stays off.
* Shutdown and a host that hangs up drop every pending change (heaters off).
"""
import array

from micropython import const

HEATER = const(0)
FAN = const(1)
QUEUE_SIZE = const(16)
_NAMES = ("heater", "fan")


class TimedOutputs:
    """Pending changes of ``QUEUE_SIZE`` entries; ``apply`` is a pair of
    functions ``(heater_apply, fan_apply)``, each taking (index, value)."""

    def __init__(self, hal, apply):
        self.hal = hal
        self._apply = apply
        self._note = getattr(hal, "note_output", None)   # the sim's step log
        self._clocks = array.array("q", bytes(8 * QUEUE_SIZE))
        self._kinds = bytearray(QUEUE_SIZE)
        self._indexes = bytearray(QUEUE_SIZE)
        self._values = array.array("i", bytes(4 * QUEUE_SIZE))
        self.count = 0

    def add(self, clock, kind, index, value):
        """Hold a change until ``clock``; False (nothing held) when the queue is
        full. Equal clocks keep their arrival order. Allocates nothing but the
        clock's long int."""
        n = self.count
        if n >= QUEUE_SIZE:
            return False
        clocks = self._clocks
        i = n
        while i > 0 and clocks[i - 1] > clock:
            self._move(i - 1, i)
            i -= 1
        clocks[i] = clock
        self._kinds[i] = kind
        self._indexes[i] = index
        self._values[i] = value
        self.count = n + 1
        return True

    def set_now(self, kind, index, value):
        """``set_heater``/``set_fan``: drop the changes pending for that output
        ("off now" stays off), then apply ``value`` at once."""
        self.drop(kind, index)
        self.apply(self.hal.clock(), kind, index, value)

    def queue(self, mcu, clock, kind, index, value):
        """``queue_heater``/``queue_fan`` after their own checks: hold the
        change for ``clock`` (ticks) and apply what is due now; a full queue
        shuts the board down with the reason."""
        if not self.add(clock, kind, index, value):
            mcu.shutdown("queue_%s: the queue of timed heater/fan changes is full "
                         "(%d pending)" % (_NAMES[kind], self.count))
            return
        self.run(self.hal.clock())

    def _move(self, src, dst):
        self._clocks[dst] = self._clocks[src]
        self._kinds[dst] = self._kinds[src]
        self._indexes[dst] = self._indexes[src]
        self._values[dst] = self._values[src]

    def next_clock(self, default):
        """Clock (ticks) of the first pending change, or ``default`` if none."""
        return self._clocks[0] if self.count else default

    def run(self, now):
        """Apply every change whose clock is at or before ``now`` (main loop)."""
        while self.count and self._clocks[0] <= now:
            kind = self._kinds[0]
            index = self._indexes[0]
            value = self._values[0]
            self._remove(0)
            self.apply(now, kind, index, value)

    def apply(self, now, kind, index, value):
        """Apply one change now (``now``: the clock, for the sim's log)."""
        self._apply[kind](index, value)
        if self._note is not None:
            self._note(now, _NAMES[kind], index, value)

    def drop(self, kind, index):
        """Forget the pending changes of one output."""
        i = 0
        while i < self.count:
            if self._kinds[i] == kind and self._indexes[i] == index:
                self._remove(i)
            else:
                i += 1

    def _remove(self, at):
        for i in range(at + 1, self.count):
            self._move(i, i - 1)
        self.count -= 1

    def clear(self):
        """Forget every pending change (shutdown, host gone)."""
        self.count = 0
