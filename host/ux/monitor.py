# Mendel host: watching a print for its progress line and run log.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The observer a Printer reports to while it prints (``printer.observer``).

It feeds the run log (:mod:`mendel.ux.runlog`) and the progress bar
(:mod:`mendel.ux.progress`) from three sources: the commands the interpreter
reads, the interpreter's events (layer tags), and every temperature poll
(every ``TEMPERATURE_S`` of board time: checked after each command and,
on the simulated board's virtual clock, at each step of the clock).
"""
from mendel.gcode.layers import LayerTracker
from mendel.ux.progress import ProgressBar, ProgressState

TEMPERATURE_S = 1.0      # s of board time between temperature readings while printing


class PrintMonitor:
    """Watches ``printer`` (a Printer); ``log`` a RunLog or None; ``bar``
    True to draw a progress bar on ``stream``; ``warn_stream`` gets warnings."""

    def __init__(self, printer, log=None, bar=False, stream=None):
        self.printer = printer
        self.log = log
        self.layers = LayerTracker()
        self.state = ProgressState()
        self._want_bar = bar
        self._stream = stream
        self.bar = None
        self.warnings = []
        printer.observer = self
        printer.heaters.on_poll = self.temperatures
        mcu = printer.mcu
        self._poll_ticks = int(TEMPERATURE_S * mcu.clock_freq)
        self._next_poll = 0
        if log is not None:
            log.attach(lambda: mcu.estimated_clock() / mcu.clock_freq)
            if mcu.virtual:
                # The virtual clock jumps up to a minute while the queues drain:
                # step it by TEMPERATURE_S so the log has every reading.
                mcu.virtual_step_s = TEMPERATURE_S
                mcu.on_advance = self._sample

    def _sample(self):
        """Read the temperatures if TEMPERATURE_S of board time has passed."""
        if self.printer.mcu.estimated_clock() >= self._next_poll:
            self.printer.poll_temperatures()        # calls temperatures()

    # -- the Printer's observer interface ---------------------------------
    def begin(self, report):
        """The print starts; ``report`` is the preflight report or None.

        The first temperatures are read now, before any line: after that a
        reading falls due only when the board's clock moves on, and the
        clock moves only when moves are sent, so the interpreter may tell
        this monitor of a run of plain moves at its end (``fed``,
        ``after_fed``) and the log is the one line-by-line reports give.
        """
        self.state = ProgressState.from_report(report)
        self.state.readings = dict(self.printer.heaters.readings)
        if self._want_bar:
            self.bar = ProgressBar(self.state, self._stream)
        self._sample()

    def before(self, command):
        """The interpreter is about to run ``command`` (a parsed line)."""
        self.state.line = command.lineno
        if self.log is not None and command.code:
            self.log.command(command.lineno, command.raw)
        self._last = self.printer.toolhead.position

    def after(self, lineno):
        """The command of line ``lineno`` has run."""
        position = self.printer.toolhead.position
        if position is not self._last:
            self.layers.move(self._last, position)
        self._progress(lineno)

    def fed(self, batch, start, stop, feed):
        """Lines ``start..stop-1`` of ``batch`` went to the planner as plain
        moves through ``feed`` (a MoveFeed that tracks extruding heights);
        their moves are about to be sent."""
        if self.log is not None:
            for i in range(start, stop):
                if batch.kind(i):
                    self.log.command(batch.lineno(i), batch.line_text(i))
        if feed.new_height:
            self.layers.add_height(feed.last_height)

    def after_fed(self, lineno):
        """The moves of a fed run, up to line ``lineno``, went to the toolhead."""
        self._progress(lineno)

    def read_all(self, lines):
        """The whole file has been read: ``lines`` lines."""
        self.state.line = self.state.total_lines or lines

    def _progress(self, line):
        self._sample()
        self.state.line = line
        if self.layers.current != self.state.layer:
            self._new_layer(line)
        if self.bar is not None:
            self.state.printed_time_s = self._printed_time()
            self.bar.update()

    def _printed_time(self):
        """Planned motion and dwells the board has done (s): all that was sent,
        less what is still queued on the board ahead of its clock."""
        toolhead = self.printer.toolhead
        mcu = self.printer.mcu
        queued = toolhead.print_time - mcu.estimated_clock() / mcu.clock_freq
        return toolhead.motion_time - max(queued, 0.0)

    def _new_layer(self, line):
        layer = self.state.layer = self.layers.current
        if self.log is not None:
            self.log.write("layer", layer=layer, line=line)

    def event(self, kind, value):
        self.layers.event(kind, value)

    def temperatures(self, readings):
        """Every poll of the heaters, whoever asked (an M109 wait polls too)."""
        self._next_poll = self.printer.mcu.estimated_clock() + self._poll_ticks
        self.state.readings = dict(readings)
        if self.log is not None:
            self.log.temperatures(readings)
            self.log.link(self.printer.mcu.link.retransmits)
        if self.bar is not None:
            self.state.printed_time_s = self._printed_time()
            self.bar.update()

    # -- for the command line ------------------------------------------
    def warn(self, text):
        """A warning: kept for the summary, logged, shown (above the bar)."""
        self.warnings.append(text)
        if self.log is not None:
            self.log.write("warning", text=text)
        if self.bar is not None:
            self.bar.write(text)
        elif self._stream is not None:
            print(text, file=self._stream)

    def end(self):
        """Close the bar (the log is closed by its owner)."""
        if self.bar is not None:
            self.state.printed_time_s = self._printed_time()
            self.bar.close()
            self.bar = None
