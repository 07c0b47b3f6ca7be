# Mendel host: Marlin-protocol commands run on a Mendel printer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the commands a serial client sends on a :class:`mendel.machine.printer.Printer`.

One worker thread owns the printer and its board link and runs the commands
in the order they came, answering each with ``ok`` once it is done: a move is
done once it is in the planner (the board runs it later), M400 once motion has
stopped, M109/M190 once the heater is at temperature. The serial side stays
responsive meanwhile: it asks :meth:`Session.periodic` for the keep-alive
lines (Marlin's ``echo:busy: processing`` every 2 s; temperature lines every
second while M109/M190 wait; M155 auto-reports), and passes M112/M108 to
:meth:`Session.emergency` as they arrive (Marlin's emergency parser).

Time on the simulated board's virtual clock: each wall-clock second that
passes moves the board clock at least one second (so heaters warm and moves
run while the client is idle), and commands that wait (a full step queue,
M400, M109/M190) move it ahead as fast as the board simulates. A client
streaming a file thus prints at the speed of the serial line, not of the
print. With ``--sim-realtime`` or a real board the clock runs by itself.

Files print from ``[virtual_sdcard]`` (:mod:`mendel.printjob`) in the same
worker: while a file is active, each turn with no client command runs its
next batch of lines, so commands, temperature reports and PAUSE go on
between them. Besides the serial client, the API server (:mod:`mendel.api`)
queues G-code scripts with :meth:`Session.submit_script` and follows the
console with :meth:`Session.add_output_listener`.

Units: degC, seconds (wall clock unless named board time).
"""
import os
import queue
import threading
import time

from mendel import __version__
from mendel.errors import CommandError
from mendel.gcode import arcs
from mendel.gcode.commands import KNOWN_IGNORED
from mendel.gcode.interpreter import Interpreter, PlaceholderWarning
from mendel.gcode.reader import parse_text
from mendel.mcu.link import LinkError
from mendel.mcu.mcu import McuShutdown
from mendel.machine.printer import Printer, PrintError
from mendel.printjob import Jobs
from mendel import status
from mendel import config as config_mod
from mendel.config import ConfigError
from mendel.serve.protocol import firmware_report, temperature_report

KEEPALIVE_S = 2.0        # Marlin DEFAULT_KEEPALIVE_INTERVAL (Configuration_adv.h)
WAIT_REPORT_S = 1.0      # Marlin prints temperatures each second while M109/M190 wait
IDLE_TICK_S = 0.1        # no command for this long: flush look-ahead, let time pass
IDLE_POLL_S = 1.0        # temperatures read this often while idle
CLOCK_CATCH_UP_S = 0.05  # virtual clock: lag behind the wall clock tolerated per command
STOP_TIMEOUT_S = 30.0    # longest wait for the command in hand at the end
HEATER_WAITS = ("M109", "M190", "TEMPERATURE_WAIT")
# A file printing from the virtual_sdcard reads on only while the board has
# less motion than this ahead of it (s), as Klipper keeps about 2 s buffered:
# a PAUSE or CANCEL_PRINT then takes effect that soon on a real-time board.
FILE_BUFFER_HIGH_S = 2.0
FILE_BUFFER_LOW_S = 1.0     # the virtual clock runs the board down to this
# Answers that are reports, sent as they are; other replies are notices (echo:).
REPORTS = ("M114",)
# SD card answers Marlin sends as they are (OctoPrint reads M20's file names
# from the lines between "Begin file list" and "End file list").
RAW_REPLIES = ("M20", "M21", "M23", "M27")
DONE_PRINTING = "Done printing file"
_UNKNOWN = 'echo:Unknown command: "%s"'     # Marlin's wording; OctoPrint prints on
_HANG_UP = object()
_STOP = object()
_SCRIPT = object()
# Commands of the session itself (they replace the printer or report on it).
SESSION_HELP = {"RESTART": "Reload the config file and restart the host software",
                "FIRMWARE_RESTART": "Restart the board and reload the config file",
                "STATUS": "Report the printer's status"}


class UnknownCommand(CommandError):
    """A command Mendel does not have (Klipper's ``Unknown command:"NAME"``)."""


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


class Session:
    """Commands of one serial port, run in order on a printer.

    ``connect(clear_shutdown, reload)`` returns a connected
    :class:`ServedPrinter` (called at start; by M999 after a shutdown; by
    RESTART, ``reload`` True: printer.cfg read anew, and FIRMWARE_RESTART,
    both True); ``send(line)`` writes one line to the serial client and must
    be safe to call from two threads.

    :attr:`state` is Klipper's webhooks state: "startup", "ready",
    "shutdown" (the board stopped: M999 or FIRMWARE_RESTART) or "error"
    (the board or printer.cfg could not be brought up), explained by
    :attr:`state_message`.
    """

    def __init__(self, connect, send, settings=None, log=None):
        self._connect = connect
        self.send = send
        self.settings = settings
        self.log = log or (lambda text: None)
        self.queue = queue.Queue()
        self.printer = None
        self.interpreter = None
        self.jobs = None                     # mendel.printjob.Jobs of the printer
        self.state = "startup"
        self.state_message = "Mendel is starting"
        self._listeners = []                 # fn(line): the console, Klipper's form
        self.halted = None                   # the board's shutdown reason
        self.running = None                  # (code, wall time started) of the command
        self.autoreport_s = 0.0              # M155 interval, 0 = off
        self._last_report = 0.0
        self._last_keepalive = 0.0
        self._clock_mark = time.monotonic()
        self._last_poll = 0.0
        self._thread = None
        self._client = 0                     # counts hang-ups: replies go to their client
        self._stopping = threading.Event()   # M112 sent: the worker waits for the board
        self._own = {"M105": self._m105, "M115": self._m115, "M155": self._m155,
                     "M110": self._ok, "M108": self._ok, "M999": self._m999}

    # -- life ----------------------------------------------------------
    def start(self):
        """Connect the printer and start the worker thread."""
        self._new_printer(clear_shutdown=False)
        self._thread = threading.Thread(target=self._work, name="mendel-serve", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """End a heater wait, finish the command in hand, then heaters off and
        motors released."""
        self._drop_queued()
        self.queue.put(_STOP)
        if self.printer is not None:
            self.printer.cancel_wait.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        if self.printer is not None and self.halted is None:
            try:
                self.printer.shutdown()
            except (LinkError, McuShutdown, OSError):
                pass

    def _new_printer(self, clear_shutdown, reload=False):
        printer = (self._connect(clear_shutdown, reload=True) if reload
                   else self._connect(clear_shutdown))
        self.printer = printer
        mcu = printer.mcu
        self.jobs = Jobs(printer.config.printjob,
                         clock=lambda: mcu.clock_estimate() / mcu.clock_freq,
                         extruder_position=lambda: printer.toolhead.position[3],
                         virtual_clock=mcu.virtual)
        self._new_interpreter()
        # An M112 of the old printer is done with, even one whose shutdown the
        # worker saw before emergency() had noted it (it would stop this one).
        self._stopping.clear()
        self.halted = None
        self.state, self.state_message = "ready", "Printer is ready"

    def _new_interpreter(self):
        macros = self.printer.config.macros          # printer.cfg's [gcode_macro NAME]
        self.interpreter = Interpreter(self.printer, self.settings,
                                       warn=self.printer.notices.append,
                                       filename="serial", macros=macros and macros.session(),
                                       extra_handlers=self.jobs.handlers())
        self.jobs.interpreter = self.interpreter
        sdcard = self.jobs.sdcard
        if sdcard is not None:
            self.interpreter.display_status.fallback_progress = lambda: sdcard.progress
        # Macro templates see the same printer objects as the API (print_stats ...).
        self.interpreter.status_sources = status.Sources(self.interpreter, session=self)

    # -- the serial side (any thread) ------------------------------------
    def submit(self, command, numbered=True):
        """Queue one command (str, no line number or checksum) to run in turn;
        ``numbered``: it came on a line with a line number and checksum."""
        self.queue.put((command, numbered))

    def submit_script(self, script, done):
        """Queue a G-code script (lines separated by newlines) to run in turn
        (the API's gcode/script). ``done(error)`` is called from the worker
        once it has run: error None, or the message of the line that failed
        (later lines are not run): Klipper's ``Unknown command:"NAME"`` for
        a command Mendel does not have."""
        self.queue.put((_SCRIPT, script, done))

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

    def emergency(self, code):
        """M112: stop the board now, ahead of queued motion; M108: end a heater wait.

        Called from the serial thread while the worker may be busy: the urgent
        frame is stateless on the link (see SerialLink.send_urgent), so it may
        go out beside the worker's frames.
        """
        printer = self.printer
        if code == "M108":
            printer.cancel_wait.set()
        elif code == "M112" and self.halted is None:
            self.log("M112: emergency stop")
            self._drop_queued()
            printer.mcu.emergency_stop()
            self._stopping.set()

    def hang_up(self):
        """The client went away: drop its queued commands, heaters off (as a
        Marlin board resets when the host closes the port), fresh G-code state."""
        self._client += 1
        self._drop_queued()
        self.autoreport_s = 0.0
        self.queue.put(_HANG_UP)

    def _drop_queued(self):
        try:
            while True:
                self.queue.get_nowait()
        except queue.Empty:
            pass

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

    def readings(self):
        """Last (temp, target, duty) of each heater, as the worker last read them."""
        return dict(self.printer.heaters.readings)

    # -- the worker ----------------------------------------------------
    def _work(self):
        while True:
            printing = self.halted is None and self.jobs is not None and self.jobs.printing
            wait = self._file_wait() if printing else IDLE_TICK_S
            try:
                item = self.queue.get(timeout=wait) if wait else self.queue.get_nowait()
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            client = self._client
            if item is None:
                printing = printing and self.halted is None and self.jobs.printing
                if printing and wait:
                    continue                    # the board is still busy: look again
                lines = self._guarded(self._print_some if printing else self._idle)
            elif item is _HANG_UP:
                lines = self._guarded(self._reset_for_next_client)
            elif item[0] is _SCRIPT:
                answered = []

                def done(error, done=item[2]):
                    answered.append(error)
                    done(error)
                lines = self._guarded(self._script, item[1], done)
                if not answered:            # the board halted before or while it ran
                    done("Printer is halted (%s): FIRMWARE_RESTART restarts it" % self.halted)
            else:
                lines = self._guarded(self._execute, *item)
                if not lines or not lines[-1].startswith("ok"):
                    lines.append("ok")              # M105 answers on its ok line
            if client == self._client:      # not for a client that hung up meanwhile
                for line in lines:
                    self.send(line)

    def _guarded(self, action, *args):
        """Lines for the client from ``action``, which returns them; a board
        shutdown, a lost link or board port, or an unconfirmed M112 halts the
        printer and says so."""
        try:
            if self._stopping.is_set() and self.halted is None:
                self._stopping.clear()
                self.printer.emergency_stop()   # raises McuShutdown once confirmed
            return action(*args) or []
        except (McuShutdown, LinkError, PrintError, OSError) as exc:
            self.halted = str(exc) or "board shut down"
            self.state, self.state_message = "shutdown", self.halted
            self.log("halted: %s" % self.halted)
            if self.jobs is not None:
                self.jobs.on_error(self.halted)
            self._console(["!! %s" % self.halted])
            # Marlin's kill message: OctoPrint recognises it and stops the job.
            return ["Error:%s" % self.halted, "Error:Printer halted. kill() called!"]

    def _idle(self):
        if self.halted is not None:
            return
        printer = self.printer
        printer.toolhead.flush()
        self._follow_wall_clock(0.0)
        now = time.monotonic()
        if now - self._last_poll >= IDLE_POLL_S:
            printer.poll_temperatures()
            self._last_poll = now
        jobs = self.jobs
        clock = jobs.clock()
        script = jobs.idle_timeout.check(clock, printer.toolhead.print_time, jobs.printing)
        if script:
            self.log("idle timeout: %s" % script.replace("\n", "; "))
            return self._unsolicited(self._run_lines, script)

    def _file_wait(self):
        """Seconds to wait before the file's next batch (0: now), so that the
        board never has much more than FILE_BUFFER_HIGH_S of motion ahead. On
        the virtual clock the board is run down at once instead. A board that
        fails here is left for the next batch to find (and halt the printer)."""
        toolhead, mcu = self.printer.toolhead, self.printer.mcu
        try:
            # On a real-time board the released moves go out now, so that the
            # motion ahead is known and a pause waits for no batch of them.
            end = toolhead.print_time if mcu.virtual else toolhead.send_released()
            ahead = end - mcu.estimated_clock() / mcu.clock_freq
            if ahead <= FILE_BUFFER_HIGH_S:
                return 0
            if mcu.virtual:
                mcu.wait_until(int((toolhead.print_time - FILE_BUFFER_LOW_S)
                                   * mcu.clock_freq))
                return 0
        except (McuShutdown, LinkError, OSError):
            return 0
        return min(ahead - FILE_BUFFER_HIGH_S + 0.01, IDLE_TICK_S)

    def _print_some(self):
        """The next batch of the file printing from the virtual_sdcard; the
        notices of its lines go to the serial client and the console."""
        jobs = self.jobs
        jobs.idle_timeout.note_busy(jobs.clock())
        return self._unsolicited(self._file_batch)

    def _file_batch(self):
        jobs = self.jobs
        try:
            outcome = jobs.sdcard.run_some(self.interpreter)
        except (CommandError, arcs.ArcError) as exc:
            jobs.on_error(str(exc))
            script = self.printer.config.printjob.virtual_sdcard.on_error_gcode
            if script:
                try:
                    self._run_lines(script)
                except (CommandError, arcs.ArcError) as later:
                    self.printer.notices.append("on_error_gcode: %s" % later)
            raise CommandError("print stopped: %s" % exc) from None
        if outcome == "done":
            self.printer.toolhead.flush()
            self.printer.replies.append(DONE_PRINTING)

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

    @staticmethod
    def _console_lines(notices, replies, error=None):
        lines = ["// " + text for text in notices]
        lines += [("// " + text) if text.startswith("action:") else text for text in replies]
        if error is not None:
            lines.append("!! " + error)
        return lines

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
        interpreter = self.interpreter
        unknown_before = interpreter.unsupported.get(code, [0])[0]
        ignored_before = interpreter.ignored.get(code, 0)
        notices = len(self.printer.notices)
        if command.error is not None and code not in interpreter._handlers:
            raise UnknownCommand('Unknown command:"%s"' % text.strip())
        interpreter.execute(command)
        if interpreter.unsupported.get(code, [0])[0] > unknown_before or \
                interpreter.ignored.get(code, 0) > ignored_before:
            del self.printer.notices[notices:]      # the file-style "not supported" warning
            raise UnknownCommand('Unknown command:"%s"' % code)

    # -- RESTART, FIRMWARE_RESTART, STATUS ----------------------------------
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

    def _follow_wall_clock(self, tolerance):
        """Virtual clock: move the board on by the wall time since the last call."""
        now = time.monotonic()
        elapsed = now - self._clock_mark
        if elapsed < tolerance:
            return
        self._clock_mark = now
        mcu = self.printer.mcu
        if mcu.virtual:
            mcu.wait_until(mcu.estimated_clock() + int(elapsed * mcu.clock_freq))

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
        printer, interpreter = self.printer, self.interpreter
        printer.replies.clear()
        printer.notices.clear()
        code = command.code
        unknown_before = interpreter.unsupported.get(code, [0])[0]
        ignored_before = interpreter.ignored.get(code, 0)
        try:
            interpreter.execute(command)
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
        if interpreter.unsupported.get(code, [0])[0] > unknown_before:
            self._console(['!! Unknown command:"%s"' % code])
            return [_UNKNOWN % text]
        if interpreter.ignored.get(code, 0) > ignored_before:
            self._console(['!! Unknown command:"%s"' % code])
            return [_UNKNOWN % text + " (%s)" % KNOWN_IGNORED.get(code, "ignored")]
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

    # -- commands answered here --------------------------------------------
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
