"""The esp32 backend through fakes of esp32/machine (CPython and micropython):
refusal of I2S shift-register boards, RMT pulse sequences that place every
step on its commanded tick, and the wrap-safe microsecond clock."""
import esp32
from fakeboard import FakeTransport
from hal.esp32 import Esp32Hal, check_board, pulse_sequence
from hal.ticks import MonotonicUs
from mcu import Mcu

NOW = [5000]


def board(**extra):
    spec = {
        "id": "test-e4", "mcu": "esp32", "clock_freq": 1000000, "step_queue_size": 16,
        "adc_max": 4095,
        "motors": [{"name": "x", "step_pin": "gpio27", "dir_pin": "gpio26",
                    "enable_pin": "gpio25", "enable_inverted": True},
                   {"name": "y", "step_pin": "gpio33", "dir_pin": "gpio32",
                    "enable_pin": "gpio25", "enable_inverted": True}],
        "heaters": [], "fans": [],
    }
    spec.update(extra)
    return spec


class FakeTicks:
    def now(self):
        return NOW[0]


def rig():
    esp32.RMT.CHANNELS.clear()
    NOW[0] = 5000
    spec = board()
    hal = Esp32Hal(spec, transport=FakeTransport(), ticks=FakeTicks())
    return hal, Mcu(hal, spec)


def step_times(start, durations, levels):
    """Clock of each rising edge of a sequence written at ``start`` (1 tick = 1 us)."""
    out, t, was = [], start, 0
    for d, level in zip(durations, levels):
        if level and not was:
            out.append(t)
        t += d
        was = level
    return out


def test_i2s_shift_register_boards_are_refused_in_words():
    try:
        check_board(board(id="mks-tinybee", stepper_bus="i2s_shift"))
    except ValueError as exc:
        assert "I2S shift register" in str(exc) and "mks-tinybee" in str(exc)
    else:
        raise AssertionError("an I2S board was accepted")


def test_a_run_steps_on_its_commanded_ticks():
    durations, levels = pulse_sequence(1500, 400, 5, -20, 2, 1)
    assert step_times(0, durations, levels) == [1500, 1880, 2240, 2580, 2900]
    assert max(durations) <= 32767


def test_long_waits_are_split_into_rmt_items():
    durations, levels = pulse_sequence(100000, 70000, 2, 0, 2, 1)
    assert step_times(0, durations, levels) == [100000, 170000]
    assert max(durations) <= 32767 and levels.count(1) == 2


def test_runs_of_one_direction_merge_and_a_reversal_waits():
    hal, mcu = rig()
    steppers = mcu.steppers
    steppers.cmd_set_step_clock(0, NOW[0] + 10000)
    steppers.cmd_queue_step(0, 300, 4, 0)
    steppers.cmd_queue_step(0, 250, 3, 10)
    steppers.cmd_queue_step(0, 500, -2, 0)
    rmt = esp32.RMT.CHANNELS[0]
    assert rmt.sequences == []                      # not due yet
    first = NOW[0] + 10000 + 300
    NOW[0] = first - 1500                           # within the start lead
    hal.advance(hal.clock())
    assert len(rmt.sequences) == 1
    expect = [first + 300 * k for k in range(4)]
    expect += [expect[-1] + 250, expect[-1] + 510, expect[-1] + 780]
    assert step_times(NOW[0], *rmt.sequences[0]) == expect
    assert hal.dir_pins[0].value() == 1
    rmt.done = True                                 # the RMT finished the sequence
    NOW[0] = expect[-1] + 10
    hal.advance(hal.clock())
    assert len(rmt.sequences) == 2 and hal.dir_pins[0].value() == 0
    assert step_times(NOW[0], *rmt.sequences[1]) == [expect[-1] + 500, expect[-1] + 1000]


def test_shutdown_counts_steps_by_the_schedule():
    hal, mcu = rig()
    mcu.steppers.cmd_set_step_clock(1, NOW[0] + 100)
    mcu.steppers.cmd_queue_step(1, 100, 10, 0)
    NOW[0] += 100 + 450
    mcu.shutdown("test")
    assert mcu.steppers.position[1] == 4


def test_monotonic_clock_survives_the_ticks_wrap():
    period = 1 << 30
    raw = [period - 5]

    def diff(a, b):
        return ((a - b + period // 2) % period) - period // 2

    clock = MonotonicUs(lambda: raw[0], diff)
    raw[0] = 3                                       # wrapped
    assert clock.now() == 8
    raw[0] = period // 4
    assert clock.now() == 8 + period // 4 - 3


def test_hal_load_refuses_an_i2s_board_before_touching_hardware():
    import hal
    esp32.RMT.CHANNELS.clear()
    try:
        hal.load(board(id="mks-tinybee", stepper_bus="i2s_shift"), {})
    except ValueError as exc:
        assert "not supported yet" in str(exc)
    else:
        raise AssertionError("an I2S board was accepted")
    assert esp32.RMT.CHANNELS == {}
