# Mendel host: reliable framed link to the board.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sends messages in numbered frames and resends what the board did not take.

Sequence numbers run modulo 128 (bit 7 of the sequence byte marks an urgent
frame, see :meth:`SerialLink.send_urgent`). The host keeps up to ``window``
frames in flight. Every frame from the board carries the next sequence number
the board expects, which acknowledges all frames before it.

Retransmission is go-back-N, as the board keeps no out-of-order frames:

* a ``nak`` from the board (it saw a bad frame, or a frame from past a gap)
  resends every frame from the oldest unacknowledged one at once, unless they
  were resent less than a round trip ago (the nak is then about frames
  already on their way again);
* a frame still unacknowledged after the retransmission timeout is resent
  too. The timeout adapts to the measured round trip as TCP's does (RFC 6298:
  ``rto = srtt + 4 * rttvar``), from frames that were sent once only (Karn's
  rule), within ``[MIN_RTO, MAX_RTO]``. The floor of 25 ms keeps a board that
  is busy for a moment (simulating a long stretch of virtual time) from
  being flooded with copies; real losses are repaired sooner by the nak.

The board drops every frame it already ran, so nothing runs twice.

On a bad line short frames get through more often than long ones (each byte
is a chance to be hit), so when more than ``LOSSY`` of the frames need a
resend the link fills frames only to ``SHORT_PAYLOAD`` bytes until the line
recovers.
"""
import collections
import time

from mendel.mcu import _framing, codec

SEQ_MODULO = 128
URGENT = 0x80
MIN_RTO = 0.025
MAX_RTO = 1.0
LOSSY = 0.25
SHORT_PAYLOAD = 22
_LOSS_GAIN = 0.02


class LinkError(Exception):
    """The board stopped answering, or answered something we cannot read."""


class SerialLink:
    """Framing, acknowledgement and retransmission over a serial-like port.

    ``port`` needs ``read(n)``, ``write(data)``, ``in_waiting``, a settable
    ``timeout`` and ``reset_input_buffer()`` (pyserial ``Serial`` or alike).
    ``timeout`` (s): how long the board may stay silent before LinkError.
    """

    def __init__(self, port, window=24, timeout=5.0):
        self.port = port
        self.window = window
        self.timeout = timeout
        self.max_frame = codec.START_FRAME   # the board's max_frame, once identified
        self.decoder = codec.FrameDecoder()
        self.next_seq = 0
        self.in_flight = collections.deque()  # [seq, frame, first sent, last sent, tries]
        self.pending = bytearray()
        self.formats = {}          # response msgid -> fmt
        self.on_message = None     # callback(msgid, args)
        self.nak_id = None         # msgid of the board's nak, once identified
        self.retransmits = 0
        self.messages_sent = 0
        self.bytes_sent = 0
        self.frames_sent = 0
        self.srtt = None
        self.rttvar = 0.0
        self.rto = 0.05
        self.loss = 0.0            # moving share of frames that needed a resend
        self.last_progress = time.monotonic()
        self._last_heard = time.monotonic()

    # -- connection ----------------------------------------------------
    def connect(self):
        """Learn the board's expected sequence number from its first ack."""
        self.port.reset_input_buffer()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.port.write(codec.build_frame(self.next_seq, b""))
            end = time.monotonic() + 0.25
            while time.monotonic() < end:
                self.port.timeout = 0.02
                frames = self.decoder.feed(self.port.read(max(1, self.port.in_waiting)))
                if frames:
                    self.next_seq = frames[-1][0] & (SEQ_MODULO - 1)
                    self._last_heard = time.monotonic()
                    return
        raise LinkError("no answer from the board on %s within %.0f s"
                        % (getattr(self.port, "port", "the port"), self.timeout))

    # -- sending -------------------------------------------------------
    def queue(self, message):
        """Add one encoded message; frames go out as they fill."""
        limit = self._payload_limit()
        if self.pending and len(self.pending) + len(message) > limit:
            self.flush()
        self.pending += message
        self.messages_sent += 1

    def queue_block(self, block, first, stop):
        """Queue messages ``first..stop-1`` of ``block`` (a
        :class:`~mendel.mcu._framing.MessageBlock`): many at a time into
        each frame, as :meth:`queue` would, the frames built in C. Raises
        ValueError for a message too long for a frame; nothing is queued then."""
        frames, _next_seq = block.pack(first, stop, self.pending, self._payload_limit(),
                                       self.next_seq, SEQ_MODULO)
        self.messages_sent += max(stop - first, 0)
        self._send_frames(frames)

    def _payload_limit(self):
        if self.loss > LOSSY:
            return SHORT_PAYLOAD
        return self.max_frame - codec.FRAME_OVERHEAD

    def flush(self):
        """Send the partly filled frame now (waits while the window is full)."""
        if not self.pending:
            return
        frame = _framing.frame(self.next_seq, self.pending)
        self.pending.clear()
        self._send_frame(frame)

    def _send_frames(self, frames):
        for frame in frames:
            self._send_frame(frame)

    def _send_frame(self, frame):
        """Send ``frame`` (numbered ``next_seq``) once the window has room."""
        while len(self.in_flight) >= self.window:
            self.pump(0.001)
        now = time.monotonic()
        self.in_flight.append([self.next_seq, frame, now, now, 1])
        self.next_seq = (self.next_seq + 1) % SEQ_MODULO
        self._write(frame)

    def send_urgent(self, message, repeat=3):
        """Send ``message`` in an urgent frame, ahead of everything queued.

        The board runs it on arrival, outside the sequence, so it must be safe
        to run more than once; it is sent ``repeat`` times against loss.
        """
        frame = codec.build_frame(URGENT, message)
        for _ in range(repeat):
            self._write(frame)

    def _write(self, frame):
        self.port.write(frame)
        self.bytes_sent += len(frame)
        self.frames_sent += 1

    # -- receiving -----------------------------------------------------
    def pump(self, timeout):
        """Read what the board sent (waiting up to ``timeout`` s) and handle it."""
        if self.port.timeout != timeout:
            self.port.timeout = timeout      # pyserial reconfigures the tty on each set
        data = self.port.read(max(1, self.port.in_waiting))
        now = time.monotonic()
        for ack, payload in self.decoder.feed(data):
            self._last_heard = now
            self._acknowledge(ack & (SEQ_MODULO - 1), now)
            if payload and self.on_message is not None:
                try:
                    messages = codec.decode_messages(payload, self.formats)
                except (ValueError, IndexError):
                    continue           # a frame from before the board's restart
                for msgid, args in messages:
                    if msgid == self.nak_id:
                        self._negative_ack(now)
                    else:
                        self.on_message(msgid, args)
        self._retransmit_if_due(now)

    def _acknowledge(self, ack, now):
        flight = self.in_flight
        progressed = False
        while flight and _before(flight[0][0], ack):
            _seq, _frame, first_sent, _last, tries = flight.popleft()
            progressed = True
            self.loss += _LOSS_GAIN * ((tries > 1) - self.loss)
            if tries == 1:
                self._measure(now - first_sent)
        if progressed:
            self.last_progress = now
            self.rto = self._base_rto()    # the line works again: end the back-off

    def _negative_ack(self, now):
        round_trip = self.srtt if self.srtt is not None else MIN_RTO
        if self.in_flight and now - self.in_flight[0][3] > round_trip:
            self._resend(now)

    def _measure(self, sample):
        if self.srtt is None:
            self.srtt, self.rttvar = sample, sample / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - sample)
            self.srtt = 0.875 * self.srtt + 0.125 * sample

    def _base_rto(self):
        if self.srtt is None:
            return self.rto
        return min(max(self.srtt + 4 * self.rttvar, MIN_RTO), MAX_RTO)

    def _retransmit_if_due(self, now):
        if self.in_flight and now - self.in_flight[0][3] > self.rto:
            self.rto = min(self.rto * 2, MAX_RTO)      # back off while nothing comes
            self._resend(now)
        if self.in_flight and now - self._last_heard > self.timeout:
            raise LinkError("the board has not answered for %.1f s: link lost"
                            % self.timeout)

    def _resend(self, now):
        self.retransmits += 1
        for entry in self.in_flight:
            entry[3] = now
            entry[4] += 1
            self._write(entry[1])

    def drain(self):
        """Flush and wait until the board has acknowledged every frame."""
        self.flush()
        while self.in_flight:
            self.pump(0.001)


def _before(seq, ack):
    """True when ``seq`` comes before ``ack`` in the sequence space."""
    return 0 < (ack - seq) % SEQ_MODULO < SEQ_MODULO // 2
