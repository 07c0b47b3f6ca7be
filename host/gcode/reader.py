# Mendel host: streaming G-code reader.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read G-code from a binary stream as :class:`Command` objects.

The file is read in chunks of ``CHUNK_BYTES`` and parsed by the Cython kernel
(:mod:`mendel.gcode._lexer`) in batches of at most ``BATCH_LINES`` lines, so
memory does not grow with the file: only the unfinished last line of a chunk
is carried over.
"""
from mendel.errors import MendelError
from mendel.gcode._lexer import Batch, Command, commands, parse_chunk

CHUNK_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"
BATCH_LINES = 16384
# How much of a file sniff_gcode reads (bytes): binary formats (images, archives,
# STL, Prusa's binary G-code) show NUL or control bytes within their first blocks.
SNIFF_BYTES = 1 << 16
# Control bytes a text file does not hold (tab, LF, VT, FF, CR and ESC excepted).
_CONTROL = bytes(set(range(32)) - set(b"\t\n\x0b\x0c\r\x1b")) + b"\x7f"
# More control bytes than this share of the sniffed bytes: not text.
_CONTROL_SHARE = 0.01
_BGCODE_MAGIC = b"GCDE"       # Prusa binary G-code (.bgcode)

__all__ = ["Command", "LineCounter", "NotGcodeError", "iter_commands", "iter_batches", "iter_batches_at",
           "parse_text", "sniff_gcode"]


class NotGcodeError(MendelError):
    """A file given as G-code holds binary data, not G-code text."""


def sniff_gcode(path):
    """Look at the start of the file ``path`` before it is read as G-code.

    Returns None, or a warning (str) for an empty file: there is nothing to
    print. Raises NotGcodeError, one line naming the file, when its first
    ``SNIFF_BYTES`` bytes are not text: a NUL byte, more than 1% control
    bytes, or Prusa's binary G-code; OSError when it cannot be read.
    """
    with open(path, "rb") as stream:
        head = stream.read(SNIFF_BYTES)
    if not head:
        return "%s is empty: there is nothing to print" % path
    if head.startswith(_BGCODE_MAGIC):
        raise NotGcodeError("%s: not a G-code text file (Prusa binary G-code: export it "
                            "from the slicer as plain text G-code)" % path)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
            len(head) > 1 and (head[1::2].count(0) > len(head) // 4
                               or head[0::2].count(0) > len(head) // 4)):
        raise NotGcodeError("%s: not a G-code text file (UTF-16 text: save it as UTF-8 "
                            "or ASCII)" % path)
    nul = head.find(b"\0")
    if nul >= 0:
        raise NotGcodeError("%s: not a G-code text file (binary data: a NUL byte at byte %d)"
                            % (path, nul))
    control = len(head) - len(head.translate(None, _CONTROL))
    if control > _CONTROL_SHARE * len(head):
        raise NotGcodeError("%s: not a G-code text file (binary data: %d control bytes in "
                            "its first %d)" % (path, control, len(head)))
    return None


class LineCounter:
    """Counts the physical lines read (``lines``)."""

    def __init__(self):
        self.lines = 0


def iter_batches(stream, chunk_bytes=CHUNK_BYTES, batch_lines=BATCH_LINES):
    """Yield parsed :class:`Batch` objects for a binary stream (reused: read each
    before asking for the next). A leading UTF-8 byte order mark is skipped."""
    for batch, _base in iter_batches_at(stream, 0, 1, chunk_bytes, batch_lines):
        yield batch


def iter_batches_at(stream, position=0, lineno=1, chunk_bytes=CHUNK_BYTES,
                    batch_lines=BATCH_LINES):
    """Like :func:`iter_batches` from byte ``position`` of a seekable binary
    stream, whose line there is numbered ``lineno``; yields ``(batch,
    base)``, ``base`` being the file offset (bytes) of ``batch.data[0]``, so
    line ``i`` ends at file offset ``base + batch.line_span(i)[1]``. A byte
    order mark is skipped only at position 0."""
    if position:
        stream.seek(position)
    batch = Batch(batch_lines)
    data = b""
    base = position
    first = position == 0
    while True:
        chunk = stream.read(chunk_bytes)
        if first:
            # A UTF-8 byte order mark (some editors write one) is not G-code.
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM):]
                base += len(_BOM)
            first = False
        final = not chunk
        data = data + chunk if data else chunk
        offset = 0
        while True:
            offset_after = parse_chunk(data, offset, lineno, final, batch)
            if batch.count == 0:
                break
            lineno += batch.count
            offset = offset_after
            yield batch, base
        data = data[offset:]
        base += offset
        if final:
            return


def iter_commands(stream, counter=None, **kwargs):
    """Yield every :class:`Command` of a binary stream, in file order.

    ``counter``, a :class:`LineCounter`, is told every line read.
    """
    for batch in iter_batches(stream, **kwargs):
        if counter is not None:
            counter.lines += batch.count
        yield from commands(batch)


def parse_text(text):
    """Commands of a str of G-code (for tests and the console)."""
    import io
    return list(iter_commands(io.BytesIO(text.encode("utf-8"))))
