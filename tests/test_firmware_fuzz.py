"""The firmware's frame decoder fuzzed with frames whose CRC is right (hypothesis).

Hypothesis makes the payloads here, in CPython; tests/firmware/linkfuzz.py
feeds them to the firmware under CPython and under the real MicroPython
interpreter, and both must give the same results. Those results are checked
against a decoding of the payload made here, independently of the firmware's
code: a message that cannot be read (an id outside the table, negative ones
included, or arguments past the frame's end) refuses the rest of its frame,
every message before it runs, and no handler ever runs with anything else.
"""
import json
import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paths import ROOT

HERE = os.path.join(ROOT, "tests", "firmware")
SEQ_MASK = 0x7F
MAX_PAYLOAD = 250          # a 255-byte frame less its length, sequence, CRC and sync
FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _run(interpreter, *args):
    result = subprocess.run([interpreter, "linkfuzz.py"] + list(args), cwd=HERE,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _both(micropython, mode, payloads, tmp_path):
    """Results of ``payloads`` under CPython and MicroPython (must agree)."""
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([p.hex() for p in payloads]))
    cpython = _run(sys.executable, mode, str(path))
    micro = _run(micropython, mode, str(path))
    assert len(cpython) == len(payloads)
    assert micro == cpython
    return cpython


def _table(mode):
    return [tuple(row) for row in _run(sys.executable, "table", mode)[0]]


def vlq(value):
    value = (value << 1) if value >= 0 else ((-value) << 1) - 1
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode(payload, table):
    """The calls a payload must make, and whether it must be refused:
    (list of [name, args...] with bytes in hex, refused)."""
    calls = []
    pos = 0

    def read_int():
        nonlocal pos
        value = shift = 0
        while pos < len(payload):
            byte = payload[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return -((value + 1) >> 1) if value & 1 else value >> 1
        return None

    while pos < len(payload):
        msgid = read_int()
        if msgid is None or not 0 <= msgid < len(table):
            return calls, True
        name, fmt = table[msgid]
        call = [name]
        for kind in fmt:
            value = read_int()
            if value is None:
                return calls, True
            if kind == "s":
                if not 0 <= value <= len(payload) - pos:
                    return calls, True
                value, pos = payload[pos:pos + value].hex(), pos + value
            call.append(value)
        calls.append(call)
    return calls, False


# -- payloads ----------------------------------------------------------
SMALL = st.integers(-70, 70)
INTS = st.one_of(SMALL, st.integers(-(1 << 34), 1 << 34), st.integers(-(1 << 70), 1 << 70))


@st.composite
def message(draw, table):
    """One message: a real id with arguments of its shape, or an id outside
    the table (negative, past its end) with arguments of some shape."""
    msgid = draw(st.one_of(st.integers(0, len(table) - 1), st.integers(0, len(table) - 1),
                           st.integers(-200, -1), st.integers(len(table), 1 << 21)))
    fmt = table[msgid][1] if 0 <= msgid < len(table) else draw(st.text("is", max_size=4))
    out = bytearray(vlq(msgid))
    for kind in fmt:
        if kind == "i":
            out += vlq(draw(INTS))
        else:
            data = draw(st.binary(max_size=24))
            length = draw(st.one_of(st.just(len(data)), st.just(len(data)),
                                    st.integers(-40, 300)))
            out += vlq(length) + data
    return bytes(out)


@st.composite
def payload(draw, table):
    """Random bytes, or messages cut short or with a byte changed."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=MAX_PAYLOAD))
    data = b"".join(draw(st.lists(message(table), max_size=16)))
    cut = draw(st.one_of(st.just(len(data)), st.integers(0, len(data))))
    data = bytearray(data[:min(cut, MAX_PAYLOAD)])
    if data and draw(st.integers(0, 4)) == 0:
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


PROBE = _table("probe")
MCU = _table("mcu")


@st.composite
def step_payload(draw):
    """set_step_clock for both motors, then queue_step runs, mostly ones the
    board takes (the viper bulk decoder's path: the test board queues four
    runs a motor), some out of range or cut short."""
    ids = {name: i for i, (name, _fmt) in enumerate(MCU)}
    out = b"".join(vlq(ids["set_step_clock"]) + vlq(oid) + vlq(draw(st.integers(0, 5000)))
                   for oid in (0, 1))
    often = st.integers(0, 9)
    for _ in range(draw(st.integers(0, 10))):
        oid = draw(st.sampled_from((0, 1, 0, 1, 0, 1, 2, -1, 64)))
        interval = draw(st.integers(1, 3000) if draw(often) else st.integers(-5, 1 << 22))
        count = draw(st.integers(-300, 300) if draw(often) else st.integers(-20000, 20000))
        add = draw(st.integers(-2, 2) if draw(often) else st.integers(-(1 << 23), 1 << 23))
        out += b"".join(vlq(v) for v in (ids["queue_step"], oid, interval, count, add))
    return out[:draw(st.one_of(st.just(len(out)), st.integers(0, len(out))))][:MAX_PAYLOAD]


# -- tests ---------------------------------------------------------------
@FUZZ
@given(payloads=st.lists(payload(PROBE), min_size=1, max_size=60))
def test_frames_run_exactly_their_readable_messages(micropython, tmp_path_factory, payloads):
    results = _both(micropython, "probe", payloads, tmp_path_factory.mktemp("fuzz"))
    for seq, (data, result) in enumerate(zip(payloads, results)):
        calls, refused = decode(data, PROBE)
        assert result["calls"] == calls, data.hex()
        assert result["ack"] == (seq + 1) & SEQ_MASK
        if refused:
            assert result["refused"].startswith("frame %d refused: " % (seq & SEQ_MASK))
        else:
            assert result["refused"] is None, data.hex()


@FUZZ
@given(payloads=st.lists(st.one_of(payload(MCU), step_payload()), min_size=1, max_size=40))
def test_firmware_refuses_unreadable_frames_and_only_those(micropython, tmp_path_factory,
                                                           payloads):
    results = _both(micropython, "mcu", payloads, tmp_path_factory.mktemp("fuzz"))
    for data, result in zip(payloads, results):
        _calls, refused = decode(data, MCU)
        reason = result["shutdown"] or ""
        # A handler that refused its arguments (motor 9, fan 1, say) shut the
        # board down; its frame may then stop there, before its unreadable part.
        handler_stopped = reason != "" and not reason.startswith("frame ")
        if not refused:
            assert result["refused"] is None, data.hex()
        elif not handler_stopped:
            assert result["refused"].startswith("frame 0 refused: "), data.hex()
        elif result["refused"] is not None:
            assert result["refused"].startswith("frame 0 refused: "), data.hex()
