"""Property and fuzz tests of the G-code front end (hypothesis)."""
import decimal
import io
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from mendel.gcode.interpreter import Interpreter
from mendel.gcode.reader import iter_commands, parse_text
from test_gcode_semantics import FakeMachine

GCODE_ALPHABET = "GMTNXYZEFIJRSP0123456789.-+ ;()*\"{}\t\r\n%_=abcxyz:"


def parse_bytes(data):
    return list(iter_commands(io.BytesIO(data), chunk_bytes=64, batch_lines=7))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_commands_or_documented_errors(data):
    for command in parse_bytes(data):
        assert isinstance(command.code, str)
        assert command.error is None or isinstance(command.error, str)
        assert command.lineno >= 1
        for letter, value in command.params.items():
            assert len(letter) == 1 and "A" <= letter <= "Z"
            assert value is None or isinstance(value, (float, int, str))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=GCODE_ALPHABET, max_size=300))
def test_gcode_like_text_never_crashes_the_interpreter(text):
    errors = []
    interp = Interpreter(FakeMachine(), warn=lambda _t: None,
                         on_error=lambda *e: errors.append(e))
    interp.run(parse_text(text))
    for lineno, _text, reason in errors:
        assert lineno >= 1 and reason


def fixed(value):
    """A float written without an exponent, exactly (the parser reads no exponents)."""
    return format(decimal.Decimal(value), "f")


codes = st.one_of(
    st.builds(lambda n: "G%d" % n, st.integers(0, 99)),
    st.builds(lambda n: "M%d" % n, st.integers(0, 999)),
    st.builds(lambda n, s: "M%d.%d" % (n, s), st.integers(0, 999), st.integers(0, 9)))
params = st.dictionaries(
    st.sampled_from("ABCDEFGHIJKLOPQRSUVWXYZ"),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64)),
    max_size=6)


@settings(max_examples=500, deadline=None)
@given(codes, params)
def test_format_then_parse_gives_the_same_command(code, words):
    if code in ("M117", "M118", "M23", "M28", "M30", "M32"):
        return
    line = code + "".join(" %s%s" % (k, "" if v is None else fixed(v))
                          for k, v in words.items())
    (command,) = parse_text(line)
    assert command.error is None, line
    assert command.code == code
    assert command.params == words


class EndlessGcode(io.RawIOBase):
    """``total`` bytes of generated G-code, made on the fly (nothing stored)."""

    def __init__(self, total):
        self.left = total
        self.block = b"".join(b"G1 X%d.%03d Y%d E%d.5 F1800 ; move\n" % (i, i, i, i)
                              for i in range(2000))

    def readable(self):
        return True

    def readinto(self, buf):
        n = min(len(buf), self.left, len(self.block))
        buf[:n] = self.block[:n]
        self.left -= n
        return n


def test_memory_does_not_grow_with_file_size():
    peaks = []
    for megabytes in (4, 32):
        stream = io.BufferedReader(EndlessGcode(megabytes * 1_000_000))
        tracemalloc.start()
        count = sum(1 for _ in iter_commands(stream))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count > megabytes * 20000
    assert peaks[1] < peaks[0] * 1.5
    assert peaks[1] < 16_000_000
