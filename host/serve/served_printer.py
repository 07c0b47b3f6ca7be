# Mendel host: the printer behind `mendel serve`.
# SPDX-License-Identifier: GPL-3.0-or-later
"""A :class:`~mendel.machine.printer.Printer` whose replies and notices are
kept for the clients of :mod:`mendel.serve`, and whose heater waits M108 ends."""
import threading

from mendel.errors import CommandError
from mendel.machine.printer import Printer


class WaitCancelled(CommandError):
    """M108 ended a heater wait early."""


class ServedPrinter(Printer):
    """A Printer whose replies and notices are collected for the serial client.

    ``cancel_wait`` (threading.Event), set by M108, ends an M109/M190 wait.
    """

    def __init__(self, config, mcu, settings=None):
        self.replies = []
        self.notices = []
        self.waiting = False
        self.cancel_wait = threading.Event()
        super().__init__(config, mcu, warn=self.notices.append, settings=settings)
        poll = self.heaters.poll

        def poll_unless_cancelled():
            temps = poll()
            if self.waiting and self.cancel_wait.is_set():
                raise WaitCancelled("wait for heating cancelled by M108")
            return temps
        self.heaters.poll = poll_unless_cancelled

    def respond(self, text):
        self.replies.append(text)

    def set_temperature(self, heater, temp, wait, cooling=False):
        self.cancel_wait.clear()
        self.waiting = wait
        try:
            super().set_temperature(heater, temp, wait, cooling)
        finally:
            self.waiting = False

    def wait_temperature(self, sensor, minimum, maximum):
        """TEMPERATURE_WAIT, ended early by M108 as M109/M190 are."""
        self.cancel_wait.clear()
        self.waiting = True
        try:
            super().wait_temperature(sensor, minimum, maximum)
        finally:
            self.waiting = False

    def board_steps(self):
        """Step position of the X, Y, Z, E motors as the board counts them,
        from the machine origin homing found (counter + offset)."""
        return [self.mcu.motor_position(oid) + offset
                for oid, offset in zip(self.toolhead.oids, self.toolhead.step_offsets)]
