"""Closed-loop heater control on the simulated plants: normal profiles never trip.

The real firmware (Mcu, Heaters, PID, guard) drives ThermalPlants with sensor
lag and noise on a virtual clock; see fakes/plantboard.py. Temperatures degC.
"""
from plantboard import BED, HOTEND, Rig

DEG = "\u00b0C"


def settle(rig, hid, target, seconds=60.0):
    rig.heat_and_wait(hid, target)
    rig.run(seconds)
    assert rig.mcu.shutdown_reason is None, rig.mcu.shutdown_reason


class Extremes:
    """Lowest and highest reading of a heater while a rig runs."""

    def __init__(self, hid):
        self.hid = hid
        self.low = 1e9
        self.high = -1e9

    def __call__(self, rig):
        temp = rig.heater(self.hid).temp
        self.low = min(self.low, temp)
        self.high = max(self.high, temp)


def test_cold_start_to_215_holds_within_a_degree_without_trip():
    rig = Rig()
    peak = Extremes(0)
    reached = rig.heat_and_wait(0, 215.0)
    rig.run(60.0, watch=peak)
    hold = Extremes(0)
    rig.run(120.0, watch=hold)
    assert rig.mcu.shutdown_reason is None
    assert reached < 120.0                       # a 40 W hot end: about a minute
    assert peak.high - 215.0 < 5.0
    assert 214.0 < hold.low and hold.high < 216.0


def test_bed_to_60_in_a_12c_room_pid_and_bang_bang():
    cold_hotend = dict(HOTEND, ambient_c=12.0)
    cold_bed = dict(BED, ambient_c=12.0)
    for bang_bang in (False, True):
        rig = Rig(hotend=cold_hotend, bed=cold_bed, bed_bang_bang=bang_bang)
        rig.run(5.0)
        assert 11.0 < rig.heater(1).temp < 13.0  # above MINTEMP 5: no trip
        reached = rig.heat_and_wait(1, 60.0)
        hold = Extremes(1)
        rig.run(300.0, watch=hold)
        assert rig.mcu.shutdown_reason is None, (bang_bang, rig.mcu.shutdown_reason)
        assert reached < 400.0
        assert hold.low > 60.0 - 2.0 - 1.0 and hold.high < 60.0 + 2.0 + 1.5


def test_part_fan_kicking_on_at_layer_2_does_not_trip():
    rig = Rig()
    settle(rig, 0, 215.0)
    dip = Extremes(0)
    rig.fan(1.0)
    rig.run(120.0, watch=dip)
    assert rig.mcu.shutdown_reason is None
    assert dip.low > 215.0 - 4.0                  # never armed the runaway timer
    assert abs(rig.heater(0).temp - 215.0) < 1.0  # and recovered


def test_temperature_changes_mid_print_and_cooling_do_not_trip():
    rig = Rig()
    settle(rig, 0, 215.0)
    for target in (230.0, 200.0, 180.0, 240.0):   # raise, lower, lower, raise
        rig.heat_and_wait(0, target)
        rig.run(30.0)
        assert rig.mcu.shutdown_reason is None, (target, rig.mcu.shutdown_reason)
        assert abs(rig.heater(0).temp - target) < 3.0
    rig.set(0, 0)
    rig.run(300.0)                                 # cooling down with the heater off
    assert rig.mcu.shutdown_reason is None
    assert rig.heater(0).temp < 60.0


def test_both_heaters_and_fan_through_a_print_profile():
    rig = Rig()
    rig.set(1, 60.0)
    rig.set(0, 150.0)                              # preheat while the bed heats
    rig.run(400.0, until=lambda: rig.heater(1).temp > 59.0)
    rig.heat_and_wait(0, 215.0)
    rig.run(120.0)
    rig.fan(0.5)
    rig.run(120.0)
    rig.fan(1.0)
    rig.set(0, 210.0)
    rig.run(300.0)
    rig.set(0, 0)
    rig.set(1, 0)
    rig.fan(0.0)
    rig.run(120.0)
    assert rig.mcu.shutdown_reason is None


def test_mintemp_trips_in_a_freezing_room():
    rig = Rig(hotend=dict(HOTEND, ambient_c=2.0))
    rig.run(2.0)
    assert rig.mcu.shutdown_reason.startswith("MINTEMP on extruder: 2.")
    assert rig.mcu.shutdown_reason.endswith("min 5 " + DEG)


def test_autotune_relay_finishes_with_a_plausible_ultimate_gain():
    rig = Rig()
    rig.mcu.heaters.cmd_pid_autotune(0, 21000, 6)
    tune = rig.heater(0).tune
    peak = Extremes(0)
    rig.run(900.0, until=lambda: tune.state != 0, watch=peak)
    assert rig.mcu.shutdown_reason is None
    assert tune.state == 1 and tune.done_cycles == 6
    assert 0.01 < tune.ku < 1.0                 # output fraction per degC
    assert 5.0 < tune.tu < 60.0                 # s
    assert peak.high < 210.0 + 10.0
    assert rig.heater(0).target == 0.0 and rig.hal.pwm["pwm0"] == 0.0
