# Mendel host: reliable framed link to the board.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sends messages in numbered frames and resends what the board did not take.

The host keeps up to ``window`` frames in flight. Every frame from the board
carries the next sequence number the board expects, which acknowledges all
frames before it. A frame still unacknowledged after the retransmit timeout,
or an acknowledgement that makes no progress (the board saw a bad frame), makes
the host resend every frame from the oldest unacknowledged one, in order; the
board drops any it already ran, so nothing runs twice.
"""
import collections
import time

from mendel.mcu import codec


class LinkError(Exception):
    """The board stopped answering, or answered something we cannot read."""


class SerialLink:
    """Framing, acknowledgement and retransmission over a serial-like port.

    ``port`` needs ``read(n)``, ``write(data)``, ``in_waiting`` and a read
    timeout (pyserial ``Serial`` or anything alike).
    """

    def __init__(self, port, window=24, timeout=5.0):
        self.port = port
        self.window = window
        self.timeout = timeout
        self.decoder = codec.FrameDecoder()
        self.next_seq = 0
        self.in_flight = collections.deque()  # (seq, frame bytes, time sent)
        self.pending = bytearray()
        self.formats = {}          # response msgid -> fmt
        self.on_message = None     # callback(msgid, args)
        self.retransmits = 0
        self.bytes_sent = 0
        self.frames_sent = 0
        self.rto = 0.05
        self._last_ack_time = time.monotonic()

    # -- connection ----------------------------------------------------
    def connect(self):
        """Learn the board's expected sequence number from its first ack."""
        self.port.reset_input_buffer()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.port.write(codec.build_frame(self.next_seq, b""))
            end = time.monotonic() + 0.25
            while time.monotonic() < end:
                frames = self.decoder.feed(self.port.read(max(1, self.port.in_waiting)))
                if frames:
                    self.next_seq = frames[-1][0]
                    self._last_ack_time = time.monotonic()
                    return
        raise LinkError("no answer from the board on %s within %.0f s"
                        % (getattr(self.port, "port", "the port"), self.timeout))

    # -- sending -------------------------------------------------------
    def queue(self, message):
        """Add one encoded message; frames go out as they fill."""
        if len(self.pending) + len(message) > codec.MAX_FRAME - codec.FRAME_OVERHEAD:
            self.flush()
        self.pending += message

    def flush(self):
        """Send the partly filled frame now."""
        if not self.pending:
            return
        while len(self.in_flight) >= self.window:
            self.pump(0.01)
        frame = codec.build_frame(self.next_seq, bytes(self.pending))
        self.pending.clear()
        self.in_flight.append((self.next_seq, frame, time.monotonic()))
        self.next_seq = (self.next_seq + 1) & 0xFF
        self._write(frame)

    def _write(self, frame):
        self.port.write(frame)
        self.bytes_sent += len(frame)
        self.frames_sent += 1

    # -- receiving -----------------------------------------------------
    def pump(self, timeout):
        """Read what the board sent (waiting up to ``timeout`` s) and handle it."""
        self.port.timeout = timeout
        data = self.port.read(max(1, self.port.in_waiting))
        now = time.monotonic()
        for ack, payload in self.decoder.feed(data):
            self._acknowledge(ack, now)
            if payload and self.on_message is not None:
                for msgid, args in codec.decode_messages(payload, self.formats):
                    self.on_message(msgid, args)
        self._retransmit_if_due(now)

    def _acknowledge(self, ack, now):
        progressed = False
        while self.in_flight and _before(self.in_flight[0][0], ack):
            _seq, _frame, sent = self.in_flight.popleft()
            self.rto = max(0.02, min(1.0, 0.875 * self.rto + 0.125 * 3 * (now - sent)))
            progressed = True
        if progressed or not self.in_flight:
            self._last_ack_time = now
        elif now - self.in_flight[0][2] > self.rto / 2:
            self._resend(now)  # the board saw a bad frame: negative ack

    def _retransmit_if_due(self, now):
        if not self.in_flight:
            return
        if now - self.in_flight[0][2] > self.rto:
            self._resend(now)
        if now - self._last_ack_time > self.timeout:
            raise LinkError("board stopped acknowledging for %.1f s" % self.timeout)

    def _resend(self, now):
        self.retransmits += 1
        resent = collections.deque()
        for seq, frame, _sent in self.in_flight:
            self._write(frame)
            resent.append((seq, frame, now))
        self.in_flight = resent

    def drain(self):
        """Flush and wait until the board has acknowledged every frame."""
        self.flush()
        while self.in_flight:
            self.pump(0.01)


def _before(seq, ack):
    """True when ``seq`` comes before ``ack`` in 8-bit sequence space."""
    return 0 < ((ack - seq) & 0xFF) < 128
