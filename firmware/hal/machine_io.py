# Mendel firmware: driver enables, ADC and PWM through MicroPython's machine module.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The outputs and inputs the RP2040 and ESP32 backends share.

Pin names go through the backend's ``gpio(name) -> int`` (each family checks
its own pins). Objects are made once per pin, on first use.
"""
import machine


class MachineIo:
    """Enable pins of ``motors``, ADC readings scaled to ``adc_max``, PWM outputs.

    ``adc_options`` are keyword arguments of ``machine.ADC`` (ESP32: the
    attenuation); ``pwm_floor_hz`` is the lowest PWM frequency the MCU makes.
    """

    def __init__(self, gpio, motors, adc_max, pwm_floor_hz, adc_options=None):
        self._gpio = gpio
        self.adc_max = adc_max
        self._pwm_floor_hz = pwm_floor_hz
        self._adc_options = adc_options or {}
        self.enables = [(machine.Pin(gpio(m["enable_pin"]), machine.Pin.OUT,
                                     value=1 if m.get("enable_inverted") else 0),
                         bool(m.get("enable_inverted"))) for m in motors]
        self._adcs = {}
        self.pwms = {}

    def enable_motors(self, on):
        """Energise (True) or release every driver; ``enable_inverted`` pins are active low."""
        for pin, inverted in self.enables:
            pin.value(1 if bool(on) != inverted else 0)

    def adc_read(self, pin):
        """Reading of ADC pin ``pin`` scaled from read_u16's 0..65535 to 0..adc_max."""
        adc = self._adcs.get(pin)
        if adc is None:
            adc = self._adcs[pin] = machine.ADC(machine.Pin(self._gpio(pin)),
                                                **self._adc_options)
        return adc.read_u16() * self.adc_max // 65535

    def _pwm(self, pin):
        pwm = self.pwms.get(pin)
        if pwm is None:
            pwm = self.pwms[pin] = machine.PWM(machine.Pin(self._gpio(pin)))
        return pwm

    def pwm_config(self, pin, period_s):
        """PWM at 1/period_s Hz, not below the MCU's floor."""
        self._pwm(pin).freq(max(self._pwm_floor_hz, int(1.0 / period_s + 0.5)))

    def pwm_write(self, pin, duty):
        """Duty 0.0..1.0."""
        self._pwm(pin).duty_u16(int(duty * 65535 + 0.5))

    def spi(self, spec):
        """The SPI device of board accelerometer ``spec`` (hal/spi.py, loaded
        only for a board that has one)."""
        from hal.spi import SpiDevice
        return SpiDevice(spec, self._gpio)
