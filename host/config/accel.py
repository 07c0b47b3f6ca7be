# Mendel host: [adxl345] sections of printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Accelerometers, Klipper's ``[adxl345]`` / ``[adxl345 NAME]`` keys.

* ``cs_pin`` (required): the chip select; the board file must list an
  accelerometer with that ``cs`` (boards/*.json ``"accelerometers"``: the
  firmware reads the chip through the bus the board file wires it to).
* ``spi_bus`` or ``spi_software_sclk_pin``/``spi_software_mosi_pin``/
  ``spi_software_miso_pin``: when given, must be the board file's (a
  mismatch is a wiring mistake to fix in one place or the other).
* ``spi_speed`` (Hz, default 5000000, the chip's maximum).
* ``axes_map`` (default ``x, y, z``): the chip axis, with an optional ``-``,
  that reads each printer axis X, Y, Z in turn.
* ``rate`` (samples/s, default 3200): one of :data:`RATES`.

-> ``config.accelerometers``: {"adxl345" or "adxl345 NAME": AccelConfig}.
"""
import dataclasses

# ADXL345 output rates (Hz) -> BW_RATE code (data sheet, table 7).
RATES = {25: 0x8, 50: 0x9, 100: 0xA, 200: 0xB, 400: 0xC, 800: 0xD, 1600: 0xE, 3200: 0xF}
SPI_SPEED_MAX_HZ = 5000000
_AXES = "xyz"
_SOFTWARE_KEYS = ("spi_software_sclk_pin", "spi_software_mosi_pin", "spi_software_miso_pin")


@dataclasses.dataclass
class AccelConfig:
    """One accelerometer: its section name, the board's index of it (the
    firmware's oid), ``axes_map`` as ((chip axis 0..2, sign +-1) per printer
    axis X, Y, Z), rate (Hz) and its BW_RATE code."""
    name: str
    oid: int
    axes_map: tuple
    rate: int
    rate_code: int
    spi_speed: int = SPI_SPEED_MAX_HZ


def parse_axes_map(text):
    """``"x, -z, y"`` -> ((0, 1), (2, -1), (1, 1)); ValueError naming what is wrong."""
    parts = [part.strip().lower() for part in text.split(",")]
    if len(parts) != 3:
        raise ValueError("%r: give three axes separated by commas, e.g. x, y, z" % text)
    out = []
    for part in parts:
        sign = -1 if part.startswith("-") else 1
        axis = part.lstrip("-").strip()
        if axis not in _AXES:
            raise ValueError("%r: %r is not x, y or z (with an optional -)" % (text, part))
        out.append((_AXES.index(axis), sign))
    if len({axis for axis, _sign in out}) != 3:
        raise ValueError("%r: each chip axis may be used once" % text)
    return tuple(out)


def load(sections, board):
    """Sections named ``adxl345`` or ``adxl345 NAME`` (config Sections) and
    the board file's dict -> {name: AccelConfig}. Raises ConfigError."""
    wired = board.get("accelerometers", []) if board else []
    found = {}
    for section in sections:
        found[section.name] = _one(section, wired, board)
    return found


def _one(section, wired, board):
    cs_pin = section.get("cs_pin")
    chips = [entry.get("cs") for entry in wired]
    if cs_pin not in chips:
        section._fail("cs_pin", "%s: board %s has no accelerometer with chip select %s "
                      "(its accelerometers: %s)" % (cs_pin, board.get("id", "?") if board
                                                    else "?", cs_pin,
                                                    ", ".join(c for c in chips if c) or "none"))
    entry = wired[chips.index(cs_pin)]
    _check_bus(section, entry)
    try:
        axes_map = parse_axes_map(section.get("axes_map", "x, y, z"))
    except ValueError as exc:
        section._fail("axes_map", str(exc))
    rate = section.getint("rate", 3200, minval=1)
    if rate not in RATES:
        section._fail("rate", "%d is not an ADXL345 rate (%s)"
                      % (rate, ", ".join(str(r) for r in sorted(RATES))))
    speed = section.getint("spi_speed", SPI_SPEED_MAX_HZ, minval=1)
    return AccelConfig(name=section.name, oid=wired.index(entry), axes_map=axes_map,
                       rate=rate, rate_code=RATES[rate], spi_speed=speed)


def _check_bus(section, entry):
    """spi_bus / spi_software_*_pin, when written, must be the board file's."""
    spi = entry.get("spi") or {}
    if section.has("spi_bus"):
        bus = section.get("spi_bus")
        if bus != spi.get("name"):
            section._fail("spi_bus", "%s: the board file wires this accelerometer to %s"
                          % (bus, spi.get("name") or "a bus of its own"))
    for key, pin in zip(_SOFTWARE_KEYS, ("sck", "mosi", "miso")):
        if section.has(key):
            value = section.get(key)
            if value != spi.get(pin):
                section._fail(key, "%s: the board file wires this accelerometer's %s to %s"
                              % (value, pin.upper(), spi.get(pin)))
