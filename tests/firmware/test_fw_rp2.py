"""The rp2 backend through fakes of rp2/machine (CPython and micropython).

The fake state machines run the words the backend's DMA rings hold, with the
step program's timing (proved on the PIO emulator in test_pio_emulator.py),
so these tests see every step the board would make: runs long enough to wrap
each ring several times, an underrun, a shutdown mid-run, a late run, an
endstop stop, and the motors starting on one cycle.
"""
import machine
import rp2
import uctypes
from fakeboard import FakeTransport
from hal.rp2 import LEAD_US, RING_WORDS, Rp2Hal, pio_clock
from mcu import Mcu

CYCLES_PER_US = 125          # 125 MHz PIO, board clock 1 MHz
AHEAD_US = LEAD_US + 10000   # runs are sent this far ahead of their first step


def board(motors=2):
    pins = [("gpio11", "gpio10", "gpio12"), ("gpio6", "gpio5", "gpio7"),
            ("gpio19", "gpio28", "gpio2"), ("gpio14", "gpio13", "gpio15")]
    return {
        "id": "test-rp2", "mcu": "rp2040", "clock_freq": 1000000, "step_queue_size": 32,
        "adc_max": 4095,
        "motors": [{"name": "xyze"[i], "step_pin": pins[i][0], "dir_pin": pins[i][1],
                    "enable_pin": pins[i][2], "enable_inverted": True}
                   for i in range(motors)],
        "endstops": [{"name": "x", "pin": "gpio4", "pull": "down", "active": "high"},
                     {"name": "y", "pin": "gpio3", "pull": "up", "active": "low"}],
        "heaters": [{"name": "extruder", "sensor_pin": "gpio27", "heater_pin": "gpio23",
                     "pullup_ohm": 4700}],
        "fans": [{"name": "fan", "pin": "gpio17"}],
    }


def rig(motors=2, spec=None):
    """Fresh fakes and a backend on ``spec`` (default: the test board)."""
    rp2.reset()
    machine.mem32.registers.clear()
    if hasattr(uctypes, "reset"):       # the fake (CPython)
        uctypes.reset()
    machine.TIME_US[0] = 1000
    machine.SYS_FREQ[0] = 125000000
    spec = spec or board(motors)
    hal = Rp2Hal(spec, transport=FakeTransport(), start=rp2.start_on_tick)
    return hal, Mcu(hal, spec)


def advance(hal, us, step_us=500):
    """Let ``us`` microseconds pass, serviced every ``step_us`` like the board."""
    end = machine.TIME_US[0] + us
    while machine.TIME_US[0] < end:
        machine.TIME_US[0] = min(end, machine.TIME_US[0] + step_us)
        rp2.run()
        hal.service()


def commanded(hal, oid, runs):
    """Absolute PIO cycles of the runs' steps: (first tick - origin) * 125."""
    start = rp2.STATE_MACHINES[oid].start
    for first, interval, count, add in runs:
        last = first - interval
        for k in range(1, abs(count) + 1):
            tick = last + k * interval + add * k * (k - 1) // 2
            yield (tick - hal.intake.origin[oid]) * CYCLES_PER_US + start


def queue(mcu, oid, start, runs_spec):
    """Queue (interval, count, add) runs from clock ``start``; returns the runs."""
    steppers = mcu.steppers
    steppers.cmd_set_step_clock(oid, start)
    runs, last = [], start
    for interval, count, add in runs_spec:
        steppers.cmd_queue_step(oid, interval, count, add)
        runs.append((last + interval, interval, count, add))
        steps = abs(count)
        last += steps * interval + add * steps * (steps - 1) // 2
    return runs


def test_pio_clock_is_a_whole_multiple_of_the_board_clock():
    assert pio_clock(125000000, 1000000, 100) == (125000000, 1, 125000000)
    assert pio_clock(125000000, 12000000, 100) == (120000000, 1, 120000000)
    system, div, hz = pio_clock(125000000, 1000000, 2500)      # a 2.5 us pulse
    assert hz % 1000000 == 0 and (2500 * hz) // 10 ** 9 <= 33


def test_motors_start_together_on_one_write():
    hal, mcu = rig(motors=4)
    starts = [rp2.STATE_MACHINES[oid].start for oid in range(4)]
    assert all(rp2.STATE_MACHINES[oid].enabled for oid in range(4))
    assert len(set(starts)) == 1
    enables = [w for w in machine.mem32.writes if w[0] == 0x50200000 + 0x2000]
    assert enables[-1][1] & 0xF == 0xF and enables[-1][1] >> 8 == 0xF   # + CLKDIV_RESTART


def _steps_of(spec, start):
    runs, last = [], start
    for interval, count, add in spec:
        runs.append((last + interval, interval, count, add))
        steps = abs(count)
        last += steps * interval + add * steps * (steps - 1) // 2
    return runs


def test_a_long_stream_laps_the_ring_and_stays_exact():
    hal, mcu = rig()
    start = machine.TIME_US[0] + AHEAD_US
    spec = [(100, 30, -1), (70, 30, 1)] * 40       # 2400 steps, one word each
    steppers = mcu.steppers
    steppers.cmd_set_step_clock(0, start)
    sent = 0
    while sent < len(spec):
        steppers.cmd_get_queue(0)                      # as the host polls it
        while sent < len(spec) and steppers.used(0) < steppers.queue_size:
            steppers.cmd_queue_step(0, *spec[sent])
            sent += 1
        advance(hal, 2000, step_us=250)
    advance(hal, 150000, step_us=250)
    assert mcu.shutdown_reason is None, mcu.shutdown_reason
    sm = rp2.STATE_MACHINES[0]
    assert len(sm.rises) == 2400 > 4 * RING_WORDS
    matched = 0
    for (got, _level), want in zip(sm.rises, commanded(hal, 0, _steps_of(spec, start))):
        assert got == want, (matched, got, want)
        matched += 1
    assert matched == 2400


def test_an_underrun_is_a_shutdown_not_a_glitch():
    hal, mcu = rig()
    start = machine.TIME_US[0] + AHEAD_US
    queue(mcu, 0, start, [(50, 30, 1)] * 30)        # 900 words: more than a ring
    machine.TIME_US[0] += AHEAD_US + 60000            # the refill never came
    rp2.run()
    sm = rp2.STATE_MACHINES[0]
    taken = len(sm.rises)
    assert sm.halted and 0 < taken < 900
    hal.service()
    assert mcu.shutdown_reason.startswith("step underrun on motor x")
    assert hal.enables[0][0].value() == 1            # driver released (active low)
    assert mcu.steppers.position[0] == taken         # the steps really made
    advance(hal, 20000)
    assert len(sm.rises) == taken and not sm.halted  # restarted, idle


def test_shutdown_mid_run_reports_the_steps_taken():
    hal, mcu = rig()
    start = machine.TIME_US[0] + AHEAD_US
    queue(mcu, 1, start, [(100, 50, 0)] * 10)        # 500 steps, 100 us apart
    advance(hal, AHEAD_US + 100 * 123 + 50)            # 123 steps done
    rises = len(rp2.STATE_MACHINES[1].rises)
    mcu.shutdown("test stop")
    assert rises == 123
    assert mcu.steppers.position[1] == 123
    advance(hal, 10000)
    assert len(rp2.STATE_MACHINES[1].rises) == 123   # restarted idle: no step since


def test_a_run_later_than_its_stream_is_refused():
    hal, mcu = rig()
    mcu.steppers.cmd_set_step_clock(0, machine.TIME_US[0] + 100)
    mcu.steppers.cmd_queue_step(0, 100, 5, 0)
    assert "too late for its pulse stream" in mcu.shutdown_reason


def test_endstop_stops_the_motor_before_the_next_step_and_gives_its_position():
    hal, mcu = rig()
    mcu.endstops.cmd_endstop_home(0, 1)
    assert rp2.STATE_MACHINES[0].jmp_pin is machine.Pin.ALL[4]
    start = machine.TIME_US[0] + AHEAD_US
    queue(mcu, 0, start, [(200, -50, 0)] * 4)                   # homing towards -
    queue(mcu, 1, start, [(300, 20, 0)])
    advance(hal, AHEAD_US + 200 * 37 + 100)                        # 37 steps, then:
    machine.Pin.ALL[4].value(1)                                  # the switch closes
    advance(hal, 5000)
    assert mcu.shutdown_reason is None, mcu.shutdown_reason
    assert hal.hits[0] == -37 == mcu.steppers.position[0]
    assert rp2.STATE_MACHINES[0].jmp_pin is machine.Pin.ALL[11]  # disarmed
    mcu.endstops.cmd_get_trigger(0)
    assert hal.transport.sent[-1]
    advance(hal, 20000)
    assert len(rp2.STATE_MACHINES[1].rises) == 20                # the other motor ran on


def test_an_active_low_endstop_is_inverted_at_the_pad_so_1_reads_triggered():
    hal, _mcu = rig()
    inover = lambda n: (machine.mem32[0x40014004 + 8 * n] >> 16) & 3   # noqa: E731
    assert inover(3) == 1 and inover(4) == 0     # y (active low) inverted, x not
    machine.Pin.ALL[3].value(1)                  # pulled up, nothing attached
    assert hal.endstops[1][0] == 3


def test_clock_is_monotonic_across_the_timer_low_word_wrap():
    hal, mcu = rig()
    machine.TIME_US[0] = (1 << 32) - 2
    before = hal.clock()
    machine.TIME_US[0] = (1 << 32) + 3
    assert hal.clock() - before == 5


def test_enable_adc_and_pwm_reach_the_pins():
    hal, mcu = rig()
    hal.enable_motors(True)
    assert [pin.value() for pin, _inv in hal.enables] == [0, 0]     # active low
    machine.ADC.READINGS[27] = 65535
    assert hal.adc_read("gpio27") == 4095
    hal.pwm_config("gpio23", 0.5)
    hal.pwm_write("gpio23", 0.25)
    pwm = hal.pwms["gpio23"]
    assert pwm.freq() == 8 and pwm.duty_u16() == 16384


def test_hal_load_picks_the_backend_by_mcu_family():
    import hal
    import hal.rp2
    rp2.reset()
    machine.TIME_US[0] = 1000
    real = hal.rp2.StdioTransport
    hal.rp2.StdioTransport = FakeTransport          # no stdin to poll under a test runner
    try:
        backend = hal.load(board(), {})
    finally:
        hal.rp2.StdioTransport = real
    assert isinstance(backend, Rp2Hal)
    assert backend.pio_freq == 125000000 and backend.cycles_per_tick == 125
    spec = board()
    spec["mcu"] = "stm32"
    try:
        hal.load(spec, {})
    except ValueError as exc:
        assert "stm32" in str(exc)
    else:
        raise AssertionError("an unknown MCU family was accepted")
