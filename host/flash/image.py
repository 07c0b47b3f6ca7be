# Mendel host: write the MicroPython image itself onto a board.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MicroPython interpreter goes onto the board before our firmware does.

RP2040: the boot ROM shows a USB drive (volume ``RPI-RP2``, a file
``INFO_UF2.TXT``) while BOOTSEL is held at power-up; copying a UF2 file onto it
flashes and restarts the chip (Raspberry Pi "Getting started with Raspberry Pi
Pico", UF2 format: https://github.com/microsoft/uf2). ESP32: Espressif's
``esptool`` writes the ``.bin`` image at 0x1000 over the serial bootloader
(MicroPython ESP32 download page: ``esptool.py --chip esp32 write_flash -z
0x1000 image.bin``).
"""
import os
import struct
import subprocess
import sys
import time

from tqdm import tqdm

from mendel.flash.device import FlashError

# UF2 block: magic 0x0A324655 at offset 0 and 0x9E5D5157 at 4; family id at 28
# when flag 0x2000 is set (uf2 README, "File format"). RP2040's family id.
UF2_MAGIC = (0x0A324655, 0x9E5D5157)
UF2_FAMILY_RP2040 = 0xE48BFF56
UF2_BLOCK = 512
ESP_IMAGE_MAGIC = 0xE9                     # first byte of an ESP32 app/bootloader image
ESP32_IMAGE_OFFSET = 0x1000
ESPTOOL_BAUD = 460800
_COPY_CHUNK = 64 * 1024


def check_uf2(path):
    """Raise FlashError unless ``path`` is a UF2 file for an RP2040."""
    with open(path, "rb") as f:
        head = f.read(32)
    if len(head) < 32 or struct.unpack_from("<II", head) != UF2_MAGIC:
        raise FlashError("%s is not a UF2 file (get MicroPython for the RP2040 as .uf2)"
                         % path)
    flags, family = struct.unpack_from("<I", head, 8)[0], struct.unpack_from("<I", head, 28)[0]
    if flags & 0x2000 and family != UF2_FAMILY_RP2040:
        raise FlashError("%s is a UF2 file for another chip (family 0x%08x, RP2040 is "
                         "0x%08x)" % (path, family, UF2_FAMILY_RP2040))


def check_esp_image(path):
    """Raise FlashError unless ``path`` starts like an ESP32 firmware image."""
    with open(path, "rb") as f:
        first = f.read(1)
    if first != bytes([ESP_IMAGE_MAGIC]):
        raise FlashError("%s is not an ESP32 firmware image (it should start with 0xE9: "
                         "get MicroPython for the ESP32 as .bin)" % path)


def _mount_points():
    try:
        with open("/proc/mounts") as f:
            return [line.split()[1].replace("\\040", " ") for line in f]
    except OSError:
        return []


def is_boot_drive(folder):
    """Whether ``folder`` is an RP2040 in BOOTSEL mode (INFO_UF2.TXT names RPI-RP2)."""
    try:
        with open(os.path.join(folder, "INFO_UF2.TXT"), errors="replace") as f:
            return "RPI-RP2" in f.read()
    except OSError:
        return False


def find_boot_drive(given=None):
    """The RP2040 boot drive: ``given`` (checked), else the one mounted; raises FlashError."""
    if given:
        if not is_boot_drive(given):
            raise FlashError("%s is not an RP2040 boot drive (no INFO_UF2.TXT naming "
                             "RPI-RP2)" % given)
        return given
    found = [m for m in _mount_points() if is_boot_drive(m)]
    if not found:
        raise FlashError("no RP2040 boot drive (RPI-RP2) is mounted: hold BOOTSEL while "
                         "plugging the board in, mount the drive, or give --boot-drive")
    if len(found) > 1:
        raise FlashError("several RP2040 boot drives are mounted (%s): choose one with "
                         "--boot-drive" % ", ".join(found))
    return found[0]


def copy_uf2(image, drive, quiet=False):
    """Copy ``image`` onto the boot drive ``drive`` with a progress bar; the
    RP2040 flashes it and restarts once the last block is written."""
    size = os.path.getsize(image)
    target = os.path.join(drive, os.path.basename(image))
    with open(image, "rb") as src, open(target, "wb") as dst, tqdm(
            total=size, unit="B", unit_scale=True, desc="UF2", disable=quiet,
            file=sys.stderr) as bar:
        while True:
            chunk = src.read(_COPY_CHUNK)
            if not chunk:
                break
            dst.write(chunk)
            bar.update(len(chunk))
        dst.flush()
        os.fsync(dst.fileno())
    return target


def wait_for_port(device, timeout_s=30.0):
    """Wait until ``device`` appears (the board restarted into MicroPython)."""
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(device):
        if time.monotonic() > deadline:
            raise FlashError("%s did not appear within %.0f s after the UF2 copy: is the "
                             "port name right?" % (device, timeout_s))
        time.sleep(0.2)


def esptool_command(device, image, baud=ESPTOOL_BAUD):
    """The esptool command line that writes ``image`` to the ESP32 on ``device``."""
    return [sys.executable, "-m", "esptool", "--chip", "esp32", "--port", device,
            "--baud", str(baud), "write-flash", "-z", "0x%x" % ESP32_IMAGE_OFFSET, image]


def write_esp32(device, image, baud=ESPTOOL_BAUD):
    """Run esptool, passing its progress through to stderr; raises FlashError
    with esptool's own error line when it fails."""
    process = subprocess.Popen(esptool_command(device, image, baud), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        sys.stderr.write(line)
        lines.append(line.strip())
    if process.wait() != 0:
        errors = [line for line in lines if "error" in line.lower()] or lines[-1:]
        raise FlashError("esptool could not write %s to the ESP32 on %s: %s" % (
            image, device, errors[0] if errors else "exit status %d" % process.returncode))
