# Mendel host: `mendel flash`.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put MicroPython and the Mendel firmware on a board, step by step.

1. the MicroPython image, when ``--firmware-image`` is given: a UF2 copied to
   an RP2040's boot drive, or an ESP32 ``.bin`` written by esptool;
2. the port is checked: present, not held by another program (before the
   numbered steps, unless it appears only after the UF2 copy; said once,
   after the check);
3. mpremote's raw REPL (``mpremote connect PORT resume``) tells which
   MicroPython port answers: it must be the board's MCU family;
4. the firmware is compiled with mpy-cross for that port's architecture;
5. the ``.mpy`` files, ``main.py`` and the board definition (``board.json``)
   are uploaded, with a progress bar, and checked by SHA-256 on the board;
6. the board restarts into the firmware (the unix port is left in its REPL).

``--dry-run`` prints these steps with the commands and files they use and
touches nothing.
"""
import os
import shutil
import tempfile

from mendel.boards import checked_board
from mendel.flash import device as device_mod
from mendel.flash import image as image_mod
from mendel.flash import ports, upload
from mendel.flash.device import FlashError
from mendel.sim.board import firmware_dir

__all__ = ["Flash", "FlashError"]


class Flash:
    """One flashing job: ``Flash(board_id, port).run(dry_run=False)``.

    ``image``: MicroPython image (``.uf2`` RP2040, ``.bin`` ESP32) or None to
    keep the one on the board; ``boot_drive``: the RP2040 boot drive folder
    (default: found among the mounted drives); ``remote_dir``: folder on the
    board (default its root; on the unix port, the REPL's working directory);
    ``reset_wait_s``: how long to wait for the user to press reset when the
    Mendel firmware, not the REPL, answers (default 30 s; 0 for ``sim``).
    ``out``: called with each line of the report. Raises FlashError or
    mendel.boards.BoardError, with what to do, before or at the failing step.
    """

    def __init__(self, board_id, port, image=None, boot_drive=None, remote_dir="",
                 quiet=False, out=print, reset_wait_s=None):
        self.board = checked_board(board_id)
        self.family = self.board["mcu"]
        self.entry = ports.port(self.family)
        self.device, self.image, self.boot_drive = port, image, boot_drive
        self.remote_dir, self.quiet, self.out = remote_dir.strip(":"), quiet, out
        # The simulated board has no reset button to wait for.
        self.reset_wait_s = reset_wait_s if reset_wait_s is not None else (
            0.0 if self.family == "sim" else 30.0)
        self.sources = ports.firmware_files(firmware_dir(), self.family)
        self.march = self.entry["march"]
        self.transport = self.build_dir = self.pairs = None
        self.bytes = 0
        if image is not None:
            self._check_image()

    def _check_image(self):
        if not os.path.isfile(self.image):
            raise FlashError("no such firmware image %s" % self.image)
        if self.family == "rp2040":
            image_mod.check_uf2(self.image)
        elif self.family == "esp32":
            image_mod.check_esp_image(self.image)
        else:
            raise FlashError("board %s runs on the MicroPython unix port: it takes no "
                             "--firmware-image" % self.board["id"])

    # -- the plan --------------------------------------------------------
    def steps(self):
        """``[(text, action)]`` in order; ``text`` may span lines."""
        steps = []
        if self.image and self.family == "rp2040":
            drive = self.boot_drive or "(the mounted RPI-RP2 drive)"
            steps += [("copy %s (%.0f KB) to the RP2040 boot drive %s"
                       % (self.image, os.path.getsize(self.image) / 1024, drive),
                       self._write_uf2),
                      ("wait for %s to appear (MicroPython's USB serial port)" % self.device,
                       lambda: image_mod.wait_for_port(self.device)),
                      ("check %s: not held by another program" % self.device,
                       lambda: device_mod.check_free(self.device))]
        if self.image and self.family == "esp32":
            steps.append((" ".join(image_mod.esptool_command(self.device, self.image)),
                          lambda: image_mod.write_esp32(self.device, self.image)))
        steps += [
            ("connect: mpremote connect %s resume; check that it is %s"
             % (self.device, self.entry["describe"]), self._connect),
            ("compile %d firmware modules: mpy-cross -march=%s"
             % (len(self.sources) - 1, self.march), self._compile),
            (self._upload_text(), self._upload),
            ("verify: SHA-256 of every uploaded file, on the board", self._verify),
            self._last_step(),
        ]
        return steps

    def _upload_text(self):
        lines = ["upload %d files and board.json to %s" % (
            len(self.sources), ":" + self.remote_dir if self.remote_dir else "the board's root")]
        for rel in self.sources + [upload.BOARD_FILE]:
            remote = rel if rel in (upload.ENTRY, upload.BOARD_FILE) else rel[:-3] + ".mpy"
            local = "firmware/" + rel if rel == upload.ENTRY else "build/" + remote
            lines.append("    mpremote connect %s resume fs cp %s :%s"
                         % (self.device, local, upload._remote(self.remote_dir, remote)))
        return "\n".join(lines)

    def _last_step(self):
        if self.family == "sim":
            return ("leave the raw REPL; start the firmware there with "
                    "`micropython main.py --board board.json`", self._leave)
        return ("restart the board (machine.reset()): main.py starts the firmware",
                self._reset)

    # -- the actions -----------------------------------------------------
    def _write_uf2(self):
        drive = image_mod.find_boot_drive(self.boot_drive)
        image_mod.copy_uf2(self.image, drive, quiet=self.quiet)

    def _connect(self):
        self.transport = upload.connect(self.device, reset_wait_s=self.reset_wait_s,
                                        out=self.out)
        remote = device_mod.describe_remote(self.transport)
        self.march = device_mod.check_remote(self.board, self.entry, remote, self.device)

    def _compile(self):
        self.build_dir = tempfile.mkdtemp(prefix="mendel-flash-")
        self.pairs = upload.compile_firmware(firmware_dir(), self.sources, self.build_dir,
                                             self.march)
        self.pairs.append((upload.board_json(self.board, self.build_dir), upload.BOARD_FILE))

    def _upload(self):
        self.bytes = upload.upload(self.transport, self.pairs, self.remote_dir, self.quiet)

    def _verify(self):
        upload.verify(self.transport, self.pairs, self.remote_dir)

    def _leave(self):
        self.transport.exit_raw_repl()

    def _reset(self):
        self.transport.exec_raw_no_follow("import machine\nmachine.reset()")

    # -- running ---------------------------------------------------------
    def _port_first(self):
        """Whether the port must be there before the first step (it is not
        when it appears only after an RP2040's UF2 copy)."""
        return not (self.image and self.family == "rp2040")

    def run(self, dry_run=False):
        """Print and run every step (only print with ``dry_run``); returns a summary dict."""
        steps = self.steps()
        if self._port_first():
            # Checked once, then said: a missing port is the only line. A dry
            # run says what the check would find now, and goes on.
            try:
                device_mod.check_free(self.device)
                found = "present, not held by another program"
            except FlashError as exc:
                if not dry_run:
                    raise
                found = "it would stop here now: %s" % exc
            self.out("%s %s: %s" % ("would check" if dry_run else "port", self.device,
                                    found))
        try:
            for number, (text, action) in enumerate(steps, 1):
                self.out("%s[%d/%d] %s" % ("would run " if dry_run else "", number,
                                           len(steps), text))
                if not dry_run:
                    action()
        finally:
            self.close()
        return {"board": self.board["id"], "port": self.device, "dry_run": dry_run,
                "files": len(self.sources) + 1, "bytes": self.bytes, "march": self.march}

    def close(self):
        """Close the port and remove the build folder."""
        if self.transport is not None:
            try:
                self.transport.close()
            except OSError:
                pass
            self.transport = None
        if self.build_dir:
            shutil.rmtree(self.build_dir, ignore_errors=True)
            self.build_dir = None
