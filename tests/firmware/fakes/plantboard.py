"""A fake board whose heaters are the simulated plants: closed-loop firmware tests.

The real Mcu, Heaters and guard run against ``hal.simplant.ThermalPlant``s on a
virtual clock (CPython and micropython alike). Times in s, temperatures in degC.
"""
from fakeboard import FakeHal
from hal.simplant import ThermalPlant, sensor_mode
from mcu import Mcu
from thermal.sensor import make_sensor

HOTEND = {"heat_capacity_j_per_k": 10.0, "power_w": 40.0, "loss_w_per_k": 0.06,
          "fan_loss_w_per_k": 0.03, "ambient_c": 22.0, "sensor_lag_s": 1.5,
          "sensor_noise_c": 0.3}
BED = {"heat_capacity_j_per_k": 500.0, "power_w": 200.0, "loss_w_per_k": 1.5,
       "ambient_c": 22.0, "sensor_lag_s": 3.0, "sensor_noise_c": 0.3}
# Klipper units (0..255 output), as the host sends them: the real-board configs
# (boards/fysetc-e4.cfg) and the default printer.cfg of the simulated board
# (boards/sim.cfg, what `mendel print` runs with).
HOTEND_PID = (22.0, 1.1, 110.0)
SIM_CFG_PID = (15.0, 0.4, 60.0)
BED_PID = (70.0, 1.0, 700.0)
FREQ = 12000000


def board(hotend=None, bed=None):
    return {
        "id": "plant", "mcu": "fake", "clock_freq": FREQ, "step_queue_size": 4,
        "adc_max": 65535, "motors": [{"name": "x"}],
        "heaters": [
            {"name": "extruder", "sensor_pin": "adc0", "heater_pin": "pwm0",
             "pullup_ohm": 4700, "kind": "hotend", "plant": hotend or HOTEND},
            {"name": "heater_bed", "sensor_pin": "adc1", "heater_pin": "pwm1",
             "pullup_ohm": 4700, "kind": "bed", "plant": bed or BED},
        ],
        "fans": [{"name": "fan", "pin": "pwm2"}],
    }


class PlantHal(FakeHal):
    """FakeHal with ADC and PWM wired to one ThermalPlant per heater."""

    def __init__(self, spec, sensor="Generic 3950"):
        FakeHal.__init__(self, spec["clock_freq"])
        self.plants = []
        self.probes = {}
        self.by_pin = {}
        for i, heater in enumerate(spec["heaters"]):
            plant = ThermalPlant(heater["plant"], seed=i + 1)
            self.plants.append(plant)
            self.probes[heater["sensor_pin"]] = (plant, make_sensor(sensor, 4700, 65535))
            self.by_pin[heater["heater_pin"]] = plant
        self._last = 0

    def adc_read(self, pin):
        plant, probe = self.probes[pin]
        mode = sensor_mode(plant)
        if mode is not None:
            return 65535 if mode == "open" else 0
        return min(max(probe.adc(plant.reading()), 0), 65535)

    def pwm_write(self, pin, duty):
        self.pwm[pin] = duty
        if pin in self.by_pin:
            self.by_pin[pin].duty = duty
        elif pin == "pwm2":
            self.plants[0].fan = duty

    def advance(self, now):
        dt = (now - self._last) / self.clock_freq
        if dt > 0:
            for plant in self.plants:
                plant.advance(dt)
            self._last = now
        self.now = now


class Rig:
    """An Mcu on a PlantHal, configured as the host would configure it."""

    def __init__(self, hotend=None, bed=None, bed_bang_bang=False, hotend_pid=HOTEND_PID):
        spec = board(hotend, bed)
        self.hal = PlantHal(spec)
        self.mcu = Mcu(self.hal, spec)
        heaters = self.mcu.heaters
        for hid, gains, max_temp in ((0, hotend_pid, 300), (1, BED_PID, 130)):
            heaters.cmd_config_heater(hid, b"Generic 3950", 5, max_temp)
            heaters.cmd_set_pid(hid, *[round(g / 255.0 * 1000) for g in gains])
        if bed_bang_bang:
            heaters.cmd_config_heater_control(1, 1, 1000, 100, 200)
        self.time = 0.0

    @property
    def plants(self):
        return self.hal.plants

    def heater(self, hid):
        return self.mcu.heaters.heaters[hid]

    def set(self, hid, temp):
        self.mcu.heaters.cmd_set_heater(hid, int(temp * 100))

    def fan(self, fraction):
        self.mcu.fans.cmd_set_fan(0, int(fraction * 255))

    def run(self, seconds, until=None, watch=None):
        """Advance ``seconds`` (0.1 s steps); stop early on shutdown or ``until()``.

        ``watch(rig)`` is called every step. Returns the time when it stopped.
        """
        end = self.time + seconds
        while self.time < end - 1e-9:
            self.time += 0.1
            self.mcu.run_until(int(self.time * FREQ + 0.5))
            if watch is not None:
                watch(self)
            if self.mcu.shutdown_reason is not None or (until is not None and until()):
                break
        return self.time

    def heat_and_wait(self, hid, temp, limit_s=600.0):
        """Set a target and run until the reading is within 1 degC of it."""
        self.set(hid, temp)
        return self.run(limit_s, until=lambda: abs(self.heater(hid).temp - temp) < 1.0)
