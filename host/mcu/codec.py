# Mendel host: frame and message encoding.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host side of the wire format described in docs/protocol.md.

Integers are encoded by the firmware's own code (``firmware/codec.py``); the
CRC uses the C implementation in :mod:`binascii`, and decoding returns
``(value, position)`` pairs, where the firmware decodes in place without
allocating. Both sides are tested against the same vectors.
"""
import binascii

from mendel.firmware.codec import encode_args, put_int

# Frames are at most 255 bytes (one length byte); a board says in its
# identify text (``max_frame``) how long a frame it takes, and until then the
# host sends frames of at most START_FRAME bytes.
MAX_FRAME = 255
START_FRAME = 64
# Frames from the board are never longer: the decoder of the host refuses
# longer ones at once, so a damaged length byte cannot make it wait for
# bytes the board will never send.
BOARD_FRAME = 64
MIN_FRAME = 5
SYNC = 0x7E
FRAME_OVERHEAD = 5  # length, sequence, CRC (2), sync


def crc16(data):
    """CRC-16/CCITT-FALSE of ``data`` (poly 0x1021, init 0xFFFF)."""
    return binascii.crc_hqx(bytes(data), 0xFFFF)


def get_int(data, pos):
    """Decode one zigzag VLQ at ``pos``; returns ``(value, next_pos)``.

    Raises IndexError when the data ends inside the number.
    """
    value = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    return (-((value + 1) >> 1) if value & 1 else value >> 1), pos


def encode_message(msgid, fmt, args):
    """Bytes of one message: id then arguments per ``fmt`` ('i' int, 's' bytes).

    Raises ValueError when ``args`` does not match ``fmt``.
    """
    out = bytearray()
    put_int(out, msgid)
    encode_args(out, fmt, args)
    return bytes(out)


def decode_messages(payload, formats):
    """Split a frame payload into ``[(msgid, [args...]), ...]``.

    ``formats`` maps msgid to its format string. Raises ValueError for an
    unknown id and IndexError for a truncated message.
    """
    pos = 0
    messages = []
    while pos < len(payload):
        msgid, pos = get_int(payload, pos)
        if msgid not in formats:
            raise ValueError("unknown message id %d" % msgid)
        args = []
        for kind in formats[msgid]:
            value, pos = get_int(payload, pos)
            if kind == "s":
                args.append(bytes(payload[pos:pos + value]))
                pos += value
            else:
                args.append(value)
        messages.append((msgid, args))
    return messages


def build_frame(seq, payload):
    """A complete frame around ``payload`` (at most MAX_FRAME - 5 bytes)."""
    length = len(payload) + FRAME_OVERHEAD
    if length > MAX_FRAME:
        raise ValueError("payload of %d bytes does not fit a frame" % len(payload))
    head = bytes((length, seq & 0xFF)) + payload
    crc = crc16(head)
    return head + bytes((crc >> 8, crc & 0xFF, SYNC))


class FrameDecoder:
    """Finds valid frames in a byte stream, resynchronising after garbage."""

    def __init__(self):
        self._buf = bytearray()
        self._resync = False
        self.bad_frames = 0

    def feed(self, data):
        """Add bytes; returns a list of ``(seq, payload)`` for complete frames."""
        buf = self._buf
        buf += data
        frames = []
        start = 0
        while start < len(buf):
            if self._resync:
                if buf[start] == SYNC:
                    self._resync = False
                start += 1
                continue
            length = buf[start]
            if not MIN_FRAME <= length <= BOARD_FRAME:
                self._bad()
                continue
            if start + length > len(buf):
                break
            frame = buf[start:start + length]
            if frame[-1] != SYNC or crc16(frame[:-3]) != (frame[-3] << 8 | frame[-2]):
                self._bad()
                start += 1
                continue
            frames.append((frame[1], bytes(frame[2:-3])))
            start += length
        del buf[:start]
        return frames

    def _bad(self):
        self.bad_frames += 1
        self._resync = True
