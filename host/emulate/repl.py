# Mendel host: MicroPython's raw REPL on a port, to run a script on a board.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a snippet of Python on a board that boots to its REPL (the emulated
RP2040 with ``start=False``, or a real board without ``main.py``), the way
``mpremote exec`` does: Ctrl-C twice stops what runs, Ctrl-A enters the raw
REPL, the code ends with Ctrl-D, and the board answers ``OK``, the output,
0x04, the error text and 0x04 again (MicroPython's docs, "raw REPL mode").
"""
import time

import serial

RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


class ReplError(Exception):
    """The board did not answer as a raw REPL does, or the code raised."""


class RawRepl:
    """The raw REPL on ``port`` (a device path); use as a context manager."""

    def __init__(self, port, timeout=60.0):
        self.serial = serial.Serial(port, 115200, timeout=0.2)
        self.timeout = timeout
        self._enter()

    def _read_until(self, marker, timeout):
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data += self.serial.read(4096)
            if marker in data:
                return data
        raise ReplError("no %r from the board within %.0f s (got %r)"
                        % (marker, timeout, data[-200:]))

    def _enter(self):
        self.serial.write(b"\r\x03\x03")
        time.sleep(0.3)
        self.serial.reset_input_buffer()
        self.serial.write(b"\x01")
        self._read_until(RAW_PROMPT, self.timeout)

    def run(self, code, timeout=600.0):
        """Run ``code`` (str); returns what it printed (str). Raises ReplError
        with the board's traceback if it raised."""
        self.serial.write(code.encode() + b"\x04")
        self._read_until(b"OK", self.timeout)
        data = self._read_until(b"\x04>", timeout)
        out, _sep, rest = data.partition(b"\x04")
        err = rest[:rest.rfind(b"\x04")]
        out = out.split(b"OK", 1)[-1] if b"OK" in out else out
        if err.strip():
            raise ReplError(err.decode(errors="replace").strip())
        return out.decode(errors="replace")

    def soft_reset(self):
        """Restart the interpreter (a fresh heap; the board stays up)."""
        self.serial.write(b"\x04")
        self._read_until(RAW_PROMPT, self.timeout)

    def close(self):
        self.serial.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
