# Mendel firmware: the link over MicroPython's stdin/stdout (USB CDC or UART REPL port).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Byte transport of real boards: the port MicroPython's REPL runs on.

On the RP2040 that is USB CDC; on ESP32 boards the USB-UART bridge. Ctrl-C is
disabled by ``main.py`` while the link runs, so binary frames pass untouched.
"""
import select
import sys


class StdioTransport:
    """``wait``/``readinto``/``readexactly``/``write``/``connected`` over
    sys.stdin/sys.stdout.

    MicroPython's stdin has no non-blocking bulk read, and on the RP2040 each
    ``poll`` runs the USB stack (measured on the emulated board: about 5 KB/s
    read a byte per poll). So :meth:`readinto` takes one byte, the head of a
    frame, and the link reads the rest of that frame with :meth:`readexactly`,
    one blocking C-level read: the host writes every frame whole, so its
    bytes are on their way. (Should the host die in mid-frame, the board's
    timer still runs during the read and :meth:`mcu.Mcu.guard` turns the
    heaters off.) No allocation per byte. ``connected`` turns true at the
    first byte: these ports do not report the host closing them.
    """

    def __init__(self):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        self.connected = False

    def wait(self, timeout_ms):
        """True when bytes wait, within ``timeout_ms`` ms."""
        ready = bool(self._poll.poll(timeout_ms))
        if ready:
            self.connected = True
        return ready

    def readinto(self, view):
        """Read one byte (it waits: see :meth:`wait`) into ``view``; returns 1."""
        return self._in.readinto(view[:1]) or 0

    def readexactly(self, view):
        """Read ``len(view)`` bytes into memoryview ``view``, blocking until they came."""
        self._in.readinto(view)

    def write(self, data):
        self._out.write(data)
