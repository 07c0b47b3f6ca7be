# Mendel host: streaming G-code reader.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read G-code from a binary stream as :class:`Command` objects.

The file is read in chunks of ``CHUNK_BYTES`` and parsed by the Cython kernel
(:mod:`mendel.gcode._lexer`) in batches of at most ``BATCH_LINES`` lines, so
memory does not grow with the file: only the unfinished last line of a chunk
is carried over.
"""
from mendel.gcode._lexer import Batch, Command, commands, parse_chunk

CHUNK_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"
BATCH_LINES = 16384

__all__ = ["Command", "LineCounter", "iter_commands", "iter_batches", "parse_text"]


class LineCounter:
    """Counts the physical lines read (``lines``)."""

    def __init__(self):
        self.lines = 0


def iter_batches(stream, chunk_bytes=CHUNK_BYTES, batch_lines=BATCH_LINES):
    """Yield parsed :class:`Batch` objects for a binary stream (reused: read each
    before asking for the next). A leading UTF-8 byte order mark is skipped."""
    batch = Batch(batch_lines)
    data = b""
    lineno = 1
    first = True
    while True:
        chunk = stream.read(chunk_bytes)
        if first:
            # A UTF-8 byte order mark (some editors write one) is not G-code.
            chunk = chunk[len(_BOM):] if chunk.startswith(_BOM) else chunk
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
            yield batch
        data = data[offset:]
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
