# Mendel host: the serial port a board is flashed through.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check a serial port before flashing: that it exists, that no other program
holds it, and that it answers with the MicroPython port the board needs."""
import os
import re
import stat

from mendel.errors import MendelError
from mendel.flash.ports import MPY_VERSION, NATIVE_ARCHS


class FlashError(MendelError):
    """Flashing cannot go on; the message says why and what to do."""


def _holds_master(pid, fds, pts_number):
    """Whether process ``pid`` holds the master side of pty ``/dev/pts/<pts_number>``:
    it is then the board end of the line (the simulated board), not a competitor."""
    for fd in fds:
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                if "tty-index:\t%d\n" % pts_number in f.read():
                    return True
        except OSError:
            continue
    return False


def holders(device):
    """Other processes that have ``device`` open, as ``[(pid, command name)]``.

    Reads ``/proc/<pid>/fd`` (Linux); elsewhere, or for processes we may not
    inspect, nothing is found and opening the port decides. On a pty, the
    process at the master side (the board) is not counted.
    """
    try:
        target = os.path.realpath(device)
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    pts = target.rsplit("/", 1)[1] if target.startswith("/dev/pts/") else None
    found = []
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
            if not any(os.path.realpath("/proc/%d/fd/%s" % (pid, fd)) == target for fd in fds):
                continue
            if pts is not None and pts.isdigit() and _holds_master(pid, fds, int(pts)):
                continue
            with open("/proc/%d/comm" % pid) as f:
                found.append((pid, f.read().strip()))
        except OSError:
            continue
    return found


def check_free(device):
    """Raise FlashError unless ``device`` exists and no other process holds it."""
    if "://" in device:
        return                               # pyserial URL (socket://, rfc2217://)
    if not os.path.exists(device):
        raise FlashError("no serial port %s: is the board plugged in? (ls /dev/ttyACM* "
                         "/dev/ttyUSB*)" % device)
    if not stat.S_ISCHR(os.stat(device).st_mode):
        raise FlashError("%s is not a serial port (not a character device); a board's "
                         "port is /dev/ttyACM<n> or /dev/ttyUSB<n>" % device)
    busy = holders(device)
    if busy:
        raise FlashError("port %s is busy: %s has it open; close it (OctoPrint, a serial "
                         "terminal, mendel print) and try again" % (
                             device, ", ".join("%s (pid %d)" % (name, pid)
                                               for pid, name in busy)))


def describe_remote(transport):
    """``(platform, machine, mpy)`` of the MicroPython at the other end of ``transport``
    (an mpremote transport in raw REPL): ``sys.platform``,
    ``sys.implementation._machine``, ``sys.implementation._mpy`` (0 if absent)."""
    transport.exec("import sys")
    platform = transport.eval("sys.platform")
    machine = transport.eval("getattr(sys.implementation, '_machine', '')")
    mpy = transport.eval("getattr(sys.implementation, '_mpy', 0)")
    return platform, machine, mpy


def check_remote(board, entry, remote, device):
    """Raise FlashError unless ``remote`` (from :func:`describe_remote`) is the
    port the board's MCU family ``entry`` (mendel.flash.ports) needs.
    Returns the mpy-cross ``-march`` to compile for."""
    platform, machine, mpy = remote
    if platform != entry["platform"] or not re.search(entry["machine"], machine):
        raise FlashError("wrong board: %s runs MicroPython on %r (%s); board %s needs %s "
                         "(sys.platform %r)" % (device, platform, machine or "unknown machine",
                                                board["id"], entry["describe"],
                                                entry["platform"]))
    if mpy and mpy & 0xFF != MPY_VERSION:
        raise FlashError("the MicroPython on %s reads .mpy version %d, mpy-cross writes %d: "
                         "flash a MicroPython 1.23 or later first (--firmware-image)"
                         % (device, mpy & 0xFF, MPY_VERSION))
    arch = mpy >> 10
    return NATIVE_ARCHS[arch] if 0 < arch < len(NATIVE_ARCHS) else entry["march"]
