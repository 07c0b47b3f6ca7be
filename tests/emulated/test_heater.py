"""Heaters on the emulated RP2040: the firmware's PID drives the heater GPIO's PWM,
the harness's plant (the simulated board's model) turns the time that pin spends
high into heat, and its sensor into the raw ADC reading the firmware samples."""
import pytest

from mendel import config as config_mod
from mendel.emulate import Rp2040Emulator
from mendel.emulate.emulator import load_board
from mendel.machine.printer import Printer

from conftest import connect
from printing import bench_config

pytestmark = pytest.mark.emulated

TARGET_C = 60
HOST_TIMEOUT_S = 3.0
BOARD = "rpi-pico-bench"


def gpio(name):
    return int(name[4:])


def test_m109_heats_through_adc_and_pwm_and_silence_turns_the_heater_off(tmp_path):
    """M109 S60 returns once the firmware reads 60 degC through the emulated ADC,
    and the plant, heated only by the heater pin's measured duty, is really near
    60 degC (sensor and block); the heater pin switched with a duty strictly
    between 0 and 1 on the way (PWM, not a relay). Then the host goes silent with
    the target still set: the heater pin falls low, and stays low, within 3 s of
    emulated time after the last byte the host sent."""
    cfg = config_mod.load(bench_config(str(tmp_path)))
    gcode = tmp_path / "heat.gcode"
    gcode.write_text("M109 S%d\n" % TARGET_C)
    heater_pin = gpio(load_board(BOARD)["heaters"][0]["heater_pin"])
    with Rp2040Emulator(BOARD, config=cfg, log_pins=[heater_pin]) as emu:
        emu.wait_usb()
        port, mcu = connect(emu)
        try:
            printer = Printer(cfg, mcu, warn=lambda _text: None)
            printer.print_file(str(gcode), preflight=False)
            temp, target, _duty = mcu.temperature(printer.heater_ids["extruder"])
            plant = emu.heater("extruder").plant
            assert target == TARGET_C
            assert temp >= TARGET_C - 1.0
            assert abs(plant.sensor - TARGET_C) < 3.0 and abs(plant.temp - TARGET_C) < 8.0
            assert any(0.0 < duty.get(heater_pin, 0.0) < 1.0 for _ns, duty in emu.duties)
            # The host goes silent (it hung with the port open) with the heater on.
            assert emu.pins([heater_pin])[1][heater_pin] > 0.0
            emu.wait_emulated(HOST_TIMEOUT_S + 2.0)
            last_in = emu.stats()["usb_last_in_cycle"]
            levels, _pwm = emu.pins([heater_pin])
            edges = emu.edges([heater_pin])
            ticks = emu.ticks_of([last_in, int(edges["cycle"][-1])])
        finally:
            port.close()
    assert levels[heater_pin] == 0 and edges["level"][-1] == 0
    silent_s = (ticks[1] - ticks[0]) / mcu.clock_freq
    assert 0.0 < silent_s <= HOST_TIMEOUT_S, "heater off %.2f s after the host fell silent" % silent_s
