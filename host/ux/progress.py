# Mendel host: the progress line of `mendel print`.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Progress of a print: percent, layer, time left, temperatures.

Units: s, degC. ``ProgressState`` holds the numbers (tested without a
terminal); ``ProgressBar`` draws them with tqdm on stderr.

* percent: lines of the file read by the interpreter / lines in the file
  (from the preflight check);
* layer: current / total, by :mod:`mendel.gcode.layers` (the rule of
  ``mendel check``);
* time left: the planner's estimate of the whole file (planned motion and
  dwells, as ``mendel check``'s ``estimated_time_s``) minus the planned
  motion and dwells the board has done (sent, less what is still queued
  ahead of the board's clock). Heat-up waits are not in the
  estimate, so the time left holds still while the printer heats. It is
  board time: on the simulated board's virtual clock the print runs faster.
"""
import shutil
import time

REFRESH_S = 0.2          # fastest redraw of the bar (s of wall time)


def duration(seconds):
    """``H:MM:SS`` of a duration in s."""
    hours, rest = divmod(int(round(max(seconds, 0.0))), 3600)
    return "%d:%02d:%02d" % (hours, rest // 60, rest % 60)


class ProgressState:
    """Numbers of a running print.

    ``total_lines``, ``total_layers``, ``estimated_time_s`` come from the
    preflight report (None when it was skipped).
    """

    def __init__(self, total_lines=None, total_layers=None, estimated_time_s=None):
        self.total_lines = total_lines
        self.total_layers = total_layers
        self.estimated_time_s = estimated_time_s
        self.line = 0                 # last line read
        self.layer = 0
        self.printed_time_s = 0.0     # planned motion + dwells sent so far
        self.readings = {}            # heater -> (temp, target, duty)

    @classmethod
    def from_report(cls, report):
        if report is None:
            return cls()
        return cls(report["lines"], report["layers"], report["estimated_time_s"])

    @property
    def percent(self):
        """0..100, or None without a line count."""
        if not self.total_lines:
            return None
        return min(100.0, 100.0 * self.line / self.total_lines)

    @property
    def remaining_s(self):
        """Estimated board time left (s), or None without an estimate."""
        if self.estimated_time_s is None:
            return None
        return max(self.estimated_time_s - self.printed_time_s, 0.0)

    def temperatures_text(self):
        short = {"extruder": "E", "heater_bed": "B"}
        return " ".join("%s %.0f/%.0fC" % (short.get(name, name), temp, target)
                        for name, (temp, target, _duty) in self.readings.items())

    def text(self):
        """The part after the bar: ``layer 3/26 | left 0:12:05 | E 215/215C B 60/60C``."""
        parts = []
        if self.total_layers:
            parts.append("layer %d/%d" % (self.layer, self.total_layers))
        elif self.layer:
            parts.append("layer %d" % self.layer)
        if self.remaining_s is not None:
            parts.append("left %s" % duration(self.remaining_s))
        if self.readings:
            parts.append(self.temperatures_text())
        return " | ".join(parts)


class ProgressBar:
    """A tqdm bar on ``stream`` (stderr) showing a ProgressState."""

    def __init__(self, state, stream):
        from tqdm import tqdm
        self.state = state
        self._write = tqdm.write
        self._stream = stream
        # A terminal that reports no width (script(1), some containers) gets
        # 80 columns; tqdm would draw nothing at width 0.
        width = shutil.get_terminal_size((0, 0)).columns
        self._bar = tqdm(total=state.total_lines, file=stream, unit="line",
                         dynamic_ncols=width > 0, ncols=None if width > 0 else 80,
                         mininterval=REFRESH_S, leave=True,
                         bar_format="{percentage:3.0f}%|{bar}| {desc}"
                         if state.total_lines else "{n_fmt} lines | {desc}")
        self._drawn = 0.0

    def update(self, force=False):
        """Redraw if ``REFRESH_S`` has passed (or ``force``)."""
        now = time.monotonic()
        if not force and now - self._drawn < REFRESH_S:
            return
        self._drawn = now
        self._bar.n = self.state.line
        self._bar.set_description_str(self.state.text(), refresh=False)
        self._bar.refresh()

    def write(self, text):
        """Print a message above the bar."""
        self._write(text, file=self._stream)

    def close(self):
        self.update(force=True)
        self._bar.close()
