# Mendel firmware: sampling one temperature sensor.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Oversampling, a median of three and an IIR filter, and the raw range check.

Each control period (``dt_s``, 0.1 s at the board's 10 Hz control rate) the
reader averages ``oversample`` ADC readings (averaging n readings divides
uncorrelated noise by sqrt(n)), converts the mean to degC, keeps the median of
the last three conversions (one spike never gets through) and smooths that
with a first-order IIR filter of time constant ``smooth_s``:
``temp += alpha * (median - temp)``, ``alpha = dt / (smooth_s + dt)``.

* ``median_c`` is what MINTEMP/MAXTEMP check (fast: one period of delay);
* ``temp_c`` is what the controller and the host see (smooth).

Range check on the raw mean: above ``OPEN_FRACTION`` of full scale the sensor is
open (reads very cold), below ``SHORT_FRACTION`` it is shorted (very hot).
``FAULT_SAMPLES`` consecutive periods out of range (0.3 s) make a fault, well
inside the 1 s the safety requirements allow; one glitch does not.
"""
from micropython import const

FAULT_SAMPLES = const(3)
OK = const(0)
OPEN = const(1)
SHORT = const(2)


class SensorReader:
    """Samples ``sensor`` (see sensor.py) on ADC ``pin`` through ``hal``.

    Allocation: none beyond float results; runs in the main loop, not an IRQ.
    """

    def __init__(self, hal, pin, sensor, dt_s, oversample=4, smooth_s=0.3):
        self.hal = hal
        self.pin = pin
        self.sensor = sensor
        self.oversample = oversample
        self.alpha = dt_s / (smooth_s + dt_s)
        self.raw = 0.0
        self.median_c = 0.0
        self.temp_c = 0.0
        self._a = self._b = self._c = None
        self._bad = 0
        self._bad_kind = OK

    def sample(self):
        """Read once; returns OK, OPEN or SHORT (after FAULT_SAMPLES in a row)."""
        hal = self.hal
        pin = self.pin
        total = 0
        for _ in range(self.oversample):
            total += hal.adc_read(pin)
        raw = total / self.oversample
        self.raw = raw
        sensor = self.sensor
        kind = OPEN if raw >= sensor.adc_open else SHORT if raw <= sensor.adc_short else OK
        if kind != OK:
            self._bad = self._bad + 1 if kind == self._bad_kind else 1
            self._bad_kind = kind
            return kind if self._bad >= FAULT_SAMPLES else OK
        self._bad = 0
        self._bad_kind = OK
        self._push(sensor.temperature(raw))
        return OK

    def _push(self, temp):
        if self._c is None:             # first reading: start the filters on it
            self._b = self._c = temp
            self.temp_c = temp
        self._a = self._b
        self._b = self._c
        self._c = temp
        a = self._a
        b = self._b
        if a > b:
            a, b = b, a
        median = b if temp > b else (a if temp < a else temp)
        self.median_c = median
        self.temp_c += self.alpha * (median - self.temp_c)
