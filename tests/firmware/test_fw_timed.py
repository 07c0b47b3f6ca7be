"""Heater and fan changes held until their board clock (thermal/timed.py).

Runs under CPython and micropython. The rig is the real Mcu on simulated plants
with a virtual clock (fakes/plantboard.py); clocks in ticks of FREQ per second.
"""
from plantboard import FREQ, Rig
from thermal.timed import QUEUE_SIZE

SECOND = FREQ


class NotingRig(Rig):
    """A rig whose HAL logs what the firmware applied, as the sim's step log does."""

    def __init__(self):
        Rig.__init__(self)
        self.applied = []
        self.hal.note_output = self._note
        self.mcu.timed._note = self._note

    def _note(self, clock, kind, index, value):
        self.applied.append((kind, clock, index, value))

    def at(self, seconds):
        """Run the board to ``seconds`` of board time."""
        self.mcu.run_until(int(seconds * SECOND))


def test_a_queued_heater_target_waits_for_its_clock_and_lands_on_it():
    rig = NotingRig()
    rig.set(0, 200.0)
    rig.at(1.0)
    rig.mcu.heaters.cmd_queue_heater(31 * SECOND + 123, 0, 0)
    rig.at(31.0)
    assert rig.heater(0).target == 200.0           # not before its clock
    assert rig.heater(0).duty > 0.0
    rig.at(31.2)
    assert rig.heater(0).target == 0.0 and rig.heater(0).duty == 0.0
    assert rig.applied[-1] == ("heater", 31 * SECOND + 123, 0, 0)


def test_a_queued_fan_speed_lands_on_its_clock():
    rig = NotingRig()
    rig.mcu.fans.cmd_queue_fan(2 * SECOND + 7, 0, 255)
    rig.mcu.fans.cmd_queue_fan(5 * SECOND, 0, 0)
    rig.at(2.0)
    assert rig.mcu.fans.speed[0] == 0.0 and rig.hal.pwm.get("pwm2", 0.0) == 0.0
    rig.at(3.0)
    assert rig.mcu.fans.speed[0] == 1.0 and rig.hal.pwm["pwm2"] == 1.0
    rig.at(6.0)
    assert rig.hal.pwm["pwm2"] == 0.0
    assert rig.applied == [("fan", 2 * SECOND + 7, 0, 255), ("fan", 5 * SECOND, 0, 0)]


def test_changes_apply_in_clock_order_whatever_order_they_came():
    rig = NotingRig()
    rig.mcu.fans.cmd_queue_fan(3 * SECOND, 0, 30)
    rig.mcu.fans.cmd_queue_fan(1 * SECOND, 0, 10)
    rig.mcu.fans.cmd_queue_fan(2 * SECOND, 0, 20)
    rig.mcu.fans.cmd_queue_fan(2 * SECOND, 0, 21)    # same clock: arrival order
    rig.at(4.0)
    assert [(a[1], a[3]) for a in rig.applied] == [
        (1 * SECOND, 10), (2 * SECOND, 20), (2 * SECOND, 21), (3 * SECOND, 30)]


def test_a_change_whose_clock_has_passed_applies_at_once():
    rig = NotingRig()
    rig.at(2.0)
    rig.mcu.heaters.cmd_queue_heater(1 * SECOND, 0, 18000)
    assert rig.heater(0).target == 180.0
    assert rig.applied == [("heater", 2 * SECOND, 0, 18000)]
    assert rig.mcu.timed.count == 0


def test_set_heater_now_drops_that_heaters_pending_changes_only():
    rig = NotingRig()
    rig.mcu.heaters.cmd_queue_heater(5 * SECOND, 0, 20000)
    rig.mcu.heaters.cmd_queue_heater(5 * SECOND, 1, 6000)
    rig.mcu.fans.cmd_queue_fan(5 * SECOND, 0, 255)
    rig.set(0, 0.0)                                 # off now, and stays off
    rig.at(6.0)
    assert rig.heater(0).target == 0.0
    assert rig.heater(1).target == 60.0 and rig.mcu.fans.speed[0] == 1.0


def test_a_full_queue_is_refused_with_a_shutdown_that_says_so():
    rig = NotingRig()
    for i in range(QUEUE_SIZE):
        rig.mcu.fans.cmd_queue_fan((10 + i) * SECOND, 0, i)
    assert rig.mcu.shutdown_reason is None
    rig.mcu.heaters.cmd_queue_heater(50 * SECOND, 0, 20000)
    reason = rig.mcu.shutdown_reason
    assert reason is not None and "queue of timed heater/fan changes is full" in reason
    assert ("%d pending" % QUEUE_SIZE) in reason


def test_shutdown_drops_pending_changes_and_leaves_heaters_off():
    rig = NotingRig()
    rig.mcu.heaters.cmd_queue_heater(2 * SECOND, 0, 20000)
    rig.mcu.fans.cmd_queue_fan(2 * SECOND, 0, 255)
    rig.mcu.cmd_emergency_stop()
    rig.at(5.0)
    assert rig.mcu.timed.count == 0
    assert rig.heater(0).target == 0.0 and rig.heater(0).duty == 0.0
    assert rig.mcu.fans.speed[0] == 0.0 and rig.applied == []
    rig.mcu.heaters.cmd_queue_heater(6 * SECOND, 0, 20000)   # refused while shut down
    rig.at(7.0)
    assert rig.heater(0).target == 0.0 and rig.mcu.timed.count == 0


def test_a_host_that_hangs_up_takes_its_pending_changes_with_it():
    rig = NotingRig()
    rig.set(0, 200.0)
    rig.mcu.heaters.cmd_queue_heater(10 * SECOND, 1, 6000)
    rig.mcu.host_gone()
    rig.at(12.0)
    assert rig.heater(0).target == 0.0 and rig.heater(1).target == 0.0
    assert rig.heater(1).duty == 0.0


def test_a_queued_target_above_max_temp_is_refused_when_it_arrives():
    rig = NotingRig()
    rig.mcu.heaters.cmd_queue_heater(10 * SECOND, 0, 40000)
    assert "above max_temp" in rig.mcu.shutdown_reason
    assert rig.mcu.timed.count == 0


def test_unknown_outputs_are_refused_by_name():
    rig = NotingRig()
    rig.mcu.fans.cmd_queue_fan(SECOND, 7, 255)
    assert rig.mcu.shutdown_reason == "queue_fan: no fan 7 on this board"
    rig = NotingRig()
    rig.mcu.heaters.cmd_queue_heater(SECOND, -1, 0)
    assert rig.mcu.shutdown_reason == "queue_heater: no heater -1 on this board"


def test_the_board_says_its_queue_size_in_identify():
    rig = NotingRig()
    assert rig.mcu.describe()["output_queue_size"] == QUEUE_SIZE


def test_a_heater_queued_on_while_the_host_is_silent_trips_the_watchdog_at_once():
    """The host-silence watchdog watches applied targets: nothing trips while
    the change waits (the heater is off), and it trips in the control period
    the change lands in, not a max_duration (3 s) later."""
    rig = NotingRig()
    mcu = rig.mcu
    mcu.heaters.cmd_queue_heater(5 * SECOND, 0, 20000)
    tick = SECOND // 10
    now = 0
    while now < 5 * SECOND:
        now += tick
        rig.hal.advance(now)
        mcu.run_timers(now)                  # no frame from the host: last_rx stays 0
    assert mcu.shutdown_reason is not None and "host silent" in mcu.shutdown_reason
    assert rig.applied == [("heater", 5 * SECOND, 0, 20000)]
    assert rig.heater(0).target == 0.0 and rig.heater(0).duty == 0.0
