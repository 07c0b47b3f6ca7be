# Mendel host: the pseudo-terminal a Marlin host connects to.
# SPDX-License-Identifier: GPL-3.0-or-later
"""A pty that OctoPrint, Pronterface or any Marlin host opens like a printer's
serial port, and the loop that serves it.

The slave side (``/dev/pts/N``, optionally symlinked to a stable path) is the
client's; Mendel keeps only the master. Linux reports POLLHUP on the master
while no process has the slave open, which is how a client's connect and
disconnect are seen: on connect Mendel greets it with ``start`` (as Marlin
does after the reset that opening a port causes), on disconnect the session
drops the client's queued commands and turns the heaters off. The port stays
up for the next client. A client that closes and reopens the port faster than
the loop polls (``POLL_S``) is taken for the same one: no ``start``, state kept.
"""
import errno
import os
import select
import termios
import threading
import time
import tty

from mendel.errors import MendelError
from mendel.serve.protocol import LineChecker, LineSplitter, emergency_code

POLL_S = 0.05            # longest wait for input before keep-alive lines are due
HANG_UP_POLL_S = 0.1     # how often a port without a client looks for one
WRITE_TIMEOUT_S = 5.0    # a client that reads nothing this long loses the line


class VirtualSerialPort:
    """The pty: ``path`` is the slave device; ``link`` a symlink made to it."""

    def __init__(self, link=None):
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.link = None
        self.connected = False
        self._lock = threading.Lock()
        self._poll = select.poll()
        self._poll.register(self.master, select.POLLIN | select.POLLHUP)
        if link:
            self._make_link(link)

    def _make_link(self, link):
        if os.path.lexists(link) and not os.path.islink(link):
            raise MendelError("--link %s exists and is not a symlink; not replacing it" % link)
        if os.path.islink(link):
            os.unlink(link)
        os.symlink(self.path, link)
        self.link = link

    def client_present(self):
        """True while a client has the port open."""
        return not any(event & select.POLLHUP for _fd, event in self._poll.poll(0))

    def read(self, timeout):
        """Bytes the client sent within ``timeout`` s (b'' if none); None on hang-up."""
        events = self._poll.poll(int(timeout * 1000))
        if not events:
            return b""
        if events[0][1] & select.POLLIN:
            try:
                return os.read(self.master, 4096)
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
        return None

    def discard_output(self):
        """Drop what was written for a client that has gone without reading
        it: the pty would hand it to the next client first. Called when the
        client hangs up and again when the next one comes (an answer written
        in between is dropped too)."""
        try:
            slave = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return                   # the port is going away
        try:
            termios.tcflush(slave, termios.TCIFLUSH)    # the slave's unread input
        finally:
            os.close(slave)

    def write_line(self, text):
        """Send one line to the client (any thread). Dropped while nobody
        listens, or when the client has read nothing for ``WRITE_TIMEOUT_S``."""
        if not self.connected:
            return
        data = (text + "\n").encode("ascii", errors="replace")
        with self._lock:
            while data:
                try:
                    data = data[os.write(self.master, data):]
                except BlockingIOError:
                    writable = select.poll()
                    writable.register(self.master, select.POLLOUT)
                    if not writable.poll(int(WRITE_TIMEOUT_S * 1000)):
                        return
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        raise
                    return

    def close(self):
        if self.link is not None and os.path.islink(self.link):
            os.unlink(self.link)
        os.close(self.master)


def serve(port, session, stop, log=lambda text: None):
    """Serve ``port`` (VirtualSerialPort) with ``session`` (Session) until the
    ``stop`` event is set. Lines are checked (see :mod:`.protocol`), accepted
    commands queued to the session, refused ones answered at once."""
    checker, splitter = LineChecker(), LineSplitter()
    while not stop.is_set():
        if not port.client_present():
            if port.connected:
                port.connected = False
                port.discard_output()
                session.hang_up()
                log("client disconnected")
            time.sleep(HANG_UP_POLL_S)
            continue
        if not port.connected:
            port.discard_output()
            port.connected = True
            checker.reset()
            splitter.reset()
            log("client connected")
            port.write_line("start")
        data = port.read(POLL_S)
        if data:
            for line in splitter.feed(data):
                _handle(line, checker, session, port)
        for line in session.periodic(time.monotonic()):
            port.write_line(line)


def _handle(line, checker, session, port):
    """Check one received line (str or Overlong); queue its command or answer it."""
    if isinstance(line, str):
        code = emergency_code(line)
        if code is not None:
            session.emergency(code)
    checked = checker.check(line)
    if checked.command is None:
        for reply in checked.replies:
            port.write_line(reply)
    elif checked.command or checked.number is not None:
        session.submit(checked.command, numbered=checked.number is not None)
