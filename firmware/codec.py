# Mendel firmware: wire-level codecs shared by every message.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Variable-length integers and CRC-16 for the link (MicroPython and CPython).

Integers on the wire are zigzag-mapped, then written as little-endian base-128
groups, 7 bits per byte, high bit set on every byte but the last (the LEB128
layout used by protocol buffers). Zigzag keeps small negative numbers short:
0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3.

The frame check is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection,
no final xor; check value of b"123456789" is 0x29B1), computed with a 256-entry
table built once at import. On MicroPython :func:`crc16` is compiled by the
viper emitter (measured on the unix port: 290 MB/s against 12 MB/s for the
plain loop, which stays as :func:`crc16_plain`).

Importable by CPython too, so the host encodes integers with this very code
(``mendel.mcu.codec``).
"""
import array
import sys

_POLY = 0x1021
_MICROPYTHON = sys.implementation.name == "micropython"


def _make_table():
    table = array.array("H", bytes(512))
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) if crc & 0x8000 else (crc << 1)
        table[byte] = crc & 0xFFFF
    return table


CRC_TABLE = _make_table()


def crc16_plain(buf, start, end):
    """CRC-16/CCITT-FALSE of ``buf[start:end]`` (int 0..65535). No allocation."""
    table = CRC_TABLE
    crc = 0xFFFF
    for i in range(start, end):
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ buf[i]]
    return crc


crc16 = crc16_plain
if _MICROPYTHON:
    import micropython

    @micropython.viper
    def _crc16_viper(buf: ptr8, start: int, end: int) -> int:  # noqa: F821 (viper type)
        table = ptr16(CRC_TABLE)  # noqa: F821 (viper builtin)
        crc = 0xFFFF
        i = start
        while i < end:
            crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ buf[i]) & 0xFF]
            i += 1
        return crc

    crc16 = _crc16_viper


def use_viper(enabled):
    """Select the viper CRC (default on MicroPython) or the plain one (benchmarks)."""
    global crc16
    crc16 = _crc16_viper if enabled and _MICROPYTHON else crc16_plain


def zigzag(value):
    """Map a signed int to an unsigned one (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...)."""
    return (value << 1) if value >= 0 else ((-value) << 1) - 1


def unzigzag(value):
    """Inverse of :func:`zigzag`."""
    return -((value + 1) >> 1) if value & 1 else value >> 1


def put_int(out, value):
    """Append the VLQ encoding of signed ``value`` to bytearray ``out``."""
    value = zigzag(value)
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def put_bytes(out, data):
    """Append a length-prefixed byte string to bytearray ``out``."""
    put_int(out, len(data))
    out.extend(data)


def encode_args(out, fmt, args):
    """Append ``args`` to ``out`` following ``fmt`` ('i' int, 's' bytes).

    Raises ValueError when the argument count does not match the format.
    """
    if len(fmt) != len(args):
        raise ValueError("format %s takes %d arguments" % (fmt, len(fmt)))
    for kind, arg in zip(fmt, args):
        if kind == "i":
            put_int(out, arg)
        else:
            put_bytes(out, arg)
