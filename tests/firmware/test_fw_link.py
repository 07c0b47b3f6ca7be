"""Firmware link and motion: frames, acknowledgements, step queues, shutdowns."""
import json

from fakeboard import BOARD, FakeHal, frame, vlq
from mcu import Mcu


def make():
    hal = FakeHal()
    mcu = Mcu(hal, BOARD)
    ids = json.loads(mcu.link.identify_text())
    return hal, mcu, ids


def cmd(ids, name, *args):
    return vlq(ids["commands"][name][0], *args)


def last_ack(hal):
    """Sequence number of the last frame the board sent."""
    return hal.transport.sent[-1][1]


def deliver(hal, mcu, data):
    hal.transport.feed(data)
    mcu.link.poll(0)


def test_identify_lists_commands_and_responses():
    _hal, _mcu, ids = make()
    assert ids["commands"]["queue_step"][1] == "iiii"
    assert ids["responses"]["position"][1] == "ii"
    assert ids["motors"] == ["x", "y"]
    assert ids["clock_freq"] == 12000000


def test_frame_runs_step_commands_and_is_acknowledged():
    hal, mcu, ids = make()
    payload = cmd(ids, "set_step_clock", 1, 1000) + cmd(ids, "queue_step", 1, 100, -5, 2)
    deliver(hal, mcu, frame(0, payload))
    assert hal.runs == [(1, 1100, 100, -5, 2)]
    assert mcu.steppers.position == [0, -5]
    assert last_ack(hal) == 1


def test_bad_crc_is_refused_then_resent_frame_runs_once():
    hal, mcu, ids = make()
    good = frame(0, cmd(ids, "set_step_clock", 0, 50) + cmd(ids, "queue_step", 0, 10, 3, 0))
    bad = bytearray(good)
    bad[4] ^= 0x40
    deliver(hal, mcu, bytes(bad))
    assert hal.runs == []
    assert mcu.link.frames_bad == 1
    assert last_ack(hal) == 0          # still expects frame 0: a negative ack
    deliver(hal, mcu, good)
    deliver(hal, mcu, good)            # a duplicate of a frame already run
    assert hal.runs == [(0, 60, 10, 3, 0)]
    assert mcu.link.frames_dup == 1
    assert last_ack(hal) == 1


def test_garbage_before_a_frame_is_skipped():
    hal, mcu, ids = make()
    deliver(hal, mcu, b"\x03\x99\x7e" + frame(0, cmd(ids, "set_step_clock", 0, 5)))
    assert mcu.steppers.last_clock[0] == 5
    assert mcu.link.expected_seq == 1


def test_frame_split_across_reads():
    hal, mcu, ids = make()
    data = frame(0, cmd(ids, "set_step_clock", 0, 7))
    deliver(hal, mcu, data[:3])
    assert mcu.link.expected_seq == 0
    deliver(hal, mcu, data[3:])
    assert mcu.steppers.last_clock[0] == 7


def test_late_run_shuts_down_and_heaters_go_off():
    hal, mcu, ids = make()
    mcu.heaters.cmd_config_heater(0, b"Generic 3950", 5, 300)
    deliver(hal, mcu, frame(0, cmd(ids, "set_heater", 0, 20000)))
    assert mcu.heaters.heaters[0].target == 200.0
    hal.now = 10000
    deliver(hal, mcu, frame(1, cmd(ids, "set_step_clock", 0, 100)
                             + cmd(ids, "queue_step", 0, 10, 1, 0)))
    assert "scheduled in the past" in mcu.shutdown_reason
    assert mcu.heaters.heaters[0].target == 0.0
    assert hal.pwm["pwm0"] == 0.0
    assert hal.enabled is False
    assert hal.runs == []


def test_full_queue_shuts_down():
    hal, mcu, ids = make()
    payload = cmd(ids, "set_step_clock", 0, 1000)
    for _ in range(5):                 # BOARD queue holds 4 runs
        payload += cmd(ids, "queue_step", 0, 1000, 2, 0)
    deliver(hal, mcu, frame(0, payload))
    assert "overflow" in mcu.shutdown_reason
    assert len(hal.runs) == 4


def test_finished_runs_free_their_slots():
    hal, mcu, ids = make()
    payload = cmd(ids, "set_step_clock", 0, 1000)
    for _ in range(4):
        payload += cmd(ids, "queue_step", 0, 1000, 2, 0)
    deliver(hal, mcu, frame(0, payload))
    hal.now = 1000 + 2 * 2000 + 1      # first two runs are done
    deliver(hal, mcu, frame(1, cmd(ids, "queue_step", 0, 1000, 2, 0)
                             + cmd(ids, "queue_step", 0, 1000, 2, 0)))
    assert mcu.shutdown_reason is None
    assert mcu.steppers.position[0] == 12


def test_position_response_is_framed():
    hal, mcu, ids = make()
    deliver(hal, mcu, frame(0, cmd(ids, "set_step_clock", 0, 0)
                             + cmd(ids, "queue_step", 0, 5, -300, 0)
                             + cmd(ids, "get_position", 0)))
    position_id = ids["responses"]["position"][0]
    reply = [f for f in hal.transport.sent if len(f) > 5][0]
    assert reply[2:-3] == vlq(position_id, 0, -300)
    assert reply[0] == len(reply) and reply[-1] == 0x7E


def test_host_silence_turns_heaters_off():
    hal, mcu, ids = make()
    mcu.heaters.heaters[0].sensor = None
    heater = mcu.heaters.heaters[0]
    heater.target = 200.0
    mcu.run_timers(mcu.max_silence[0] + 2 * mcu.control_ticks)
    assert "host silent" in mcu.shutdown_reason
    assert heater.target == 0.0


def test_unknown_command_shuts_down_safely():
    hal, mcu, _ids = make()
    hal.transport.feed(frame(0, vlq(99)))
    mcu.poll_once()
    assert "firmware error" in mcu.shutdown_reason
    assert hal.enabled is False


def test_message_running_past_its_frame_shuts_down():
    hal, mcu, ids = make()
    hal.transport.feed(frame(0, vlq(ids["commands"]["set_step_clock"][0], 0)))
    mcu.poll_once()
    assert mcu.shutdown_reason is not None


def test_motor_out_of_range_shuts_down():
    hal, mcu, ids = make()
    hal.transport.feed(frame(0, cmd(ids, "set_step_clock", 9, 0)))
    mcu.poll_once()
    assert "firmware error" in mcu.shutdown_reason
