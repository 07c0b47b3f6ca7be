"""A test client of Klipper's API socket: requests by id, pushed messages kept."""
import json
import socket
import time


class ApiClient:
    """Connects to a Unix socket; :meth:`call` sends a request and returns its
    answer (the whole message); messages without an id are kept in
    ``pushed`` in arrival order."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.pushed = []
        self.answers = {}
        self._tail = b""
        self._next_id = 1

    def close(self):
        self.sock.close()

    def send(self, message):
        self.sock.sendall(json.dumps(message).encode() + b"\x03")

    def call(self, method, params=None, timeout=None):
        request_id = self._next_id
        self._next_id += 1
        message = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.answer(request_id, timeout)

    def result(self, method, params=None, timeout=None):
        """The ``result`` of a request that must succeed."""
        answer = self.call(method, params, timeout)
        assert "result" in answer, answer
        return answer["result"]

    def answer(self, request_id, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while request_id not in self.answers:
            assert time.monotonic() < deadline, "no answer to request %s" % request_id
            self._read()
        return self.answers.pop(request_id)

    def wait_push(self, predicate, timeout=None):
        """The first pushed message (kept or new) for which ``predicate`` is
        true; removes it and those before it."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for index, message in enumerate(self.pushed):
                if predicate(message):
                    del self.pushed[:index + 1]
                    return message
            assert time.monotonic() < deadline, "no such message; got %r" % self.pushed[-5:]
            self._read(deadline - time.monotonic())

    def _read(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(max(timeout, 0.01))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        finally:
            self.sock.settimeout(self.timeout)
        assert data, "the server closed the connection"
        parts = (self._tail + data).split(b"\x03")
        self._tail = parts.pop()
        for part in parts:
            message = json.loads(part)
            if "id" in message:
                self.answers[message["id"]] = message
            else:
                self.pushed.append(message)
