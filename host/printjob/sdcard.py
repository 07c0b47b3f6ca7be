# Mendel host: virtual_sdcard, printing a file from a folder on the host.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Klipper's ``[virtual_sdcard]``: G-code files in a folder on the host are
printed by the host itself, between the commands that clients send (the
web interface stays live while a file prints).

Commands (Klipper's G-Codes.md; Marlin's SD card codes as Klipper reads them):

* ``SDCARD_PRINT_FILE FILENAME=<path in the folder>``: load and start a file.
* ``SDCARD_RESET_FILE``: unload the file, back to standby.
* ``M20``: list the files (``Begin file list``, ``<name> <bytes>``,
  ``End file list``); ``M21``: ``SD card ok``; ``M23 <name>``: select a
  file; ``M24``: start or resume it; ``M25``: pause reading it; ``M26
  S<byte>``: set the position to read from; ``M27``: ``SD printing byte
  <pos>/<size>`` or ``Not SD printing.``. ``M28``/``M29``/``M30`` (writing
  and deleting) are not supported: a file is put in the folder by the user
  or by Moonraker's upload.

The file is read from ``file_position`` in batches of ``batch_lines`` lines
through the same interpreter and fast path as ``mendel print``; a PAUSE or
CANCEL_PRINT in the file (or in a macro it calls, such as M600) ends the
reading right after its line, so a resume goes on at the next line.
``status()`` gives Klipper's virtual_sdcard fields: file_path, progress
(0..1 of the bytes), is_active, file_position, file_size (bytes).
"""
import os

from mendel.errors import CommandError
from mendel.gcode.reader import NotGcodeError, iter_batches_at, sniff_gcode

GCODE_SUFFIXES = (".gcode", ".g", ".gco")
# Lines read between two looks at the clients' commands (and at how much
# motion the board has ahead): few on a board that runs in real time, so a
# PAUSE waits for little; more on the simulated board's virtual clock, where
# only the wall time of the host counts.
BATCH_LINES = 1
VIRTUAL_BATCH_LINES = 64
CHUNK_BYTES = 1 << 16


class SdcardError(CommandError):
    """A virtual_sdcard command that cannot be done; the message says why."""


class VirtualSdcard:
    """The folder ``path`` (absolute) and the loaded file; ``print_stats``: the
    job's :class:`~mendel.printjob.stats.PrintStats`."""

    def __init__(self, path, print_stats, batch_lines=BATCH_LINES):
        self.path = path
        self.batch_lines = batch_lines
        self.print_stats = print_stats
        self.file_path = None        # absolute path of the loaded file
        self.file_size = 0
        self.file_position = 0       # bytes read and run
        self.lineno = 1              # line number at file_position
        self.is_active = False       # reading the file (not paused, not done)
        self.running = False         # inside run_some (a line of the file runs)
        self._stream = None
        self._batches = None

    # -- the folder -----------------------------------------------------
    def files(self):
        """``[(name, bytes)]`` of the G-code files in the folder and below,
        names relative to it with ``/``, sorted."""
        found = []
        for folder, dirs, names in os.walk(self.path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in names:
                if name.lower().endswith(GCODE_SUFFIXES) and not name.startswith("."):
                    full = os.path.join(folder, name)
                    found.append((os.path.relpath(full, self.path).replace(os.sep, "/"),
                                  os.path.getsize(full)))
        return sorted(found)

    def load(self, name):
        """Select the file ``name`` (relative to the folder; a leading ``/`` is
        the folder's root). Raises SdcardError: busy, outside the folder,
        missing, not G-code text."""
        if self.is_active:
            raise SdcardError("SD busy: a file is printing (PAUSE or CANCEL_PRINT first)")
        name = name.strip().strip('"').lstrip("/")
        full = os.path.realpath(os.path.join(self.path, name))
        root = os.path.realpath(self.path)
        if os.path.commonpath([full, root]) != root:
            raise SdcardError("%s is outside the virtual_sdcard folder %s" % (name, self.path))
        if not os.path.isfile(full):
            raise SdcardError("file %s not found in %s" % (name, self.path))
        try:
            sniff_gcode(full)
        except NotGcodeError as exc:
            raise SdcardError(str(exc)) from None
        self._close()
        self._stream = open(full, "rb")
        self.file_path = full
        self.file_size = os.path.getsize(full)
        self.file_position = 0
        self.lineno = 1
        self.print_stats.set_current_file(name)
        return name

    def reset(self):
        """SDCARD_RESET_FILE: no file, standby."""
        if self.is_active:
            raise SdcardError("SD busy: a file is printing (PAUSE or CANCEL_PRINT first)")
        self._close()
        self.file_path = None
        self.file_size = self.file_position = 0
        self.print_stats.filename = ""
        self.print_stats.reset()

    def _close(self):
        if self._stream is not None:
            self._stream.close()
        self._stream = self._batches = None

    # -- the job --------------------------------------------------------
    def start(self):
        """M24 / SDCARD_PRINT_FILE / RESUME: read the file on from file_position."""
        if self.file_path is None:
            raise SdcardError("no file selected (M23 <name> or SDCARD_PRINT_FILE FILENAME=)")
        if self.is_active:
            return
        self.is_active = True
        self.print_stats.note_start()

    def pause(self, interpreter):
        """Stop reading: between two batches, or right after the line of the
        file that is running (its PAUSE, M600 or CANCEL_PRINT)."""
        if self.running:
            interpreter.file_stop = True
        if self.is_active:
            self.is_active = False
            self.print_stats.note_pause()

    def cancel(self, interpreter):
        """CANCEL_PRINT: stop and unload; print_stats says cancelled."""
        if self.file_path is None:
            return
        self.pause(interpreter)
        self.print_stats.note_cancel()
        self._close()
        self.file_path = None

    def set_position(self, position):
        """M26 S<byte>: read on from there (the line number is counted anew)."""
        if self.file_path is None:
            raise SdcardError("M26: no file selected")
        if self.is_active:
            raise SdcardError("M26: pause the print first (M25)")
        position = int(position)
        if not 0 <= position <= self.file_size:
            raise SdcardError("M26 S%d is outside the file (0..%d bytes)"
                              % (position, self.file_size))
        self._stream.seek(0)
        self.lineno = self._stream.read(position).count(b"\n") + 1
        self.file_position = position
        self._batches = None

    def run_some(self, interpreter):
        """Run the next batch of lines of the file on ``interpreter``.

        Returns "done" at the end of the file, "stopped" when a line paused
        or cancelled the print, else None. A line the interpreter refuses
        raises its GcodeError (naming this file and line); file_position is
        then the start of that line.
        """
        if self._batches is None:
            self._batches = iter_batches_at(self._stream, self.file_position, self.lineno,
                                            CHUNK_BYTES, self.batch_lines)
        item = next(self._batches, None)
        if item is None:
            self.is_active = False
            self._close()
            self.file_position = self.file_size
            self.print_stats.note_complete()
            return "done"
        batch, base = item
        filename = interpreter.filename
        interpreter.filename = self.print_stats.filename or self.file_path
        interpreter.file_stop = False
        self.running = True
        try:
            stopped = interpreter.run_batches([batch])
        except CommandError:
            # The interpreter's line is the one refused: the file stops before it.
            self._after(batch, base, interpreter.lines - 1)
            self._batches = None
            raise
        finally:
            self.running = False
            interpreter.file_stop = False
            interpreter.filename = filename
        if stopped is not None:
            self._after(batch, base, stopped)
            self._batches = None
            return "stopped"
        self._after(batch, base, batch.lineno(batch.count - 1))
        self.print_stats.update()
        return None

    def _after(self, batch, base, lineno):
        """file_position and lineno just past line ``lineno`` of ``batch``."""
        i = lineno - batch.lineno(0)
        if i < 0:
            self.file_position = base + batch.line_span(0)[0]
            self.lineno = batch.lineno(0)
            return
        self.file_position = min(base + batch.line_span(i)[1] + 1, self.file_size)
        self.lineno = lineno + 1

    @property
    def progress(self):
        return self.file_position / self.file_size if self.file_size else 0.0

    def status(self, _eventtime=None):
        """Klipper's virtual_sdcard fields."""
        return {"file_path": self.file_path, "progress": self.progress,
                "is_active": self.is_active, "file_position": self.file_position,
                "file_size": self.file_size}
