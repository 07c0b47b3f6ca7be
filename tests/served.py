"""`mendel serve`'s port and session around a simulated board, in-process,
for the tests (import this, as paths.py, not conftest)."""
import contextlib
import threading

import serial

from mendel import config
from mendel.mcu.mcu import Mcu
from mendel.serve.port import VirtualSerialPort, serve
from mendel.serve.protocol import numbered
from mendel.serve.session import ServedPrinter, Session
from mendel.sim.board import SimBoard

CFG = config.load()
SCRIPT_TIMEOUT_S = 120.0


@contextlib.contextmanager
def served(realtime=False, cfg=CFG):
    """A simulated board behind `mendel serve`'s port and session (in-process)."""
    with SimBoard("sim", realtime=realtime, config=cfg) as sim:
        with serial.Serial(sim.port, 250000, timeout=0.1) as board_port:
            boards = [Mcu(board_port)]
            boards[0].connect()

            configs = [cfg]

            def connect(clear_shutdown, reload=False):
                if reload:
                    configs[0] = config.load(configs[0].path)
                if clear_shutdown:
                    boards[0] = Mcu(board_port)
                    boards[0].connect(clear_shutdown=True)
                return ServedPrinter(configs[0], boards[0])
            port = VirtualSerialPort()
            session = Session(connect, port.write_line).start()
            stop = threading.Event()
            loop = threading.Thread(target=serve, args=(port, session, stop), daemon=True)
            loop.start()
            try:
                yield port, session
            finally:
                stop.set()
                loop.join()
                session.stop()
                port.close()


def script(session, text, timeout=SCRIPT_TIMEOUT_S):
    """Run a G-code script as the API does; its error (str) or None."""
    done = threading.Event()
    errors = []
    session.submit_script(text, lambda error: (errors.append(error), done.set()))
    assert done.wait(timeout), "script %r did not finish" % text
    return errors[0]


class Client:
    """A scripted host on the pty: numbered lines, replies read line by line."""

    def __init__(self, path):
        self.port = serial.Serial(path, 250000, timeout=10)
        assert self.readline() == "start"
        self.number = 0
        self.send(numbered(-1, "M110 N-1"))
        assert self.replies() == ["ok"]

    def readline(self):
        line = self.port.readline().decode()
        assert line.endswith("\n"), "no reply within the timeout"
        return line.rstrip("\n")

    def send(self, text):
        self.port.write((text + "\n").encode())

    def command(self, text):
        """Send the next numbered line; returns the line sent."""
        line = numbered(self.number, text)
        self.number += 1
        self.send(line)
        return line

    def replies(self, oks=1):
        """Lines up to and including the ``oks``-th line that starts with ok."""
        lines = []
        while oks:
            lines.append(self.readline())
            oks -= lines[-1].startswith("ok")
        return lines

    def run(self, text):
        self.command(text)
        return self.replies()

    def close(self):
        self.port.close()
