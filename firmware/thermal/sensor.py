# Mendel firmware: temperature sensors.
# SPDX-License-Identifier: GPL-3.0-or-later
"""NTC thermistors read through a pull-up divider.

The thermistor sits between the ADC pin and ground with a pull-up resistor to
the ADC reference, so ``adc / adc_max = R / (R + R_pullup)``. Resistance to
temperature uses the beta model (thermistor datasheets; RepRap wiki
"Thermistor"): ``1/T = 1/T0 + ln(R/R0)/beta`` with T in kelvin.
"""
import math

_KELVIN = 273.15

# name -> (R0 ohm, T0 degC, beta K); the "Generic 3950" is the common
# 100 kOhm at 25 degC glass bead sold with most RepRap hot ends.
BETA_SENSORS = {
    "Generic 3950": (100000.0, 25.0, 3950.0),
}


class BetaThermistor:
    """Beta-model NTC thermistor behind a pull-up divider.

    ``adc_max`` is the full-scale ADC reading (65535 for ``read_u16``);
    ``pullup`` in ohm. Raises KeyError for an unknown sensor name.
    """

    def __init__(self, name, pullup, adc_max):
        r0, t0, beta = BETA_SENSORS[name]
        self.r0 = r0
        self.inv_t0 = 1.0 / (t0 + _KELVIN)
        self.beta = beta
        self.pullup = pullup
        self.adc_max = adc_max

    def temperature(self, adc):
        """Degrees C from a raw ADC reading.

        At the rails the divider says what the wire does: an open sensor has
        infinite resistance and reads as absolute zero, a short reads as
        infinitely hot, so MINTEMP and MAXTEMP catch both.
        """
        if adc >= self.adc_max:
            return -_KELVIN
        if adc <= 0:
            return math.inf
        r = self.pullup * adc / (self.adc_max - adc)
        return 1.0 / (self.inv_t0 + math.log(r / self.r0) / self.beta) - _KELVIN

    def resistance(self, temp_c):
        """Thermistor resistance in ohm at ``temp_c`` (inverse of the model)."""
        return self.r0 * math.exp(self.beta * (1.0 / (temp_c + _KELVIN) - self.inv_t0))

    def adc(self, temp_c):
        """Raw ADC reading the divider gives at ``temp_c`` (used by the sim)."""
        r = self.resistance(temp_c)
        return int(self.adc_max * r / (r + self.pullup) + 0.5)
