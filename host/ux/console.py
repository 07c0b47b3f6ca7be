# Mendel host: the interactive G-code console (`mendel console`).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Type G-code at a connected printer, as Pronterface or Klipper's console.

Each line is parsed and run like a line of a file; its moves start at once
(the look-ahead is flushed after every line). Replies, on stdout: ``ok``
when the line was accepted; for ``M105`` Marlin's report, ``ok T:<temp>
/<target> B:<temp> /<target> @:<power> B@:<power>`` (degC, power 0..127);
``echo: ...`` for M114/M115/M118; ``!! <reason>`` for a refused line.
While the prompt waits, the host reads the temperatures about once a
second (``POLL_S``): the bottom line of the terminal shows them, the run log
keeps them, and the board knows the host is alive (it turns the heaters off
after 3 s without a frame).

``Ctrl-\\`` (or SIGQUIT, ``kill -QUIT``) is an emergency stop, like M112: the
board turns every heater off, stops its motors at once and shuts down; the
console then ends (exit status 2). ``Ctrl-D`` (end of input) waits for the
moves to finish, turns heaters and motors off and ends (status 0; status 1
when input is not a terminal and some line was refused, so a script can tell). ``Ctrl-C``
at the prompt clears the line; while a line runs (an M109 wait, say) it ends
the console as it ends a print: heaters and motors off, status 130 (a line
cut half-way may have sent part of its steps, so the host would no longer
know where the motors are).

On a terminal the prompt has history (saved in
``$XDG_STATE_HOME/mendel/console_history``, default ``~/.local/state``) and
line editing (prompt_toolkit); otherwise stdin is read line by line, so the
console can be scripted.
"""
import asyncio
import os
import select
import signal
import time

from mendel.errors import CommandError
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.reader import parse_text
from mendel.mcu.mcu import McuShutdown
from mendel.machine.printer import PrintError
from mendel.serve.protocol import temperature_report

POLL_S = 1.0
EXIT_OK = 0
EXIT_REFUSED = 1      # scripted (not a terminal): some line was refused
EXIT_STOPPED = 2


class EmergencyStop(BaseException):
    """Ctrl-\\ / SIGQUIT: stop now (BaseException, so no handler swallows it)."""


def history_path():
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "mendel", "console_history")


class Console:
    """A console on ``printer`` (a Printer on a connected board).

    ``out``: text stream for replies; ``log``: a RunLog or None.
    """

    def __init__(self, printer, out, log=None):
        self.printer = printer
        self.out = out
        self.log = log
        self.lineno = 0
        self.refused = 0               # lines refused so far
        macros = printer.config.macros
        self.interpreter = Interpreter(printer, printer.settings, warn=self.say,
                                       on_error=self._refused, filename="<console>",
                                       macros=macros and macros.session())
        self._refusal = None
        self._last_poll = 0.0
        printer.warn = self.say          # M114, M115, M118 replies come here

    # -- replies ---------------------------------------------------------
    def say(self, text):
        print(text, file=self.out, flush=True)
        if self.log is not None and text.startswith("echo: "):
            self.log.write("echo", text=text[6:])

    def _refused(self, _lineno, _text, reason):
        self._refusal = reason

    def temperature_text(self):
        """The status line: each heater's temperature / target degC (power %)."""
        readings = self.printer.heaters.readings
        return "  ".join("%s %.1f / %.0f C (%3.0f%%)" % (name, temp, target, duty * 100)
                         for name, (temp, target, duty) in readings.items())

    # -- running lines ---------------------------------------------------
    def poll(self, force=False):
        """Read the temperatures if ``POLL_S`` has passed; raises McuShutdown."""
        now = time.monotonic()
        if force or now - self._last_poll >= POLL_S:
            self._last_poll = now
            self.printer.poll_temperatures()

    def execute(self, line):
        """Run one line of G-code and reply. Raises McuShutdown, EmergencyStop."""
        self.lineno += 1
        line = line.rstrip("\r\n")
        if self.log is not None and line.strip():
            self.log.command(self.lineno, line)
        self._refusal = None
        try:
            for command in parse_text(line):
                command.lineno = self.lineno        # warnings name the console line
                if command.code == "M105":
                    self.poll(force=True)
                    self.say(temperature_report(self.printer.heaters.readings, ok=True))
                    return
                self.interpreter.run([command])
            self.printer.toolhead.flush()
        except CommandError as exc:
            self._refusal = str(exc)
        if self._refusal is not None:
            self.refused += 1
            if self.log is not None:
                self.log.write("error", text=self._refusal, line=self.lineno)
            self.say("!! " + self._refusal)
        else:
            self.say("ok")

    def emergency_stop(self):
        """M112 now; returns the board's shutdown reason."""
        if self.log is not None:
            self.log.write("emergency_stop")
        try:
            self.printer.emergency_stop()
        except (McuShutdown, PrintError) as exc:
            return str(exc)
        return "no confirmation from the board"

    def finish(self):
        """End of input: let the moves finish (heaters and motors off by the caller)."""
        self.printer.toolhead.wait_moves()

    # -- the loop ----------------------------------------------------------
    def run(self, stdin, interactive):
        """Read and run lines until end of input; returns the exit status."""
        previous = signal.signal(signal.SIGQUIT, _raise_emergency_stop)
        try:
            reader = _TerminalReader(self) if interactive else _LineReader(self, stdin)
            while True:
                try:
                    line = reader.read()
                    if line is None:
                        self.finish()
                        return EXIT_REFUSED if self.refused and not interactive else EXIT_OK
                    self.execute(line)
                except EmergencyStop:
                    self.say("!! emergency stop sent; the board shut down: %s"
                             % self.emergency_stop())
                    return EXIT_STOPPED
                except McuShutdown as exc:
                    self.say("!! the board shut down: %s" % exc)
                    return EXIT_STOPPED
        finally:
            signal.signal(signal.SIGQUIT, previous)


def _raise_emergency_stop(_signum, _frame):
    raise EmergencyStop()


class _LineReader:
    """stdin line by line (not a terminal), reading temperatures while it waits.

    Reads the file descriptor itself: a buffered reader could hold lines
    that ``select`` no longer sees.
    """

    def __init__(self, console, stream):
        self.console = console
        self.fd = stream.fileno()
        self.pending = b""
        self.ended = False

    def read(self):
        """The next line (str), or None at end of input."""
        while True:
            line, newline, rest = self.pending.partition(b"\n")
            if newline or (self.ended and line):
                self.pending = rest
                return line.decode("utf-8", "replace")
            if self.ended:
                return None
            self.console.poll()
            ready, _w, _x = select.select([self.fd], [], [], POLL_S)
            if ready:
                chunk = os.read(self.fd, 4096)
                self.pending += chunk
                self.ended = not chunk


_EMERGENCY = object()
_SHUT_DOWN = object()


class _TerminalReader:
    """prompt_toolkit prompt: history, line editing, temperatures in the bottom bar.

    While the prompt waits, a task on its event loop reads the temperatures
    every ``POLL_S`` (same thread: no lock needed around the link).
    """

    def __init__(self, console):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings
        self.console = console
        self.shutdown = None
        path = history_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        keys = KeyBindings()

        @keys.add("c-\\")
        def _stop(event):
            event.app.exit(result=_EMERGENCY)

        self.session = PromptSession(history=FileHistory(path), key_bindings=keys,
                                     bottom_toolbar=self._toolbar, refresh_interval=POLL_S)

    def _toolbar(self):
        return " %s   Ctrl-\\ emergency stop, Ctrl-D quit" % self.console.temperature_text()

    async def _keep_polling(self):
        while True:
            try:
                self.console.poll()
            except McuShutdown as exc:
                self.shutdown = exc
                self.session.app.exit(result=_SHUT_DOWN)
                return
            await asyncio.sleep(POLL_S / 4)

    async def _prompt(self):
        poller = asyncio.ensure_future(self._keep_polling())
        try:
            return await self.session.prompt_async("mendel> ")
        finally:
            poller.cancel()

    def read(self):
        while True:
            try:
                line = asyncio.run(self._prompt())
            except KeyboardInterrupt:
                continue
            except EOFError:
                return None
            if line is _SHUT_DOWN:
                raise self.shutdown
            if line is _EMERGENCY:
                raise EmergencyStop()
            return line
