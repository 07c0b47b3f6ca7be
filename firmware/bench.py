# Mendel firmware: link decode benchmark (unix port or a board).
# SPDX-License-Identifier: GPL-3.0-or-later
"""How many step-run commands per second the firmware's link decodes and queues.

    micropython bench.py [viper|plain] [FRAMES]

Frames of ``queue_step`` commands (the bulk of a print's traffic) are built in
memory, then fed to the real :class:`link.Link` and step queues through a
memory transport, in 480-byte reads as a serial driver would deliver them.
Prints one line: ``decode <mode>: N commands in S s = R commands/s, B bytes/s``.
"""
import json
import sys
import time

import codec
import link
from mcu import Mcu

_BOARD = {
    "id": "bench", "mcu": "bench", "clock_freq": 12000000, "step_queue_size": 64,
    "adc_max": 65535, "motors": [{"name": "x"}, {"name": "y"}],
    "heaters": [], "fans": [],
}


class _MemoryHal:
    """Just enough HAL for the link and the step queues. Its clock stands just
    before the earliest step not yet queued: a board whose motors finish each
    run as the next one arrives, so the queues never fill."""

    clock_freq = 12000000
    virtual = True

    def __init__(self, data):
        self.transport = self
        self.connected = True
        self._data = data
        self._pos = 0

    def wait(self, timeout_ms):
        return self._pos < len(self._data)

    def readinto(self, view):
        n = min(len(view), 480, len(self._data) - self._pos)
        view[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n

    def write(self, data):
        pass

    def attach(self, mcu):
        self.mcu = mcu

    def clock(self):
        last = self.mcu.steppers.last_clock
        return max(0, min(last) - 1)

    def step_run(self, oid, first, interval, count, add):
        pass

    def stop_motors(self, now):
        return None

    def enable_motors(self, on):
        pass

    def log(self, text):
        print(text)


def _frames(ids, count):
    set_clock = ids["set_step_clock"][0]
    queue = ids["queue_step"][0]
    data = bytearray()
    commands = 0
    for seq in range(count):
        payload = bytearray()
        if seq == 0:
            for oid in (0, 1):
                codec.put_int(payload, set_clock)
                codec.encode_args(payload, "ii", (oid, 0))
        while len(payload) < 52:
            codec.put_int(payload, queue)
            codec.encode_args(payload, "iiii", (commands & 1, 1500, 3, 0))
            commands += 1
        frame = bytearray((len(payload) + 5, seq & 0x7F)) + payload
        crc = codec.crc16_plain(frame, 0, len(frame))
        frame.extend((crc >> 8, crc & 0xFF, link.SYNC))
        data.extend(frame)
    return bytes(data), commands


def run(mode, frames):
    """Decode ``frames`` frames with the ``viper`` or ``plain`` CRC; prints the rate."""
    codec.use_viper(mode == "viper")
    probe = Mcu(_MemoryHal(b""), _BOARD)
    ids = json.loads(probe.link.identify_text())["commands"]
    data, commands = _frames(ids, frames)
    hal = _MemoryHal(data)
    mcu = Mcu(hal, _BOARD)
    steppers = mcu.steppers
    start = time.ticks_us()
    while hal._pos < len(data):
        mcu.link.poll(0)
    seconds = time.ticks_diff(time.ticks_us(), start) / 1e6
    assert steppers.runs == commands, (steppers.runs, commands, mcu.shutdown_reason)
    print("decode %s: %d commands in %.3f s = %d commands/s, %d bytes/s"
          % (mode, commands, seconds, commands / seconds, len(data) / seconds))


if __name__ == "__main__":
    args = getattr(sys, "argv", [])
    run(args[1] if len(args) > 1 else "viper", int(args[2]) if len(args) > 2 else 3000)
