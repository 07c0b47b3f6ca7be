"""The line layer of `mendel serve` (Marlin's host protocol) against a scripted
client: line numbers, checksums, resend requests, M110, emergency codes, and
the report formats hosts parse."""
import functools

import pytest

from mendel.serve.protocol import (LineChecker, LineSplitter, Overlong, checksum,
                                   emergency_code, firmware_report, numbered,
                                   temperature_report)


def xor(text):
    """Independent checksum: XOR of the bytes (RepRap wiki, G-code, "Checking")."""
    return functools.reduce(lambda a, b: a ^ b, text.encode(), 0)


def resend(last):
    return ["Resend: %d" % (last + 1), "ok"]


def test_checksum_is_the_xor_of_the_bytes_before_the_star():
    assert checksum("N1 G28") == xor("N1 G28")
    assert numbered(1, "G28") == "N1 G28*%d" % xor("N1 G28")
    assert numbered(-1, "M110 N-1") == "N-1 M110 N-1*%d" % xor("N-1 M110 N-1")


def test_numbered_lines_in_sequence_are_accepted_without_number_or_checksum():
    checker = LineChecker()
    for number, command in enumerate(["G28", "G1 X10 Y10 F3000", "M105"], start=1):
        checked = checker.check(numbered(number, command))
        assert (checked.command, checked.replies, checked.number) == (command, [], number)
    assert checker.last_line == 3


def test_bad_checksum_is_refused_with_marlins_error_and_a_resend_request():
    checker = LineChecker()
    checker.check(numbered(1, "G28"))
    line = numbered(2, "G1 X10")
    damaged = line.replace("X10", "X11")
    checked = checker.check(damaged)
    assert checked.command is None
    assert checked.replies == ["Error:checksum mismatch, Last Line: 1"] + resend(1)
    assert checker.last_line == 1                 # nothing accepted
    assert checker.check(line).command == "G1 X10"


def test_wrong_line_number_is_refused_and_the_expected_one_requested():
    checker = LineChecker()
    checker.check(numbered(1, "G28"))
    checked = checker.check(numbered(3, "G1 X10"))
    assert checked.replies == [
        "Error:Line Number is not Last Line Number+1, Last Line: 1"] + resend(1)
    # A line sent twice (a host that resent too much) is refused the same way.
    assert checker.check(numbered(1, "G28")).replies[1] == "Resend: 2"
    assert checker.check(numbered(2, "G1 X10")).command == "G1 X10"


def test_numbered_line_without_checksum_is_refused():
    checker = LineChecker()
    checked = checker.check("N1 G28")
    assert checked.replies == ["Error:No Checksum with line number, Last Line: 0"] + resend(0)


def test_a_refused_line_leaves_the_expected_number_so_a_resend_stream_recovers():
    """A host that resends on `Resend:` and sends on every `ok` has two lines in
    flight: the bad line's successor arrives too early and is refused as well,
    then the resent pair is accepted in order."""
    checker = LineChecker()
    for n in (1, 2):
        checker.check(numbered(n, "G1 X%d" % n))
    bad = numbered(3, "G1 X3").replace("*", "0*")
    replies = [checker.check(bad).replies, checker.check(numbered(4, "G1 X4")).replies]
    assert [r[1] for r in replies] == ["Resend: 3", "Resend: 3"]
    assert [checker.check(numbered(n, "G1 X%d" % n)).command for n in (3, 4)] == [
        "G1 X3", "G1 X4"]


def test_line_numbers_past_2_to_the_24_stay_exact():
    """A float32 holds integers exactly only up to 2^24 = 16777216."""
    checker = LineChecker()
    start = 2 ** 24 - 2
    checker.check(numbered(start, "M110 N%d" % start))
    for n in range(start + 1, start + 6):
        assert checker.check(numbered(n, "G1 X1")).command == "G1 X1", n
    assert checker.last_line == 2 ** 24 + 3
    refused = checker.check(numbered(2 ** 24 + 3, "G1 X1"))   # one past it, a repeat
    assert refused.replies[0].endswith("Last Line: 16777219")
    assert refused.replies[1] == "Resend: 16777220"
    big = 2 ** 31 + 7                                         # past a 32-bit long too
    checker.check("M110 N%d" % big)
    assert checker.check(numbered(big + 1, "M105")).command == "M105"


def test_m110_with_a_line_number_of_its_own():
    checker = LineChecker()
    # printrun: "N-1 M110 N-1": the next line is N0
    assert checker.check(numbered(-1, "M110 N-1")).command == "M110 N-1"
    assert checker.check(numbered(0, "G28")).command == "G28"
    # M110's own N wins over the line's (Marlin queue.cpp)
    assert checker.check(numbered(7, "M110 N100")).command == "M110 N100"
    assert checker.check(numbered(101, "G28")).command == "G28"
    # without a line number: OctoPrint's hello "M110 N0"
    assert checker.check("M110 N0").command == "M110 N0"
    assert checker.check(numbered(1, "G28")).command == "G28"
    # N<n> M110 without an argument takes the line's number, in any sequence
    assert checker.check(numbered(50, "M110")).command == "M110"
    assert checker.check(numbered(51, "M105")).command == "M105"


def test_m110_still_needs_a_good_checksum():
    checker = LineChecker()
    checked = checker.check("N5 M110 N5*1")
    assert checked.replies[0] == "Error:checksum mismatch, Last Line: 0"


def test_unnumbered_lines_and_comments():
    checker = LineChecker()
    assert checker.check("G28 ; home").command == "G28"
    assert checker.check("   ").command == "" and checker.check("").replies == []
    assert checker.check("; just a comment").command == ""
    line = numbered(1, "G1 X5")
    assert checker.check(line + " ; why").command == "G1 X5"


def test_emergency_codes_are_found_in_any_line_form():
    assert emergency_code("M112") == "M112"
    assert emergency_code(numbered(12, "M112")) == "M112"
    assert emergency_code("N12 M112*99") == "M112"          # even with a bad checksum
    assert emergency_code("M108") == "M108"
    assert emergency_code("M410") is None                   # quick stop: not supported
    assert emergency_code("M1120") is None and emergency_code("M11") is None
    assert emergency_code("G1 X1 ; M112") is None


def test_temperature_report_has_marlins_format():
    readings = {"extruder": (210.0, 210.0, 1.0), "heater_bed": (60.0, 60.0, 64 / 127)}
    assert temperature_report(readings, ok=True) == "ok T:210.0 /210.0 B:60.0 /60.0 @:127 B@:64"
    assert temperature_report(readings) == " T:210.0 /210.0 B:60.0 /60.0 @:127 B@:64"


def test_firmware_report_names_the_capabilities_hosts_look_for():
    lines = firmware_report("1.2.3", "i3", 1)
    assert lines[0].startswith("FIRMWARE_NAME:Mendel 1.2.3 PROTOCOL_VERSION:1.0")
    assert "EXTRUDER_COUNT:1" in lines[0]
    caps = dict(line[4:].rsplit(":", 1) for line in lines[1:])
    assert all(line.startswith("Cap:") for line in lines[1:])
    assert caps["AUTOREPORT_TEMP"] == "1" and caps["EMERGENCY_PARSER"] == "1"
    assert caps["SDCARD"] == "0"


@pytest.mark.parametrize("line", ["N1 G28*", "N1 G28*x", "N1 G28*300"])
def test_malformed_checksums_are_mismatches(line):
    assert LineChecker().check(line).replies[0].startswith("Error:checksum mismatch")


def test_the_checksum_covers_the_bytes_as_sent_comment_included():
    """A host that checksums the line it sends, comment and all, is accepted;
    the comment is stripped only after the check."""
    checker = LineChecker()
    checker.last_line = 2
    line = "N3 G1 X5 ; comment"
    assert checksum(line) == xor(line) == 46
    checked = checker.check(line + "*46")
    assert (checked.command, checked.replies, checked.number) == ("G1 X5", [], 3)
    # the same line checksummed without its comment is refused (the comment was sent)
    refused = checker.check("N4 G1 X6 ; c*%d" % xor("N4 G1 X6 "))
    assert refused.replies == ["Error:checksum mismatch, Last Line: 3"] + resend(3)
    # a comment naming M110 is a comment, not an M110
    assert checker.check("N9 G1 X1 ; M110*%d" % xor("N9 G1 X1 ; M110")).replies[1] == "Resend: 4"


def test_an_unnumbered_line_has_no_checksum():
    checker = LineChecker()
    for line in ("M118 {7*7}", "M117 5*5", "71", "*71"):
        checked = checker.check(line)
        assert (checked.command, checked.replies, checked.number) == (line, [], None)


def test_a_line_longer_than_the_buffer_arriving_in_pieces_is_one_summary():
    splitter = LineSplitter(limit=4096)
    line = numbered(7, "M117 " + "A" * 5000)
    data = (line + "\nN8 G28*%d\n" % xor("N8 G28")).encode()
    out = []
    for i in range(0, len(data), 64):
        out += splitter.feed(data[i:i + 64])
    assert len(out) == 2 and out[1] == "N8 G28*%d" % xor("N8 G28")
    over = out[0]
    assert isinstance(over, Overlong)
    assert over.length == len(line) and over.xor == xor(line)
    assert over.head == line[:4096] and line.endswith(over.tail)
    # memory stays within the buffer however long the line
    assert len(splitter._pending) <= 4096


def test_a_line_longer_than_the_buffer_is_refused_once_and_the_next_line_asked_for():
    """Refused whole with one Error and one Resend, and its number taken: a host
    that resends on `Resend:` goes on with the next line instead of sending the
    same too-long line again and again."""
    checker = LineChecker()
    checker.last_line = 6
    line = numbered(7, "M117 " + "A" * 5000)
    over = LineSplitter(limit=4096).feed((line + "\n").encode())[0]
    checked = checker.check(over)
    assert checked.command is None
    assert checked.replies == [
        "Error:Line too long (%d bytes, at most 4096): N7 M117 %s..., Last Line: 7"
        % (len(line), "A" * 16), "Resend: 8", "ok"]
    assert checker.check(numbered(8, "G28")).command == "G28"
    # damaged on the wire, it is asked for again like any damaged line
    damaged = LineSplitter(limit=4096).feed((numbered(9, "M117 " + "A" * 5000)
                                             .replace("AAA", "AAB", 1) + "\n").encode())[0]
    assert checker.check(damaged).replies == ["Error:checksum mismatch, Last Line: 8"] + resend(8)
    # without a line number there is nothing to resend
    plain = LineSplitter(limit=4096).feed(("M117 " + "A" * 5000 + "\n").encode())[0]
    assert LineChecker().check(plain).replies == [
        "Error:Line too long (5005 bytes, at most 4096): M117 %s..., Last Line: 0"
        % ("A" * 19), "ok"]
