# Mendel host: the print-job sections of printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``[virtual_sdcard]``, ``[pause_resume]`` and ``[idle_timeout]`` as
Klipper's Config_Reference describes them. Units: mm/s, s.

Keys (defaults):

* ``[virtual_sdcard]`` ``path`` (required): the folder of G-code files that
  ``SDCARD_PRINT_FILE``/``M23`` open (``~`` expanded; relative to the folder
  of printer.cfg); ``on_error_gcode`` (none): a G-code script run when a
  file print stops on an error.
* ``[pause_resume]`` ``recover_velocity`` (50 mm/s): the speed of the
  travel back to the paused position on RESUME.
* ``[idle_timeout]`` ``timeout`` (600 s): how long the printer stays
  "Ready" with nothing to do before ``gcode`` (``TURN_OFF_HEATERS`` and
  ``M84``) runs and it becomes "Idle".

Without ``[pause_resume]`` PAUSE/RESUME still work with the default speed,
and without ``[idle_timeout]`` the default timeout applies, as in Klipper
(where ``[virtual_sdcard]`` loads ``[pause_resume]`` and idle_timeout is
always there).
"""
import dataclasses
import os

DEFAULT_IDLE_GCODE = "TURN_OFF_HEATERS\nM84"


@dataclasses.dataclass
class VirtualSdcardConfig:
    """The folder of printable files (absolute path) and the error script."""
    path: str
    on_error_gcode: str = ""


@dataclasses.dataclass
class PrintJobConfig:
    """The three sections, read together: ``virtual_sdcard`` (None without the
    section), ``recover_velocity`` (mm/s), ``idle_timeout`` (s) and
    ``idle_gcode`` (a G-code script)."""
    virtual_sdcard: VirtualSdcardConfig = None
    recover_velocity: float = 50.0
    idle_timeout: float = 600.0
    idle_gcode: str = DEFAULT_IDLE_GCODE


def load(config_path, sdcard_sec, pause_sec, idle_sec, warnings=None):
    """PrintJobConfig from the Sections (each may be None). Raises ConfigError;
    a ``path`` that is not a folder (yet) is a warning added to ``warnings``
    (Moonraker makes its gcodes folder when it starts)."""
    job = PrintJobConfig()
    if sdcard_sec is not None:
        folder = os.path.expanduser(sdcard_sec.get("path"))
        if not os.path.isabs(folder):
            folder = os.path.join(os.path.dirname(os.path.abspath(config_path)), folder)
        job.virtual_sdcard = VirtualSdcardConfig(
            path=os.path.normpath(folder),
            on_error_gcode=sdcard_sec.get("on_error_gcode", ""))
        if warnings is not None and not os.path.isdir(folder):
            warnings.append("[virtual_sdcard] path %s is not a folder (yet): SDCARD_PRINT_FILE "
                            "and M20 find no files until it is made" % job.virtual_sdcard.path)
    if pause_sec is not None:
        job.recover_velocity = pause_sec.getfloat("recover_velocity", 50.0, above=0.0)
    if idle_sec is not None:
        job.idle_timeout = idle_sec.getfloat("timeout", 600.0, above=0.0)
        job.idle_gcode = idle_sec.get("gcode", DEFAULT_IDLE_GCODE)
    return job
