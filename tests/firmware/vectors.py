"""Test vectors of the wire format, shared by the host and firmware tests."""

# (data, CRC-16/CCITT-FALSE); "123456789" is the catalogue check value.
CRC16 = [
    (b"123456789", 0x29B1),
    (b"", 0xFFFF),
    (b"\x00", 0xE1F0),
    (b"\x05\x00", 0xE2FA),
]

# (signed value, zigzag VLQ bytes)
VLQ = [
    (0, b"\x00"),
    (-1, b"\x01"),
    (1, b"\x02"),
    (63, b"\x7e"),
    (-64, b"\x7f"),
    (64, b"\x80\x01"),
    (1500, b"\xb8\x17"),
    (-1993, b"\x91\x1f"),
    (12000000, b"\x80\xec\xb8\x0b"),
    (2 ** 40, b"\x80\x80\x80\x80\x80\x40"),
    (-(2 ** 40), b"\xff\xff\xff\xff\xff\x3f"),
]

# A complete host->board frame: sequence 3, message id 5 with ints (1, 1500, -7, 0).
FRAME_SEQ = 3
FRAME_PAYLOAD = b"\x05\x02\xb8\x17\x0d\x00"
