# Mendel firmware: temperature sensors read through a divider.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Thermistors and PT1000 elements behind a pull-up divider on the board's ADC.

Units: temperatures ``_c`` in degC, resistances ``_ohm``, ADC readings in counts
(0..``adc_max``, 65535 for MicroPython's ``read_u16``).

The sensor sits between the ADC pin and ground with a pull-up to the ADC
reference, so ``adc / adc_max = R / (R + R_pullup)`` and
``R = R_pullup * adc / (adc_max - adc)``.

NTC thermistors use the Steinhart–Hart equation (Steinhart & Hart, Deep-Sea
Research 15, 1968): ``1/T = A + B ln R + C (ln R)^3`` with T in kelvin. The
coefficients come from three published (temperature, resistance) points of the
part, solved here at configuration time. The beta model
``1/T = 1/T0 + ln(R/R0)/beta`` is the same equation with C = 0.

PT1000 elements use the Callendar–Van Dusen equation of IEC 60751 for
T >= 0 degC: ``R = R0 (1 + a T + b T^2)``, a = 3.9083e-3, b = -5.775e-7.

Every conversion takes an optional rounding function ``rnd`` applied to each
intermediate result: boards compute in single precision, and tests pass a
float32 round trip to reproduce that on a double-precision interpreter.
"""
import math

_KELVIN = 273.15
# A divider reading above this fraction of full scale means R > ~500 x pull-up:
# the sensor or its wire is open (a 100k NTC would have to be below -35 degC).
OPEN_FRACTION = 0.998
# Below this fraction R < ~pull-up/1000 (4.7 ohm with 4.7k): a short circuit
# (100k NTCs still read ~80 ohm at 300 degC).
SHORT_FRACTION = 0.001

# Three (degC, ohm) points per part for Steinhart–Hart, from the makers' R/T
# tables (the same points Klipper's klippy/extras/temperature_sensors.cfg uses,
# so a printer.cfg means the same part on both firmwares).
THERMISTORS = {
    # TDK/EPCOS "Glass-encapsulated sensors B57560G, G560/G1560" datasheet,
    # R25 = 100 kOhm: 150 degC 1641.9 ohm, 250 degC 226.15 ohm.
    "EPCOS 100K B57560G104F": ((25.0, 100000.0), (150.0, 1641.9), (250.0, 226.15)),
    # ATC Semitec "GT-2 glass thermistors" leaflet, 104GT column:
    # 20 degC 126.8 kOhm, 150 degC 1.360 kOhm, 300 degC 80.65 ohm.
    "ATC Semitec 104GT-2": ((20.0, 126800.0), (150.0, 1360.0), (300.0, 80.65)),
    # The generic 100 kOhm "3950" glass bead sold with most RepRap hot ends and
    # beds: Keenovo "NTC Thermistor R-T Table" 100K/3950 column.
    "Generic 3950": ((25.0, 100000.0), (150.0, 1770.0), (250.0, 230.0)),
}
# (T0 degC, R0 ohm, beta K) for parts specified by their beta alone.
BETA_THERMISTORS = {
    "NTC 100K beta 3950": (25.0, 100000.0, 3950.0),
}
# IEC 60751 platinum element, R0 = 1000 ohm at 0 degC.
_PT_R0 = 1000.0
_PT_A = 3.9083e-3
_PT_B = -5.775e-7


def _same(x):
    return x


def steinhart_hart(points, rnd=_same):
    """Coefficients (A, B, C) through three ((degC, ohm)) points.

    Solved by divided differences in ln R, which keeps the cancellation small
    enough for single precision (the tests check it in float32).
    """
    (t1, r1), (t2, r2), (t3, r3) = points
    l1, l2, l3 = rnd(math.log(r1)), rnd(math.log(r2)), rnd(math.log(r3))
    y1 = rnd(1.0 / (t1 + _KELVIN))
    y2 = rnd(1.0 / (t2 + _KELVIN))
    y3 = rnd(1.0 / (t3 + _KELVIN))
    g2 = rnd(rnd(y2 - y1) / rnd(l2 - l1))
    g3 = rnd(rnd(y3 - y1) / rnd(l3 - l1))
    c = rnd(rnd(rnd(g3 - g2) / rnd(l3 - l2)) / rnd(l1 + l2 + l3))
    b = rnd(g2 - rnd(c * rnd(rnd(l1 * l1) + rnd(l1 * l2) + rnd(l2 * l2))))
    a = rnd(y1 - rnd(rnd(b + rnd(rnd(l1 * l1) * c)) * l1))
    return a, b, c


def beta_coefficients(t0_c, r0_ohm, beta, rnd=_same):
    """The beta model written as Steinhart–Hart coefficients (C = 0)."""
    b = rnd(1.0 / beta)
    a = rnd(rnd(1.0 / (t0_c + _KELVIN)) - rnd(math.log(r0_ohm) * b))
    return a, b, 0.0


class _Divider:
    """Pull-up divider arithmetic shared by every resistive sensor."""

    def __init__(self, pullup_ohm, adc_max, rnd):
        self.pullup = pullup_ohm
        self.adc_max = adc_max
        self.adc_open = adc_max * OPEN_FRACTION
        self.adc_short = adc_max * SHORT_FRACTION
        self._rnd = rnd

    def resistance_at_adc(self, adc):
        rnd = self._rnd
        return rnd(rnd(self.pullup * adc) / (self.adc_max - adc))

    def adc_at_resistance(self, r_ohm):
        """Exact (unrounded) divider reading for ``r_ohm`` (float counts)."""
        return self.adc_max * r_ohm / (r_ohm + self.pullup)

    def temperature(self, adc):
        """Degrees C from a raw reading; an open reads -273.15, a short +inf.

        Allocation: float results only; no IRQ use.
        """
        if adc >= self.adc_max:
            return -_KELVIN
        if adc <= 0:
            return math.inf
        return self.temperature_at(self.resistance_at_adc(adc))

    def adc(self, temp_c):
        """Integer ADC reading the divider gives at ``temp_c`` (for the sim)."""
        return int(self.adc_at_resistance(self.resistance(temp_c)) + 0.5)


class Thermistor(_Divider):
    """NTC thermistor with Steinhart–Hart coefficients ``coef`` = (A, B, C)."""

    def __init__(self, coef, pullup_ohm, adc_max, rnd=_same):
        _Divider.__init__(self, pullup_ohm, adc_max, rnd)
        self.a, self.b, self.c = coef

    def temperature_at(self, r_ohm):
        """Degrees C at resistance ``r_ohm``."""
        rnd = self._rnd
        ln_r = rnd(math.log(r_ohm))
        inv_t = rnd(self.a + rnd(rnd(self.b + rnd(self.c * rnd(ln_r * ln_r))) * ln_r))
        return rnd(rnd(1.0 / inv_t) - _KELVIN)

    def resistance(self, temp_c):
        """Resistance (ohm) at ``temp_c``: the cubic solved by Cardano's formula."""
        y = 1.0 / (temp_c + _KELVIN)
        if self.c == 0.0:
            return math.exp((y - self.a) / self.b)
        x = (self.a - y) / self.c
        p = self.b / (3.0 * self.c)
        root = math.sqrt(p * p * p + x * x / 4.0)
        return math.exp(_cbrt(root - x / 2.0) - _cbrt(root + x / 2.0))


def _cbrt(v):
    return v ** (1.0 / 3.0) if v >= 0.0 else -((-v) ** (1.0 / 3.0))


class Pt1000(_Divider):
    """PT1000 platinum element (IEC 60751, T >= 0 degC) behind a pull-up."""

    def temperature_at(self, r_ohm):
        """Degrees C at ``r_ohm``; the quadratic in the form free of cancellation."""
        rnd = self._rnd
        x = rnd(rnd(r_ohm / _PT_R0) - 1.0)
        root = rnd(math.sqrt(rnd(_PT_A * _PT_A + rnd(4.0 * _PT_B * x))))
        return rnd(rnd(2.0 * x) / rnd(_PT_A + root))

    def resistance(self, temp_c):
        """Resistance (ohm) at ``temp_c``."""
        return _PT_R0 * (1.0 + _PT_A * temp_c + _PT_B * temp_c * temp_c)


def sensor_names():
    """Every sensor type this firmware knows (for the identify text; the host
    checks printer.cfg against it)."""
    return sorted(list(THERMISTORS) + list(BETA_THERMISTORS) + ["PT1000"])


def make_sensor(name, pullup_ohm, adc_max, rnd=_same):
    """Build sensor ``name``; raises KeyError for a name it does not know."""
    if name == "PT1000":
        return Pt1000(pullup_ohm, adc_max, rnd)
    if name in BETA_THERMISTORS:
        t0, r0, beta = BETA_THERMISTORS[name]
        return Thermistor(beta_coefficients(t0, r0, beta, rnd), pullup_ohm, adc_max, rnd)
    return Thermistor(steinhart_hart(THERMISTORS[name], rnd), pullup_ohm, adc_max, rnd)
