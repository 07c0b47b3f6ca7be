# Mendel host: the Marlin serial port's side of a served printer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a Marlin host (OctoPrint, Pronterface) sees of :class:`~mendel.serve.session.Session`:
its lines run in turn and each is answered as Marlin answers (``ok``, ``echo:``
notices, ``Error:`` for a refused line, ``echo:Unknown command`` for one
Mendel does not have), with the keep-alive and temperature lines meanwhile,
M105/M115/M155/M999 answered by the session itself, and a fresh G-code state
for the next host when one hangs up.
"""
import os
import time

from mendel import __version__
from mendel.errors import CommandError
from mendel.gcode import arcs
from mendel.gcode.commands import KNOWN_IGNORED
from mendel.gcode.interpreter import PlaceholderWarning
from mendel.gcode.reader import parse_text
from mendel.serve.protocol import firmware_report, temperature_report
from mendel.serve.served_printer import WaitCancelled

KEEPALIVE_S = 2.0        # Marlin DEFAULT_KEEPALIVE_INTERVAL (Configuration_adv.h)
WAIT_REPORT_S = 1.0      # Marlin prints temperatures each second while M109/M190 wait
CLOCK_CATCH_UP_S = 0.05  # virtual clock: lag behind the wall clock tolerated per command
HEATER_WAITS = ("M109", "M190", "TEMPERATURE_WAIT")
# Answers that are reports, sent as they are; other replies are notices (echo:).
REPORTS = ("M114",)
# SD card answers Marlin sends as they are (OctoPrint reads M20's file names
# from the lines between "Begin file list" and "End file list").
RAW_REPLIES = ("M20", "M21", "M23", "M27")
_UNKNOWN = 'echo:Unknown command: "%s"'     # Marlin's wording; OctoPrint prints on
HANG_UP = object()       # queued when the client hangs up


class MarlinSide:
    """The serial client's commands (a mixin of Session: it owns the queue,
    the worker, the printer and :meth:`_console`)."""

    def _marlin_commands(self):
        """Codes the session answers itself, on the serial port."""
        return {"M105": self._m105, "M115": self._m115, "M155": self._m155,
                "M110": self._ok, "M108": self._ok, "M999": self._m999}

    def submit(self, command, numbered=True):
        """Queue one command (str, no line number or checksum) to run in turn;
        ``numbered``: it came on a line with a line number and checksum."""
        self.queue.put((command, numbered))

    def hang_up(self):
        """The client went away: drop its queued commands, heaters off (as a
        Marlin board resets when the host closes the port), fresh G-code state."""
        self._client += 1
        self._drop_queued()
        self.autoreport_s = 0.0
        self.queue.put(HANG_UP)

    def periodic(self, now):
        """Lines due to the client at wall time ``now`` (s, monotonic): keep-alive
        while a command runs, temperatures while M109/M190 wait, M155 reports."""
        lines = []
        running = self.running
        if running is not None:
            code, started = running
            if code in HEATER_WAITS:
                if now - max(started, self._last_keepalive) >= WAIT_REPORT_S:
                    lines.append(temperature_report(self.readings()))
                    self._last_keepalive = now
            elif now - max(started, self._last_keepalive) >= KEEPALIVE_S:
                lines.append("echo:busy: processing")
                self._last_keepalive = now
        if self.autoreport_s and now - self._last_report >= self.autoreport_s:
            lines.append(temperature_report(self.readings()))
            self._last_report = now
        return lines

    def _reset_for_next_client(self):
        if self.halted is not None or self.jobs.holds_job:
            return           # a file printing from the virtual_sdcard goes on
        self.printer.heaters_off()
        self._new_interpreter()

    def _execute(self, text, numbered):
        commands = parse_text(text)
        command = commands[0] if commands else None
        code = command.code if command is not None else ""
        self.running = (code, time.monotonic())
        try:
            if self.halted is not None and code not in ("M105", "M115", "M999"):
                return ["echo:Printer halted (%s); M999 restarts it" % self.halted]
            handler = self._own.get(code)
            if handler is not None:
                return handler(command)
            if command is None:
                return []
            if self.jobs is not None:
                self.jobs.idle_timeout.note_busy(self.jobs.clock())
            own = self._session_commands.get(code)
            if own is not None:
                return self._unsolicited(own, command)
            return self._interpret(command, text, numbered)
        finally:
            self.running = None
            if self.halted is None:
                self._follow_wall_clock(CLOCK_CATCH_UP_S)

    def _interpret(self, command, text, numbered):
        """Run one command; the lines for the client. A command Mendel does not
        have (unknown, or known and ignored) is answered as Marlin answers an
        unknown one, ``echo:Unknown command: "<line>"``, never a silent ok; so
        is an un-numbered line that does not read as G-code (line noise, the
        tail of a split line). A numbered line that does not read, or that the
        printer refuses, is an ``Error:``."""
        printer = self.printer
        printer.replies.clear()
        printer.notices.clear()
        code = command.code
        unknown = None
        try:
            unknown = self._execute_known(command)
        except PlaceholderWarning as exc:
            printer.notices.append("%s: %s" % (text, exc))
        except WaitCancelled as exc:
            printer.notices.append(str(exc))
        except (CommandError, arcs.ArcError) as exc:
            if command.error is not None and not numbered:
                self._console(['!! Unknown command:"%s"' % text])
                return [_UNKNOWN % text]
            # Refused and nothing done: an error, so a host stops the job
            # rather than print on without the line.
            self._console(self._console_lines(printer.notices, [], "%s: %s" % (text, exc)))
            return self._echo(printer.notices) + ["Error:%s: %s" % (text, exc)]
        if unknown is not None:
            self._console(['!! Unknown command:"%s"' % code])
            if unknown == "ignored":
                return [_UNKNOWN % text + " (%s)" % KNOWN_IGNORED.get(code, "ignored")]
            return [_UNKNOWN % text]
        self._console(self._console_lines(printer.notices, printer.replies))
        lines = self._echo(printer.notices)
        if command.code in REPORTS:
            lines += [self._position_report(reply) for reply in printer.replies]
        elif command.code in RAW_REPLIES:
            lines += printer.replies
        else:
            lines += self._echo(printer.replies)
        return lines

    @staticmethod
    def _echo(texts):
        """Notices as Marlin's ``echo:`` lines; a host action (``action:paused``)
        as ``//action:...``, which OctoPrint acts on."""
        return [("//" if text.startswith("action:") else "echo:") + text for text in texts]

    def _position_report(self, text):
        """M114: Marlin's ``X:.. Y:.. Z:.. E:.. Count X:.. Y:.. Z:..`` with the
        board's step counts, once the look-ahead has been sent to it."""
        self.printer.toolhead.flush()
        steps = self.printer.board_steps()
        return "%s Count X:%d Y:%d Z:%d" % (text, steps[0], steps[1], steps[2])

    def _ok(self, _command):
        return []

    def _m105(self, _command):
        if self.halted is None:
            self.printer.poll_temperatures()
            return [temperature_report(self.readings(), ok=True)]
        # A board that shut down has turned its heaters off: no target, no
        # power; the temperatures are the last read before it stopped.
        readings = {name: (temp, 0.0, 0.0) for name, (temp, _target, _duty)
                    in self.readings().items()}
        return [temperature_report(readings, ok=True)]

    def _m115(self, _command):
        machine = os.path.splitext(os.path.basename(self.printer.config.path))[0]
        return firmware_report(__version__, machine, self.printer.extruder_count,
                               sdcard=self.jobs.sdcard is not None)

    def _m155(self, command):
        seconds = command.params.get("S")
        if seconds is not None:
            self.autoreport_s = max(float(seconds), 0.0)
            self._last_report = time.monotonic()
        return []

    def _m999(self, _command):
        if self.halted is None:
            return []
        self.log("M999: reconnecting the board")
        self._new_printer(clear_shutdown=True, reload=False)
        return ["echo:Printer restarted"]
