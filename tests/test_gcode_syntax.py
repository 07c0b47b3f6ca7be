"""G-code syntax: each form the front end must read, with our own minimal inputs."""
import io

import pytest

from mendel.gcode.reader import iter_batches, iter_commands, parse_text


def one(text):
    (command,) = parse_text(text)
    return command


def test_case_insensitive_words_without_spaces():
    cmd = one("g1x10Y-5.5e.2F1200")
    assert cmd.code == "G1"
    assert cmd.params == {"X": 10.0, "Y": -5.5, "E": 0.2, "F": 1200.0}
    assert one("G1Z10").params == {"Z": 10.0}


def test_spaces_between_letter_and_number_and_leading_zero_codes():
    cmd = one("G02 X 10.5 Y 3 I -2 J 0")
    assert cmd.code == "G2"
    assert cmd.params == {"X": 10.5, "Y": 3.0, "I": -2.0, "J": 0.0}


def test_bare_letters_are_flags():
    assert one("G28 X Y").params == {"X": None, "Y": None}


def test_number_forms_and_no_exponent():
    assert one("G1 Z.21 Y-.259 X+1.5 E5.").params == {
        "Z": 0.21, "Y": -0.259, "X": 1.5, "E": 5.0}
    assert one("G1 X1E3").params == {"X": 1.0, "E": 3.0}


def test_numbers_convert_exactly():
    values = ["0.1", "12.345678901234", "-0.000001", "1234567890.123456789",
              "3.14159265358979323846"]
    for text in values:
        assert one("G1 X" + text).params["X"] == float(text)


def test_semicolon_and_parenthesis_comments():
    assert parse_text("; only a comment\n") == []
    assert one("G1 X5 (inline; with semicolon) Y6 ; tail").params == {"X": 5.0, "Y": 6.0}


def test_a_parenthesised_comment_is_a_comment_anywhere_on_a_line():
    # Skeinforge / ReplicatorG / CAM files: whole lines of ( ) comments.
    text = ("(<layer> 1 </layer>)\n  (a) (b)  \n(c) G1 X1 (d) Y2\nN4 (e) G1 X3*%d\n"
            "(f) M104 S200\n" % _checksum("N4 (e) G1 X3"))
    assert [(c.lineno, c.code, c.params, c.line_number, c.error) for c in parse_text(text)] == [
        (3, "G1", {"X": 1.0, "Y": 2.0}, None, None), (4, "G1", {"X": 3.0}, 4, None),
        (5, "M104", {"S": 200.0}, None, None)]
    assert one("(open").error == "unclosed '(' comment at column 1"
    assert one("N1 (open").error == "unclosed '(' comment at column 4"


def _checksum(text):
    value = 0
    for byte in text.encode():
        value ^= byte
    return value


def test_m486_object_name_is_the_rest_of_the_line():
    assert one("M486 S0").params == {"S": 0.0}
    assert one("M486 AShape-Box id:0 copy 0").params == {"A": "Shape-Box id:0 copy 0"}
    assert one("M486 A3DBenchy.stl").params == {"A": "3DBenchy.stl"}
    named = one('M486 S2 A"big" part (2).stl ; its label')
    assert named.params == {"S": 2.0, "A": '"big" part (2).stl'} and named.error is None
    # Elsewhere A is an ordinary word.
    assert one("G1 A3 X1").params == {"A": 3.0, "X": 1.0}


def test_colon_is_ordinary_and_layer_comment_is_metadata():
    cmd = one("M117 ETA 01:02:03")
    assert cmd.code == "M117" and cmd.text == "ETA 01:02:03"
    meta = one(";LAYER:0")
    assert meta.code == "" and meta.meta == ("layer", "0")


def test_line_numbers_are_integers_and_only_lead():
    cmd = one("N16777217 G1 X1")
    assert cmd.line_number == 16777217 and isinstance(cmd.line_number, int)
    assert one("N9007199254740993 G1 X1").line_number == 9007199254740993
    assert one("M110 N16777217").params == {"N": 16777217}


def test_checksums():
    # XOR of "N3 T0": N=78 ^ '3'=51 ^ ' '=32 ^ 'T'=84 ^ '0'=48 = 57.
    assert one("N3 T0*57").code == "T0"
    bad = one("N3 T0*58")
    assert bad.error == "checksum mismatch: line says 58, computed 57"


def test_text_arguments_verbatim():
    assert one("M117 Printing N5 of 7").text == "Printing N5 of 7"
    assert one("M118 E1 hello").text == "E1 hello"
    assert one("M23 /sd/part_1.gco").text == "/sd/part_1.gco"


def test_crlf_tabs_blanks_and_percent():
    commands = parse_text("%\r\n\tG1\tX1\r\n\r\n   \nG1 X2\r\n%\n")
    assert [(c.code, c.params, c.lineno) for c in commands] == [
        ("G1", {"X": 1.0}, 2), ("G1", {"X": 2.0}, 5)]


def test_dotted_subcodes_and_quoted_strings():
    assert one("G29.1").code == "G29.1"
    cmd = one('M862.3 P "MK3S"')
    assert cmd.code == "M862.3" and cmd.params == {"P": "MK3S"}


def test_extended_commands():
    cmd = one("SET_VELOCITY_LIMIT ACCEL=5000")
    assert cmd.code == "SET_VELOCITY_LIMIT" and cmd.text == "ACCEL=5000"
    assert one("EXCLUDE_OBJECT_START NAME=part_1").text == "NAME=part_1"
    assert one("PRINT_START").code == "PRINT_START"
    assert one("print_start BED=60").code == "PRINT_START"


def test_t_codes():
    assert one("T0").code == "T0"
    assert one("T12").code == "T12"


def test_slicer_metadata_comments():
    metas = [c.meta for c in parse_text(
        ";LAYER_CHANGE\n;Z:0.2\n;TYPE:External perimeter\n; layer 3, Z = 0.6\n")]
    assert metas == [("layer_change", ""), ("z", "0.2"), ("type", "External perimeter"),
                     ("layer", "3, Z = 0.6")]


def test_only_a_whole_layer_change_comment_is_a_layer_change():
    # Bambu Studio writes "; CHANGE_LAYER" a layer, and dumps its settings,
    # "; layer_change_gcode = ", at the top: that line is no layer change.
    metas = [c.meta for c in parse_text(
        "; layer_change_gcode = \n; before_layer_change_gcode = G92 E0\n"
        "; CHANGE_LAYER\n;LAYER_CHANGE  \n;LAYER_CHANGE_X\n")]
    assert metas == [("layer_change", ""), ("layer_change", "")]


def test_placeholders_are_kept_as_text():
    assert one("M104 S{material_print_temperature}").params == {
        "S": "{material_print_temperature}"}


@pytest.mark.parametrize("line,reason", [
    ("G1 X20 Y$", "unexpected '$' at column 9"),
    ("G1 X-", "expected a number at column 5, found '-'"),
    ("G1 X1 X2", "X given twice (column 7)"),
    ("G1 X1 (open", "unclosed '(' comment at column 7"),
    ("$G1", "expected a command (G, M, T or a name) at column 1, found '$'"),
])
def test_errors_say_what_and_where(line, reason):
    assert one(line).error == reason


def test_streaming_keeps_lines_whole_across_chunks():
    text = "".join("G1 X%d Y%d.5 E%d ; %s\n" % (i, i, i, "c" * (i % 17)) for i in range(5000))
    small = list(iter_commands(io.BytesIO(text.encode()), chunk_bytes=97, batch_lines=31))
    big = parse_text(text)
    assert [(c.lineno, c.params) for c in small] == [(c.lineno, c.params) for c in big]
    assert len(big) == 5000 and big[-1].lineno == 5000


def test_last_line_without_newline_and_memory_is_per_batch():
    assert one("G1 X3").params == {"X": 3.0}
    batches = list(id(b) for b in iter_batches(io.BytesIO(b"G1 X1\n" * 50000),
                                               batch_lines=1000))
    assert len(set(batches)) == 1        # one batch object, reused


def test_byte_order_mark_is_skipped():
    commands = list(iter_commands(io.BytesIO(b"\xef\xbb\xbfG28\nG1 X1\n")))
    assert [c.code for c in commands] == ["G28", "G1"]


def test_numbers_beyond_a_double_are_refused():
    assert one("G1 X" + "9" * 400).error == "number out of range at column 5"
