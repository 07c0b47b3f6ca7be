# Mendel host: the console of a served printer (API scripts, output lines).
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the API server (:mod:`mendel.api`) sees of
:class:`~mendel.serve.session.Session`: G-code scripts run in turn and
answered with their error (Klipper's ``Unknown command:"NAME"`` for a command
Mendel does not have), the console lines of every command in Klipper's form
(``// notice``, reports as they are, ``!! error``), lines no client asked
for (a file's, the idle timeout's), and the session's own commands RESTART,
FIRMWARE_RESTART and STATUS.
"""
from mendel import config as config_mod
from mendel.config import ConfigError
from mendel.errors import CommandError
from mendel.gcode import arcs
from mendel.gcode.interpreter import PlaceholderWarning
from mendel.gcode.reader import parse_text
from mendel.mcu.link import LinkError
from mendel.mcu.mcu import McuShutdown
from mendel.serve.protocol import temperature_report

# Commands of the session itself (they replace the printer or report on it).
SESSION_HELP = {"RESTART": "Reload the config file and restart the host software",
                "FIRMWARE_RESTART": "Restart the board and reload the config file",
                "STATUS": "Report the printer's status"}
DONE_PRINTING = "Done printing file"      # Marlin's, sent as it is
SCRIPT = object()        # marks a queued script: (SCRIPT, text, done)


class UnknownCommand(CommandError):
    """A command Mendel does not have (Klipper's ``Unknown command:"NAME"``)."""


class ConsoleSide:
    """Scripts and console lines (a mixin of Session)."""

    def submit_script(self, script, done):
        """Queue a G-code script (lines separated by newlines) to run in turn
        (the API's gcode/script). ``done(error)`` is called from the worker
        once it has run: error None, or the message of the line that failed
        (later lines are not run): Klipper's ``Unknown command:"NAME"`` for
        a command Mendel does not have."""
        self.queue.put((SCRIPT, script, done))

    def add_output_listener(self, listener):
        """``listener(line)`` gets every console line from now on, in
        Klipper's form: ``// text`` for a notice, the text itself for a
        report (M114, M105), ``!! text`` for an error; called from the worker."""
        self._listeners.append(listener)

    def remove_output_listener(self, listener):
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _console(self, lines):
        for line in lines:
            for listener in list(self._listeners):
                listener(line)

    @staticmethod
    def _console_lines(notices, replies, error=None):
        lines = ["// " + text for text in notices]
        lines += [("// " + text) if text.startswith("action:") else text for text in replies]
        if error is not None:
            lines.append("!! " + error)
        return lines

    def _unsolicited(self, action, *args):
        """Run ``action`` (a file batch, the idle timeout's script), then its
        notices and replies: ``echo:`` lines for the serial client (returned)
        and console lines for the listeners."""
        printer = self.printer
        printer.replies.clear()
        printer.notices.clear()
        error = None
        try:
            action(*args)
        except (CommandError, arcs.ArcError) as exc:
            error = str(exc)
        self._console(self._console_lines(printer.notices, printer.replies, error))
        lines = self._echo(printer.notices) + [
            text if text == DONE_PRINTING else self._echo([text])[0] for text in printer.replies]
        if error is not None:
            lines.append("Error:%s" % error)
        return lines

    def _run_lines(self, script):
        for command in parse_text(script):
            self._run_one(command, command.raw)

    def _script(self, script, done):
        """An API script: each line in turn until one fails; ``done(error)``."""
        printer = self.printer
        printer.replies.clear()
        printer.notices.clear()
        error = None
        try:
            for command in parse_text(script):
                if self.halted is not None and command.code not in SESSION_HELP:
                    raise CommandError("Printer is halted (%s): FIRMWARE_RESTART restarts it"
                                       % self.halted)
                self.jobs.idle_timeout.note_busy(self.jobs.clock())
                self._run_one(command, command.raw)
        except (CommandError, arcs.ArcError) as exc:
            error = str(exc)
        except PlaceholderWarning as exc:
            error = str(exc)
        finally:
            notices, replies = list(printer.notices), list(printer.replies)
            self._console(self._console_lines(notices, replies, error))
            done(error)
        return self._echo(notices + replies)

    def _run_one(self, command, text):
        """Run one parsed command for a script; raises CommandError, or
        UnknownCommand for a command Mendel does not have."""
        code = command.code
        own = self._session_commands.get(code)
        if own is not None:
            own(command)
            return
        if code == "M105":                  # Klipper answers it on the console too
            self.printer.poll_temperatures()
            self.printer.replies.append(temperature_report(self.readings(), ok=True))
            return
        if command.error is not None and code not in self.interpreter._handlers:
            raise UnknownCommand('Unknown command:"%s"' % text.strip())
        notices = len(self.printer.notices)
        if self._execute_known(command) is not None:
            del self.printer.notices[notices:]      # the file-style "not supported" warning
            raise UnknownCommand('Unknown command:"%s"' % code)

    def _execute_known(self, command):
        """Run ``command`` on the interpreter; None, or "unknown" (a command
        Mendel does not have) or "ignored" (one it knows and ignores), which
        the interpreter counts rather than raises. Raises what it raises."""
        interpreter, code = self.interpreter, command.code
        unknown_before = interpreter.unsupported.get(code, [0])[0]
        ignored_before = interpreter.ignored.get(code, 0)
        interpreter.execute(command)
        if interpreter.unsupported.get(code, [0])[0] > unknown_before:
            return "unknown"
        if interpreter.ignored.get(code, 0) > ignored_before:
            return "ignored"
        return None

    @staticmethod
    def command_help():
        """{name: help} of the commands the session runs itself."""
        return dict(SESSION_HELP)

    @property
    def _session_commands(self):
        return {"RESTART": lambda _c: self.restart(firmware=False),
                "FIRMWARE_RESTART": lambda _c: self.restart(firmware=True),
                "STATUS": self._status_command}

    def restart(self, firmware):
        """RESTART: printer.cfg read anew, a new printer on the board (a board
        that shut down stays so: FIRMWARE_RESTART); FIRMWARE_RESTART: the board
        too (its shutdown cleared), as M999. Run by the worker."""
        self.log("%s: reloading %s" % ("FIRMWARE_RESTART" if firmware else "RESTART",
                                       self.printer.config.path))
        try:
            config_mod.load(self.printer.config.path)      # a bad file keeps this printer
        except ConfigError as exc:
            raise CommandError("printer.cfg not reloaded, the printer goes on as it was: %s"
                               % exc) from None
        if self.halted is None:
            try:
                self.printer.shutdown()
            except (LinkError, McuShutdown, OSError):
                pass
        self._new_printer(clear_shutdown=firmware, reload=True)

    def _status_command(self, _command):
        self.printer.notices.append(self.state_message if self.halted is None else
                                    "Printer is shutdown: %s" % self.halted)
