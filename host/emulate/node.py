# Mendel host: node, rp2040js and the files the emulated RP2040 boots from.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Find what the emulator needs outside the repository, or say where to get it.

* node and npm (Node.js 18 or later): the runner (``runner.mjs``) is
  JavaScript, run by node;
* rp2040js, pinned in ``package.json`` beside this file: installed once with
  ``npm install --prefix CACHE`` into ``$MENDEL_CACHE`` or
  ``~/.cache/mendel/rp2040js``;
* MicroPython's rp2 port for the Raspberry Pi Pico as a UF2 (``--uf2`` or
  ``$MENDEL_RP2_UF2``): https://micropython.org/download/RPI_PICO/ , v1.28;
* the RP2040 B1 boot ROM image, 16 KiB (``--bootrom`` or ``$MENDEL_RP2_BOOTROM``):
  built from https://github.com/raspberrypi/pico-bootrom (tag b1), or read out
  of a chip (its ROM is at address 0).
"""
import json
import os
import shutil
import subprocess

from mendel.errors import MendelError

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.mjs")
PACKAGE = os.path.join(HERE, "package.json")
UF2_ENV = "MENDEL_RP2_UF2"
BOOTROM_ENV = "MENDEL_RP2_BOOTROM"
BOOTROM_BYTES = 16 * 1024
UF2_HELP = ("MicroPython for the Raspberry Pi Pico as a UF2: download RPI_PICO v1.28 from "
            "https://micropython.org/download/RPI_PICO/ and give it with --uf2 or $%s" % UF2_ENV)
BOOTROM_HELP = ("the RP2040 B1 boot ROM (16 KiB): build it from "
                "https://github.com/raspberrypi/pico-bootrom (tag b1) or dump it from a chip, "
                "and give it with --bootrom or $%s" % BOOTROM_ENV)


class EmulatorError(MendelError):
    """The emulated board could not start or stopped working."""


def boot_files(uf2=None, bootrom=None):
    """``(uf2, bootrom)`` paths from the arguments or the environment, checked.

    Raises EmulatorError naming where to get a missing file.
    """
    uf2 = uf2 or os.environ.get(UF2_ENV)
    bootrom = bootrom or os.environ.get(BOOTROM_ENV)
    if not uf2 or not os.path.isfile(uf2):
        raise EmulatorError(("no MicroPython UF2 at %s: " % uf2 if uf2 else "no MicroPython UF2: ")
                            + UF2_HELP)
    if not bootrom or not os.path.isfile(bootrom):
        raise EmulatorError(("no boot ROM at %s: " % bootrom if bootrom else "no boot ROM: ")
                            + BOOTROM_HELP)
    if os.path.getsize(bootrom) != BOOTROM_BYTES:
        raise EmulatorError("%s is %d bytes, not a 16 KiB RP2040 boot ROM: %s"
                            % (bootrom, os.path.getsize(bootrom), BOOTROM_HELP))
    return uf2, bootrom


def cache_dir():
    """Folder that holds ``node_modules/rp2040js`` ($MENDEL_CACHE/rp2040js or ~/.cache/...)."""
    base = os.environ.get("MENDEL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mendel")
    return os.path.join(base, "rp2040js")


def find_node():
    """Path of ``node``; raises EmulatorError if Node.js is missing or older than 18."""
    node = shutil.which("node")
    if not node:
        raise EmulatorError("the RP2040 emulator needs Node.js 18 or later (`node` and `npm`): "
                            "install it from https://nodejs.org or your system's packages")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    if int(version.strip().lstrip("v").split(".")[0] or 0) < 18:
        raise EmulatorError("node %s is too old for the RP2040 emulator: Node.js 18 or later"
                            % version.strip())
    return node


def pinned_version():
    """The rp2040js version package.json pins."""
    with open(PACKAGE) as f:
        return json.load(f)["dependencies"]["rp2040js"]


def ensure_rp2040js(out=None):
    """The cache folder with the pinned rp2040js installed (``npm install`` the first time).

    ``out``: called with a line before a slow install. Raises EmulatorError.
    """
    folder = cache_dir()
    installed = os.path.join(folder, "node_modules", "rp2040js", "package.json")
    if os.path.isfile(installed):
        with open(installed) as f:
            if json.load(f).get("version") == pinned_version():
                return folder
    npm = shutil.which("npm")
    if not npm:
        raise EmulatorError("the RP2040 emulator installs rp2040js with npm, which is missing: "
                            "install Node.js 18 or later with npm")
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(PACKAGE, os.path.join(folder, "package.json"))
    if out:
        out("installing rp2040js %s into %s (once)" % (pinned_version(), folder))
    result = subprocess.run([npm, "install", "--prefix", folder, "--no-audit", "--no-fund"],
                            capture_output=True, text=True)
    if result.returncode != 0 or not os.path.isfile(installed):
        raise EmulatorError("npm install of rp2040js into %s failed: %s"
                            % (folder, (result.stderr or result.stdout).strip()[-400:]))
    return folder
