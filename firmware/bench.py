# Mendel firmware: step-run throughput benchmark (unix port or a board).
# SPDX-License-Identifier: GPL-3.0-or-later
"""How many step runs per second the firmware receives, decodes, queues and
expands into pulse words, on whatever runs it.

    micropython bench.py STEP_LOG [RUNS [bulk|message]]
    micropython bench.py heap

``STEP_LOG`` holds real runs, one per line as the simulated board writes them
(``motor first_clock interval count add``; ``mendel bench firmware`` makes
it from a print). Before the clock starts, the first ``RUNS`` of them are
encoded as the host sends them (``set_step_clock`` where a motor's run does
not follow its previous one, then ``queue_step``) into frames of up to
``link.MAX_FRAME`` bytes. Then they are fed through the real link, step
queues and pulse intake,
read as the board's stdin transport reads them (a frame's first byte, then
the rest in one read), with every motor's ring drained as fast as it fills
(a reader that never waits) and the clock standing just before each
frame's first step. The RP2040
program's timing and the RP2040 backend's figures are used (``hal/rp2_pio.py``:
its PIO clock for a 12 MHz board clock, 10 cycles a tick, its ring and lead).

``heap`` prints only the heap figures of a fresh firmware with every queue
full. ``message`` instead of ``bulk`` feeds every message through the link's
per-message path and the Python reference of ``queue_step``: the baseline.

Prints one line of JSON: ``path``, ``runs``, ``frames``, ``bytes``, ``seconds``,
``runs_per_s``, ``bytes_per_run``, ``words`` (pulse words written),
``words_per_s``, ``heap_used_bytes`` and ``heap_free_bytes``
(``gc.mem_alloc()``/``gc.mem_free()`` after a collection, with every queue,
run slot and ring full and the bench's frames dropped; code loaded from
``.mpy`` files is on the heap too), ``late`` and ``shutdown`` (null when
none). Times are the board's own (``time.ticks_us``).
"""
import gc
import json
import sys
import time

from micropython import const

import codec
import link
from hal import rp2_pio
from mcu import Mcu
from motion.intake import PulseIntake
from motion.pulses import PulseStream, drain_all

_CLOCK_HZ = 12000000
_PULSE_NS = 100             # hal/rp2.py's default step pulse
# The PIO clock and pulse the RP2040 backend picks for this board clock.
_PIO_HZ = rp2_pio.pio_clock(125000000, _CLOCK_HZ, _PULSE_NS)[2]
_CYCLES_PER_TICK = _PIO_HZ // _CLOCK_HZ
_PULSE_CYCLES = rp2_pio.cycles_of(_PULSE_NS, _PIO_HZ, rp2_pio.MIN_PULSE)
_LEAD_TICKS = rp2_pio.LEAD_US * (_CLOCK_HZ // 1000000)
_BOARD = {
    "id": "bench", "mcu": "bench", "clock_freq": _CLOCK_HZ, "step_queue_size": 128,
    "adc_max": 65535, "motors": [{"name": n} for n in "xyze"], "heaters": [], "fans": [],
}


class _BenchHal:
    """The RP2040 backend's run intake and pulse streams, without hardware:
    the frames come from memory and the rings drain at once."""

    clock_freq = _CLOCK_HZ
    virtual = True

    def __init__(self, frames, motors):
        self.transport = self
        self.connected = True
        self._frames = frames
        self._pos = 0
        self._end = 0
        self.now = 0
        self.words = 0
        self.streams = [PulseStream(rp2_pio.TIMING, _PULSE_CYCLES, 1, 128, rp2_pio.RING_WORDS)
                        for _ in range(motors)]
        self._states = [s.state for s in self.streams]
        self.intake = PulseIntake(self.streams, _CYCLES_PER_TICK, _CLOCK_HZ,
                                  [m["name"] for m in _BOARD["motors"]], self._error)
        # The step queues hand runs straight to the intake (no hardware to guard).
        intake = self.intake
        self.take_runs, self.refused = intake.take_runs, intake.refused
        self.epoch_moved, self.step_run = intake.epoch_moved, intake.step_run
        self.lead = _LEAD_TICKS * _CYCLES_PER_TICK
        for stream in self.streams:
            stream.idle_cap(self.lead // rp2_pio.LEAD_WORDS)
        self.mcu = None

    def _error(self, text):
        self.mcu.shutdown(text)

    # -- transport: frames from memory, read as the stdin transport reads --
    def feed(self, end, now):
        """Make ``frames[pos:end]`` readable with the clock at ``now``.

        Over a long gap (a heat-up) the board refills its streams all along
        (every 2 ms): the clock goes there a second at a time, serviced."""
        while self.now + _CLOCK_HZ < now:
            self.now += _CLOCK_HZ
            self.service()
        self._end = end
        self.now = now

    def wait(self, timeout_ms):
        return self._pos < self._end

    def readinto(self, view):
        """One byte, as the board's stdin transport (hal/stdio.py) reads."""
        if self._pos >= self._end:
            return 0
        view[0] = self._frames[self._pos]
        self._pos += 1
        return 1

    def readexactly(self, view):
        """The rest of a frame, as hal/stdio.py reads it (one blocking read)."""
        n = len(view)
        view[:n] = self._frames[self._pos:self._pos + n]
        self._pos += n

    def write(self, data):
        pass

    # -- the HAL interface the step queues use --------------------------
    def attach(self, mcu):
        self.mcu = mcu

    def clock(self):
        return self.now


    def service(self):
        """Write every stream on and drain its ring at once (a reader that
        never waits), until every queued run is words."""
        states = self._states
        while True:
            self.words += drain_all(states)
            if self.intake.refill_all(self.now, self.lead) < rp2_pio.RING_WORDS - 1:
                break                   # no ring filled up: all written
        self.words += drain_all(states)

    def stop_motors(self, now):
        return None

    def enable_motors(self, on):
        pass

    def log(self, text):
        pass


def runs_of(path, limit):
    """(motor, first, interval, count, add) of each run in step log ``path``,
    at most ``limit`` of them (a generator: the file is read as it goes)."""
    taken = 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5 or parts[0] == "stop":
                continue
            yield int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4])
            taken += 1
            if taken >= limit:
                return


# Room per run in the frame buffer: real runs take 7.3-7.7 bytes on average,
# set_step_clock included (a run of ours can take up to ~30).
_RUN_ROOM = const(12)


def encode(runs, ids, data):
    """Frames of ``runs`` as the host sends them, into ``data`` (a _Buffer);
    returns (memoryview of the bytes, [(end offset, clock)]): the clock
    (ticks, from a little before the first run) is the earliest first step of
    the frame and every later one."""
    set_clock, queue = ids["set_step_clock"][0], ids["queue_step"][0]
    marks = []
    ends = {}
    payload = bytearray()
    frame_clock = None
    seq = 0
    origin = None
    for motor, first, interval, count, add in runs:
        if origin is None:
            origin = first - 4 * _LEAD_TICKS
        message = bytearray()
        last = first - interval
        if ends.get(motor) != last:
            codec.put_int(message, set_clock)
            codec.encode_args(message, "ii", (motor, last - origin))
        codec.put_int(message, queue)
        codec.encode_args(message, "iiii", (motor, interval, count, add))
        steps = abs(count)
        ends[motor] = last + steps * interval + add * steps * (steps - 1) // 2
        if len(payload) + len(message) > link.MAX_FRAME - 5:
            seq = _frame(data, payload, seq, marks, frame_clock)
            payload = bytearray()
            frame_clock = None
        if frame_clock is None or first - origin < frame_clock:
            frame_clock = first - origin
        payload.extend(message)
    _frame(data, payload, seq, marks, frame_clock)
    # The board clock never goes back, and stands before every step still to
    # come: each frame's clock is the earliest first step of it and after.
    for i in range(len(marks) - 2, -1, -1):
        if marks[i + 1][1] < marks[i][1]:
            marks[i] = (marks[i][0], marks[i + 1][1])
    return data.view(), marks


class _Buffer:
    """A bytearray made once and filled from the front."""

    def __init__(self, size):
        self.buf = bytearray(size)
        self.size = 0

    def extend(self, data):
        end = self.size + len(data)
        if end > len(self.buf):
            raise ValueError("bench frames outgrew their buffer")
        self.buf[self.size:end] = data
        self.size = end

    def view(self):
        return memoryview(self.buf)[:self.size]


def _frame(data, payload, seq, marks, clock):
    frame = bytearray((len(payload) + 5, seq & 0x7F)) + payload
    crc = codec.crc16_plain(frame, 0, len(frame))
    frame.extend((crc >> 8, crc & 0xFF, link.SYNC))
    data.extend(frame)
    marks.append((data.size, clock))
    return seq + 1


def run(path, limit=4000, bulk=True):
    """Feed the first ``limit`` runs of step log ``path``; returns the figures.

    ``bulk``: runs decoded in bulk (viper, the firmware as it is); False:
    each message through the link's plain per-message path and the Python
    reference of queue_step (the baseline)."""
    gc.collect()
    # The frame buffer first, while the heap is in one piece (a board's heap
    # is too fragmented later for a block that size).
    data = _Buffer(limit * _RUN_ROOM)
    probe = Mcu(_BenchHal(b"", 4), _BOARD)
    data, marks = encode(runs_of(path, limit), json.loads(probe.link.identify_text())["commands"],
                         data)
    del probe
    gc.collect()
    hal = _BenchHal(data, 4)
    mcu = Mcu(hal, _BOARD)
    if not bulk:
        mcu.link._bulk.clear()
    poll = mcu.link.poll
    gc.collect()
    start = time.ticks_us()
    for end, clock in marks:
        hal.feed(end, clock - 2 * _LEAD_TICKS)
        while hal.wait(0):
            poll(0)
        hal.service()
    seconds = time.ticks_diff(time.ticks_us(), start) / 1e6
    runs = mcu.steppers.runs
    size = len(data)
    del data, marks
    hal._frames = b""
    heap_used, heap_free = full_queues_heap(mcu, hal)
    return {
        "path": "bulk" if bulk else "per message", "runs": runs, "bytes": size,
        "seconds": seconds,
        "runs_per_s": runs / seconds if seconds else 0.0,
        "bytes_per_run": size / runs if runs else 0.0,
        "words": hal.words, "words_per_s": hal.words / seconds if seconds else 0.0,
        "heap_used_bytes": heap_used, "heap_free_bytes": heap_free, "late": sum(s.late for s in hal.streams),
        "shutdown": mcu.shutdown_reason,
    }


def full_queues_heap(mcu, hal):
    """(gc.mem_alloc(), gc.mem_free()) after a collection, with every motor's
    step queue, run slots and ring full: the firmware at its largest."""
    steppers = mcu.steppers
    hal.now += 10 * _CLOCK_HZ
    for oid in range(len(hal.streams)):
        steppers.cmd_set_step_clock(oid, hal.now + _CLOCK_HZ)
        for _ in range(steppers.queue_size):
            steppers.cmd_queue_step(oid, 40, 12, 1)
    hal.intake.refill_all(hal.now, hal.lead)
    gc.collect()
    return gc.mem_alloc(), gc.mem_free()


def heap():
    """Heap figures of a fresh firmware with every queue, slot and ring full
    (run in a fresh interpreter: nothing of a throughput run left over)."""
    gc.collect()
    mcu = Mcu(_BenchHal(b"", 4), _BOARD)
    used, free = full_queues_heap(mcu, mcu.hal)
    return {"heap_used_bytes": used, "heap_free_bytes": free}


def main(args=None):
    """Run with ``args`` (default ``sys.argv``; a board has none: pass them)."""
    args = args or getattr(sys, "argv", [])
    if len(args) < 2:
        print("usage: micropython bench.py STEP_LOG [RUNS [bulk|message]]")
        return
    if args[1] == "heap":
        print(json.dumps(heap()))
        return
    limit = int(args[2]) if len(args) > 2 else 4000
    print(json.dumps(run(args[1], limit, bulk=len(args) < 4 or args[3] == "bulk")))

if __name__ == "__main__":
    main()
