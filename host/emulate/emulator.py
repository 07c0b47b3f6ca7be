# Mendel host: the Mendel firmware on an emulated RP2040, behind a pty.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start node with ``runner.mjs`` on a board's firmware and talk to it.

Units: ``cycle`` clk_sys cycles of the emulated chip since power-up (125 MHz
at boot, 120 MHz once the firmware moves it so that PIO cycles are whole MCU
clock ticks); ``ns`` emulated nanoseconds; ``ticks`` the board's MCU clock
(``board["clock_freq"]``, 12 MHz: the 1 MHz timer times 12).

The firmware's USB serial port appears as a pty: :attr:`Rp2040Emulator.port`
is its slave path, which the host opens with pyserial as it would
``/dev/ttyACM0``. Its control channel is a socket of JSON lines
(``control.mjs`` lists the requests); a thread here reads it and runs the
heater plants (:mod:`mendel.emulate.plant`) on each tick of emulated time.
"""
import itertools
import json
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import tty

import numpy as np

from mendel import boards
from mendel.emulate import image, node, plant
from mendel.emulate.node import EmulatorError

EDGE_DTYPE = np.dtype([("cycle", "<u8"), ("pin", "u1"), ("level", "u1")])
REQUEST_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 30.0


def load_board(board):
    """A checked board dict from a board id (``boards/<id>.json``), a JSON file path
    or a board dict (checked here)."""
    if isinstance(board, dict):
        problems = boards.validate_board(board)
        if problems:
            raise boards.BoardError("board %s is invalid:\n  %s"
                                    % (board.get("id", "?"), "\n  ".join(problems)))
        return board
    if board.endswith(".json") or os.sep in board:
        with open(board, encoding="utf-8") as f:
            data = json.load(f)
        problems = boards.validate_board(data)
        if problems:
            raise boards.BoardError("board file %s is invalid:\n  %s"
                                    % (board, "\n  ".join(problems)))
        return data
    return boards.checked_board(board)


def _pin(pin):
    return pin if isinstance(pin, int) else plant.gpio_number(pin)


class Rp2040Emulator:
    """A running emulated RP2040 with the Mendel firmware; use as a context manager.

    ``board``: board id or board JSON path (its ``mcu`` must be rp2040);
    ``uf2``/``bootrom``: MicroPython UF2 and boot ROM (default: $MENDEL_RP2_UF2,
    $MENDEL_RP2_BOOTROM); ``config``: a loaded printer config (mendel.config),
    whose sensor types and ``[sim_plant]`` sections shape the plants;
    ``log_pins``: GPIOs whose edges go to the edge log (default: every motor's
    step and dir pin); ``drive``: {GPIO: level} set before boot (default: each
    endstop held untriggered, as a switch that is not pressed); ``tick_ms``:
    emulated ms between plant updates; ``max_speed``: emulated seconds per wall
    second at most; ``accelerometer``: a recording, (N, 3) raw ADXL345 counts
    (int16: x, y, z, 256 per g in full resolution), played back at the chip's
    rate by a fake ADXL345 (``adxl345.mjs``) on the SPI bus and chip select of
    the board's first ``"accelerometers"`` entry (None: no chip on the bus).
    Raises EmulatorError (or BoardError) when it cannot start.
    """

    def __init__(self, board="rpi-pico-bench", uf2=None, bootrom=None, config=None,
                 log_pins=None, drive=None, tick_ms=5.0, max_speed=1.0, out=None,
                 extra_files=None, start=True, accelerometer=None):
        self.board = load_board(board)
        if self.board["mcu"] != "rp2040":
            raise EmulatorError("board %s has a %s, not an RP2040" % (self.board["id"],
                                                                       self.board["mcu"]))
        self.uf2, self.bootrom = node.boot_files(uf2, bootrom)
        self.clock_freq = self.board["clock_freq"]
        self.plants = plant.board_plants(self.board, *self._from_config(config))
        motors = self.board["motors"]
        self.log_pins = [_pin(p) for p in (log_pins if log_pins is not None else
                                           [m[k] for m in motors for k in ("step_pin", "dir_pin")])]
        self.initial_drive = drive if drive is not None else self.idle_endstops()
        self.accelerometer = self._accelerometer(accelerometer)
        self.tick_ms, self.max_speed, self.out = tick_ms, max_speed, out
        self.extra_files, self.start_firmware = extra_files, start
        self.port = self.process = self.build_dir = None
        self.edge_log = None
        self.errors = []
        self.temperatures = []          # [(ns, {heater: block degC})], one per tick
        self.duties = []                # [(ns, {GPIO: fraction high over the tick})]
        self._sock = self._reader = None
        self._ids = itertools.count(1)
        self._answers = {}
        self._send_lock = threading.Lock()
        self._ready = threading.Event()
        self._usb = threading.Event()
        self._last_ns = 0.0
        self._epochs = None

    @staticmethod
    def _from_config(config):
        if config is None:
            return {}, {}
        types = {name: heater.sensor_type for name, heater in config.heaters.items()}
        overrides = {}
        for name, heater in config.heaters.items():
            extra = dict(heater.sim_plant)
            if heater.sim_sensor:
                extra["sim_sensor"] = heater.sim_sensor
            overrides[name] = extra
        return types, overrides

    def _accelerometer(self, samples):
        """The runner's ``adxl345`` setting for recording ``samples``, or None."""
        if samples is None:
            return None
        wired = [entry for entry in self.board.get("accelerometers", [])
                 if entry.get("chip") == "adxl345"]
        if not wired:
            raise EmulatorError("board %s lists no ADXL345 in \"accelerometers\": the fake "
                                "chip needs its SPI bus and chip select" % self.board["id"])
        rows = np.asarray(samples)
        if rows.ndim != 2 or rows.shape[1] != 3 or not len(rows):
            raise EmulatorError("the accelerometer recording must be (N, 3) counts, N >= 1; "
                                "got shape %s" % (rows.shape,))
        if not np.issubdtype(rows.dtype, np.integer) or rows.min() < -32768 \
                or rows.max() > 32767:
            raise EmulatorError("the accelerometer recording must be int16 counts "
                                "(-32768..32767)")
        entry = wired[0]
        return {"bus": entry["spi"]["bus"], "cs": _pin(entry["cs"]), "samples": rows.tolist()}

    def idle_endstops(self):
        """{GPIO: level} holding every endstop of the board untriggered."""
        levels = {}
        for spec in self.board.get("endstops", []):
            levels[_pin(spec["pin"])] = 1 if spec.get("active") == "low" else 0
        return levels

    # -- life ------------------------------------------------------------
    def start(self):
        folder = node.ensure_rp2040js(self.out)
        runner_node = node.find_node()
        self.build_dir = tempfile.mkdtemp(prefix="mendel-emulate-")
        fs_image, _names = image.firmware_image(self.board, self.build_dir, self.extra_files,
                                                self.start_firmware)
        master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        os.set_blocking(master, False)
        self._sock, theirs = socket.socketpair()
        self.edge_log = os.path.join(self.build_dir, "edges.bin")
        settings = {
            "rp2040js": folder, "bootrom": self.bootrom, "uf2": self.uf2,
            "fs_image": fs_image, "fs_offset": image.FS_OFFSET,
            "serial_fd": master, "control_fd": theirs.fileno(),
            "edge_log": self.edge_log, "log_pins": self.log_pins,
            "duty_pins": sorted({p.heater_pin for p in self.plants}
                                | {f for p in self.plants for f in p.fan_pins}),
            "tick_ns": self.tick_ms * 1e6, "max_speed": self.max_speed,
            "adc": {p.channel: p.raw() for p in self.plants},
            "drive": {str(pin): level for pin, level in self.initial_drive.items()},
            "adxl345": self.accelerometer,
        }
        path = os.path.join(self.build_dir, "runner.json")
        with open(path, "w") as f:
            json.dump(settings, f)
        self._stderr = open(os.path.join(self.build_dir, "runner.log"), "w+")
        self.process = subprocess.Popen(
            [runner_node, node.RUNNER, path], pass_fds=(master, theirs.fileno()),
            stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
            cwd=self.build_dir, start_new_session=True)
        for fd in (master, slave):
            os.close(fd)
        theirs.close()
        self._reader = threading.Thread(target=self._read_loop, name="rp2040-control",
                                        daemon=True)
        self._reader.start()
        if not self._ready.wait(READY_TIMEOUT_S):
            self.stop()
            raise EmulatorError("the RP2040 emulator did not start: %s" % self.runner_log())
        return self

    def runner_log(self):
        """What node wrote to stdout/stderr so far (last 2000 characters)."""
        if not getattr(self, "_stderr", None) or self._stderr.closed:
            return ""
        self._stderr.flush()
        with open(self._stderr.name) as f:
            return f.read()[-2000:]

    def stop(self):
        """Stop node and remove the build folder."""
        if self._sock is not None:
            try:
                self._send({"op": "quit"})
            except OSError:
                pass
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if getattr(self, "_stderr", None):
            self._stderr.close()
        if self.build_dir:
            shutil.rmtree(self.build_dir, ignore_errors=True)
            self.build_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the control channel ---------------------------------------------
    def _send(self, message):
        data = (json.dumps(message) + "\n").encode()
        with self._send_lock:
            self._sock.sendall(data)

    def request(self, op, timeout=REQUEST_TIMEOUT_S, **args):
        """Send request ``op`` with ``args``; returns the answer dict. Raises EmulatorError."""
        ident = next(self._ids)
        slot = self._answers[ident] = queue.Queue(1)
        try:
            self._send(dict(args, op=op, id=ident))
            answer = slot.get(timeout=timeout)
        except (OSError, queue.Empty):
            raise EmulatorError("the RP2040 emulator did not answer %s: %s"
                                % (op, self.runner_log() or "no output")) from None
        finally:
            self._answers.pop(ident, None)
        if "error" in answer:
            raise EmulatorError("emulator: %s" % answer["error"])
        return answer

    def _read_loop(self):
        try:
            for line in self._sock.makefile("r", encoding="utf-8"):
                self._dispatch(json.loads(line))
        except (OSError, ValueError):
            pass

    def _dispatch(self, message):
        ident = message.get("id")
        if ident is not None:
            slot = self._answers.get(ident)
            if slot is not None:
                slot.put(message)
        elif message.get("ev") == "tick":
            self._on_tick(message)
        elif message.get("ev") == "usb":
            self._usb.set()
        elif message.get("ev") == "ready":
            self._ready.set()
        elif "error" in message:
            self.errors.append(message["error"])

    def _on_tick(self, message):
        dt = (message["ns"] - self._last_ns) / 1e9
        self._last_ns = message["ns"]
        duty = {int(pin): value for pin, value in message["duty"].items()}
        for heater in self.plants:
            heater.advance(dt, duty)
            self._send({"op": "adc", "channel": heater.channel, "raw": heater.raw()})
        self.temperatures.append((message["ns"], {h.name: h.plant.temp for h in self.plants}))
        self.duties.append((message["ns"], duty))

    # -- what tests use ----------------------------------------------------
    def wait_usb(self, timeout=60.0):
        """Wait until the USB serial port is enumerated; raises EmulatorError."""
        if not self._usb.wait(timeout):
            raise EmulatorError("the emulated RP2040's USB port did not come up within %.0f s: %s"
                                % (timeout, self.runner_log()))

    def drive(self, pin, level, at_cycle=None):
        """Drive input ``pin`` (GPIO number or name) to ``level`` now, or at ``at_cycle``."""
        self.request("drive", pin=_pin(pin), level=int(bool(level)), at_cycle=at_cycle)

    def release(self, pin):
        """Stop driving ``pin``: it reads its pull again."""
        self.request("release", pin=_pin(pin))

    def set_adc(self, channel, raw):
        """Raw 12-bit reading (0..4095) of ADC channel 0..3 (GPIO26..29)."""
        self.request("adc", channel=channel, raw=raw)

    def cycles(self):
        """Emulated clk_sys cycles since power-up."""
        return self.time()["cycle"]

    def time(self):
        """{"cycle", "ns", "hz", "epochs": [[cycle, ns, hz], ...]} of the emulated chip."""
        answer = self.request("time")
        self._epochs = answer["epochs"]
        return answer

    def pins(self, pins):
        """({GPIO: level}, {GPIO: PWM duty or None}) of ``pins`` now."""
        answer = self.request("pins", pins=[_pin(p) for p in pins])
        return ({int(k): v for k, v in answer["levels"].items()},
                {int(k): v for k, v in answer["pwm"].items()})

    def stats(self):
        """Counters: cycle, ns, wall_s, edges, usb_in/usb_out bytes."""
        return self.request("stats")

    def edges(self, pins=None):
        """Edge log records so far (numpy, fields cycle, pin, level), of ``pins`` if given."""
        self.request("flush")
        records = np.fromfile(self.edge_log, dtype=EDGE_DTYPE)
        if pins is not None:
            records = records[np.isin(records["pin"], [_pin(p) for p in pins])]
        return records

    def ticks_of(self, cycles):
        """MCU clock ticks (float64 array) at emulated ``cycles`` (array-like)."""
        if self._epochs is None:
            self.time()
        cycles = np.asarray(cycles, dtype=np.float64)
        ns = np.zeros_like(cycles)
        for start, start_ns, hz in self._epochs:
            later = cycles >= start
            ns[later] = start_ns + (cycles[later] - start) * (1e9 / hz)
        return ns * (self.clock_freq / 1e9)

    def cycle_of(self, ticks):
        """First emulated cycle at or after MCU clock ``ticks`` (in the current epoch)."""
        start, start_ns, hz = self.time()["epochs"][-1]
        ns = ticks * (1e9 / self.clock_freq)
        return int(start + np.ceil((ns - start_ns) * hz / 1e9))

    def wait_emulated(self, seconds, poll_s=0.05):
        """Return once ``seconds`` of emulated time have passed from now."""
        until = self.time()["ns"] + seconds * 1e9
        while self.request("time")["ns"] < until:
            time.sleep(poll_s)

    def accelerometer_stats(self):
        """The fake ADXL345's counters: made, dropped (FIFO full), popped (read),
        transfers (CS low), wrong_mode (bytes clocked in another SPI mode),
        waiting, measuring, started_ns and period_ns of the last start (emulated
        ns). EmulatorError when it has no accelerometer."""
        return self.request("adxl345")

    def heater(self, name):
        """The HeaterPlant of heater ``name``."""
        for heater in self.plants:
            if heater.name == name:
                return heater
        raise KeyError("no heater %s on board %s" % (name, self.board["id"]))
