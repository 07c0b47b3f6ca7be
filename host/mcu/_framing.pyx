# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# Mendel host: frames of many messages at once (Cython kernel).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pack encoded messages into link frames, in C.

The frame is docs/protocol.md's: ``length, seq, payload, crc_hi, crc_lo, SYNC``
with ``length`` the whole frame's size and the CRC-16/CCITT-FALSE (poly
0x1021, init 0xFFFF, as ``binascii.crc_hqx``) over ``length, seq, payload``.
:func:`mendel.mcu.codec.build_frame` builds one frame in Python; this kernel
builds the frames of a block of step messages (a few hundred a call) with the
same bytes, and is checked against it.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint16_t

cdef int SYNC = 0x7E
cdef int FRAME_OVERHEAD = 5
cdef int MAX_FRAME = 255

cdef uint16_t CRC_TABLE[256]
cdef int _i, _j
cdef uint16_t _crc
for _i in range(256):
    _crc = <uint16_t> (_i << 8)
    for _j in range(8):
        _crc = <uint16_t> ((_crc << 1) ^ 0x1021) if _crc & 0x8000 else <uint16_t> (_crc << 1)
    CRC_TABLE[_i] = _crc


cdef inline uint16_t crc16_update(uint16_t crc, const unsigned char* data, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(n):
        crc = <uint16_t> ((crc << 8) ^ CRC_TABLE[((crc >> 8) ^ data[k]) & 0xFF])
    return crc


def crc16(const unsigned char[::1] data):
    """CRC-16/CCITT-FALSE of ``data`` (for tests against ``binascii.crc_hqx``)."""
    if data.shape[0] == 0:
        return 0xFFFF
    return crc16_update(0xFFFF, &data[0], data.shape[0])


cdef bytes _frame(int seq, const unsigned char* head, Py_ssize_t head_n,
                  const unsigned char* body, Py_ssize_t body_n):
    cdef unsigned char buf[256]     # MAX_FRAME bytes and more
    cdef Py_ssize_t n = head_n + body_n + FRAME_OVERHEAD, k
    cdef uint16_t crc
    buf[0] = <unsigned char> n
    buf[1] = <unsigned char> (seq & 0xFF)
    for k in range(head_n):
        buf[2 + k] = head[k]
    for k in range(body_n):
        buf[2 + head_n + k] = body[k]
    crc = crc16_update(0xFFFF, buf, n - 3)
    buf[n - 3] = <unsigned char> (crc >> 8)
    buf[n - 2] = <unsigned char> (crc & 0xFF)
    buf[n - 1] = <unsigned char> SYNC
    return PyBytes_FromStringAndSize(<char*> buf, n)


cdef class MessageBlock:
    """Encoded messages to be framed: ``data`` (bytes) and ``ends`` ((R,)
    int64), message ``r`` ending at byte ``ends[r]`` and starting where
    ``r - 1`` ends (at 0 for ``r = 0``). Kept whole while its messages are
    packed a range at a time (between the toolhead's waits for the board)."""
    cdef const unsigned char[::1] data
    cdef const int64_t[::1] ends
    cdef readonly Py_ssize_t count

    def __init__(self, const unsigned char[::1] data, const int64_t[::1] ends):
        if ends.shape[0] and (ends[ends.shape[0] - 1] > data.shape[0]):
            raise ValueError("message ends past the data")
        self.data = data
        self.ends = ends
        self.count = ends.shape[0]

    def pack(self, Py_ssize_t first, Py_ssize_t stop, bytearray pending, Py_ssize_t limit,
             int seq, int seq_modulo):
        """Frames of messages ``first..stop-1`` after the ``pending`` payload,
        packed greedily: as :meth:`SerialLink.queue` would one by one.

        ``limit``: most payload bytes a frame holds (at most MAX_FRAME - 5).
        Full frames are returned; the messages after the last full frame are
        left in ``pending`` (a partly filled frame, sent later). Returns
        ``(frames, next_seq)``: a list of frame bytes, numbered from ``seq``
        modulo ``seq_modulo``. Raises ValueError for a message longer than
        ``limit``; nothing is packed then.
        """
        cdef Py_ssize_t r, start, size, group_start, group_len, pend_n = len(pending)
        cdef const int64_t[::1] ends = self.ends
        cdef const unsigned char* base
        cdef unsigned char head[256]
        cdef Py_ssize_t head_n
        cdef list frames = []
        if limit <= 0 or limit > MAX_FRAME - FRAME_OVERHEAD:
            raise ValueError("frame payload limit out of range")
        if pend_n > limit:
            raise ValueError("pending payload longer than a frame")
        if first < 0 or stop > self.count:
            raise IndexError("message range out of the block")
        if stop <= first:
            return frames, seq
        base = &self.data[0]
        start = ends[first - 1] if first > 0 else 0
        for r in range(first, stop):
            size = ends[r] - (ends[r - 1] if r > 0 else 0)
            if size > limit:
                raise ValueError("a message of %d bytes does not fit a frame" % size)
        head_n = pend_n
        for r in range(pend_n):
            head[r] = pending[r]
        group_start = start
        group_len = head_n
        for r in range(first, stop):
            size = ends[r] - start
            if group_len + size > limit:
                frames.append(_frame(seq, head, head_n, base + group_start,
                                     start - group_start))
                seq = (seq + 1) % seq_modulo
                head_n = 0
                group_start = start
                group_len = 0
            group_len += size
            start = ends[r]
        # The last group is the new pending payload.
        del pending[:]
        pending += PyBytes_FromStringAndSize(<char*> head, head_n)
        if start > group_start:
            pending += PyBytes_FromStringAndSize(<const char*> (base + group_start),
                                                 start - group_start)
        return frames, seq


def frame(int seq, const unsigned char[::1] payload):
    """One frame around ``payload`` (as :func:`mendel.mcu.codec.build_frame`)."""
    cdef Py_ssize_t n = payload.shape[0]
    if n > MAX_FRAME - FRAME_OVERHEAD:
        raise ValueError("payload of %d bytes does not fit a frame" % n)
    return _frame(seq, &payload[0] if n else NULL, n, NULL, 0)
