# Mendel host: the line layer of Marlin's host protocol.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Line numbers, checksums, resend requests and report formats of Marlin's
serial protocol, with no I/O: feed it received lines, send what it answers.

The rules, Marlin's except where said (Marlin ``gcode/queue.cpp``; RepRap
wiki, "G-code", section "Checking"; OctoPrint ``octoprint/util/comm.py`` for
what a host expects):

* A line ``N<n> <command>*<checksum>`` is checked: ``n`` must be the last
  accepted line number + 1 (any ``n`` for M110, which sets it), and the
  checksum is the XOR of every byte before the last ``*`` as sent, a ``;``
  comment included, in decimal; only then is the comment stripped (Marlin
  drops the comment first, so a host that checksums what it sends is refused).
  A comment after the checksum is ignored. A numbered line without a checksum
  is refused too.
* A line without ``N`` has no checksum: it is taken as it is, a ``*`` in it
  included (``M118 {7*7}``). One that does not read as G-code (noise, the tail
  of a numbered line split by a stray line end: ``71``, ``*71``) is answered
  as Marlin answers an unknown command (see :mod:`.session`), never ``Error:``.
* A refused line is answered ``Error:<reason>, Last Line: <last>``, then
  ``Resend: <last + 1>`` and ``ok``: one ``ok`` for every line received, so a
  host that counts them stays in step, and a host that resends on ``Resend:``
  alone (Printrun) works too.
* A line longer than ``MAX_LINE_BYTES`` is not kept (:class:`LineSplitter`
  keeps its start, length and checksum) and is refused whole, once: a numbered
  one that passes its number and checksum is answered ``Error:Line too long``,
  ``Resend: <n + 1>`` and ``ok``, so the host goes on with the next line and
  never sends it again; resending it would only be refused again.
* ``M110 N<n>`` (with or without a line number of its own) makes the next
  expected line ``n + 1``; ``N<n> M110`` without the argument uses ``n``.
* Line numbers are integers of any size (a float parser would lose them past
  2^24).
* M112 and M108 are found as the line arrives, before any check (Marlin's
  EMERGENCY_PARSER), so they act while a long command runs. (Marlin's third,
  M410 quick stop, is not supported: M112 stops the board.)
"""
import dataclasses
import re

# Marlin's wording of the three line errors (OctoPrint matches "line number"
# and "checksum" and then waits for the resend request).
ERR_LINE_NUMBER = "Line Number is not Last Line Number+1, Last Line: %d"
ERR_CHECKSUM = "checksum mismatch, Last Line: %d"
ERR_NO_CHECKSUM = "No Checksum with line number, Last Line: %d"

MAX_LINE_BYTES = 4096    # a longer line is refused whole (see LineSplitter)
ERR_TOO_LONG = "Line too long (%d bytes, at most %d): %s..., Last Line: %d"
_TOO_LONG_SHOWN = 24     # characters of an overlong line quoted in its error
_TAIL_BYTES = 32         # end of an overlong line kept: its checksum is there

_NUMBERED = re.compile(r"N(-?\d+)\s*(.*)\Z", re.S)
_M110_N = re.compile(r"\bM110\b.*?N\s*(-?\d+)")
_M110 = re.compile(r"(?:^|\s)M110(?:\s|$|\*)")
_EMERGENCY = re.compile(r"\s*(?:N-?\d+\s*)?(M112|M108)(?![0-9.])")


def checksum(text):
    """Marlin/RepRap line checksum: XOR of the bytes of ``text`` (str, ASCII)."""
    return _xor(text.encode("latin-1", errors="replace"))


def _xor(data):
    value = 0
    for byte in data:
        value ^= byte
    return value


def numbered(number, command):
    """``N<number> <command>*<checksum>``, as a host sends it (for tests, clients)."""
    body = "N%d %s" % (number, command)
    return "%s*%d" % (body, checksum(body))


def emergency_code(line):
    """M112 or M108 if ``line`` (str) is one of them, else None."""
    found = _EMERGENCY.match(line)
    return found.group(1) if found else None


def _uncommented(text):
    return text.split(";", 1)[0].strip()


def _given_checksum(after_star):
    """The checksum written after a line's last ``*`` (int), or None if that
    is not a number (a ``;`` comment after it is allowed)."""
    given = _uncommented(after_star)
    return int(given) if given.isdigit() else None


@dataclasses.dataclass
class Overlong:
    """A received line longer than the buffer, not kept: its first ``head``
    (str, the buffer's worth), its ``length`` (bytes), the XOR of all its bytes
    (``xor``) and its last bytes (``tail``, str), where a checksum would be."""
    head: str
    length: int
    xor: int
    tail: str


class LineSplitter:
    """Cuts received bytes into lines (CR or LF ends one; blank ones dropped).

    A line of more than ``limit`` bytes comes out as an :class:`Overlong`
    summary when its end arrives, however many pieces it came in; memory stays
    within ``limit`` bytes.
    """

    def __init__(self, limit=MAX_LINE_BYTES):
        self.limit = limit
        self.reset()

    def reset(self):
        """Forget the unfinished line (a new client)."""
        self._pending = b""
        self._over = None

    def feed(self, data):
        """Lines completed by ``data`` (bytes): str each, or Overlong."""
        *ends, rest = data.replace(b"\r", b"\n").split(b"\n")
        lines = []
        for piece in ends:
            line = self._finish(piece)
            if line:
                lines.append(line)
        self._add(rest)
        return lines

    def _add(self, piece):
        if self._over is not None:
            self._grow(piece)
            return
        self._pending += piece
        if len(self._pending) > self.limit:
            data, self._pending = self._pending, b""
            self._over = Overlong(data[:self.limit].decode("ascii", errors="replace"), 0, 0, "")
            self._grow(data)

    def _grow(self, piece):
        over = self._over
        over.length += len(piece)
        over.xor ^= _xor(piece)
        over.tail = (over.tail + piece.decode("ascii", errors="replace"))[-_TAIL_BYTES:]

    def _finish(self, piece):
        self._add(piece)
        if self._over is not None:
            line, self._over = self._over, None
            return line
        line, self._pending = self._pending.decode("ascii", errors="replace"), b""
        return line


@dataclasses.dataclass
class Checked:
    """What became of one received line.

    ``command``: the G-code to run, without line number, checksum or comment
    ('' for nothing to run); None when the line was refused, and ``replies``
    then holds the lines to send back (error, resend request, ok).
    ``number``: the line's own number, None for a line sent without one.
    """
    command: object
    replies: list
    number: object = None


class LineChecker:
    """Checks received lines against line numbers and checksums (one client)."""

    def __init__(self):
        self.last_line = 0          # Marlin starts at 0: the first line is N1 or M110

    def reset(self):
        """A new client: line numbers start again."""
        self.last_line = 0

    def check(self, line):
        """Check one received line (str without its line end, or an
        :class:`Overlong`); returns Checked."""
        if isinstance(line, Overlong):
            return self._check_overlong(line)
        text = line.strip()
        found = _NUMBERED.match(text)
        if found is None:
            command = _uncommented(text)
            self._m110(command)
            return Checked(command, [])
        star = text.rfind("*")
        command = _uncommented(text[found.start(2):star if star >= 0 else len(text)])
        number = self._number(found, command)
        if number != self.last_line + 1 and not _M110.search(command):
            return self._refuse(ERR_LINE_NUMBER)
        if star < 0:
            return self._refuse(ERR_NO_CHECKSUM)
        if _given_checksum(text[star + 1:]) != checksum(text[:star]):
            return self._refuse(ERR_CHECKSUM)
        self.last_line = number
        return Checked(command, [], number)

    @staticmethod
    def _number(found, command):
        """The line's number: its ``N``, or M110's own ``N`` (Marlin queue.cpp)."""
        own = _M110_N.search(command) if _M110.search(command) else None
        return int((own or found).group(1))

    def _check_overlong(self, over):
        """Refuse a line longer than the buffer once; if it is the expected
        numbered line, intact, take its number, so the host goes on after it."""
        shown = over.head.strip()[:_TOO_LONG_SHOWN]
        found = _NUMBERED.match(over.head.lstrip())
        if found is not None:
            number = int(found.group(1))
            if number != self.last_line + 1:
                return self._refuse(ERR_LINE_NUMBER)
            star = over.tail.rfind("*")
            if star < 0:
                return self._refuse(ERR_NO_CHECKSUM)
            computed = over.xor ^ checksum(over.tail[star:])
            if _given_checksum(over.tail[star + 1:]) != computed:
                return self._refuse(ERR_CHECKSUM)
            self.last_line = number
        error = "Error:" + ERR_TOO_LONG % (over.length, MAX_LINE_BYTES, shown, self.last_line)
        if found is None:
            return Checked(None, [error, "ok"])
        return Checked(None, [error, "Resend: %d" % (self.last_line + 1), "ok"])

    def _m110(self, text):
        own = _M110_N.search(text)
        if own is not None:
            self.last_line = int(own.group(1))

    def _refuse(self, reason):
        return Checked(None, ["Error:" + reason % self.last_line,
                              "Resend: %d" % (self.last_line + 1), "ok"])


# -- reports ---------------------------------------------------------------
def temperature_report(readings, ok=False):
    """Marlin's temperature report: ``T:210.0 /210.0 B:60.0 /60.0 @:127 B@:64``.

    ``readings`` maps ``extruder`` / ``heater_bed`` to ``(temp degC, target
    degC, duty 0..1)``; the power (``@``, ``B@``) is in Marlin's 0..127 scale.
    With ``ok`` it is the answer to M105 (``ok T:...``); without, the line
    M155 auto-reports and M109/M190 print while they wait (`` T:...``).
    """
    temps, powers = [], []
    for name, temp_key, power_key in (("extruder", "T", "@"), ("heater_bed", "B", "B@")):
        if name in readings:
            temp, target, duty = readings[name]
            temps.append("%s:%.1f /%.1f" % (temp_key, temp, target))
            powers.append("%s:%d" % (power_key, round(duty * 127)))
    return ("ok " if ok else " ") + " ".join(temps + powers)


# Capabilities reported by M115 (Marlin's names, as OctoPrint reads them).
CAPABILITIES = (
    ("AUTOREPORT_TEMP", 1),       # M155
    ("EMERGENCY_PARSER", 1),      # M112, M108, M410 act on arrival
    ("THERMAL_PROTECTION", 1),    # runs on the board
    ("ARCS", 1),                  # G2/G3
    ("PRINT_JOB", 0),             # no print job timer: M75-M77 are unknown commands
    ("SERIAL_XON_XOFF", 0), ("BINARY_FILE_TRANSFER", 0), ("EEPROM", 0),
    ("VOLUMETRIC", 0), ("AUTOREPORT_POS", 0), ("AUTOREPORT_SD_STATUS", 0),
    ("PROGRESS", 0), ("AUTOLEVEL", 0), ("Z_PROBE", 0), ("LEVELING_DATA", 0),
    ("BUILD_PERCENT", 0), ("SOFTWARE_POWER", 0), ("TOGGLE_LIGHTS", 0),
    ("CASE_LIGHT_BRIGHTNESS", 0), ("HOST_ACTION_COMMANDS", 1), ("PROMPT_SUPPORT", 0),
    ("SDCARD", 0), ("SD_WRITE", 0), ("LONG_FILENAME", 0), ("CHAMBER_TEMPERATURE", 0),
)


def firmware_report(version, machine_type, extruder_count, sdcard=False):
    """M115's answer: the FIRMWARE_NAME line, then one ``Cap:`` line per
    capability; ``sdcard``: printer.cfg has a [virtual_sdcard] (M20-M27)."""
    lines = ["FIRMWARE_NAME:Mendel %s PROTOCOL_VERSION:1.0 MACHINE_TYPE:%s "
             "EXTRUDER_COUNT:%d"
             % (version, machine_type, extruder_count)]
    lines += ["Cap:%s:%d" % (name, 1 if name == "SDCARD" and sdcard else value)
              for name, value in CAPABILITIES]
    return lines
