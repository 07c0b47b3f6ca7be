# Mendel host: the filesystem image the emulated RP2040 boots the firmware from.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile the firmware as ``mendel flash`` does and put it in a littlefs image.

MicroPython's rp2 port for the Raspberry Pi Pico (v1.28) keeps its
filesystem at the top of the 2 MiB flash: ``MICROPY_HW_FLASH_STORAGE_BYTES``
is 1408 KiB in ``ports/rp2/boards/RPI_PICO/mpconfigboard.h`` and the base is
``PICO_FLASH_SIZE_BYTES - MICROPY_HW_FLASH_STORAGE_BYTES`` (``rp2_flash.c``),
so it starts 640 KiB in. ``_boot.py`` mounts it as littlefs v2 with
``progsize=256`` on 4 KiB erase blocks (``FLASH_SECTOR_SIZE``). The image
holds the ``.mpy`` modules, ``main.py`` and ``board.json``, as
``mendel flash`` uploads them.
"""
import os

from littlefs import LittleFS

from mendel.flash import ports, upload
from mendel.sim.board import firmware_dir

FLASH_BYTES = 2 * 1024 * 1024
FS_BYTES = 1408 * 1024
FS_OFFSET = FLASH_BYTES - FS_BYTES          # 0xA0000, from the start of flash
BLOCK_BYTES = 4096
PROG_BYTES = 256
FAMILY = "rp2040"


def firmware_image(board, build_dir, extra_files=None, start=True):
    """Compile the firmware for ``board`` (a checked board dict) into ``build_dir`` and
    write ``build_dir/fs.img``: a littlefs image of FS_BYTES for offset FS_OFFSET.

    ``extra_files``: {name on the board: local path} copied as they are;
    ``start``: False leaves ``main.py`` out, so the board boots to the REPL
    with the firmware's modules importable (benchmarks, see repl.py).
    Returns ``(image path, [remote file names])``. Raises FlashError (mpy-cross).
    """
    files = [f for f in ports.firmware_files(firmware_dir(), FAMILY)
             if start or f != upload.ENTRY]
    march = ports.port(FAMILY)["march"]
    pairs = upload.compile_firmware(firmware_dir(), files, build_dir, march)
    pairs.append((upload.board_json(board, build_dir), upload.BOARD_FILE))
    pairs.extend((local, remote) for remote, local in sorted((extra_files or {}).items()))
    fs = LittleFS(block_size=BLOCK_BYTES, block_count=FS_BYTES // BLOCK_BYTES,
                  prog_size=PROG_BYTES, read_size=PROG_BYTES)
    for local, remote in pairs:
        folder = os.path.dirname(remote)
        if folder:
            fs.makedirs(folder, exist_ok=True)
        with open(local, "rb") as src, fs.open(remote, "wb") as dst:
            dst.write(src.read())
    path = os.path.join(build_dir, "fs.img")
    with open(path, "wb") as f:
        f.write(fs.context.buffer)
    return path, [remote for _local, remote in pairs]
