# Mendel host: the Unix socket and its clients (Klipper's API server transport).
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Unix domain socket server on its own thread (``selectors``), several
clients at once, messages framed as :mod:`mendel.api.protocol` says.

The socket file is made with mode 0600 (only its user may connect; a
``mode`` may widen that, e.g. 0660 for a group) and nothing listens on TCP.
It is bound in a private directory and moved into place, so it is never
open to others for a moment. A stale socket file (no server answering) is
replaced; a live one, or a path that is not a socket, is refused. The file
is removed when the server stops, if it is still ours.

Requests are handed to ``dispatch(client, request)`` on the server thread,
in the order each client sent them; it must not block (slow work answers
later through :meth:`Client.send`, which any thread may call).
``tick(now)`` runs on the same thread every ``tick_s`` seconds
(subscriptions). Units: seconds, bytes.
"""
import os
import selectors
import socket
import stat
import tempfile
import threading
import time

from mendel.api.protocol import Request, RequestError, Splitter, encode, error_message
from mendel.errors import MendelError

READ_SIZE = 65536
MAX_PENDING_OUT = 64 * 1024 * 1024    # bytes a client may leave unread before it is dropped
MAX_REQUEST = 16 * 1024 * 1024        # longest request accepted (Moonraker's own limit is 20 MiB)
DEFAULT_MODE = 0o600


class ApiSocketError(MendelError):
    """The socket cannot be made: the path is taken, or not writable."""


class Client:
    """One connection. :meth:`send` is safe from any thread: it queues the
    message and writes what the socket takes now; the server thread writes
    the rest as the client reads."""

    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.splitter = Splitter()
        self.closed = False
        self.info = None             # the client_info of its last info request
        self._out = bytearray()
        self._lock = threading.Lock()

    def send(self, message):
        """Queue ``message`` (a JSON-able dict); False if the client is gone."""
        data = encode(message)
        with self._lock:
            if self.closed:
                return False
            self._out += data
            self._write_locked()
            backlog = len(self._out)
        if backlog > MAX_PENDING_OUT:
            self.server.log("API client dropped: %d bytes unread" % backlog)
            self.close()
        elif backlog:
            self.server.wake()
        return not self.closed

    def wants_write(self):
        with self._lock:
            return bool(self._out) and not self.closed

    def write_pending(self):
        with self._lock:
            self._write_locked()

    def _write_locked(self):
        if not self._out or self.closed:
            return
        try:
            sent = self.sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.closed = True
            self.server.wake()
            return
        del self._out[:sent]

    def close(self):
        """Hang up (any thread); the server thread drops the client."""
        with self._lock:
            self.closed = True
        self.server.wake()

    def shut(self):
        """Close the socket (server thread), never under a send."""
        with self._lock:
            self.closed = True
            self.sock.close()


class ApiServer:
    """Serve ``path`` until :meth:`stop`. ``dispatch(client, request)``,
    ``tick(now)`` and ``closed(client)`` run on the server thread."""

    def __init__(self, path, dispatch, tick=None, closed=None, tick_s=0.25,
                 mode=DEFAULT_MODE, log=None):
        self.path = os.path.abspath(path)
        self.dispatch = dispatch
        self.tick = tick
        self.closed = closed
        self.tick_s = tick_s
        self.mode = mode
        self.log = log or (lambda text: None)
        self.clients = set()
        self._selector = selectors.DefaultSelector()
        self._listener = None
        self._inode = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = None

    # -- life ----------------------------------------------------------
    def start(self):
        """Make the socket file and start serving; ApiSocketError if the path
        is taken."""
        self._listener = self._bind()
        self._listener.setblocking(False)
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._loop, name="mendel-api", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Close every client and the socket; remove the socket file if it is
        still the one this server made."""
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(5.0)
        for client in list(self.clients):
            self._drop(client)
        if self._listener is not None:
            self._listener.close()
            self._remove_own_file()
        self._wake_r.close()
        self._wake_w.close()
        self._selector.close()

    def wake(self):
        """Make the server thread look at its clients again (any thread)."""
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass

    # -- the socket file -------------------------------------------------
    def _bind(self):
        self._clear_stale()
        folder = os.path.dirname(self.path)
        try:
            private = tempfile.mkdtemp(prefix=".mendel-api-", dir=folder)
        except OSError as exc:
            raise ApiSocketError("cannot make the API socket %s: %s" % (self.path, exc)) \
                from None
        temporary = os.path.join(private, "socket")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(temporary)
            os.chmod(temporary, self.mode)
            sock.listen(8)
            os.rename(temporary, self.path)
        except OSError as exc:
            sock.close()
            raise ApiSocketError("cannot make the API socket %s: %s" % (self.path, exc)) \
                from None
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
            os.rmdir(private)
        self._inode = os.stat(self.path).st_ino
        return sock

    def _clear_stale(self):
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ApiSocketError("%s exists and is not a socket: not replaced" % self.path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(self.path)
        except OSError:
            os.unlink(self.path)        # nobody serves it: a stale socket file
            return
        finally:
            probe.close()
        raise ApiSocketError("%s is in use: another server answers on it" % self.path)

    def _remove_own_file(self):
        try:
            if os.lstat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass

    # -- the loop --------------------------------------------------------
    def _loop(self):
        next_tick = time.monotonic() + self.tick_s
        while not self._stop.is_set():
            self._update_interest()
            timeout = max(0.0, next_tick - time.monotonic())
            for key, mask in self._selector.select(timeout):
                self._event(key.data, mask)
            for client in [c for c in self.clients if c.closed]:
                self._drop(client)
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + self.tick_s
                if self.tick is not None:
                    self._guard(self.tick, now)

    def _event(self, what, mask):
        if what == "accept":
            self._accept()
        elif what == "wake":
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, OSError):
                pass
        else:
            if mask & selectors.EVENT_WRITE:
                what.write_pending()
            if mask & selectors.EVENT_READ:
                self._read(what)

    def _accept(self):
        try:
            sock, _address = self._listener.accept()
        except (BlockingIOError, OSError):
            return
        sock.setblocking(False)
        client = Client(self, sock)
        self.clients.add(client)
        self._selector.register(sock, selectors.EVENT_READ, client)

    def _update_interest(self):
        for client in self.clients:
            if client.closed:
                continue
            events = selectors.EVENT_READ
            if client.wants_write():
                events |= selectors.EVENT_WRITE
            if self._selector.get_key(client.sock).events != events:
                self._selector.modify(client.sock, events, client)

    def _read(self, client):
        try:
            data = client.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            client.close()
            return
        for raw in client.splitter.feed(data):
            self._handle(client, raw)
        if client.splitter.pending > MAX_REQUEST:
            self.log("API client dropped: a request longer than %d bytes" % MAX_REQUEST)
            client.close()

    def _handle(self, client, raw):
        try:
            request = Request.parse(raw)
        except RequestError as exc:
            self.log("API: bad request %r: %s" % (raw[:200], exc))
            if exc.id is not None:
                client.send(error_message(exc.id, str(exc)))
            return
        self._guard(self.dispatch, client, request)

    def _guard(self, action, *args):
        """Run ``action``; an unexpected error is logged, the server goes on."""
        try:
            action(*args)
        except Exception as exc:     # a bug in one handler must not stop the API
            self.log("API: internal error in %s: %s: %s"
                     % (getattr(action, "__name__", action), type(exc).__name__, exc))

    def _drop(self, client):
        self.clients.discard(client)
        try:
            self._selector.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.shut()
        if self.closed is not None:
            self._guard(self.closed, client)
