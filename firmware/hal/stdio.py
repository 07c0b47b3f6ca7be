# Mendel firmware: the link over MicroPython's stdin/stdout (USB CDC or UART REPL port).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Byte transport of real boards: the port MicroPython's REPL runs on.

On the RP2040 that is USB CDC; on ESP32 boards the USB-UART bridge. Ctrl-C is
disabled by ``main.py`` while the link runs, so binary frames pass untouched.
"""
import select
import sys


class StdioTransport:
    """``wait``/``readinto``/``write``/``connected`` over sys.stdin/sys.stdout.

    Reads one byte at a time into a preallocated buffer while ``select.poll``
    says bytes wait (MicroPython's stdin has no non-blocking bulk read); no
    allocation per byte. ``connected`` turns true at the first byte: these
    ports do not report the host closing them.
    """

    def __init__(self):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        self._one = bytearray(1)
        self.connected = False

    def wait(self, timeout_ms):
        """True when bytes wait, within ``timeout_ms`` ms."""
        ready = bool(self._poll.poll(timeout_ms))
        if ready:
            self.connected = True
        return ready

    def readinto(self, view):
        """Read what waits into memoryview ``view``; returns the count."""
        n = 0
        while n < len(view) and self._poll.poll(0):
            self._in.readinto(self._one)
            view[n] = self._one[0]
            n += 1
        return n

    def write(self, data):
        self._out.write(data)
