"""Host codec against the same vectors as the firmware, and frame decoding."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "firmware"))
from vectors import CRC16, FRAME_PAYLOAD, FRAME_SEQ, VLQ  # noqa: E402

from mendel.mcu import codec  # noqa: E402


@pytest.mark.parametrize("data,expected", CRC16)
def test_crc16_vectors(data, expected):
    assert codec.crc16(data) == expected


@pytest.mark.parametrize("value,encoded", VLQ)
def test_vlq_vectors(value, encoded):
    out = bytearray()
    codec.put_int(out, value)
    assert bytes(out) == encoded
    assert codec.get_int(encoded, 0) == (value, len(encoded))


def test_frame_round_trip_and_layout():
    frame = codec.build_frame(FRAME_SEQ, FRAME_PAYLOAD)
    assert frame[0] == len(frame) == len(FRAME_PAYLOAD) + 5
    assert frame[1] == FRAME_SEQ and frame[-1] == codec.SYNC
    assert codec.FrameDecoder().feed(frame) == [(FRAME_SEQ, FRAME_PAYLOAD)]


def test_decoder_resynchronises_after_garbage_and_corruption():
    good = codec.build_frame(7, b"\x01\x02")
    bad = bytearray(codec.build_frame(6, b"\x09"))
    bad[2] ^= 0xFF
    decoder = codec.FrameDecoder()
    frames = decoder.feed(b"\xff\x00\x7e" + bytes(bad) + good[:4])
    frames += decoder.feed(good[4:])
    assert frames == [(7, b"\x01\x02")]
    assert decoder.bad_frames >= 1


def test_messages_round_trip():
    payload = (codec.encode_message(3, "is", (-5, b"abc"))
               + codec.encode_message(1, "", ()))
    assert codec.decode_messages(payload, {3: "is", 1: ""}) == [(3, [-5, b"abc"]), (1, [])]


def test_payload_too_big_for_a_frame_is_refused():
    with pytest.raises(ValueError):
        codec.build_frame(0, bytes(codec.MAX_FRAME - codec.FRAME_OVERHEAD + 1))
    assert len(codec.build_frame(0, bytes(codec.MAX_FRAME - codec.FRAME_OVERHEAD))) == 255


def test_wrong_argument_count_is_refused():
    with pytest.raises(ValueError):
        codec.encode_message(1, "ii", (1,))


class _Port:
    """A port that keeps what is written."""

    def __init__(self):
        self.written = []
        self.timeout = 0
        self.in_waiting = 0

    def write(self, data):
        self.written.append(bytes(data))

    def read(self, _n):
        return b""


@pytest.mark.parametrize("limit_loss", [0.0, 0.5])
def test_block_framing_in_c_equals_messages_one_by_one(limit_loss):
    # The C kernel packs the same frames, with the same CRCs, as queue().
    import random

    import numpy as np

    from mendel.mcu import _framing
    from mendel.mcu.link import SerialLink
    rng = random.Random(5)
    messages = [bytes(rng.randrange(256) for _ in range(rng.randint(1, 22)))
                for _ in range(700)]
    data = b"".join(messages)
    ends = np.cumsum([len(m) for m in messages]).astype(np.int64)
    one, block = SerialLink(_Port(), window=10_000), SerialLink(_Port(), window=10_000)
    for link in (one, block):
        link.loss = limit_loss
        link.next_seq = 120
        link.queue(b"\x01\x02\x03")
    for m in messages[:450]:
        one.queue(m)
    messages_block = _framing.MessageBlock(data, ends)
    block.queue_block(messages_block, 0, 450)
    for m in messages[450:]:
        one.queue(m)
    block.queue_block(messages_block, 450, 700)
    one.flush()
    block.flush()
    assert one.port.written == block.port.written and len(one.port.written) > 100
    assert one.next_seq == block.next_seq and one.messages_sent == block.messages_sent
    assert all(codec.crc16(f[:-3]) == (f[-3] << 8 | f[-2]) for f in block.port.written)
    assert _framing.crc16(b"123456789") == codec.crc16(b"123456789") == 0x29B1
    with pytest.raises(ValueError, match="does not fit"):
        block.queue_block(_framing.MessageBlock(b"x" * 70, np.array([70], dtype=np.int64)),
                          0, 1)
    assert _framing.frame(7, b"abc") == codec.build_frame(7, b"abc")
