"""The same tests for the simulated board and a real one (see conftest.py).

The serial service opens the port, which flushes whatever the board sent
before; so each test starts with a handshake (an empty frame, answered by an
acknowledgement) before it relies on anything it reads.
"""
import contextlib
import re

import pytest

from mendel import config
from mendel.mcu import codec
from mendel.mcu.mcu import Mcu, McuShutdown
from mendel.machine.printer import Printer

# The head of a frame from the board: its length (5..64), the sequence it expects.
HEAD = re.compile(rb"([\x05-\x40])[\x00-\x7f]")


def handshake(dut):
    """Send an empty frame and read the board's answer through pytest-embedded's
    expect: an acknowledgement (with a ``nak`` if the board expected another
    sequence number). Returns the sequence number the board expects."""
    dut.serial.proc.write(codec.build_frame(0, b""))
    head = dut.expect(HEAD, timeout=5)
    rest = dut.expect(re.compile(rb"[\x00-\xff]{%d}" % (head.group(1)[0] - 2)), timeout=5)
    frames = codec.FrameDecoder().feed(head.group(0) + rest.group(0))
    assert len(frames) == 1, "not a frame: %r" % (head.group(0) + rest.group(0))
    return frames[0][0]


@contextlib.contextmanager
def board(dut):
    """An Mcu on the dut's port, after the handshake; pytest-embedded stops
    reading the port so that the link has it to itself."""
    handshake(dut)
    dut.serial.stop_redirect_thread()
    try:
        mcu = Mcu(dut.serial.proc)
        mcu.connect(clear_shutdown=True)
        yield mcu
    finally:
        dut.serial.start_redirect_thread()


def test_board_answers_the_handshake_and_describes_itself(dut):
    with board(dut) as mcu:
        assert mcu.clock_freq > 0
        assert len(mcu.info["motors"]) == 4
        assert {"queue_step", "set_heater", "emergency_stop"} <= set(mcu.commands)


def test_motors_reach_their_step_positions(dut, tmp_path):
    gcode = tmp_path / "bench.gcode"
    # A bench rig has nothing on its endstop inputs: the position is set, not homed.
    gcode.write_text("SET_KINEMATIC_POSITION X=0 Y=0 Z=0\nG90\nG1 X20 Y10 F6000\n"
                     "G1 X5 Y30 Z2 F3000\nG1 X12.5 Y0.25\nM400\n")
    cfg = config.load()
    with board(dut) as mcu:
        summary = Printer(cfg, mcu, warn=lambda _text: None).print_file(str(gcode))
    steps = dict(zip("xyz", cfg.steps_per_mm()))
    assert summary.position_steps == {"x": round(12.5 * steps["x"]),
                                      "y": round(0.25 * steps["y"]),
                                      "z": round(2 * steps["z"]), "e": 0}
    assert summary.position_steps == summary.expected_steps


def test_emergency_stop_halts_the_board(dut):
    with board(dut) as mcu:
        mcu.emergency_stop()
        with pytest.raises(McuShutdown):
            for _ in range(200):
                mcu.pump(0.01)
