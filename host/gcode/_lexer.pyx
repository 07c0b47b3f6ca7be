# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# Mendel host: G-code lexer and parser over bytes (Cython kernel).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse G-code bytes into compact per-line records, chunk by chunk.

Syntax (RepRap wiki "G-code"; Marlin's parser where firmwares differ):

* A line ends at LF; CR, spaces and tabs are blanks. ``%`` alone is a
  delimiter and reads as blank.
* ``;`` starts a comment to the end of the line; ``( ... )`` is a comment
  anywhere on a line: before the line number, between it and the command,
  between words, or the whole line (Skeinforge, ReplicatorG and CAM files
  write whole files of ``(<layer> 1 </layer>)`` lines). A ``(`` without its
  ``)`` is an error. Comments of known slicer tags become metadata (layer,
  Z, type).
* ``N<int>`` may lead the line (parsed as a 64-bit integer, never a float);
  ``*<int>`` ends the checked part: the XOR of every byte before ``*``.
* A command is a letter and an unsigned number with an optional dotted
  subcode (``G1``, ``G02`` is G2, ``M862.3``, ``T0``); then words: a letter,
  optional blanks, then a number ``[+-]?(digits[.digits]|.digits)`` with no
  exponent (``X1E3`` is X=1, E=3); a letter with no number is a flag; a
  letter followed by ``"..."`` takes a quoted string; ``{...}`` is an
  unfilled slicer placeholder.
* Text commands (M117, M118, M23, M28, M30, M32) keep their argument text.
* ``M486 A<name>`` (object label, PrusaSlicer): the name is the rest of the
  line up to a ``;`` comment, kept as text (``M486 AShape-Box id:0 copy 0``,
  ``M486 A3DBenchy.stl``); words before ``A`` parse as usual.
* A first word of two or more letters/underscores is a Klipper-style
  extended command (``SET_VELOCITY_LIMIT ACCEL=500``); its arguments stay text.

Numbers are converted exactly: up to 15 significant digits the value is
``mantissa / 10**k`` with both operands exact in a double, so one correctly
rounded division; longer numbers go through ``strtod``.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint32_t
from libc.math cimport HUGE_VAL
from libc.stdlib cimport malloc, free, strtod
from libc.string cimport memcpy

cdef enum:
    NLETTERS = 26
# 15 digits: below 2**53, so exact in a double.
cdef int64_t MAX_EXACT_MANTISSA = 999999999999999
# Line numbers and N arguments: up to 2**62.
cdef int64_t MAX_INTEGER = 1 << 62

cdef double POW10[23]
cdef int _i
POW10[0] = 1.0
for _i in range(1, 23):
    POW10[_i] = POW10[_i - 1] * 10.0

# Line kinds.
KIND_BLANK = 0
KIND_G = 1
KIND_M = 2
KIND_T = 3
KIND_EXTENDED = 4
KIND_OTHER = 6
# Comment tags surfaced as metadata.
META_NONE = 0
META_LAYER = 1          # ;LAYER:<n> (Cura, ideaMaker), ; layer <n> (Simplify3D),
                        # ; BEGIN_LAYER_OBJECT (KISSlicer)
META_LAYER_CHANGE = 2   # ;LAYER_CHANGE (PrusaSlicer, Orca), ; CHANGE_LAYER (Bambu Studio)
META_Z = 3              # ;Z:<z> (PrusaSlicer)
META_TYPE = 4           # ;TYPE:<feature>

cdef enum:
    MT_NONE = 0
    MT_LAYER = 1
    MT_LAYER_CHANGE = 2
    MT_Z = 3
    MT_TYPE = 4

cdef enum:
    K_BLANK = 0
    K_G = 1
    K_M = 2
    K_T = 3
    K_EXT = 4
    K_OTHER = 6

cdef enum:
    E_NONE = 0
    E_UNEXPECTED = 1
    E_NUMBER = 2
    E_CHECKSUM = 3
    E_TWICE = 4
    E_COMMENT = 5
    E_NOCODE = 6
    E_LINENO = 7
    E_RANGE = 8


cdef inline bint is_blank(char c) noexcept nogil:
    return c == b' ' or c == b'\t' or c == b'\r'


cdef inline bint is_digit(char c) noexcept nogil:
    return b'0' <= c <= b'9'


cdef inline char upper(char c) noexcept nogil:
    if b'a' <= c <= b'z':
        return c - 32
    return c


cdef inline bint is_letter(char c) noexcept nogil:
    c = upper(c)
    return b'A' <= c <= b'Z'


cdef class Batch:
    """Parsed lines of one chunk: parallel C arrays, read through accessors.

    ``count`` lines; for line ``i``: ``kind``, code ``number`` and ``sub``
    (-1 when absent), 1-based ``lineno``, the leading ``N`` (``has_n``), the
    bitmask of letters present (bit 0 = 'A') and of bare flags, 26 values, and
    spans (into ``data``) of text arguments, comments and the whole line.
    """
    cdef public int count
    cdef public int capacity
    cdef public bytes data
    cdef signed char* kinds
    cdef char* code_letter
    cdef int* name_start
    cdef int* name_end
    cdef int* numbers
    cdef int* subs
    cdef int64_t* linenos
    cdef int64_t* nwords
    cdef char* has_n
    cdef uint32_t* masks
    cdef uint32_t* flags
    cdef uint32_t* quoted
    cdef double* values
    cdef int* line_start
    cdef int* line_end
    cdef int* text_start
    cdef int* text_end
    cdef signed char* meta
    cdef int* meta_start
    cdef int* meta_end
    cdef signed char* errors
    cdef int* error_col
    cdef int* checksum_given
    cdef int* checksum_computed

    def __cinit__(self, int capacity=8192):
        self.capacity = capacity
        self.count = 0
        self.kinds = <signed char*> malloc(capacity)
        self.code_letter = <char*> malloc(capacity)
        self.name_start = <int*> malloc(capacity * sizeof(int))
        self.name_end = <int*> malloc(capacity * sizeof(int))
        self.numbers = <int*> malloc(capacity * sizeof(int))
        self.subs = <int*> malloc(capacity * sizeof(int))
        self.linenos = <int64_t*> malloc(capacity * sizeof(int64_t))
        self.nwords = <int64_t*> malloc(capacity * sizeof(int64_t))
        self.has_n = <char*> malloc(capacity)
        self.masks = <uint32_t*> malloc(capacity * sizeof(uint32_t))
        self.flags = <uint32_t*> malloc(capacity * sizeof(uint32_t))
        self.quoted = <uint32_t*> malloc(capacity * sizeof(uint32_t))
        self.values = <double*> malloc(capacity * NLETTERS * sizeof(double))
        self.line_start = <int*> malloc(capacity * sizeof(int))
        self.line_end = <int*> malloc(capacity * sizeof(int))
        self.text_start = <int*> malloc(capacity * sizeof(int))
        self.text_end = <int*> malloc(capacity * sizeof(int))
        self.meta = <signed char*> malloc(capacity)
        self.meta_start = <int*> malloc(capacity * sizeof(int))
        self.meta_end = <int*> malloc(capacity * sizeof(int))
        self.errors = <signed char*> malloc(capacity)
        self.error_col = <int*> malloc(capacity * sizeof(int))
        self.checksum_given = <int*> malloc(capacity * sizeof(int))
        self.checksum_computed = <int*> malloc(capacity * sizeof(int))
        if (self.kinds == NULL or self.code_letter == NULL or self.name_start == NULL
                or self.name_end == NULL or self.numbers == NULL or self.subs == NULL
                or self.linenos == NULL or self.nwords == NULL or self.has_n == NULL
                or self.masks == NULL or self.flags == NULL or self.quoted == NULL
                or self.values == NULL or self.line_start == NULL or self.line_end == NULL
                or self.text_start == NULL or self.text_end == NULL or self.meta == NULL
                or self.meta_start == NULL or self.meta_end == NULL or self.errors == NULL
                or self.error_col == NULL or self.checksum_given == NULL
                or self.checksum_computed == NULL):
            raise MemoryError()

    def __dealloc__(self):
        free(self.kinds); free(self.code_letter); free(self.name_start)
        free(self.name_end); free(self.numbers); free(self.subs); free(self.linenos)
        free(self.nwords); free(self.has_n); free(self.masks); free(self.flags)
        free(self.quoted); free(self.values); free(self.line_start); free(self.line_end)
        free(self.text_start); free(self.text_end); free(self.meta)
        free(self.meta_start); free(self.meta_end); free(self.errors)
        free(self.error_col); free(self.checksum_given); free(self.checksum_computed)

    # -- accessors (Python level) ----------------------------------------
    def kind(self, int i):
        return self.kinds[i]

    def number(self, int i):
        return self.numbers[i]

    def sub(self, int i):
        return self.subs[i]

    def lineno(self, int i):
        return self.linenos[i]

    def mask(self, int i):
        return self.masks[i]

    def value(self, int i, letter):
        return self.values[i * NLETTERS + (ord(letter) - 65)]

    def line_span(self, int i):
        """``(start, end)`` of line ``i`` in ``data`` (bytes offsets; ``end``
        is its line feed, or the end of the data)."""
        return self.line_start[i], self.line_end[i]

    def line_text(self, int i):
        """The line as it was written (str, without its line ending)."""
        return self.data[self.line_start[i]:self.line_end[i]].decode("utf-8", "replace").rstrip("\r")

    def text(self, int i):
        """The text argument / extended-command arguments / quoted string, or None."""
        if self.text_start[i] < 0:
            return None
        return self.data[self.text_start[i]:self.text_end[i]].decode("utf-8", "replace").strip()

    def views(self):
        """The line arrays of the first ``count`` lines, as memoryviews over the
        batch's own buffers (valid until the batch is refilled): ``(kinds,
        numbers, subs, has_n, masks, flags, quoted, values, meta, errors,
        linenos)``; ``values`` holds 26 doubles a line (``A`` first)."""
        cdef int n = self.count if self.count > 0 else 1
        return (<signed char[:n]> self.kinds, <int[:n]> self.numbers, <int[:n]> self.subs,
                <char[:n]> self.has_n, <uint32_t[:n]> self.masks, <uint32_t[:n]> self.flags,
                <uint32_t[:n]> self.quoted, <double[:n * NLETTERS]> self.values,
                <signed char[:n]> self.meta, <signed char[:n]> self.errors,
                <int64_t[:n]> self.linenos)

    def command(self, int i):
        """The :class:`Command` of line ``i``, or None for a blank or plain
        comment line."""
        if not 0 <= i < self.count:
            raise IndexError("line %d of a batch of %d" % (i, self.count))
        return _command(self, i)

    def meta_kind(self, int i):
        return self.meta[i]

    def meta_text(self, int i):
        if self.meta[i] == META_NONE:
            return None
        return self.data[self.meta_start[i]:self.meta_end[i]].decode("utf-8", "replace").strip()

    def error(self, int i):
        """What is wrong with line ``i`` in words, or None."""
        cdef int code = self.errors[i]
        cdef int col = self.error_col[i]
        if code == E_NONE:
            return None
        line = self.data[self.line_start[i]:self.line_end[i]]
        char = chr(line[col]) if 0 <= col < len(line) else "end of line"
        if code == E_UNEXPECTED:
            return "unexpected %r at column %d" % (char, col + 1)
        if code == E_NUMBER:
            return "expected a number at column %d, found %r" % (col + 1, char)
        if code == E_CHECKSUM:
            return "checksum mismatch: line says %d, computed %d" % (
                self.checksum_given[i], self.checksum_computed[i])
        if code == E_TWICE:
            return "%s given twice (column %d)" % (char, col + 1)
        if code == E_COMMENT:
            return "unclosed '(' comment at column %d" % (col + 1)
        if code == E_NOCODE:
            return "expected a command (G, M, T or a name) at column %d, found %r" % (
                col + 1, char)
        if code == E_RANGE:
            return "number out of range at column %d" % (col + 1)
        if code == E_LINENO:
            return "line number N needs an integer (column %d)" % (col + 1)
        return "cannot parse"


cdef inline bint is_text_command(int kind, int number, int sub) noexcept nogil:
    if kind != K_M or sub >= 0:
        return False
    return number == 117 or number == 118 or number == 23 or number == 28 \
        or number == 30 or number == 32


cdef inline bint is_object_name(Batch b, int i) noexcept nogil:
    """Line ``i`` is an ``M486`` (object labels), whose ``A`` word is a name."""
    return b.kinds[i] == K_M and b.numbers[i] == 486 and b.subs[i] < 0


cdef inline int parse_number(const char* s, int pos, int end, double* out) noexcept nogil:
    """Parse ``[+-]?(digits[.digits]|.digits)`` at pos; returns the end, -1 when
    there is no number, -2 when it is beyond the range of a double."""
    cdef int start = pos
    cdef bint negative = False
    cdef int64_t mantissa = 0
    cdef int digits = 0, frac = 0
    cdef bint dot = False
    cdef bint exact = True
    cdef char c
    if pos < end and (s[pos] == b'-' or s[pos] == b'+'):
        negative = s[pos] == b'-'
        pos += 1
    while pos < end:
        c = s[pos]
        if is_digit(c):
            if mantissa > MAX_EXACT_MANTISSA // 10:
                exact = False
            else:
                mantissa = mantissa * 10 + (c - 48)
                if dot:
                    frac += 1
            digits += 1
        elif c == b'.' and not dot:
            dot = True
        else:
            break
        pos += 1
    if digits == 0:
        return -1
    if exact and frac <= 22:
        out[0] = mantissa / POW10[frac]
        if negative:
            out[0] = -out[0]
    else:
        out[0] = _strtod_span(s, start, pos)
        if out[0] - out[0] != 0.0:      # beyond the range of a double: inf
            return -2
    return pos


cdef double _strtod_span(const char* s, int start, int end) noexcept nogil:
    """strtod of s[start:end] (a number of more than 15 significant digits)."""
    cdef char small[512]
    cdef char* buf = small
    cdef int n = end - start
    cdef double value
    if n >= 512:
        buf = <char*> malloc(n + 1)
        if buf == NULL:
            return HUGE_VAL
    memcpy(buf, s + start, n)
    buf[n] = 0
    value = strtod(buf, NULL)
    if buf != small:
        free(buf)
    return value


cdef inline int parse_digits(const char* s, int pos, int end, int64_t* out) noexcept nogil:
    """Read an unsigned integer at ``pos``; returns the position after it, or -1
    when there is no digit or the number does not fit 62 bits."""
    cdef int64_t n = 0
    cdef int start = pos
    while pos < end and is_digit(s[pos]):
        if n > MAX_INTEGER // 10:
            return -1
        n = n * 10 + (s[pos] - 48)
        pos += 1
    if pos == start:
        return -1
    out[0] = n
    return pos


cdef inline int skip_blanks(const char* s, int pos, int end) noexcept nogil:
    while pos < end and is_blank(s[pos]):
        pos += 1
    return pos


cdef inline int skip_comments(const char* s, int pos, int end) noexcept nogil:
    """Skip blanks and ``( ... )`` comments from ``pos``; returns the next
    position, or ``-1 - p`` for an unclosed ``(`` at ``p``."""
    cdef int after
    while True:
        pos = skip_blanks(s, pos, end)
        if pos >= end or s[pos] != b'(':
            return pos
        after = pos + 1
        while after < end and s[after] != b')':
            after += 1
        if after >= end:
            return -1 - pos
        pos = after + 1


cdef inline bint starts_with(const char* s, int pos, int end, const char* tag, int n) noexcept nogil:
    cdef int k
    if end - pos < n:
        return False
    for k in range(n):
        if upper(s[pos + k]) != tag[k]:
            return False
    return True


cdef inline void set_meta(Batch b, int i, int kind, int start, int end) noexcept nogil:
    b.meta[i] = kind
    b.meta_start[i] = start
    b.meta_end[i] = end


cdef void classify_comment(Batch b, int i, const char* s, int pos, int end) noexcept nogil:
    """Set the metadata of line ``i`` from its ';' comment at ``pos``."""
    pos = skip_blanks(s, pos, end)
    # The whole comment: "; layer_change_gcode = ..." (a settings dump) is not one.
    if ((starts_with(s, pos, end, b"LAYER_CHANGE", 12)
            or starts_with(s, pos, end, b"CHANGE_LAYER", 12))   # Bambu Studio
            and skip_blanks(s, pos + 12, end) == end):
        set_meta(b, i, MT_LAYER_CHANGE, pos, pos)
    elif starts_with(s, pos, end, b"LAYER:", 6):
        set_meta(b, i, MT_LAYER, pos + 6, end)
    elif starts_with(s, pos, end, b"LAYER ", 6) and pos + 6 < end and is_digit(s[pos + 6]):
        set_meta(b, i, MT_LAYER, pos + 6, end)            # Simplify3D "; layer 12, Z = 2.5"
    elif starts_with(s, pos, end, b"BEGIN_LAYER_OBJECT", 18):
        set_meta(b, i, MT_LAYER, pos + 18, end)           # KISSlicer
    elif starts_with(s, pos, end, b"Z:", 2):
        set_meta(b, i, MT_Z, pos + 2, end)
    elif starts_with(s, pos, end, b"TYPE:", 5):
        set_meta(b, i, MT_TYPE, pos + 5, end)


cdef inline void fail(Batch b, int i, int code, int col) noexcept nogil:
    """Record the first error of line ``i``; a command parsed before it stays."""
    if b.errors[i] == E_NONE:
        b.errors[i] = code
        b.error_col[i] = col


cdef void parse_line(Batch b, int i, const char* s, int start, int end) noexcept nogil:
    """Parse bytes s[start:end] (one line, no LF) into record ``i``."""
    cdef int pos, code_end = end, k, letter, star = -1, comment = -1, after, column
    cdef unsigned int xor_sum = 0
    cdef double value
    cdef int64_t n
    cdef char c
    b.kinds[i] = K_BLANK
    b.subs[i] = -1
    b.numbers[i] = -1
    b.has_n[i] = 0
    b.masks[i] = 0
    b.flags[i] = 0
    b.quoted[i] = 0
    b.text_start[i] = -1
    b.text_end[i] = -1
    b.meta[i] = MT_NONE
    b.errors[i] = E_NONE
    b.line_start[i] = start
    b.line_end[i] = end
    # The first ';' outside a quoted string or a ( ) comment ends the code; on
    # a line with a line number, a '*' before it ends the checked part (only
    # numbered lines carry checksums, as in Marlin: "M118 {7*7}" is text).
    pos = skip_blanks(s, start, end)
    cdef bint numbered = pos + 1 < end and upper(s[pos]) == b'N' and (
        is_digit(s[pos + 1]) or is_blank(s[pos + 1]))
    pos = start
    cdef bint in_quote = False, in_paren = False
    while pos < end:
        c = s[pos]
        if c == b'"' and not in_paren:
            in_quote = not in_quote
        elif in_paren:
            in_paren = c != b')'
        elif not in_quote:
            if c == b'(':
                in_paren = True
            elif c == b';':
                comment = pos
                break
            if c == b'*' and star < 0 and numbered:
                star = pos
        pos += 1
    if comment >= 0:
        classify_comment(b, i, s, comment + 1, end)
        code_end = comment
    if star >= 0:
        for k in range(start, star):
            xor_sum ^= <unsigned char> s[k]
        after = skip_blanks(s, star + 1, code_end)
        if after >= code_end or not is_digit(s[after]):
            fail(b, i, E_NUMBER, star + 1 - start)
            return
        parse_number(s, after, code_end, &value)
        b.checksum_given[i] = <int> value
        b.checksum_computed[i] = xor_sum
        if <unsigned int> value != xor_sum:
            fail(b, i, E_CHECKSUM, star - start)
            return
        code_end = star
    pos = skip_comments(s, start, code_end)
    if pos < 0:
        fail(b, i, E_COMMENT, -1 - pos - start)
        return
    if pos >= code_end or (s[pos] == b'%' and skip_blanks(s, pos + 1, code_end) >= code_end):
        return
    # Leading line number.
    if upper(s[pos]) == b'N' and pos + 1 < code_end and \
            (is_digit(s[pos + 1]) or is_blank(s[pos + 1])):
        after = skip_blanks(s, pos + 1, code_end)
        column = after - start
        after = parse_digits(s, after, code_end, &n)
        if after < 0:
            fail(b, i, E_LINENO, column)
            return
        b.has_n[i] = 1
        b.nwords[i] = n
        pos = skip_comments(s, after, code_end)
        if pos < 0:
            fail(b, i, E_COMMENT, -1 - pos - start)
            return
        if pos >= code_end:
            return
    parse_command(b, i, s, pos, code_end, start)


cdef void parse_command(Batch b, int i, const char* s, int pos, int end, int start) noexcept nogil:
    cdef char c = upper(s[pos])
    cdef int after, number, sub, letter
    cdef double value
    if not is_letter(c):
        fail(b, i, E_NOCODE, pos - start)
        return
    if pos + 1 < end and (is_letter(s[pos + 1]) or s[pos + 1] == b'_'):
        # Extended command: NAME then free-form arguments.
        after = pos
        while after < end and (is_letter(s[after]) or is_digit(s[after]) or s[after] == b'_'):
            after += 1
        b.kinds[i] = K_EXT
        b.name_start[i] = pos
        b.name_end[i] = after
        b.text_start[i] = after
        b.text_end[i] = end
        return
    after = skip_blanks(s, pos + 1, end)
    if after >= end or not is_digit(s[after]):
        fail(b, i, E_NOCODE, pos - start)
        return
    number = 0
    while after < end and is_digit(s[after]):
        number = number * 10 + (s[after] - 48)
        after += 1
        if number > 100000000:
            fail(b, i, E_UNEXPECTED, after - start)
            return
    sub = -1
    if after < end and s[after] == b'.' and after + 1 < end and is_digit(s[after + 1]):
        after += 1
        sub = 0
        while after < end and is_digit(s[after]):
            sub = sub * 10 + (s[after] - 48)
            after += 1
    b.numbers[i] = number
    b.subs[i] = sub
    b.code_letter[i] = c
    if c == b'G':
        b.kinds[i] = K_G
    elif c == b'M':
        b.kinds[i] = K_M
    elif c == b'T':
        b.kinds[i] = K_T
    else:
        b.kinds[i] = K_OTHER
    if is_text_command(b.kinds[i], number, sub):
        b.text_start[i] = after
        b.text_end[i] = end
        return
    parse_words(b, i, s, after, end, start)


cdef void parse_words(Batch b, int i, const char* s, int pos, int end, int start) noexcept nogil:
    cdef int letter, after, depth
    cdef uint32_t bit
    cdef double value
    cdef char c
    cdef int64_t n
    while True:
        pos = skip_comments(s, pos, end)
        if pos < 0:
            fail(b, i, E_COMMENT, -1 - pos - start)
            return
        if pos >= end:
            return
        c = s[pos]
        if not is_letter(c):
            fail(b, i, E_UNEXPECTED, pos - start)
            return
        letter = upper(c) - 65
        bit = (<uint32_t> 1) << letter
        if b.masks[i] & bit:
            fail(b, i, E_TWICE, pos - start)
            return
        b.masks[i] |= bit
        after = skip_blanks(s, pos + 1, end)
        if letter == 0 and is_object_name(b, i):
            # M486 A<name>: the name is the rest of the line (spaces, dots,
            # quotes and parentheses included), as PrusaSlicer writes it.
            b.quoted[i] |= bit
            b.text_start[i] = after
            b.text_end[i] = end
            return
        if after < end and s[after] == b'"':
            pos = after + 1
            while pos < end and s[pos] != b'"':
                pos += 1
            b.quoted[i] |= bit
            b.text_start[i] = after + 1
            b.text_end[i] = pos
            pos += 1
            continue
        if after < end and s[after] == b'{':
            # Unfilled slicer placeholder, kept as quoted text ({...}).
            pos = after
            depth = 0
            while pos < end:
                if s[pos] == b'{':
                    depth += 1
                elif s[pos] == b'}':
                    depth -= 1
                    if depth == 0:
                        break
                pos += 1
            b.quoted[i] |= bit
            b.text_start[i] = after
            b.text_end[i] = pos + 1 if pos < end else end
            pos = pos + 1
            continue
        if after < end and (is_digit(s[after]) or s[after] == b'.' or s[after] == b'-'
                            or s[after] == b'+'):
            if letter == 13:  # 'N' as an argument (M110 N...): an integer
                pos = parse_digits(s, after + (s[after] == b'+'), end, &n)
                if pos < 0:
                    fail(b, i, E_NUMBER, after - start)
                    return
                b.values[i * NLETTERS + letter] = <double> n
                continue
            pos = parse_number(s, after, end, &value)
            if pos < 0:
                fail(b, i, E_NUMBER if pos == -1 else E_RANGE, after - start)
                return
            b.values[i * NLETTERS + letter] = value
            continue
        b.flags[i] |= bit
        pos = pos + 1


def parse_chunk(bytes data, int offset, int64_t first_lineno, bint final, Batch out):
    """Parse complete lines of ``data`` from ``offset`` into ``out``.

    Stops at the batch's capacity or at the last LF (or the end of the data
    when ``final``). Returns the offset after the last line parsed; lines are
    numbered from ``first_lineno``.
    """
    cdef const char* s = PyBytes_AS_STRING(data)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    cdef int pos = offset, line_end, count = 0, capacity = out.capacity
    cdef int64_t lineno = first_lineno
    out.data = data
    with nogil:
        while pos < size and count < capacity:
            line_end = pos
            while line_end < size and s[line_end] != b'\n':
                line_end += 1
            if line_end >= size and not final:
                break
            out.linenos[count] = lineno
            parse_line(out, count, s, pos, line_end)
            count += 1
            lineno += 1
            pos = line_end + 1
    out.count = count
    return min(pos, size)


cdef dict _CODE_CACHE = {}
cdef tuple _LETTERS = tuple(chr(65 + k) for k in range(NLETTERS))


cdef class Command:
    """One parsed line.

    ``code``: ``"G1"``, ``"M862.3"``, ``"T0"`` or an extended command name
    (upper case); ``params``: letter -> float (``None`` for a bare flag, str
    for a quoted or ``{placeholder}`` value, int for ``N``); ``text``: the
    verbatim text argument (M117 ...) or the extended command's arguments;
    ``lineno``: 1-based line number; ``line_number``: the line's own ``N``
    word or None; ``error``: what is wrong, or None; ``meta``: ``(tag,
    text)`` of a slicer comment (``"layer"``, ``"layer_change"``, ``"z"``,
    ``"type"``) or None; ``raw``: the line as written.
    """
    cdef public str code
    cdef public dict params
    cdef public object text
    cdef public int64_t lineno
    cdef public object line_number
    cdef public object error
    cdef public object meta
    cdef bytes _data
    cdef int _start
    cdef int _end

    @property
    def raw(self):
        return self._data[self._start:self._end].decode("utf-8", "replace").rstrip("\r")

    def __repr__(self):
        return "Command(%r, %r, line %d)" % (self.code, self.params, self.lineno)


_META_NAMES = {META_LAYER: "layer", META_LAYER_CHANGE: "layer_change", META_Z: "z",
               META_TYPE: "type"}


cdef str _code_of(Batch b, int i):
    cdef int kind = b.kinds[i]
    cdef int number = b.numbers[i], sub = b.subs[i]
    key = (b.code_letter[i], number, sub)
    code = _CODE_CACHE.get(key)
    if code is None:
        code = "%s%d" % (chr(b.code_letter[i]), number)
        if sub >= 0:
            code += ".%d" % sub
        _CODE_CACHE[key] = code
    return code


cdef object _command(Batch b, int i):
    """Command of line ``i`` of ``b``; None for a blank or plain comment line."""
    cdef int k, kind = b.kinds[i]
    cdef uint32_t mask, flags, quoted
    cdef double* values
    cdef Command cmd
    cdef dict params
    if kind == K_BLANK and b.meta[i] == META_NONE and b.errors[i] == E_NONE:
        return None
    cmd = Command.__new__(Command)
    cmd.lineno = b.linenos[i]
    cmd._data = b.data
    cmd._start = b.line_start[i]
    cmd._end = b.line_end[i]
    cmd.line_number = b.nwords[i] if b.has_n[i] else None
    cmd.meta = None if b.meta[i] == META_NONE else (_META_NAMES[b.meta[i]], b.meta_text(i))
    cmd.text = None
    cmd.error = None if b.errors[i] == E_NONE else b.error(i)
    params = {}
    cmd.params = params
    if kind == K_BLANK:
        cmd.code = ""
    elif cmd.error is not None:
        cmd.code = _code_of(b, i)
    elif kind == K_EXT:
        cmd.code = b.data[b.name_start[i]:b.name_end[i]].decode("ascii").upper()
        cmd.text = b.text(i)
    else:
        cmd.code = _code_of(b, i)
        mask = b.masks[i]
        flags = b.flags[i]
        quoted = b.quoted[i]
        values = b.values + i * NLETTERS
        if mask:
            for k in range(NLETTERS):
                if mask & ((<uint32_t> 1) << k):
                    if flags & ((<uint32_t> 1) << k):
                        params[_LETTERS[k]] = None
                    elif quoted & ((<uint32_t> 1) << k):
                        params[_LETTERS[k]] = b.text(i)
                    elif k == 13:
                        params["N"] = <int64_t> values[k]
                    else:
                        params[_LETTERS[k]] = values[k]
        elif b.text_start[i] >= 0:
            cmd.text = b.text(i)
    return cmd


def commands(Batch b):
    """Command objects of every line of ``b`` that holds a command, an error
    or slicer metadata (blank and plain-comment lines are skipped)."""
    cdef int i
    out = []
    for i in range(b.count):
        cmd = _command(b, i)
        if cmd is not None:
            out.append(cmd)
    return out
