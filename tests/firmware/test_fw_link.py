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


def spy_on_handlers(mcu):
    """Replace every handler with one that records its id and arguments."""
    calls = []
    handlers = mcu.link._handlers
    for msgid in range(len(handlers)):
        def spy(*args, msgid=msgid):
            calls.append((msgid, args))
        handlers[msgid] = (handlers[msgid][0], spy)
    return calls


def test_unknown_command_shuts_down_safely():
    hal, mcu, _ids = make()
    hal.transport.feed(frame(0, vlq(99)))
    mcu.poll_once()
    assert mcu.shutdown_reason.startswith("frame 0 refused: unknown command id 99")
    assert hal.enabled is False


def test_negative_message_id_is_refused_and_runs_nothing():
    hal, mcu, ids = make()
    calls = spy_on_handlers(mcu)
    # -1 would index the handler table from its end; give it arguments enough.
    hal.transport.feed(frame(0, vlq(-1, 0, 0, 0, 0, 0)))
    mcu.poll_once()
    assert calls == []
    assert mcu.link.frames_refused == 1
    assert mcu.shutdown_reason.startswith("frame 0 refused: unknown command id -1 ")
    assert hal.enabled is False


def test_message_running_past_its_frame_is_refused_before_its_handler_runs():
    hal, mcu, ids = make()
    hal.transport.feed(frame(0, vlq(ids["commands"]["set_step_clock"][0], 0)))
    mcu.poll_once()
    assert mcu.steppers.last_clock == [-1, -1]
    assert mcu.shutdown_reason == ("frame 0 refused: command set_step_clock (id %d, arguments"
                                   " ii) runs past the end of its frame"
                                   % ids["commands"]["set_step_clock"][0])


def test_byte_string_longer_than_its_frame_is_refused():
    hal, mcu, ids = make()
    calls = spy_on_handlers(mcu)
    good = cmd(ids, "get_clock")
    # config_heater(0, name, ...) whose name claims 40 bytes; 3 follow.
    bad = vlq(ids["commands"]["config_heater"][0], 0, 40) + b"abc"
    hal.transport.feed(frame(0, good + bad))
    mcu.poll_once()
    assert calls == [(ids["commands"]["get_clock"][0], ())]
    assert "command config_heater" in mcu.shutdown_reason


def test_motor_out_of_range_shuts_down():
    hal, mcu, ids = make()
    hal.transport.feed(frame(0, cmd(ids, "set_step_clock", 9, 0)))
    mcu.poll_once()
    assert "firmware error" in mcu.shutdown_reason


class Lcg:
    """A tiny seeded generator, the same under CPython and MicroPython."""

    def __init__(self, seed):
        self.state = seed

    def next(self, bound):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return self.state % bound


def test_random_values_round_trip_through_frames():
    hal, mcu, ids = make()
    rng = Lcg(7)
    sent = []
    stream = bytearray()
    for seq in range(200):
        values = [rng.next(1 << 30) - (1 << 29) for _ in range(3)]
        payload = b"".join(cmd(ids, "set_step_clock", i % 2, v) for i, v in enumerate(values))
        stream += frame(seq & 0x7F, payload)
        sent.extend(values)
    seen = []
    original = mcu.steppers.cmd_set_step_clock

    def spy(oid, clock):
        seen.append(clock)
        original(oid, clock)
    mcu.steppers.cmd_set_step_clock = spy
    # Rebind the handler to the spy: handlers are looked up by id.
    mcu.link._handlers[ids["commands"]["set_step_clock"][0]] = ("ii", spy)
    pos = 0
    while pos < len(stream):
        size = 1 + rng.next(90)
        deliver(hal, mcu, bytes(stream[pos:pos + size]))
        pos += size
    assert seen == sent


def test_damaged_stream_never_runs_a_frame_twice_or_out_of_order():
    hal, mcu, ids = make()
    rng = Lcg(11)
    seen = []

    def spy(oid, clock):
        seen.append(clock)
    mcu.link._handlers[ids["commands"]["set_step_clock"][0]] = ("ii", spy)
    frames = [frame(seq & 0x7F, cmd(ids, "set_step_clock", 0, seq)) for seq in range(300)]
    next_frame = 0
    for _round in range(3000):
        if next_frame >= len(frames):
            break
        # Go-back-N sender: send from the board's expected frame on, with damage.
        start = next_frame
        for index in range(start, min(start + 8, len(frames))):
            data = bytes(frames[index])
            roll = rng.next(10)
            at = rng.next(len(data))
            if roll == 0:
                data = data[:at] + bytes((data[at] ^ (1 << rng.next(8)),)) + data[at + 1:]
            elif roll == 1:
                data = data[:at] + data[at + 1:]
            elif roll == 2:
                data = data[:at] + bytes((rng.next(256),)) + data[at:]
            deliver(hal, mcu, data)
        next_frame = start + ((mcu.link.expected_seq - start) & 0x7F)
    assert seen == list(range(300))


def _ints(data):
    """Zigzag VLQ integers of ``data`` (decoded here, not by the firmware's codec)."""
    values, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            values.append((value >> 1) if not value & 1 else -((value + 1) >> 1))
            value, shift = 0, 0
    return values


def test_memory_is_the_heap_in_use_and_free_after_a_collection():
    import gc
    hal, mcu, ids = make()
    deliver(hal, mcu, frame(0, cmd(ids, "get_memory")))
    reply = [f for f in hal.transport.sent if len(f) > 5][-1]
    msgid, used, free = _ints(reply[2:-3])
    assert msgid == ids["responses"]["memory"][0]
    assert ids["responses"]["memory"][1] == "ii"
    if hasattr(gc, "mem_alloc"):                     # MicroPython: the heap's figures
        gc.collect()
        assert used > 0 and free > 0
        # The heap's size does not change: in use + free is the same total.
        assert used + free == gc.mem_alloc() + gc.mem_free()
    else:                                            # CPython cannot say
        assert (used, free) == (-1, -1)
