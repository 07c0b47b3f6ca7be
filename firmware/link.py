# Mendel firmware: framed, acknowledged link to the host.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Frame decoding, command dispatch and responses.

Frame layout (both directions; see docs/protocol.md)::

    offset  size  field
    0       1     length of the whole frame in bytes (5..MAX_FRAME)
    1       1     sequence number (0..127); bit 7 marks an urgent frame
    2       n     messages: msgid (VLQ) then its arguments
    2+n     2     CRC-16/CCITT-FALSE over bytes 0..2+n-1, big-endian
    4+n     1     sync byte 0x7E

Host to board, the sequence number counts frames (modulo 128); the board runs
a frame only when it carries the next expected number, so nothing runs twice
or out of order. An *urgent* frame (bit 7 set, e.g. the emergency stop) runs
as soon as it arrives whole, outside the sequence: its commands must be safe
to run more than once. Board to host, the sequence number is the next frame
the board expects: it acknowledges everything before it. A frame that fails its checks is
dropped, the decoder skips to the next sync byte, and the board answers with
a ``nak`` message (carrying, as every frame does, the number it expects): the
host resends from there. A frame from further ahead (one before it was lost)
gets a ``nak`` too; a frame already run (a resend) gets a plain ack.

Commands and responses are declared next to their handlers with
:func:`command` and :func:`response`; the identify response lists them, so the
host builds its encoder from what the board says it understands. Frames to
the board may be up to ``MAX_FRAME`` bytes (said in the identify text as
``max_frame``; the host starts with 64-byte frames until it has read it).

A frame that passes its checks but holds a message the board cannot read (a
message id outside the command table, negative ones included, or arguments
that run past the end of the frame) is *refused*: the link runs nothing of it
from that message on, counts it in ``frames_refused`` and hands the reason to
``refuse`` (the board shuts down: a host that sends what the board does not
understand is out of step with it). Every argument is read within its frame
before its handler runs, so no handler sees a bad id or a bad length, and
nothing in a frame's bytes makes the link raise.

A command whose messages come in long runs (``queue_step``) can also have a
*bulk* decoder (:meth:`Link.bulk`): it is given the frame from such a
message on and takes as many as it can in one call, so the per-message
Python work of :meth:`Link._dispatch` is paid once per frame.
"""
from micropython import const

import codec

MAX_FRAME = const(255)
MAX_SEND = const(64)       # frames to the host (its decoder takes no longer ones)
MIN_FRAME = const(5)
MAX_ARGS = const(5)        # arguments of one command (Link._call reads them into locals)
SYNC = const(0x7E)
_RX_SIZE = const(512)     # two longest frames
SEQ_MASK = const(0x7F)
URGENT = const(0x80)
# A partial frame that gets no more bytes for this long (ms of waiting) had
# a damaged length byte: it is dropped and the decoder hunts for the next
# sync byte. The host writes each frame whole, so a real frame never waits.
_STALL_MS = const(20)
# Past the end of every frame: where a read that ran out of its frame leaves
# the read position (see _int), checked once before a handler runs.
_OVERRUN = const(1 << 16)

# Declarations made at import time: (name, fmt, function).
_COMMANDS = []  # type: list[tuple]
_RESPONSES = []  # type: list[tuple]


def command(name, fmt=""):
    """Declare the decorated method as the handler of command ``name``.

    ``fmt`` has one letter per argument: ``i`` a signed integer, ``s`` bytes.
    Handlers run in the main loop (never in an IRQ) and get plain ints, so an
    all-integer command allocates nothing while it is decoded. ValueError for
    more than ``MAX_ARGS`` arguments.
    """
    if len(fmt) > MAX_ARGS:
        raise ValueError("command %s has %d arguments; at most %d"
                         % (name, len(fmt), MAX_ARGS))
    def declare(func):
        _COMMANDS.append((name, fmt, func))
        return func
    return declare


def response(name, fmt=""):
    """Declare a response message; returns its message id for :meth:`Link.send`."""
    _RESPONSES.append((name, fmt))
    return len(_RESPONSES) - 1


IDENTIFY = response("identify_response", "is")
NAK = response("nak")
ACK = -1


class Link:
    """Decodes frames from ``transport`` and dispatches commands.

    ``transport`` has ``readinto(memoryview) -> n``, ``write(bytes)`` and
    ``wait(timeout_ms) -> bool``, and may have ``readexactly(memoryview)``
    (blocks until the view is full) to read the rest of a frame at once.
    ``describe() -> dict`` gives the identify facts; ``refuse(reason)``, if
    given, is called with the reason (str) when a frame is refused (see the
    module text). Buffers are allocated here once; decoding an all-integer
    command allocates nothing.
    """

    def __init__(self, transport, describe, refuse=None):
        self.transport = transport
        self._refuse = refuse
        self._rx = bytearray(_RX_SIZE)
        self._rx_view = memoryview(self._rx)
        self._rx_len = 0
        self._pos = 0
        self._end = 0
        self._resync = False
        self._idle_ms = 0
        self.expected_seq = 0
        self.frames_ok = 0
        self.frames_bad = 0
        self.frames_dup = 0
        self.frames_urgent = 0
        self.frames_refused = 0
        self.refused = None        # why the last refused frame was refused
        self.rx_activity = False
        self._complete = getattr(transport, "readexactly", None)
        self._handlers = []  # msgid -> (fmt, bound method)
        self._names = []
        self._bulk = {}      # first byte of a message -> bulk decoder
        self._describe = describe
        self._identify = None

    # -- registration --------------------------------------------------
    def bind(self, obj):
        """Register every declared command whose handler is a method of ``obj``."""
        cls = type(obj)
        for name, fmt, func in _COMMANDS:
            if getattr(cls, func.__name__, None) is func and name not in self._names:
                self._names.append(name)
                self._handlers.append((fmt, getattr(obj, func.__name__)))

    def message_id(self, name):
        """Message id of command ``name`` (ValueError if not bound)."""
        return self._names.index(name)

    def bulk(self, first_byte, decoder):
        """Hand messages starting with ``first_byte`` to ``decoder(buf, pos,
        end) -> pos``: it takes messages from ``pos`` and returns where it
        stopped; a message it stops at runs through the plain path."""
        self._bulk[first_byte] = decoder

    def identify_text(self):
        """JSON text describing the board, its commands and responses (allocates)."""
        import json
        info = self._describe()
        info["max_frame"] = MAX_FRAME
        info["commands"] = dict(
            (name, [i, self._handlers[i][0]]) for i, name in enumerate(self._names))
        info["responses"] = dict(
            (name, [i, fmt]) for i, (name, fmt) in enumerate(_RESPONSES))
        return json.dumps(info)

    def reset_identify(self):
        """Rebuild the identify text at the next request (its facts changed)."""
        self._identify = None

    @command("identify", "ii")
    def cmd_identify(self, offset, count):
        """Send ``count`` bytes of the identify text from ``offset`` (allocates)."""
        if self._identify is None:
            self._identify = self.identify_text().encode()
        text = self._identify
        if offset + count >= len(text):
            self._identify = None      # read to its end: its RAM back
        self.send(IDENTIFY, offset, text[offset:offset + count])

    # -- receiving -----------------------------------------------------
    def poll(self, timeout_ms):
        """Wait up to ``timeout_ms`` for bytes, then run every complete frame."""
        if not self.transport.wait(timeout_ms):
            self._stalled(timeout_ms)
            return
        n = self.transport.readinto(self._rx_view[self._rx_len:])
        if n <= 0:
            self._stalled(timeout_ms)
            return
        self._idle_ms = 0
        self.rx_activity = True
        self._rx_len += n
        # Take the whole burst (several USB packets) before decoding it; a
        # transport that can wait for the rest of a frame whose head came
        # reads it in one go.
        view = self._rx_view
        transport = self.transport
        complete = self._complete
        while True:
            if complete is not None:
                self._complete_frame(complete)
            if self._rx_len > _RX_SIZE - MAX_FRAME or not transport.wait(0):
                break
            n = transport.readinto(view[self._rx_len:])
            if n <= 0:
                break
            self._rx_len += n
        self._process()

    def _complete_frame(self, read):
        """Read the missing bytes of the last frame in the buffer, if its
        length byte is sound."""
        rx = self._rx
        pos = 0
        while pos < self._rx_len and not self._resync:
            length = rx[pos]
            if length < MIN_FRAME or length > MAX_FRAME:
                return
            if pos + length > self._rx_len:
                need = pos + length - self._rx_len
                read(self._rx_view[self._rx_len:self._rx_len + need])
                self._rx_len += need
                return
            pos += length

    def _process(self):
        rx = self._rx
        start = 0
        events = 0
        gap = False
        while start < self._rx_len:
            if self._resync:
                if rx[start] == SYNC:
                    self._resync = False
                start += 1
                continue
            length = rx[start]
            if length < MIN_FRAME or length > MAX_FRAME:
                self._bad()
                gap = True
                continue
            if start + length > self._rx_len:
                break
            end = start + length
            crc = (rx[end - 3] << 8) | rx[end - 2]
            events += 1
            if rx[end - 1] != SYNC or codec.crc16(rx, start, end - 3) != crc:
                self._bad()
                gap = True
                start += 1
                continue
            seq = rx[start + 1]
            refused = None
            if seq & URGENT:
                self.frames_urgent += 1
                refused = self._dispatch(start + 2, end - 3)
            elif seq == self.expected_seq:
                self.expected_seq = (seq + 1) & SEQ_MASK
                self.frames_ok += 1
                refused = self._dispatch(start + 2, end - 3)
            else:
                self.frames_dup += 1
                if (seq - self.expected_seq) & SEQ_MASK < 64:
                    gap = True         # from ahead: one before it was lost
            if refused is not None:
                self._refuse_frame(seq, refused)
            start = end
        if start:
            rx[0:self._rx_len - start] = rx[start:self._rx_len]
            self._rx_len -= start
        if gap:
            self.send(NAK)
        elif events:
            self.send_ack()

    def _stalled(self, waited_ms):
        """No bytes came: drop a partial frame that waited past _STALL_MS."""
        if not self._rx_len or self._resync:
            return
        self._idle_ms += waited_ms if waited_ms > 0 else 1
        if self._idle_ms < _STALL_MS:
            return
        self._idle_ms = 0
        self._bad()
        self._rx[0:self._rx_len - 1] = self._rx[1:self._rx_len]
        self._rx_len -= 1
        self._process()
        self.send(NAK)

    def _bad(self):
        """Count a bad frame and hunt for the next sync byte."""
        self.frames_bad += 1
        self._resync = True

    def _int(self):
        """The next zigzag VLQ integer of the message. One that does not end
        within the frame reads as 0 and leaves the position at _OVERRUN."""
        rx = self._rx
        pos = self._pos
        end = self._end
        value = 0
        shift = 0
        while pos < end:
            byte = rx[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                self._pos = pos
                return -((value + 1) >> 1) if value & 1 else value >> 1
            shift += 7
        self._pos = _OVERRUN
        return 0

    def _bytes(self):
        """The next length-prefixed byte string (allocates it). One whose
        length is negative or runs past the frame reads as b"" and leaves the
        position at _OVERRUN."""
        length = self._int()
        start = self._pos
        if length < 0 or length > self._end - start:
            self._pos = _OVERRUN
            return b""
        self._pos = start + length
        return bytes(self._rx[start:start + length])

    def _dispatch(self, pos, end):
        """Run the messages of ``rx[pos:end]`` in order, up to the first one
        that cannot be read; returns what is wrong with that one, or None."""
        self._pos = pos
        self._end = end
        handlers = self._handlers
        bulk = self._bulk
        rx = self._rx
        while self._pos < end:
            decoder = bulk.get(rx[self._pos])
            if decoder is not None:
                self._pos = decoder(rx, self._pos, end)
                if self._pos >= end:
                    return None
                if bulk.get(rx[self._pos]) is not decoder:
                    continue
            msgid = self._int()
            if self._pos > end:
                return "a message id runs past the end of its frame"
            if msgid < 0 or msgid >= len(handlers):
                return "unknown command id %d (the board has 0..%d)" % (
                    msgid, len(handlers) - 1)
            fmt, handler = handlers[msgid]
            if not self._call(fmt, handler):
                return "command %s (id %d, arguments %s) runs past the end of its frame" % (
                    self._names[msgid], msgid, fmt)
        return None

    def _refuse_frame(self, seq, what):
        """Count the frame refused and hand the reason on (allocates)."""
        self.frames_refused += 1
        self.refused = "frame %d refused: %s" % (seq & SEQ_MASK, what)
        if self._refuse is not None:
            self._refuse(self.refused)

    def _call(self, fmt, handler):
        """Read the message's arguments, then run ``handler`` with them; False
        (and nothing run) when they do not fit in the frame."""
        # One branch per arity keeps integer arguments in locals: no tuple.
        # A read past the frame leaves _pos at _OVERRUN: checked before the call.
        n = len(fmt)
        if n == 0:
            handler()
            return True
        a = self._int() if fmt[0] == "i" else self._bytes()
        if n == 1:
            if self._pos > self._end:
                return False
            handler(a)
            return True
        b = self._int() if fmt[1] == "i" else self._bytes()
        if n == 2:
            if self._pos > self._end:
                return False
            handler(a, b)
            return True
        c = self._int() if fmt[2] == "i" else self._bytes()
        if n == 3:
            if self._pos > self._end:
                return False
            handler(a, b, c)
            return True
        d = self._int() if fmt[3] == "i" else self._bytes()
        if n == 4:
            if self._pos > self._end:
                return False
            handler(a, b, c, d)
            return True
        e = self._int() if fmt[4] == "i" else self._bytes()
        if self._pos > self._end:
            return False
        handler(a, b, c, d, e)
        return True

    # -- sending -------------------------------------------------------
    def send(self, msgid, *args):
        """Send one response in its own frame (allocates; not for IRQs)."""
        out = bytearray(b"\x00\x00")
        if msgid != ACK:
            codec.put_int(out, msgid)
            codec.encode_args(out, _RESPONSES[msgid][1], args)
        self._frame(out)

    def send_ack(self):
        """Send an empty frame carrying the next expected sequence number."""
        self.send(ACK)

    def _frame(self, out):
        length = len(out) + 3
        if length > MAX_SEND:
            raise ValueError("response of %d bytes exceeds a frame" % length)
        out[0] = length
        out[1] = self.expected_seq
        crc = codec.crc16(out, 0, len(out))
        out.append(crc >> 8)
        out.append(crc & 0xFF)
        out.append(SYNC)
        self.transport.write(out)
