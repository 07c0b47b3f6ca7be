"""`mendel serve` on the simulated board, driven by a scripted client over the
real pty: flow control, resends with lines in flight, reports, keep-alive,
emergency stop, reconnects."""
import os
import time

from mendel import config
from mendel.serve.protocol import checksum, numbered
from paths import ROOT
from served import Client, served


def position(client):
    report = [line for line in client.run("M114") if line.startswith("X:")][0]
    words = dict(word.split(":") for word in report.replace("Count ", "").split()[:4])
    return {axis: float(value) for axis, value in words.items()}, report


def test_moves_reports_and_unknown_commands():
    with served() as (port, _session):
        client = Client(port.path)
        assert client.run("G28") == ["ok"]
        assert client.run("G1 X20 Y30 Z5 F6000") == ["ok"]
        assert client.run("M400") == ["ok"]
        where, report = position(client)
        assert where == {"X": 20.0, "Y": 30.0, "Z": 5.0, "E": 0.0}
        # Count: the board's own step counts, 80/80/400 steps/mm
        assert report.endswith("Count X:1600 Y:2400 Z:2000")
        # an unknown command is a notice, never an Error: (OctoPrint disconnects on those)
        assert client.run("M12345 S1") == ['echo:Unknown command: "M12345 S1"', "ok"]
        firmware = client.run("M115")
        assert firmware[0].startswith("FIRMWARE_NAME:Mendel ")
        assert "Cap:AUTOREPORT_TEMP:1" in firmware and firmware[-1] == "ok"
        assert client.run("M117 Printing...") == ["echo:Printing...", "ok"]
        assert client.run("M73 P50 R10") == ["ok"]            # progress: taken quietly
        assert client.run("M27") == ['echo:Unknown command: "M27"', "ok"]   # no SD card
        # a command Mendel knows but does not have is no silent ok either
        assert client.run("G29") == [
            'echo:Unknown command: "G29" (no probe and [bed_mesh] in printer.cfg)', "ok"]
        assert client.run("M191 S40")[0].startswith('echo:Unknown command: "M191 S40" (')
        # a line the printer refuses is an error, and nothing moved
        refused = client.run("G1 X900")
        assert refused[0].startswith("Error:G1 X900: move out of range") and refused[-1] == "ok"
        assert position(client)[0]["X"] == 20.0
        client.close()


def test_resend_with_lines_in_flight_runs_each_line_once():
    """Printrun's way: resend on `Resend:` without waiting for the ok that
    follows, so lines overtake the replies; each move must still run once."""
    with served() as (port, _session):
        client = Client(port.path)
        client.run("G28")
        client.run("G91")                     # relative: a move run twice would show
        good = numbered(client.number, "G1 X10 F6000")
        client.send(good.replace("X10", "X19"))     # damaged on the wire
        client.send(numbered(client.number + 1, "G1 Y10"))   # already in flight
        first = client.replies(oks=2)
        last = client.number - 1
        resend = ["Resend: %d" % (last + 1), "ok"]
        assert first[:3] == ["Error:checksum mismatch, Last Line: %d" % last] + resend
        assert first[3:] == ["Error:Line Number is not Last Line Number+1, Last Line: %d"
                             % last] + resend
        client.send(good)                     # resent at once, before any ok
        client.send(numbered(client.number + 1, "G1 Y10"))
        assert client.replies(oks=2) == ["ok", "ok"]
        client.number += 2
        client.run("G90")
        client.run("M400")
        assert position(client)[0] == {"X": 10.0, "Y": 10.0, "Z": 0.0, "E": 0.0}
        client.close()


def test_temperatures_m105_during_motion_and_m155_auto_report():
    with served() as (port, _session):
        client = Client(port.path)
        assert client.run("M104 S200") == ["ok"]
        client.run("G28")
        for i in range(10):
            client.run("G1 X%d Y%d F600" % (10 + 10 * i, 5 + 5 * (i % 2)))
        time.sleep(0.5)                       # the board's clock follows the wall clock
        report = client.run("M105")           # while ~20 s of motion is queued
        assert len(report) == 1 and report[0].startswith("ok T:")
        words = report[0].split()
        assert words[2] == "/200.0" and words[5] == "@:127"     # heating at full power
        client.run("M400")
        assert position(client)[0] == {"X": 100.0, "Y": 10.0, "Z": 0.0, "E": 0.0}
        client.run("M155 S1")
        started = time.monotonic()
        auto = [client.readline() for _ in range(3)]
        assert all(line.startswith(" T:") and "/200.0" in line for line in auto)
        assert 1.5 < time.monotonic() - started < 4.5           # one a second
        client.run("M155 S0")
        client.close()


def test_heater_wait_and_m108_and_busy_keepalive():
    with served(realtime=True) as (port, _session):
        client = Client(port.path)
        # G4 is motion time: the ok of M400 comes when the dwell has passed,
        # and the host hears a keep-alive every 2 s meanwhile.
        client.run("G4 S4.5")
        started = time.monotonic()
        lines = client.run("M400")
        assert time.monotonic() - started > 3.5
        assert lines == ["echo:busy: processing", "echo:busy: processing", "ok"]
        # M109 reports temperatures each second while it waits; M108 ends the wait.
        client.command("M109 S200")
        reports = [client.readline() for _ in range(2)]
        assert all(line.startswith(" T:") for line in reports)
        client.send("M108")
        rest = client.replies()
        assert "echo:wait for heating cancelled by M108" in rest and rest[-1] == "ok"
        client.close()


def test_m112_halts_at_once_and_m999_restarts():
    with served() as (port, _session):
        client = Client(port.path)
        client.run("G28")
        client.run("M104 S200")
        client.command("M112")
        halted = client.replies()
        assert "Error:Printer halted. kill() called!" in halted
        assert any("emergency stop" in line for line in halted)
        assert client.run("G1 X10")[0].startswith("echo:Printer halted")
        # The board's heaters are off: M105 shows no target and no power.
        report = client.run("M105")[0]
        assert report.startswith("ok T:") and " /0.0 " in report and "@:0 " in report
        assert client.run("M999")[-1] == "ok"
        # The board stopped where it was: its position is unknown until G28.
        refused = client.run("G1 X10 F6000")
        assert any("Must home axis first" in line for line in refused), refused
        client.run("G28")
        client.run("G1 X10 F6000")
        client.run("M400")
        assert position(client)[0]["X"] == 10.0
        client.close()


def test_reconnect_greets_again_and_turns_the_heaters_off():
    with served() as (port, _session):
        client = Client(port.path)
        client.run("M140 S60")
        assert "/60.0" in client.run("M105")[0]
        client.close()
        deadline = time.monotonic() + 10
        while port.connected and time.monotonic() < deadline:
            time.sleep(0.05)                  # the server sees the hang-up
        client = Client(port.path)            # asserts the new `start`
        report = client.run("M105")[0]
        assert " B:" in report and "/0.0" in report.split(" B:")[1]
        client.close()


def test_answers_a_client_left_unread_are_not_the_next_clients():
    """A host that hangs up without reading its last answers (OctoPrint after
    M112) left them in the pty, and the next client read them as its own:
    `Error:Line Number is not Last Line Number+1` before anything it sent."""
    with served() as (port, _session):
        first = os.open(port.path, os.O_RDWR | os.O_NOCTTY)
        os.write(first, (numbered(5, "M117 out of turn") + "\n").encode())
        deadline = time.monotonic() + 10
        while not port.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)                       # answered, never read
        os.close(first)
        while port.connected and time.monotonic() < deadline:
            time.sleep(0.05)                  # the server sees the hang-up
        second = os.open(port.path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(second, b"M105\n")
            with os.fdopen(os.dup(second), "rb", buffering=0) as stream:
                lines = [stream.readline(), stream.readline()]
        finally:
            os.close(second)
        assert lines[0] == b"start\n" and lines[1].startswith(b"ok T:"), lines


def test_noise_that_splits_a_numbered_line_is_an_unknown_command_never_an_error():
    """A stray line end splits `N5 G1 X10 F6000*71` in two: the numbered head is
    refused and asked for again, the un-numbered tail (`71`, or `*71` when the
    split comes before the star) is answered as Marlin answers an unknown
    command, since an `Error:` makes OctoPrint stop the print; the resent line
    then runs once."""
    with served() as (port, _session):
        client = Client(port.path)
        client.run("G28")
        client.run("G91")                     # relative: a move run twice would show
        last = client.number - 1
        resend = ["Resend: %d" % (last + 1), "ok"]
        for move, head_error in (("G1 X10 F6000", "checksum mismatch"),
                                 ("G1 Y10", "No Checksum with line number")):
            line = numbered(client.number, move)
            cut = line.rindex("*") + (1 if "X" in move else 0)
            client.send(line[:cut])
            assert client.replies() == ["Error:%s, Last Line: %d" % (head_error, last)] + resend
            client.send(line[cut:])
            assert client.replies() == ['echo:Unknown command: "%s"' % line[cut:], "ok"]
            client.send(line)                 # the host resends it
            assert client.replies() == ["ok"]
            client.number += 1
            last += 1
            resend = ["Resend: %d" % (last + 1), "ok"]
        client.run("G90")
        client.run("M400")
        assert position(client)[0] == {"X": 10.0, "Y": 10.0, "Z": 0.0, "E": 0.0}
        client.close()


def test_checksums_cover_comments_and_only_numbered_lines_have_them():
    with served() as (port, _session):
        client = Client(port.path)
        client.run("G28")
        line = "N%d G1 X5 F6000 ; comment" % client.number
        client.send("%s*%d" % (line, checksum(line)))      # checked as sent, then stripped
        assert client.replies() == ["ok"]
        client.number += 1
        # a `*` in an un-numbered line, or in a numbered one before its checksum, is text
        client.send("M118 {7*7}")
        assert client.replies() == ["echo:{7*7}", "ok"]
        assert client.run("M118 {7*7}") == ["echo:{7*7}", "ok"]
        client.run("M400")
        assert position(client)[0]["X"] == 5.0
        client.close()


def stream(client, commands, piece_bytes=64):
    """Send ``commands`` as numbered lines the way Printrun's printcore does:
    the next line on each ``ok``, and from line n again on ``Resend: n``; each
    line written in ``piece_bytes`` pieces. Returns (replies, lines sent)."""
    first = client.number
    lines = [numbered(first + i, command) for i, command in enumerate(commands)]
    replies, sends, index = [], 0, 0
    while index < len(lines):
        assert sends < 2 * len(lines), "the host loops on resends: %s" % replies[-6:]
        data = (lines[index] + "\n").encode()
        for start in range(0, len(data), piece_bytes):
            client.port.write(data[start:start + piece_bytes])
        sends += 1
        got = client.replies()
        replies += got
        asked = [line for line in got if line.startswith("Resend:")]
        index = int(asked[-1].split()[1]) - first if asked else index + 1
    client.number = first + len(lines)
    return replies, sends


def test_a_line_longer_than_the_buffer_is_refused_once_and_the_print_goes_on():
    """A 5 KB M117 arriving in 64-byte pieces: one `Error`, one `Resend:` for
    the line after it, and a resending host goes on instead of looping."""
    with served() as (port, _session):
        client = Client(port.path)
        client.run("G28")
        long_number = client.number + 1
        replies, sends = stream(client, ["G1 X10 F6000", "M117 " + "A" * 5000, "G1 Y10",
                                         "M400"])
        assert sends == 4
        errors = [line for line in replies if line.startswith("Error:")]
        assert len(errors) == 1 and errors[0].startswith("Error:Line too long (5")
        assert [line for line in replies if line.startswith("Resend:")] == [
            "Resend: %d" % (long_number + 1)]
        assert position(client)[0] == {"X": 10.0, "Y": 10.0, "Z": 0.0, "E": 0.0}
        client.close()


def test_parenthesised_comments_are_comments():
    with served() as (port, _session):
        client = Client(port.path)
        assert client.run("(<layer> 1 </layer>)") == ["ok"]
        assert client.run("G28 (home first)") == ["ok"]
        assert client.run("(travel) G1 X5 (mm) F3000") == ["ok"]
        assert position(client)[0]["X"] == 5.0
        client.close()


def test_printer_cfg_macros_run_over_the_serial_port():
    """A host that sends PRINT_END (a [gcode_macro] of boards/sim.cfg) gets the
    macro run, not "Unknown command": heaters off, the head parked, motors off."""
    cfg = config.load(os.path.join(ROOT, "boards", "sim.cfg"))
    with served(cfg=cfg) as (port, _session):
        client = Client(port.path)
        client.run("G28")
        client.run("M104 S200")
        lines = client.run("PRINT_END")
        assert lines == ["echo:Print finished", "ok"], lines
        assert " /0.0 " in client.run("M105")[0]
        assert any("Must home axis first" in line for line in client.run("G1 X10"))
        client.close()
