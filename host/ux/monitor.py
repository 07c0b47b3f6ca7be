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
        """The print starts; ``report`` is the preflight report or None."""
        self.state = ProgressState.from_report(report)
        self.state.readings = dict(self.printer.heaters.readings)
        if self._want_bar:
            self.bar = ProgressBar(self.state, self._stream)

    def commands(self, commands):
        """Pass ``commands`` through, logging each and following the layers."""
        toolhead = self.printer.toolhead
        state = self.state
        log = self.log
        last = toolhead.position
        layer = self.layers.current
        for command in commands:
            state.line = command.lineno
            if log is not None and command.code:
                log.command(command.lineno, command.raw)
            yield command
            self._sample()
            position = toolhead.position
            if position is not last:
                self.layers.move(last, position)
                last = position
            if self.layers.current != layer:
                layer = self._new_layer(command.lineno)
            if self.bar is not None:
                state.printed_time_s = self._printed_time()
                self.bar.update()
        state.line = state.total_lines or state.line    # every line read

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
        return layer

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
