# Mendel host: pause_resume, PAUSE / RESUME / CANCEL_PRINT.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Klipper's ``[pause_resume]`` commands, on a file printing from the
virtual_sdcard or on a job a serial client streams.

* ``PAUSE``: stop reading the file (right after the line that paused, if it
  is the file's), remember the G-code state as ``SAVE_GCODE_STATE
  NAME=PAUSE_STATE``, tell a serial host ``// action:paused`` (OctoPrint
  stops sending). Moves already planned still run. A second PAUSE says the
  print is already paused.
* ``RESUME [VELOCITY=<mm/s>]``: ``RESTORE_GCODE_STATE NAME=PAUSE_STATE
  MOVE=1 MOVE_SPEED=<VELOCITY or recover_velocity>`` (the toolhead travels
  back to where it paused, the G-code modes and E come back), then the file
  reads on from where it stopped. When nothing is paused it says so and
  does nothing, as Klipper (not an error: a RESUME macro goes on).
* ``CANCEL_PRINT``: the file is unloaded and print_stats says cancelled; a
  serial host is told ``// action:cancel``.
* ``CLEAR_PAUSE``: forget the pause without resuming.

``status()``: Klipper's pause_resume field ``is_paused``.
"""
from mendel.errors import CommandError

PAUSE_STATE = "PAUSE_STATE"


class PauseResumeError(CommandError):
    """RESUME when nothing is paused."""


class PauseResume:
    """``jobs``: the :class:`~mendel.printjob.Jobs` (its sdcard, print_stats);
    ``recover_velocity``: mm/s."""

    def __init__(self, jobs, recover_velocity):
        self.jobs = jobs
        self.recover_velocity = recover_velocity
        self.is_paused = False

    def pause(self, interpreter):
        if self.is_paused:
            interpreter.machine.respond("Print already paused")
            return
        sdcard = self.jobs.sdcard
        if sdcard is not None and (sdcard.is_active or sdcard.running):
            sdcard.pause(interpreter)
        else:
            interpreter.machine.respond("action:paused")    # a streaming host pauses
        self.jobs.run_script(interpreter, "SAVE_GCODE_STATE NAME=%s" % PAUSE_STATE)
        self.is_paused = True

    def resume(self, interpreter, velocity=None):
        if not self.is_paused:
            interpreter.machine.respond("Print is not paused, resume aborted")    # as Klipper
            return
        speed = self.recover_velocity if velocity is None else float(velocity)
        if not speed > 0.0:
            raise PauseResumeError("RESUME VELOCITY must be above 0 mm/s")
        self.jobs.run_script(interpreter, "RESTORE_GCODE_STATE NAME=%s MOVE=1 MOVE_SPEED=%r"
                             % (PAUSE_STATE, speed))
        self.is_paused = False
        sdcard = self.jobs.sdcard
        if sdcard is not None and sdcard.file_path is not None:
            sdcard.start()
        else:
            interpreter.machine.respond("action:resumed")

    def cancel(self, interpreter):
        sdcard = self.jobs.sdcard
        if sdcard is not None and sdcard.file_path is not None:
            sdcard.cancel(interpreter)
        else:
            interpreter.machine.respond("action:cancel")
        self.is_paused = False

    def clear(self):
        self.is_paused = False

    def status(self, _eventtime=None):
        return {"is_paused": self.is_paused}
