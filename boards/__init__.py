# Mendel: board definitions (data) and how to read and check them.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Board definitions: the JSON files beside this module, read and checked here.

Import as ``mendel.boards`` (``load_board``, ``mcu_pins``, ``validate_board``).

A board file ``boards/<id>.json`` names its MCU family (``"sim"``, ``"rp2040"``,
``"esp32"``), the clock the firmware schedules in (``clock_freq``, Hz), and the
pins of every motor (``step_pin``, ``dir_pin``, ``enable_pin``, optional
``enable_inverted`` and TMC2209 ``uart``: ``{"rx_pin", "tx_pin", "address"}``),
endstop (``pin``; ``pull``: ``"up"``, ``"down"`` or null for an outside
resistor; ``active``: ``"low"`` or ``"high"``, the level that means
triggered; a pull towards the active level is refused, since an input with
nothing attached would then read triggered), heater
(``sensor_pin``, ``heater_pin``, ``pullup_ohm``, ``kind``), fan and servo
(``pin``: a pulse output such as a BLTouch's control pin; optional), plus
optional ``other_pins`` (name -> pin, e.g. a probe or an SD card),
``reserved_pins`` (pin -> why this board must not use it) and ``limits``.
``source`` lists where the pin numbers come from.

Pin names follow Klipper's convention (``"gpio11"``). Which pins an MCU has,
which of them read analog voltages and which are reserved lives in
``boards/mcu/<family>.json`` (:func:`mcu_pins`); :func:`validate_board` checks a
board against it.
"""
import json
import os
import re

from mendel.errors import MendelError

_REQUIRED = ("id", "name", "mcu", "source", "clock_freq", "step_queue_size", "adc_max",
             "motors", "heaters", "fans")


class BoardError(MendelError):
    """A board definition is missing or invalid."""


def boards_dir():
    """Folder of the bundled board definitions (``boards/``)."""
    return os.path.dirname(os.path.abspath(__file__))


def board_ids():
    """Ids of every bundled board, sorted: ``["btt-skr-pico-v1.0", ...]``."""
    return sorted(name[:-5] for name in os.listdir(boards_dir()) if name.endswith(".json"))


def board_path(board_id):
    """Path of ``boards/<board_id>.json``; raises BoardError naming the known ids."""
    path = os.path.join(boards_dir(), board_id + ".json")
    if "/" in board_id or not os.path.isfile(path):
        raise BoardError("no board %r; known boards: %s" % (board_id, ", ".join(board_ids())))
    return path


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError as exc:
        raise BoardError("%s %s is not valid JSON: %s" % (what, path, exc)) from None


def load_board(board_id):
    """The board definition ``boards/<board_id>.json`` as a dict; raises BoardError."""
    return _read_json(board_path(board_id), "board file")


def mcu_pins(family):
    """The pin catalogue ``boards/mcu/<family>.json`` of an MCU family as a dict.

    Keys: ``pins`` (every GPIO name) or ``pin_pattern`` (a regex, for the
    simulated board), ``adc`` (pin -> ADC channel, the pins a thermistor can
    use) or ``adc_pattern``, ``input_only``, ``no_pull`` (no internal pull
    resistor), ``reserved`` (pin -> why no board may use it), ``strapping``
    (pin -> what it selects at reset). Raises BoardError for an unknown family.
    """
    path = os.path.join(boards_dir(), "mcu", family + ".json")
    if "/" in family or not os.path.isfile(path):
        raise BoardError("no pin catalogue for MCU family %r" % family)
    return _read_json(path, "pin catalogue")


def _pin_uses(board):
    """Every (pin, role, owner) the board assigns; role groups pins that may be shared."""
    uses = []
    for motor in board["motors"]:
        owner = "motor " + motor["name"]
        uses += [(motor["step_pin"], "step", owner), (motor["dir_pin"], "dir", owner),
                 (motor["enable_pin"], "enable", owner)]
        uart = motor.get("uart")
        if uart:
            for key in ("pin", "rx_pin", "tx_pin"):
                if key in uart:
                    uses.append((uart[key], "uart_" + key, owner))
    for endstop in board.get("endstops", []):
        uses.append((endstop["pin"], "endstop", "endstop " + endstop["name"]))
    for heater in board["heaters"]:
        owner = "heater " + heater["name"]
        uses += [(heater["sensor_pin"], "sensor", owner), (heater["heater_pin"], "heater", owner)]
    for fan in board["fans"]:
        uses.append((fan["pin"], "fan", "fan " + fan["name"]))
    for servo in board.get("servos", []):
        uses.append((servo["pin"], "servo", "servo " + servo["name"]))
    for accel in board.get("accelerometers", []):
        owner = "accelerometer " + accel["name"]
        spi = accel.get("spi") or {}
        uses += [(spi[key], "spi_" + key, owner) for key in ("sck", "mosi", "miso") if key in spi]
        uses.append((accel["cs"], "spi_cs", owner))
    for name, pin in board.get("other_pins", {}).items():
        uses.append((pin, "other", name))
    return uses


# Roles whose pin may be shared by several owners: one enable line for all
# drivers, one UART bus for all TMC2209s (told apart by their address), one
# SPI bus for its chips (told apart by their chip selects).
_SHARED_ROLES = ("enable", "uart_pin", "uart_rx_pin", "uart_tx_pin", "spi_sck", "spi_mosi",
                 "spi_miso")
_OUTPUT_ROLES = ("step", "dir", "enable", "heater", "fan", "servo", "uart_tx_pin", "uart_pin",
                 "spi_sck", "spi_mosi", "spi_cs")


def _exists(pin, catalogue):
    if "pins" in catalogue:
        return pin in catalogue["pins"]
    return re.match(catalogue["pin_pattern"], pin) is not None


def _adc_capable(pin, catalogue):
    if "adc" in catalogue:
        return pin in catalogue["adc"]
    return re.match(catalogue["adc_pattern"], pin) is not None


def _check_keys(board, expected_id):
    problems = ["missing key %r" % key for key in _REQUIRED if key not in board]
    if problems:
        return problems
    if expected_id is not None and board["id"] != expected_id:
        problems.append("id %r differs from the file name %r" % (board["id"], expected_id))
    if not isinstance(board["source"], list) or not board["source"]:
        problems.append("source must be a non-empty list of citations")
    for key in ("clock_freq", "step_queue_size", "adc_max"):
        if not isinstance(board[key], int) or board[key] <= 0:
            problems.append("%s must be a positive integer" % key)
    for group in ("motors", "endstops", "heaters", "fans", "servos"):
        names = [item["name"] for item in board.get(group, [])]
        problems += ["%s: %r named twice" % (group, name)
                     for name in sorted(set(names)) if names.count(name) > 1]
    return problems


def _check_pins(board, catalogue):
    problems = []
    board_reserved = board.get("reserved_pins", {})
    seen = {}
    for pin, role, owner in _pin_uses(board):
        where = "%s %s %s" % (owner, role.replace("_", " "), pin)
        if not _exists(pin, catalogue):
            problems.append("%s: no such pin on %s" % (where, board["mcu"]))
            continue
        reason = catalogue["reserved"].get(pin) or board_reserved.get(pin)
        if reason:
            problems.append("%s: reserved (%s)" % (where, reason))
        if role in _OUTPUT_ROLES and pin in catalogue["input_only"]:
            problems.append("%s: input-only pin used as an output" % where)
        if role == "sensor" and not _adc_capable(pin, catalogue):
            problems.append("%s: not an ADC pin (thermistors need one)" % where)
        first = seen.setdefault(pin, (role, owner))
        if first[1] != owner and not (first[0] == role and role in _SHARED_ROLES):
            problems.append("%s: already used by %s" % (where, first[1]))
    for endstop in board.get("endstops", []):
        problems.extend(_check_endstop(endstop, catalogue))
    return problems


_FLOATS_TO = {"up": "high", "down": "low"}


def _check_endstop(endstop, catalogue):
    name, pull, active = endstop["name"], endstop.get("pull"), endstop.get("active")
    if pull not in ("up", "down", None):
        return ["endstop %s: pull must be up, down or null" % name]
    if active not in ("low", "high"):
        return ["endstop %s: active must be low or high (the level that means triggered)"
                % name]
    if pull and endstop["pin"] in catalogue["no_pull"]:
        return ["endstop %s: %s has no internal pull resistor" % (name, endstop["pin"])]
    if pull and _FLOATS_TO[pull] == active:
        return ["endstop %s: pull %s with active %s reads triggered with nothing attached; "
                "pull towards the idle level" % (name, pull, active)]
    return []


def _check_uart(board):
    buses = {}
    for motor in board["motors"]:
        uart = motor.get("uart")
        if uart:
            bus = (uart.get("pin"), uart.get("rx_pin"), uart.get("tx_pin"))
            buses.setdefault(bus, []).append((uart.get("address"), motor["name"]))
    problems = []
    for drivers in buses.values():
        addresses = [address for address, _name in drivers]
        for address, name in drivers:
            if address not in (0, 1, 2, 3):
                problems.append("motor %s: TMC2209 address must be 0..3" % name)
            elif addresses.count(address) > 1:
                problems.append("motor %s: UART address %d shared on one bus" % (name, address))
    return problems


def validate_board(board, expected_id=None):
    """Problems of a board definition, as sentences (empty when it is valid).

    Checks the required keys, that every pin exists on the board's MCU and is
    not reserved, that no pin serves two functions (a shared enable line and a
    shared TMC2209 UART bus are allowed), that thermistors sit on ADC pins,
    outputs are not on input-only pins, internal pulls exist where asked, and
    that TMC2209 addresses on one bus differ. ``expected_id``: the file name.
    """
    problems = _check_keys(board, expected_id)
    if problems:
        return problems
    try:
        catalogue = mcu_pins(board["mcu"])
    except BoardError as exc:
        return [str(exc)]
    return problems + _check_pins(board, catalogue) + _check_uart(board)


def checked_board(board_id):
    """:func:`load_board`, then raise BoardError listing every problem found."""
    board = load_board(board_id)
    problems = validate_board(board, board_id)
    if problems:
        raise BoardError("board %s is invalid:\n  %s" % (board_id, "\n  ".join(problems)))
    return board
