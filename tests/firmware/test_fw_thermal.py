"""Firmware thermal control: thermistor model, PID on the simulated plant, limits."""
from fakeboard import BOARD, FakeHal
from hal.simplant import ThermalPlant
from mcu import Mcu
from thermal.heater import Heater
from thermal.sensor import BetaThermistor

HOTEND = {"heat_capacity_j_per_k": 10.0, "power_w": 40.0, "loss_w_per_k": 0.06,
          "fan_loss_w_per_k": 0.03, "ambient_c": 22.0}


def test_beta_thermistor_matches_its_definition():
    sensor = BetaThermistor("Generic 3950", 4700, 65535)
    # R0 = 100 kOhm at 25 C by definition of the part.
    assert abs(sensor.resistance(25.0) - 100000.0) < 1e-6 * 100000.0
    for temp in (20.0, 100.0, 215.0, 280.0):
        assert abs(sensor.temperature(sensor.adc(temp)) - temp) < 0.5


def test_open_and_shorted_thermistor_read_out_of_range():
    sensor = BetaThermistor("Generic 3950", 4700, 65535)
    assert sensor.temperature(65535) < -200.0
    assert sensor.temperature(0) > 1000.0


def test_pid_holds_the_simulated_hotend_at_target():
    heater = Heater({"name": "e", "sensor_pin": 0, "heater_pin": 0, "pullup_ohm": 4700},
                    65535)
    heater.kp, heater.ki, heater.kd = 15.0 / 255, 0.4 / 255, 60.0 / 255
    heater.target = 215.0
    plant = ThermalPlant(HOTEND)
    peak = 0.0
    worst = 0.0
    for tick in range(3000):                 # 300 s at 10 Hz
        plant.duty = heater.control(plant.temp, 0.1)
        plant.advance(0.1)
        peak = max(peak, plant.temp)
        if tick >= 2000:
            worst = max(worst, abs(plant.temp - 215.0))
    assert peak - 215.0 < 3.0
    assert worst < 0.5


def test_maxtemp_trips_shutdown():
    hal = FakeHal()
    mcu = Mcu(hal, BOARD)
    heaters = mcu.heaters
    heaters.cmd_config_heater(0, b"Generic 3950", 5, 300)
    heaters.cmd_set_heater(0, 20000)
    sensor = heaters.heaters[0].sensor
    hal.adc["adc0"] = sensor.adc(320.0)
    heaters.update(0.1)
    assert "outside" in mcu.shutdown_reason
    assert hal.pwm["pwm0"] == 0.0


def test_open_thermistor_trips_mintemp():
    hal = FakeHal()
    mcu = Mcu(hal, BOARD)
    mcu.heaters.cmd_config_heater(0, b"Generic 3950", 5, 300)
    hal.adc["adc0"] = 65535
    mcu.heaters.update(0.1)
    assert "extruder temperature" in mcu.shutdown_reason


def test_unknown_sensor_type_shuts_down():
    hal = FakeHal()
    mcu = Mcu(hal, BOARD)
    mcu.heaters.cmd_config_heater(0, b"No Such Sensor", 5, 300)
    assert "unknown sensor" in mcu.shutdown_reason
