# Mendel host: the print job of a served printer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""What `mendel serve` keeps about the job, as Klipper's modules do:
:mod:`.sdcard` (``[virtual_sdcard]``: files printed from a folder on the
host), :mod:`.stats` (``print_stats``), :mod:`.pause_resume` and
:mod:`.idle_timeout`. :class:`Jobs` holds one of each for a session and
gives the interpreter their commands (:meth:`Jobs.handlers`).
"""
from mendel.errors import CommandError
from mendel.gcode.params import Params
from mendel.gcode.reader import parse_text
from mendel.printjob.idle_timeout import IdleTimeout
from mendel.printjob.pause_resume import PauseResume
from mendel.printjob.sdcard import (BATCH_LINES, VIRTUAL_BATCH_LINES, SdcardError,
                                    VirtualSdcard)
from mendel.printjob.stats import PrintStats

__all__ = ["Jobs", "SdcardError"]

# Help texts of the commands, for gcode/help and the `gcode` status object.
HELP = {
    "SDCARD_PRINT_FILE": "Load and start a file from the virtual_sdcard folder",
    "SDCARD_RESET_FILE": "Unload the file and clear the print state",
    "PAUSE": "Pause the current print",
    "RESUME": "Resume the paused print",
    "CANCEL_PRINT": "Cancel the current print",
    "CLEAR_PAUSE": "Forget the pause without resuming",
    "SET_PRINT_STATS_INFO": "Set the layer information of the print (TOTAL_LAYER, "
                            "CURRENT_LAYER)",
    "SET_IDLE_TIMEOUT": "Set the idle timeout (TIMEOUT= s)",
    "M20": "List the files of the virtual_sdcard", "M21": "Initialise the SD card",
    "M23": "Select a file", "M24": "Start or resume the selected file",
    "M25": "Pause reading the file", "M26": "Set the file position (S<byte>)",
    "M27": "Report the file position",
}


class Jobs:
    """The job state of one served printer.

    ``config``: a :class:`~mendel.config.printjob.PrintJobConfig`;
    ``clock()``: print time now (s); ``extruder_position()``: commanded E, mm;
    ``virtual_clock``: the board runs on the simulated board's virtual clock
    (files are read in larger batches).
    :attr:`interpreter` must be set before a command runs.
    """

    def __init__(self, config, clock, extruder_position, virtual_clock=False):
        self.config = config
        self.clock = clock
        self.interpreter = None
        self.print_stats = PrintStats(clock, extruder_position)
        sdcard = config.virtual_sdcard
        self.sdcard = VirtualSdcard(
            sdcard.path, self.print_stats,
            VIRTUAL_BATCH_LINES if virtual_clock else BATCH_LINES) if sdcard else None
        self.pause_resume = PauseResume(self, config.recover_velocity)
        self.idle_timeout = IdleTimeout(config.idle_timeout, config.idle_gcode)

    @property
    def printing(self):
        """A file is being read."""
        return self.sdcard is not None and self.sdcard.is_active

    @property
    def holds_job(self):
        """A file is printing or paused: a serial hang-up must not reset."""
        return self.print_stats.active

    def run_script(self, interpreter, script):
        """Run G-code lines on ``interpreter`` (raises what they raise)."""
        for command in parse_text(script):
            interpreter.execute(command)

    def on_error(self, message):
        """The file stopped on an error (a refused line, a board shutdown)."""
        sdcard = self.sdcard
        if sdcard is not None and sdcard.file_path is not None:
            sdcard.is_active = False
            self.print_stats.note_error(message)
            sdcard.cancel(self.interpreter)
        self.pause_resume.clear()

    # -- commands -------------------------------------------------------
    def handlers(self):
        """``{code: fn(command)}`` for :class:`~mendel.gcode.interpreter.Interpreter`'s
        ``extra_handlers``. Without ``[virtual_sdcard]`` the SD card codes are
        not there: unknown commands, as Klipper has them then (and a Marlin
        host such as OctoPrint takes that as no SD card)."""
        table = {"PAUSE": self._pause, "RESUME": self._resume,
                 "CANCEL_PRINT": self._cancel, "CLEAR_PAUSE": self._clear_pause,
                 "SET_PRINT_STATS_INFO": self._stats_info,
                 "SET_IDLE_TIMEOUT": self._set_idle_timeout}
        if self.sdcard is not None:
            table.update({
                "SDCARD_PRINT_FILE": self._print_file, "SDCARD_RESET_FILE": self._reset_file,
                "M20": self._m20, "M21": self._m21, "M23": self._m23, "M24": self._m24,
                "M25": self._m25, "M26": self._m26, "M27": self._m27,
                "M28": self._no_writing, "M29": self._no_writing, "M30": self._no_writing})
        return table

    def _respond(self, text):
        self.interpreter.machine.respond(text)

    def _pause(self, command):
        Params(command)
        self.pause_resume.pause(self.interpreter)

    def _resume(self, command):
        params = Params(command, ("VELOCITY",))
        self.pause_resume.resume(self.interpreter, params.get_float("VELOCITY", above=0.0))

    def _cancel(self, command):
        Params(command)
        self.pause_resume.cancel(self.interpreter)

    def _clear_pause(self, command):
        Params(command)
        self.pause_resume.clear()

    def _stats_info(self, command):
        params = Params(command, ("TOTAL_LAYER", "CURRENT_LAYER"))
        self.print_stats.set_info(params.get_int("TOTAL_LAYER", minval=0),
                                  params.get_int("CURRENT_LAYER", minval=0))

    def _set_idle_timeout(self, command):
        params = Params(command, ("TIMEOUT",))
        timeout = params.get_float("TIMEOUT", above=0.0)
        if timeout is not None:
            self.idle_timeout.timeout = timeout
        self._respond("idle_timeout: Timeout set to %.2f s" % self.idle_timeout.timeout)

    def _print_file(self, command):
        params = Params(command, ("FILENAME",))
        name = params.get("FILENAME")
        if not name:
            raise SdcardError("SDCARD_PRINT_FILE needs FILENAME=")
        card = self.sdcard
        if self.pause_resume.is_paused:
            raise SdcardError("SD busy: a print is paused (RESUME or CANCEL_PRINT first)")
        self._new_file(name)
        card.start()

    def _new_file(self, name):
        """Load a file: the objects and M73 progress of the last one are forgotten."""
        name = self.sdcard.load(name)
        self.interpreter.exclude_object.reset()
        self.interpreter.display_status.reset_progress()
        return name

    def _reset_file(self, command):
        """SDCARD_RESET_FILE: a print under way is stopped and unloaded, as
        Klipper does (but not from a line of the file itself)."""
        Params(command)
        card = self.sdcard
        if card.running:
            raise SdcardError("SDCARD_RESET_FILE cannot run from the file that prints")
        card.pause(self.interpreter)
        card.reset()
        self.pause_resume.clear()

    def _m20(self, command):
        card = self.sdcard
        self._respond("Begin file list")
        for name, size in card.files():
            self._respond("%s %d" % (name, size))
        self._respond("End file list")

    def _m21(self, _command):
        self._respond("SD card ok")

    def _m23(self, command):
        card = self.sdcard
        if not command.text:
            raise SdcardError("M23 needs a file name")
        name = self._new_file(command.text)
        self._respond("File opened: %s Size: %d" % (name, card.file_size))
        self._respond("File selected")

    def _m24(self, command):
        card = self.sdcard
        if self.pause_resume.is_paused:
            self.pause_resume.resume(self.interpreter)
        else:
            card.start()

    def _m25(self, command):
        self.sdcard.pause(self.interpreter)

    def _m26(self, command):
        position = command.params.get("S")
        if position is None:
            raise SdcardError("M26 needs S<byte position>")
        self.sdcard.set_position(position)

    def _m27(self, command):
        card = self.sdcard
        if card.file_path is None or not (card.is_active or self.print_stats.active):
            self._respond("Not SD printing.")
        else:
            self._respond("SD printing byte %d/%d" % (card.file_position, card.file_size))

    def _no_writing(self, command):
        raise CommandError("%s (write or delete a file on the SD card) is not supported: put "
                           "files in the virtual_sdcard folder (or upload them with Moonraker)"
                           % command.code)
