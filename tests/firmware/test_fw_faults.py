"""Every injectable fault trips within its documented time with the right words.

Documented trip times (README "Thermal safety"; defaults of guard.py):
thermistor open/short <= 1 s; heater failed or thermistor loose while heating
<= 2 watch periods; at temperature, runaway period + the time to fall by the
hysteresis; MOSFET stuck on: the time to rise stuck_rise (10 degC).
"""
from plantboard import HOTEND, Rig

DEG = "\u00b0C"


def fault_rig(fault, hid=0, target=215.0, when="hold", hotend=None):
    """A rig at ``target`` (or heating to it, or idle), then ``fault``; returns (rig, s)."""
    rig = Rig(hotend=hotend)
    if when == "hold":
        rig.heat_and_wait(hid, target)
        rig.run(60.0)
    elif when == "heating":
        rig.set(hid, target)
        rig.run(5.0)
    else:
        rig.run(5.0)
    assert rig.mcu.shutdown_reason is None
    start = rig.time
    rig.plants[hid].inject(fault)
    rig.run(300.0)
    return rig, rig.time - start


def assert_safe(rig):
    """Heaters off, motors released, and motion refused until reset."""
    assert rig.hal.pwm["pwm0"] == 0.0 and rig.hal.pwm["pwm1"] == 0.0
    assert rig.hal.enabled is False
    rig.mcu.steppers.cmd_enable_motors(1)
    assert rig.hal.enabled is False
    rig.mcu.steppers.cmd_set_step_clock(0, rig.hal.now + 1000)
    rig.mcu.steppers.cmd_queue_step(0, 1000, 5, 0)
    assert rig.hal.runs == []
    rig.mcu.heaters.cmd_set_heater(0, 20000)
    assert rig.heater(0).target == 0.0
    rig.run(1.0)
    assert rig.hal.pwm["pwm0"] == 0.0


def test_thermistor_open_trips_within_a_second():
    rig, seconds = fault_rig("thermistor_open")
    assert rig.mcu.shutdown_reason == "Thermistor open on extruder"
    assert seconds <= 0.35
    assert_safe(rig)


def test_thermistor_short_trips_within_a_second():
    rig, seconds = fault_rig("thermistor_short")
    assert rig.mcu.shutdown_reason == "Thermistor short on extruder"
    assert seconds <= 0.35
    assert_safe(rig)


def test_thermistor_falling_out_at_temperature_is_thermal_runaway():
    rig, seconds = fault_rig("thermistor_loose")
    reason = rig.mcu.shutdown_reason
    assert reason.startswith("Thermal runaway on extruder: ")
    assert reason.endswith(" %s, target 215 %s" % (DEG, DEG))
    assert 40.0 <= seconds <= 42.0
    assert_safe(rig)


def test_thermistor_falling_out_while_heating_is_heating_failed():
    rig, seconds = fault_rig("thermistor_loose", when="heating")
    assert rig.mcu.shutdown_reason.startswith("Heating failed on extruder: ")
    assert seconds <= 2 * 20.0


def test_heater_cartridge_failing_at_temperature_is_thermal_runaway():
    rig, seconds = fault_rig("heater_failed")
    assert rig.mcu.shutdown_reason.startswith("Thermal runaway on extruder: ")
    assert 40.0 <= seconds <= 50.0
    assert_safe(rig)


def test_heater_cartridge_failing_while_heating_is_heating_failed():
    rig, seconds = fault_rig("heater_failed", when="heating")
    reason = rig.mcu.shutdown_reason
    assert reason.startswith("Heating failed on extruder: ") and reason.endswith(
        "target 215 " + DEG)
    assert seconds <= 2 * 20.0


def test_bed_heater_failing_while_heating_uses_the_bed_watch_period():
    rig, seconds = fault_rig("heater_failed", hid=1, target=60.0, when="heating")
    assert rig.mcu.shutdown_reason.startswith("Heating failed on heater_bed: ")
    assert 60.0 - 5.0 <= seconds <= 2 * 60.0


def test_heater_dying_just_short_of_its_target_is_still_caught():
    rig = Rig()
    rig.set(0, 215.0)
    rig.run(300.0, until=lambda: rig.heater(0).temp > 212.0)   # close, not there yet
    start = rig.time
    rig.plants[0].inject("heater_failed")
    rig.run(300.0)
    assert rig.mcu.shutdown_reason.startswith(("Heating failed on extruder: ",
                                               "Thermal runaway on extruder: "))
    assert rig.time - start <= 45.0


def test_mosfet_stuck_on_trips_at_temperature_and_when_idle():
    rig, seconds = fault_rig("mosfet_stuck_on")
    assert rig.mcu.shutdown_reason.startswith("Heater extruder stuck on: ")
    assert seconds <= 10.0 and rig.plants[0].temp < 240.0
    rig, seconds = fault_rig("mosfet_stuck_on", when="idle")
    assert rig.mcu.shutdown_reason.startswith("Heater extruder stuck on: ")
    assert seconds <= 10.0


def test_part_fan_at_full_trips_only_a_heater_that_cannot_hold():
    rig, seconds = fault_rig("fan_full")
    assert rig.mcu.shutdown_reason is None        # 40 W holds 215 against the fan
    weak = dict(HOTEND, fan_loss_w_per_k=0.25)    # fan takes more than the heater has
    rig, seconds = fault_rig("fan_full", hotend=weak)
    assert rig.mcu.shutdown_reason.startswith("Thermal runaway on extruder: ")
    assert 40.0 <= seconds <= 60.0


def test_maxtemp_names_heater_temperature_and_limit():
    rig = Rig()
    rig.mcu.heaters.cmd_config_heater(0, b"Generic 3950", 5, 100)
    rig.heat_and_wait(0, 95.0)
    rig.plants[0].inject("mosfet_stuck_on")
    rig.heater(0).guard.stuck_rise = 1000.0       # let MAXTEMP be the one that trips
    rig.run(60.0)
    reason = rig.mcu.shutdown_reason
    assert reason.startswith("MAXTEMP on extruder: 10") and reason.endswith(
        ", max 100 " + DEG)
    assert_safe(rig)


def _last_text(sent):
    """(offset, bytes) of the last 'is' response frame the board wrote."""
    frame = sent[-1]
    pos = 3                                     # length, seq, message id (< 64)
    offset = frame[pos] >> 1                    # small zigzag ints: one byte each
    size = frame[pos + 1] >> 1
    return offset, frame[pos + 2:pos + 2 + size]


def test_a_long_reason_is_fetched_whole_in_chunks():
    rig = Rig()
    reason = "Thermal runaway on heater_bed: 187.3 %s, target 215.5 %s" % (DEG, DEG)
    assert len(reason.encode()) > 56            # longer than a shutdown frame holds
    rig.mcu.shutdown(reason)
    text = b""
    while True:
        rig.mcu.cmd_get_shutdown(len(text))
        offset, chunk = _last_text(rig.hal.transport.sent)
        assert offset == len(text)
        text += chunk
        if len(chunk) < 48:
            break
    assert text.decode() == reason
