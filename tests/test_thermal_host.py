"""Host side of thermal control: settings, M109/M190/M303 semantics, gains, options."""
import argparse

import pytest

from mendel import config
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.reader import parse_text
from mendel.thermal import autotune, cli as thermal_cli
from mendel.thermal.heaters import TEMP_RESIDENCY_S, HostHeaters

CFG_TEXT = open(config.load().path).read()


def load_with(tmp_path, extra="", replace=None):
    text = CFG_TEXT
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    path = tmp_path / "printer.cfg"
    path.write_text(text + extra)
    return config.load(str(path))


def test_heater_defaults_and_verify_heater_follow_klipper_and_mintemp_is_5c():
    cfg = config.load()
    hotend, bed = cfg.heaters["extruder"], cfg.heaters["heater_bed"]
    assert hotend.min_temp == 5.0 and hotend.control == "pid" and hotend.max_power == 1.0
    assert hotend.guard == {"max_error": 120.0, "check_gain_time": 20.0, "hysteresis": 5.0,
                            "heating_gain": 2.0, "stuck_rise": 10.0}
    assert bed.guard == dict(hotend.guard, check_gain_time=60.0)


def test_marlin_runaway_keys_are_refused_with_the_keys_that_replace_them(tmp_path):
    with pytest.raises(config.ConfigError, match=r"\[verify_heater extruder\] "
                       r"runaway_period: Marlin's .* use max_error, check_gain_time"):
        load_with(tmp_path, extra="\n[verify_heater extruder]\nrunaway_period = 30\n")
    with pytest.raises(config.ConfigError, match=r"heating_gain: 0 must be above 0"):
        load_with(tmp_path, extra="\n[verify_heater extruder]\nheating_gain = 0\n")


def test_verify_heater_sim_plant_and_watermark_sections(tmp_path):
    cfg = load_with(tmp_path, extra=(
        "\n[verify_heater extruder]\nmax_error = 60\nhysteresis = 3\n"
        "\n[sim_plant heater_bed]\nambient_temp = 12\nheater_power = 300\nloose_lag = 30\n"
        "sensor_type = EPCOS 100K B57560G104F\n"),
        replace={"[heater_bed]\nsensor_type = Generic 3950\ncontrol = pid":
                 "[heater_bed]\nsensor_type = Generic 3950\ncontrol = watermark\n"
                 "max_delta = 1.5"})
    assert cfg.heaters["extruder"].guard["max_error"] == 60.0
    assert cfg.heaters["extruder"].guard["hysteresis"] == 3.0
    bed = cfg.heaters["heater_bed"]
    assert bed.control == "watermark" and bed.max_delta == 1.5
    assert bed.sim_plant == {"ambient_c": 12.0, "power_w": 300.0, "loose_lag_s": 30.0}
    assert thermal_cli.plant_overrides(cfg)["heater_bed"]["sim_sensor"] == (
        "EPCOS 100K B57560G104F")


def test_bad_control_and_max_power_are_named(tmp_path):
    with pytest.raises(config.ConfigError, match=r"\[extruder\] control: 'fuzzy'"):
        load_with(tmp_path, replace={"control = pid\npid_kp = 15.0": "control = fuzzy\n"
                                                                      "pid_kp = 15.0"})
    with pytest.raises(config.ConfigError, match=r"\[extruder\] max_power: 1.5 is above"):
        load_with(tmp_path, replace={"max_temp = 300": "max_temp = 300\nmax_power = 1.5"})


def test_ziegler_nichols_gains_from_ku_and_tu():
    kp, ki, kd = autotune.gains(0.4, 10.0)
    assert kp == pytest.approx(0.6 * 0.4 * 255)
    assert ki == pytest.approx(kp / 5.0)               # Ti = Tu / 2
    assert kd == pytest.approx(kp * 10.0 / 8.0)        # Td = Tu / 8
    with pytest.raises(autotune.AutotuneError):
        autotune.gains(0.0, 10.0)
    with pytest.raises(autotune.AutotuneError):
        autotune.gains(0.4, 10.0, rule="guesswork")


def test_sim_fault_option():
    spec = thermal_cli.parse_fault("thermistor_open@120")
    assert (spec.fault, spec.heater, spec.after_s) == ("thermistor_open", "extruder", 120.0)
    spec = thermal_cli.parse_fault("heater_failed:heater_bed@2.5")
    assert (spec.heater, spec.after_s) == ("heater_bed", 2.5)
    with pytest.raises(argparse.ArgumentTypeError):
        thermal_cli.parse_fault("meltdown@3")


class Recorder:
    position = [0.0, 0.0, 0.0, 0.0]
    extruder_count = 1

    def __init__(self):
        self.calls = []

    def set_temperature(self, heater, temp, wait, cooling=False):
        self.calls.append(("temp", heater, temp, wait, cooling))

    def pid_tune(self, heater, target, cycles):
        self.calls.append(("tune", heater, target, cycles))


def test_m109_r_waits_for_cooling_and_m303_tunes():
    machine = Recorder()
    Interpreter(machine, warn=lambda _t: None).run(parse_text(
        "M109 S215\nM109 R180\nM190 R50\nM104 R200\nM303 E0 S210 C8\nM303 E-1 S60\nM303"))
    assert machine.calls == [
        ("temp", "extruder", 215.0, True, False), ("temp", "extruder", 180.0, True, True),
        ("temp", "heater_bed", 50.0, True, True),   # M104 R: no meaning, ignored
        ("tune", 0.0, 210.0, 8.0), ("tune", -1.0, 60.0, 5), ("tune", 0, 150.0, 5)]


class FakeBoard:
    """Heater 0 moves towards its target at 1 degC/s; clock in ticks of 1 ms."""

    clock_freq = 1000
    info = {"heaters": ["extruder", "heater_bed"]}

    def __init__(self, temp):
        self.temps = [temp, 20.0]
        self.target = 0.0
        self.clock = 0

    def estimated_clock(self):
        return self.clock

    def wait_until(self, clock):
        dt = (clock - self.clock) / 1000.0
        step = max(-dt, min(dt, self.target - self.temps[0]))
        self.temps[0] += step
        self.clock = clock

    def temperature(self, hid):
        return self.temps[hid], 0.0, 0.0


def waited_s(start, target, cooling):
    board = FakeBoard(start)
    board.target = target
    heaters = HostHeaters(config.load(), board)
    heaters.wait("extruder", target, cooling_too=cooling)
    return board.clock / 1000.0, board.temps[0]


def test_wait_semantics_of_m109_s_and_r():
    seconds, temp = waited_s(20.0, 215.0, cooling=False)        # heating: wait, then dwell
    assert temp == pytest.approx(215.0)
    assert seconds == pytest.approx(195.0 - 1.0 + TEMP_RESIDENCY_S, abs=0.6)
    seconds, _temp = waited_s(215.0, 180.0, cooling=False)      # S above target: no wait
    assert seconds == 0.0
    seconds, temp = waited_s(215.0, 180.0, cooling=True)        # R: waits for cooling
    assert temp == pytest.approx(180.0)
    assert seconds == pytest.approx(35.0 - 1.0 + TEMP_RESIDENCY_S, abs=0.6)
