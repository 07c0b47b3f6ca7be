"""Stand-in for ``uctypes.addressof`` (tests only): each buffer gets a fake
address, 1 MiB apart (so any ring alignment holds), that the fake ``mem32``
resolves back to the buffer's 32-bit words."""

_BASE = 0x20100000
_BUFFERS = []


def addressof(buf):
    for i, known in enumerate(_BUFFERS):
        if known is buf:
            return _BASE + (i << 20)
    _BUFFERS.append(buf)
    return _BASE + ((len(_BUFFERS) - 1) << 20)


def lookup(addr):
    """(buffer, word index) of a fake address."""
    i = (addr - _BASE) >> 20
    return _BUFFERS[i], ((addr - _BASE) & 0xFFFFF) >> 2


def reset():
    del _BUFFERS[:]


def bytearray_at(addr, size):
    """A view of ``size`` bytes at a fake address (32-bit words of its buffer)."""
    buf, index = lookup(addr)
    return memoryview(buf)[index:index + size // 4]
