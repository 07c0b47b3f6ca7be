"""Firmware codec: CRC-16 and VLQ against the shared vectors (CPython and micropython)."""
import codec
from vectors import CRC16, VLQ


def test_crc16_vectors():
    for data, expected in CRC16:
        assert codec.crc16(data, 0, len(data)) == expected, data


def test_crc16_of_a_slice():
    data = b"xx123456789yy"
    assert codec.crc16(data, 2, 11) == 0x29B1


def test_vlq_vectors_encode():
    for value, encoded in VLQ:
        out = bytearray()
        codec.put_int(out, value)
        assert bytes(out) == encoded, value


def test_zigzag_round_trip():
    for value in (0, 1, -1, 2, -2, 1000, -1000, 2 ** 35, -(2 ** 35)):
        assert codec.unzigzag(codec.zigzag(value)) == value


def test_encode_args_rejects_wrong_count():
    try:
        codec.encode_args(bytearray(), "ii", (1,))
    except ValueError:
        return
    raise AssertionError("no ValueError")


def test_fast_and_plain_crc_agree():
    data = bytearray(bytes(range(256)) + bytes(range(256)) + bytes(range(256)))
    for start, end in ((0, 0), (0, 1), (3, 200), (0, len(data)), (17, 700)):
        assert codec.crc16(data, start, end) == codec.crc16_plain(data, start, end)
