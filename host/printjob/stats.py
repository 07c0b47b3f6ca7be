# Mendel host: print_stats, the state and durations of the print job.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Klipper's ``print_stats`` object (Status_Reference.md): what the printer
is doing with its job, for Moonraker's job history and the web interfaces.

States: ``standby`` (no job), ``printing``, ``paused``, ``complete``,
``cancelled``, ``error``. Durations are in seconds of print time (the
board's clock, so a simulated print reports the time a real one would
take): ``total_duration`` from the start, pauses included;
``print_duration`` without pauses and without the time before the first
extrusion (heating, homing, probing), as Klipper counts it.
``filament_used`` is mm of filament the file's moves asked for while
printing, as Klipper counts it: E as the G-code gives it (G92 renames left
out), before M221's factor, excluded objects' moves included.
``SET_PRINT_STATS_INFO TOTAL_LAYER= CURRENT_LAYER=`` fills ``info``.

The API server reads :meth:`PrintStats.status` from its own thread while the
session's worker runs the job: the durations and filament are brought up
to date under a lock, so the two never count the same extrusion twice.
"""
import threading


class PrintStats:
    """``clock()``: print time now (s); ``extruder_position()``: the E the
    G-code has asked for so far (mm; the interpreter's ``commanded_e``)."""

    def __init__(self, clock, extruder_position):
        self._clock = clock
        self._epos = extruder_position
        self._lock = threading.Lock()      # _update from the worker and the API thread
        self.filename = ""
        self.reset()

    def reset(self):
        """Back to standby, no file (SDCARD_RESET_FILE, a new file)."""
        self.state = "standby"
        self.message = ""
        self.filament_used = 0.0
        self.total_duration = 0.0
        self.print_duration = 0.0
        self.total_layer = None
        self.current_layer = None
        self._start = None          # print time the job started, while it runs
        self._pause_start = None
        self._paused = 0.0          # s paused so far
        self._before_extruding = None   # s of the job before the first extrusion
        self._last_epos = 0.0

    def set_current_file(self, filename):
        self.reset()
        self.filename = filename

    # -- the job's life -------------------------------------------------
    def note_start(self):
        """The job starts, or resumes after a pause."""
        now = self._clock()
        if self._start is None:
            self._start = now
            self._last_epos = self._epos()
        elif self._pause_start is not None:
            self._paused += now - self._pause_start
        self._pause_start = None
        self.state = "printing"
        self.message = ""

    def note_pause(self):
        if self._start is None:
            return
        self._update(self._clock())
        if self._pause_start is None:
            self._pause_start = self._clock()
        if self.state != "error":
            self.state = "paused"

    def note_complete(self):
        self._finish("complete", "")

    def note_cancel(self):
        self._finish("cancelled", "")

    def note_error(self, message):
        self._finish("error", message)

    def _finish(self, state, message):
        if self._start is None:
            return
        now = self._clock()
        self._update(now)
        if self._pause_start is not None:
            self._paused += now - self._pause_start
            self._pause_start = None
        self.state = state
        self.message = message
        self._start = None

    def set_info(self, total_layer=None, current_layer=None):
        """SET_PRINT_STATS_INFO: layer counts (None leaves one as it is)."""
        if total_layer is not None:
            self.total_layer = int(total_layer)
            self.current_layer = 0 if self.current_layer is None else self.current_layer
        if current_layer is not None:
            self.current_layer = int(current_layer)

    def update(self):
        """Durations and filament up to now: called after each batch of a file,
        so the first extrusion (where print_duration starts) is found to the
        batch, not only when a client asks."""
        self._update(self._clock())

    def _update(self, now):
        """Durations and filament up to ``now`` (while the job runs)."""
        with self._lock:
            self._update_locked(now)

    def _update_locked(self, now):
        if self._start is None:
            return
        self.total_duration = now - self._start
        paused = self._paused + (now - self._pause_start if self._pause_start is not None
                                 else 0.0)
        if self._pause_start is None:
            epos = self._epos()
            self.filament_used += epos - self._last_epos
            self._last_epos = epos
        if self._before_extruding is None:
            if self.filament_used <= 1e-7:
                return
            self._before_extruding = self.total_duration - paused
        self.print_duration = self.total_duration - paused - self._before_extruding

    @property
    def active(self):
        """A job started and not finished (printing or paused)."""
        return self._start is not None

    def status(self, _eventtime=None):
        """Klipper's print_stats fields."""
        self._update(self._clock())
        return {"filename": self.filename, "total_duration": self.total_duration,
                "print_duration": self.print_duration, "filament_used": self.filament_used,
                "state": self.state, "message": self.message,
                "info": {"total_layer": self.total_layer, "current_layer": self.current_layer}}
