# Mendel host: the line layer of Marlin's host protocol.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Line numbers, checksums, resend requests and report formats of Marlin's
serial protocol, with no I/O: feed it received lines, send what it answers.

The rules, as Marlin applies them (Marlin ``gcode/queue.cpp``; RepRap wiki,
"G-code", section "Checking"; OctoPrint ``octoprint/util/comm.py`` for what a
host expects):

* A line ``N<n> <command>*<checksum>`` is checked: ``n`` must be the last
  accepted line number + 1 (any ``n`` for M110, which sets it), and the
  checksum is the XOR of every byte before the last ``*``, in decimal. A
  numbered line without a checksum is refused too. A line without ``N`` is
  taken as it is.
* A refused line is answered ``Error:<reason>, Last Line: <last>``, then
  ``Resend: <last + 1>`` and ``ok``: one ``ok`` for every line received, so a
  host that counts them stays in step, and a host that resends on ``Resend:``
  alone (Printrun) works too.
* ``M110 N<n>`` (with or without a line number of its own) makes the next
  expected line ``n + 1``; ``N<n> M110`` without the argument uses ``n``.
* ``;`` starts a comment; what follows is not part of the checksum.
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

_NUMBERED = re.compile(r"N(-?\d+)\s*(.*)\Z", re.S)
_M110_N = re.compile(r"\bM110\b.*?N\s*(-?\d+)")
_M110 = re.compile(r"(?:^|\s)M110(?:\s|$|\*)")
_EMERGENCY = re.compile(r"\s*(?:N-?\d+\s*)?(M112|M108)(?![0-9.])")


def checksum(text):
    """Marlin/RepRap line checksum: XOR of the bytes of ``text`` (str, ASCII)."""
    value = 0
    for byte in text.encode("latin-1", errors="replace"):
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


@dataclasses.dataclass
class Checked:
    """What became of one received line.

    ``command``: the G-code to run, without line number, checksum or comment
    ('' for nothing to run); None when the line was refused, and ``replies``
    then holds the lines to send back (error, resend request, ok).
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
        """Check one received line (str, without its line end); returns Checked."""
        text = line.split(";", 1)[0].strip()
        if not text:
            return Checked("", [])
        found = _NUMBERED.match(text)
        if found is None:
            self._m110(text)
            return Checked(text, [])
        is_m110 = _M110.search(text) is not None
        number = int(found.group(1))
        own = _M110_N.search(found.group(2)) if is_m110 else None
        if own is not None:
            number = int(own.group(1))
        if number != self.last_line + 1 and not is_m110:
            return self._refuse(ERR_LINE_NUMBER)
        star = text.rfind("*")
        if star < 0:
            return self._refuse(ERR_NO_CHECKSUM)
        given = text[star + 1:].strip()
        if not given.isdigit() or int(given) != checksum(text[:star]):
            return self._refuse(ERR_CHECKSUM)
        self.last_line = number
        command = text[found.start(2):star].strip()
        return Checked(command, [], number)

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
    ("PRINT_JOB", 1),             # M75-M77 accepted
    ("SERIAL_XON_XOFF", 0), ("BINARY_FILE_TRANSFER", 0), ("EEPROM", 0),
    ("VOLUMETRIC", 0), ("AUTOREPORT_POS", 0), ("AUTOREPORT_SD_STATUS", 0),
    ("PROGRESS", 0), ("AUTOLEVEL", 0), ("Z_PROBE", 0), ("LEVELING_DATA", 0),
    ("BUILD_PERCENT", 0), ("SOFTWARE_POWER", 0), ("TOGGLE_LIGHTS", 0),
    ("CASE_LIGHT_BRIGHTNESS", 0), ("HOST_ACTION_COMMANDS", 0), ("PROMPT_SUPPORT", 0),
    ("SDCARD", 0), ("SD_WRITE", 0), ("LONG_FILENAME", 0), ("CHAMBER_TEMPERATURE", 0),
)


def firmware_report(version, machine_type, extruder_count):
    """M115's answer: the FIRMWARE_NAME line, then one ``Cap:`` line per capability."""
    lines = ["FIRMWARE_NAME:Mendel %s PROTOCOL_VERSION:1.0 MACHINE_TYPE:%s "
             "EXTRUDER_COUNT:%d"
             % (version, machine_type, extruder_count)]
    lines += ["Cap:%s:%d" % item for item in CAPABILITIES]
    return lines
