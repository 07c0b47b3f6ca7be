# Mendel host: a file printing from the virtual_sdcard in `mendel serve`.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The worker's turns at the file (:mod:`mendel.printjob.sdcard`): a batch of
lines whenever no client command waits, but only while the board has less
than about two seconds of motion ahead, as Klipper keeps it, so a PAUSE or
CANCEL_PRINT leaves little to run on a board that runs in real time.
"""
from mendel.errors import CommandError
from mendel.gcode import arcs
from mendel.mcu.link import LinkError
from mendel.mcu.mcu import McuShutdown
from mendel.serve.console import DONE_PRINTING

# A file printing from the virtual_sdcard reads on only while the board has
# less motion than this ahead of it (s), as Klipper keeps about 2 s buffered:
# a PAUSE or CANCEL_PRINT then takes effect that soon on a real-time board.
FILE_BUFFER_HIGH_S = 2.0
FILE_BUFFER_LOW_S = 1.0     # the virtual clock runs the board down to this
WAIT_MAX_S = 0.1            # longest wait for the board before looking at commands


class FilePrinting:
    """The file's turns (a mixin of Session)."""

    def _file_wait(self):
        """Seconds to wait before the file's next batch (0: now), so that the
        board never has much more than FILE_BUFFER_HIGH_S of motion ahead. On
        the virtual clock the board is run down at once instead. A board that
        fails here is left for the next batch to find (and halt the printer)."""
        toolhead, mcu = self.printer.toolhead, self.printer.mcu
        try:
            # On a real-time board the released moves go out now, so that the
            # motion ahead is known and a pause waits for no batch of them.
            if not mcu.virtual:
                toolhead.send_released()
            # Steps sent reach sent_until (input shaping's lead before print_time).
            end = toolhead.sent_until
            ahead = end - mcu.estimated_clock() / mcu.clock_freq
            if ahead <= FILE_BUFFER_HIGH_S:
                return 0
            if mcu.virtual:
                mcu.wait_until(int((end - FILE_BUFFER_LOW_S) * mcu.clock_freq))
                return 0
        except (McuShutdown, LinkError, OSError):
            return 0
        return min(ahead - FILE_BUFFER_HIGH_S + 0.01, WAIT_MAX_S)

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
