"""Sensor conversions against published points, in double and single precision.

Published points (degC, ohm), from the makers' tables:
* ATC Semitec 104GT-2: GT-2 glass thermistor leaflet, 104GT column, 20..300 degC
  every 10 degC (29 points).
* EPCOS B57560G104F: datasheet R25 = 100 kOhm, 150 degC 1641.9, 250 degC 226.15;
  and 100 degC from its B25/100 = 4092 K (the datasheet defines B25/100 by the
  25 and 100 degC resistances, so R100 = R25 exp(B (1/373.15 - 1/298.15))).
* Generic 3950: Keenovo R-T table, 25 degC 100 kOhm, 150 degC 1770, 250 degC 230.
* PT1000: IEC 60751 table (R0 = 1000 ohm).
Each is checked directly (R -> T), through a 16-bit ADC reading behind the
4.7 kOhm pull-up (quantisation included), and with every operation rounded to
float32 as a board computes it.
"""
import math
from array import array

from thermal.sensor import make_sensor, steinhart_hart

_F = array("f", [0.0])


def f32(x):
    """Round to the nearest float32 (same on CPython and micropython)."""
    _F[0] = x
    return _F[0]


SEMITEC_KOHM = (
    (20, 126.8), (30, 79.36), (40, 50.96), (50, 33.49), (60, 22.51), (70, 15.44),
    (80, 10.80), (90, 7.686), (100, 5.556), (110, 4.082), (120, 3.043), (130, 2.298),
    (140, 1.758), (150, 1.360), (160, 1.064), (170, 0.8414), (180, 0.6714),
    (190, 0.5408), (200, 0.4393), (210, 0.3597), (220, 0.2969), (230, 0.2468),
    (240, 0.2065), (250, 0.1740), (260, 0.1475), (270, 0.1258), (280, 0.1079),
    (290, 0.09305), (300, 0.08065))
SEMITEC = [(t, r * 1000.0) for t, r in SEMITEC_KOHM]
EPCOS = [(25, 100000.0), (100, 100000.0 * math.exp(4092.0 * (1 / 373.15 - 1 / 298.15))),
         (150, 1641.9), (250, 226.15)]
GENERIC = [(25, 100000.0), (150, 1770.0), (250, 230.0)]
PT1000 = [(0, 1000.0), (20, 1077.935), (50, 1194.0), (100, 1385.055), (150, 1573.251),
          (200, 1758.56), (250, 1940.981), (300, 2120.515)]
TOLERANCE_C = 0.5


def worst_error(name, points, rnd=None, through_adc=False):
    """Largest |converted - published| (degC) over ``points``."""
    sensor = make_sensor(name, 4700.0, 65535, rnd) if rnd else make_sensor(name, 4700.0, 65535)
    worst = 0.0
    for temp, ohm in points:
        if through_adc:
            got = sensor.temperature(int(sensor.adc_at_resistance(ohm) + 0.5))
        else:
            got = sensor.temperature_at(ohm)
        worst = max(worst, abs(got - temp))
    return worst


def check_all_ways(name, points, limit=TOLERANCE_C):
    for rnd in (None, f32):
        for through_adc in (False, True):
            error = worst_error(name, points, rnd, through_adc)
            assert error < limit, (name, rnd, through_adc, error)


def test_semitec_104gt2_within_half_a_degree_of_its_table_20_to_300c():
    check_all_ways("ATC Semitec 104GT-2", SEMITEC)
    # The three-point fit itself is much better than the requirement.
    assert worst_error("ATC Semitec 104GT-2", SEMITEC) < 0.1


def test_epcos_b57560g104f_within_half_a_degree_of_its_datasheet_points():
    check_all_ways("EPCOS 100K B57560G104F", EPCOS)


def test_generic_3950_within_half_a_degree_of_its_table_points():
    check_all_ways("Generic 3950", GENERIC)


def test_pt1000_within_half_a_degree_of_iec_60751():
    check_all_ways("PT1000", [p for p in PT1000 if p[0] >= 20])
    assert worst_error("PT1000", PT1000) < 0.01


def test_single_precision_coefficients_stay_accurate():
    exact = steinhart_hart(((20.0, 126800.0), (150.0, 1360.0), (300.0, 80.65)))
    single = steinhart_hart(((20.0, 126800.0), (150.0, 1360.0), (300.0, 80.65)), f32)
    assert exact[2] > 0.0 and single[2] > 0.0
    # float32 cancellation in the solve moves a reading by well under 0.1 degC.
    assert worst_error("ATC Semitec 104GT-2", SEMITEC, f32) < 0.15


def test_resistance_inverts_temperature_for_the_simulator():
    for name in ("ATC Semitec 104GT-2", "EPCOS 100K B57560G104F", "Generic 3950",
                 "NTC 100K beta 3950", "PT1000"):
        sensor = make_sensor(name, 4700.0, 65535)
        for temp in (15.0, 60.0, 215.0, 290.0):
            assert abs(sensor.temperature_at(sensor.resistance(temp)) - temp) < 1e-6


def test_open_and_shorted_sensor_read_out_of_range():
    sensor = make_sensor("Generic 3950", 4700.0, 65535)
    assert sensor.temperature(65535) < -200.0
    assert sensor.temperature(0) > 1000.0
    assert sensor.adc(5.0) < sensor.adc_open and sensor.adc(300.0) > sensor.adc_short


def test_unknown_sensor_raises_key_error():
    try:
        make_sensor("No Such Sensor", 4700.0, 65535)
    except KeyError:
        return
    assert False, "KeyError expected"
