# Mendel host: heater and fan changes sent for a board clock.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host's books of the board's queue of timed output changes.

Units: clocks in MCU ticks. ``queue_heater``/``queue_fan`` (firmware/thermal/
timed.py) hold a change on the board until its clock; the board holds at most
``output_queue_size`` of them (identify text) and shuts down when sent one
more. So the host counts the changes whose clock the board has not reached
yet and, before sending into a full queue, waits until the board clock has
passed the earliest one (plus ``APPLY_MARGIN_S``).

A board whose firmware predates these commands (v0.1) gets the changes at
once, with ``set_heater``/``set_fan``, as before: :attr:`TimedOutputs.supported`
says which.
"""
import bisect

# A board on its own clock applies a change from its main loop, which waits at
# most one control period (0.1 s at CONTROL_HZ 10) for the link before it looks
# again. The virtual clock applies it exactly at its clock: no margin (moving
# that clock past motion not yet sent would make its runs late).
APPLY_MARGIN_S = 0.1
COMMANDS = ("queue_heater", "queue_fan")


class TimedOutputs:
    """Sends timed changes to one board (``mcu``: a connected host Mcu)."""

    def __init__(self, mcu):
        self.mcu = mcu
        self.size = mcu.info.get("output_queue_size", 0)
        self.supported = self.size > 0 and all(name in mcu.commands for name in COMMANDS)
        self._clocks = []          # sorted clocks (ticks) the board may still hold
        self._margin = 0 if mcu.virtual else int(APPLY_MARGIN_S * mcu.clock_freq)

    def send(self, name, clock, *args):
        """Send ``name`` (``queue_heater``/``queue_fan``) to act at ``clock``
        ticks with ``args``; waits while the board's queue is full. Raises
        McuShutdown / LinkError as the Mcu does."""
        mcu = self.mcu
        self._forget(mcu.estimated_clock())
        if len(self._clocks) >= self.size:
            mcu.flush()
            mcu.wait_until(self._clocks[0] + self._margin)
            self._forget(mcu.estimated_clock())
        mcu.send(name, clock, *args)
        mcu.flush()
        bisect.insort(self._clocks, clock)

    def _forget(self, board_clock):
        """Drop the changes the board has applied by ``board_clock``, less the margin."""
        done = board_clock - self._margin
        del self._clocks[:bisect.bisect_right(self._clocks, done)]

    @property
    def pending(self):
        """Changes the board may still hold (count)."""
        return len(self._clocks)
