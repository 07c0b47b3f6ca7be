"""`mendel console`: scripted on stdin, on a terminal (pty), and its emergency stop.

The console drives a simulated board in real time on a port, as it would a
real one; afterwards the test connects to the same board and asks it what
happened."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest
import serial

from mendel import config
from mendel.mcu.mcu import Mcu, McuShutdown
from mendel.sim.board import SimBoard
from mendel.ux import runlog

CFG = config.load()
TEMP_REPLY = re.compile(r"^ok T:\d+\.\d /200\.0 B:\d+\.\d /0\.0 @:\d+ B@:0$")


def _console(port, *options):
    return [sys.executable, "-m", "mendel", "console", "--port", port, *options]


def _board_state(port, clear=False):
    """(X motor steps from where G28 found X's endstop (position_endstop 0),
    extruder target degC, previous shutdown) of the board."""
    with serial.Serial(port, 250000, timeout=0.1) as link:
        mcu = Mcu(link)
        mcu.connect(clear_shutdown=clear)
        x_motor = mcu.info["motors"].index(CFG.steppers["x"].motor)
        hot_end = mcu.info["heaters"].index(CFG.heaters["extruder"].name)
        _oid, _hit, home = mcu.query("get_trigger", (x_motor,), "trigger",
                                     match=lambda args: args[0] == x_motor)
        return (mcu.motor_position(x_motor) - home, mcu.temperature(hot_end)[1],
                mcu.previous_shutdown)


def test_scripted_session_replies_per_line_and_leaves_the_board_safe(tmp_path):
    script = "G28\nM104 S200\nM105\nG1 X50 Y20 F6000\nM114\nG1 X999\nM400\nM105\nFOO_BAR\n"
    log = tmp_path / "console.jsonl"
    with SimBoard("sim", realtime=True) as sim:
        result = subprocess.run(_console(sim.port, "--log", str(log)), input=script,
                                capture_output=True, text=True, timeout=60, cwd=tmp_path)
        # The script had a refused line (G1 X999): status 1, so a script can tell.
        assert result.returncode == 1, result.stderr
        replies = result.stdout.splitlines()
        assert replies[:2] == ["ok", "ok"] and TEMP_REPLY.match(replies[2])
        assert replies[3:8] == [
            "ok", "echo: X:50.000 Y:20.000 Z:0.000 E:0.000", "ok",
            "!! move out of range: X=999.000 outside 0.000..250.000 mm", "ok"]
        assert TEMP_REPLY.match(replies[8]) and len(replies) == 11
        # A warning names the console's line.
        assert replies[9:] == ["<console>:9: FOO_BAR is not supported; ignored (reported once)",
                               "ok"]
        # End of input: the move was made, the hot end is off, no shutdown.
        steps, target, shutdown = _board_state(sim.port)
    assert steps == 50 * 80 and target == 0.0 and shutdown is None
    entries = runlog.read(str(log))
    assert [(e["line"], e["text"]) for e in entries if e["kind"] == "command"] == list(
        enumerate(script.splitlines(), 1))
    assert [e["line"] for e in entries if e["kind"] == "error"] == [6]
    assert any(e["kind"] == "temperature" and e["heaters"]["extruder"][1] == 200.0
               for e in entries)
    assert entries[-1] == dict(entries[-1], kind="end", status="ok")


def test_sigquit_is_an_emergency_stop(tmp_path):
    with SimBoard("sim", realtime=True) as sim:
        proc = subprocess.Popen(_console(sim.port, "--no-log"), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=tmp_path)
        try:
            proc.stdin.write("SET_KINEMATIC_POSITION X=0 Y=0 Z=0\nM104 S200\n"
                             "G1 X100 F600\n")                  # a 10 s move
            proc.stdin.flush()
            assert [proc.stdout.readline() for _ in range(3)] == ["ok\n"] * 3
            time.sleep(1.0)
            proc.send_signal(signal.SIGQUIT)
            out, _err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 2
        assert "!! emergency stop sent; the board shut down: emergency stop (M112)" in out
        with pytest.raises(McuShutdown, match="M112"):
            _board_state(sim.port)
        steps, target, shutdown = _board_state(sim.port, clear=True)
    assert "M112" in shutdown and target == 0.0
    assert 0 < steps < 100 * 80                  # stopped in the middle of the move


def test_m112_typed_stops_the_board(tmp_path):
    with SimBoard("sim", realtime=True) as sim:
        result = subprocess.run(_console(sim.port, "--no-log"), input="M104 S200\nM112\nG28\n",
                                capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stdout.splitlines() == [
            "ok", "!! the board shut down: emergency stop (M112)"]
        with pytest.raises(McuShutdown, match="M112"):
            _board_state(sim.port)


def _controlling_terminal():
    """In the child: a session of its own, with the pty (stdin) as its terminal,
    so that the terminal's Ctrl-\\ sends it SIGQUIT as a shell's would."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``mendel console`` on a pty as a terminal: 100 x 30, answering cursor
    position requests; history under ``tmp_path``. A context manager that
    waits for the first prompt."""

    def __init__(self, port, tmp_path):
        env = dict(os.environ, TERM="xterm", XDG_STATE_HOME=str(tmp_path / "state"))
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.proc = subprocess.Popen(_console(port, "--no-log"), stdin=slave, stdout=slave,
                                     stderr=slave, env=env, cwd=tmp_path, close_fds=True,
                                     preexec_fn=_controlling_terminal)
        os.close(slave)
        self.raw = b""

    def __enter__(self):
        assert self.expect(r"mendel>"), self.text()
        return self

    def __exit__(self, *_exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)

    def text(self):
        """What was shown, escape sequences removed."""
        return re.sub(rb"\x1b\[[0-9;?]*[a-zA-Z]", b"", self.raw).decode(errors="replace")

    def expect(self, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.text()):
                return True
            ready, _w, _x = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if b"\x1b[6n" in chunk:
                    os.write(self.master, b"\x1b[1;1R")
                self.raw += chunk
        return bool(re.search(pattern, self.text()))

    def type(self, keys):
        self.raw = b""
        os.write(self.master, keys)

    def ends(self, status, pattern=None):
        """The console ends with exit ``status``, having shown ``pattern``."""
        if pattern:
            assert self.expect(pattern), self.text()
        assert self.proc.wait(timeout=20) == status


STOPPED = r"emergency stop sent; the board shut down: emergency stop"


def test_terminal_prompt_with_history_temperatures_and_ctrl_keys(tmp_path):
    with SimBoard("sim", realtime=True) as sim:
        with Terminal(sim.port, tmp_path) as term:
            for line, reply in [(b"G28", r"\nok"), (b"M104 S200", r"\nok"),
                                (b"M105", r"ok T:\d+\.\d /200\.0"),
                                (b"G1 X50 F3000", r"\nok")]:
                term.type(line + b"\r")
                # G28 homes for real, on the board's clock: Z at 8 mm/s.
                assert term.expect(reply, timeout=60 if line == b"G28" else 20), term.text()
            # The bottom bar keeps the temperatures fresh while the prompt waits.
            assert term.expect(r"extruder \d+\.\d / 200 C", timeout=5), term.text()
            term.type(b"\x04")                                    # Ctrl-D
            term.ends(0)
        history = (tmp_path / "state" / "mendel" / "console_history").read_text()
        assert "+G28" in history and "+M104 S200" in history
        assert _board_state(sim.port)[:2] == (50 * 80, 0.0)

        with Terminal(sim.port, tmp_path) as term:
            term.type(b"M104 S200\r")
            assert term.expect(r"\nok[\s\S]*mendel>")
            term.type(b"\x1c")                                    # Ctrl-\ at the prompt
            term.ends(2, STOPPED)
        with pytest.raises(McuShutdown, match="M112"):
            _board_state(sim.port)


def test_terminal_ctrl_backslash_while_a_line_runs(tmp_path):
    """M109 waits with the terminal in its normal mode: Ctrl-\\ is SIGQUIT."""
    with SimBoard("sim", realtime=True) as sim:
        with Terminal(sim.port, tmp_path) as term:
            term.type(b"M109 S200\r")
            time.sleep(1.5)
            term.type(b"\x1c")
            term.ends(2, STOPPED)
        steps, target, shutdown = _board_state(sim.port, clear=True)
    assert "M112" in shutdown and target == 0.0
