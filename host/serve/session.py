# Mendel host: the session of a served printer: one worker, commands in turn.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the commands of `mendel serve`'s clients on a :class:`mendel.machine.printer.Printer`.

Its sides are mixins in modules of their own: :mod:`.marlin` (the serial
port's lines and answers), :mod:`.console` (API scripts, console lines,
RESTART) and :mod:`.file_print` (a file printing from the virtual_sdcard);
this module has the worker, the printer's life and the emergency stop.

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
import queue
import threading
import time

from mendel import status
from mendel.gcode.interpreter import Interpreter
from mendel.machine.printer import PrintError
from mendel.mcu.link import LinkError
from mendel.mcu.mcu import McuShutdown
from mendel.printjob import Jobs
from mendel.serve.console import SCRIPT, ConsoleSide
from mendel.serve.file_print import FilePrinting
from mendel.serve.marlin import HANG_UP, MarlinSide
from mendel.serve.served_printer import ServedPrinter  # noqa: F401 (the printer it runs)

IDLE_TICK_S = 0.1        # no command for this long: flush look-ahead, let time pass
IDLE_POLL_S = 1.0        # temperatures read this often while idle
STOP_TIMEOUT_S = 30.0    # longest wait for the command in hand at the end
_STOP = object()


class Session(MarlinSide, ConsoleSide, FilePrinting):
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
        self._own = self._marlin_commands()

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
                         extruder_position=lambda: self.interpreter.commanded_e,
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

    def _drop_queued(self):
        try:
            while True:
                self.queue.get_nowait()
        except queue.Empty:
            pass

    def readings(self):
        """Last (temp, target, duty) of each heater, as the worker last read them."""
        return dict(self.printer.heaters.readings)

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
            elif item is HANG_UP:
                lines = self._guarded(self._reset_for_next_client)
            elif item[0] is SCRIPT:
                started = self._board_and_wall()
                answered = []

                def done(error, done=item[2]):
                    answered.append(error)
                    done(error)
                lines = self._guarded(self._script, item[1], done)
                if not answered and self.halted is not None:
                    # The halt of an M112 sent just before was confirmed first:
                    # the script runs now (a FIRMWARE_RESTART does, the rest
                    # is refused as on a halted printer).
                    lines += self._guarded(self._script, item[1], done)
                if not answered:            # the board halted before or while it ran
                    done("Printer is halted (%s): FIRMWARE_RESTART restarts it" % self.halted)
                self._made_up(started)
            else:
                started = self._board_and_wall()
                lines = self._guarded(self._execute, *item)
                self._made_up(started)
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

    def _board_and_wall(self):
        """(board clock ticks, wall time s) now."""
        return self.printer.mcu.estimated_clock(), time.monotonic()

    def _made_up(self, started):
        """Virtual clock: a command whose waits (homing, M400, a full step
        queue) moved the board on by at least the wall time it took has made
        that time up, so the next idle turn does not add it again (it ran a
        whole move between two samples of the live position)."""
        mcu = self.printer.mcu
        board, wall = started
        now = time.monotonic()
        if mcu.virtual and (mcu.estimated_clock() - board) >= (now - wall) * mcu.clock_freq:
            self._clock_mark = max(self._clock_mark, now)

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
