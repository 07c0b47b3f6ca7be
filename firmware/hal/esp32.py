# Mendel firmware: HAL of ESP32 boards with step/dir pins (FYSETC E4 class).
# SPDX-License-Identifier: GPL-3.0-or-later
"""ESP32 backend: RMT step pulses, ADC, PWM, the USB-UART link.

Suffixes: ``_ticks`` MCU clock ticks (``board["clock_freq"]``, a multiple of
1 MHz), ``_us`` microseconds, ``_rmt`` RMT ticks.

* Clock: ``time.ticks_us`` extended to a monotonic count (``hal/ticks.py``).
* Steps: one RMT channel per motor (the ESP32 has 8). A motor's queued runs
  of one direction are turned into one pulse sequence (durations and levels,
  ``esp32.RMT.write_pulses``), started when the clock reaches the first step
  minus ``START_LEAD_US``; the sequence opens with a low wait that places its
  first step on the commanded clock as measured at the call.
* Refused: boards whose steppers sit behind an I2S-fed shift register
  (MKS TinyBee: ``"stepper_bus": "i2s_shift"``): every step there is a bit in
  a continuous I2S word stream, which this backend does not drive yet.

Rate limits (from the documentation; not measured on a board here, there is
none on this bench):

* RMT hardware: 80 MHz APB clock divided by ``clock_div`` (1..255); each
  duration is 15 bits (0..32767 RMT ticks; ESP-IDF ``rmt_symbol_word_t``,
  esp-idf-hal ``PulseTicks``), so at ``clock_div`` 80 (1 us) a step can be
  as short as 2 us high + low (500 kHz) and one item waits at most 32.767 ms;
  longer waits are split into several low items.
* MicroPython's ``write_pulses`` waits for the channel's previous sequence
  to end before it starts the next one (MicroPython docs, esp32.RMT), and
  the start of a sequence is a software moment: between sequences the step
  timing has a gap and jitter of the main loop (tens of us, milliseconds
  during a garbage collection). Runs are therefore merged into as long a
  sequence as one direction allows, and the step rate is bounded by the
  CPU building the durations (a few us per step in MicroPython), not by
  the RMT.
* Timer and pin interrupts are soft on MicroPython's ESP32 port (latency up
  to milliseconds), so homing is not offered on this backend: the firmware
  refuses it with a message (``motion/endstops.py``).
"""
import esp32
import machine
from micropython import const

from hal.machine_io import MachineIo
from hal.stdio import StdioTransport
from hal.ticks import MonotonicUs
from motion.runlog import RunLog

START_LEAD_US = const(2000)      # a sequence is written this long before its first step
MAX_ITEM_RMT = const(32767)      # 15-bit RMT duration
APB_HZ = const(80000000)


def gpio(name):
    """GPIO number of ``"gpioN"`` on an ESP32; ValueError for others and flash pins."""
    if not name.startswith("gpio") or not name[4:].isdigit():
        raise ValueError("pin %r is not an ESP32 pin name like 'gpio26'" % name)
    number = int(name[4:])
    if number > 39 or 6 <= number <= 11:
        raise ValueError("pin %r is not usable on an ESP32 (flash pins 6-11, max 39)" % name)
    return number


def check_board(board):
    """Raise ValueError with the reason when this backend cannot drive ``board``."""
    if board.get("stepper_bus") == "i2s_shift":
        raise ValueError(
            "board %s drives its steppers through an I2S shift register (stepper_bus "
            "i2s_shift, as on the MKS TinyBee): not supported yet; use a board with "
            "step/dir pins such as the FYSETC E4" % board.get("id"))
    if board["clock_freq"] % 1000000:
        raise ValueError("clock_freq %d is not a multiple of 1 MHz" % board["clock_freq"])
    if len(board["motors"]) > 8:
        raise ValueError("an ESP32 has 8 RMT channels: %d motors" % len(board["motors"]))


def pulse_sequence(lead_ticks, interval, count, add, pulse_ticks, scale, after_step=False):
    """Durations (RMT ticks) and levels of one run, first step ``lead_ticks`` away.

    ``scale`` is RMT ticks per MCU tick; ``after_step``: the sequence goes on
    from a step whose high time is already in it. Returns ``(durations,
    levels)``; each step is ``pulse_ticks`` high, then low until the next
    step. Low waits longer than 32767 RMT ticks are split. Allocates the lists.
    """
    durations = []
    levels = []
    wait = lead_ticks
    steps = count if count > 0 else -count
    gap = interval + add              # k-th step at last + k*interval + add*k*(k-1)/2
    for _ in range(steps):
        _low(durations, levels, wait * scale - (pulse_ticks if after_step else 0))
        after_step = True
        durations.append(pulse_ticks)
        levels.append(1)
        wait = gap
        gap += add
    return durations, levels


def _low(durations, levels, span):
    while span > MAX_ITEM_RMT:
        durations.append(MAX_ITEM_RMT)
        levels.append(0)
        span -= MAX_ITEM_RMT
    if span > 0:
        durations.append(span)
        levels.append(0)


class Esp32Hal(MachineIo):
    """HAL backend of ESP32 boards with step/dir pins (board["mcu"] == "esp32").

    ADC with 11 dB attenuation (full range about 3.1 V); LEDC PWM from 1 Hz.
    """

    virtual = False

    def __init__(self, board, transport=None, ticks=None):
        check_board(board)
        MachineIo.__init__(self, gpio, board["motors"], board["adc_max"], 1,
                           {"atten": machine.ADC.ATTN_11DB})
        self.clock_freq = board["clock_freq"]
        self._us_ticks = self.clock_freq // 1000000
        # One RMT tick per MCU tick when possible (clock_div = 80 MHz / clock_freq).
        self.clock_div = max(1, min(255, APB_HZ // self.clock_freq))
        self.scale = APB_HZ // self.clock_div // self.clock_freq or 1
        rmt_hz = APB_HZ // self.clock_div
        self.pulse_rmt = max(1, (board.get("step_pulse_ns", 2000) * (rmt_hz // 1000000)
                                 + 999) // 1000)
        self.transport = transport if transport is not None else StdioTransport()
        self._clock = ticks or MonotonicUs()
        self.mcu = None
        self.last_log = ""
        motors = board["motors"]
        self.names = [m["name"] for m in motors]
        self.dir_pins = [machine.Pin(gpio(m["dir_pin"]), machine.Pin.OUT, value=0)
                         for m in motors]
        self.dir_inverted = [bool(m.get("dir_inverted")) for m in motors]
        self._dir_wired = list(self.dir_inverted)
        self.channels = [esp32.RMT(oid, pin=machine.Pin(gpio(m["step_pin"])),
                                   clock_div=self.clock_div, idle_level=False)
                         for oid, m in enumerate(motors)]
        self.pending = [[] for _ in motors]      # runs not yet written, per motor
        self.busy_until = [0] * len(motors)      # clock when the last sequence ends
        self.runlog = RunLog(len(motors), board["step_queue_size"])
        self.late = 0

    def attach(self, mcu):
        self.mcu = mcu

    def log(self, text):
        """Keep the last message (stdout is the link on this board)."""
        self.last_log = text

    def clock(self):
        """MCU clock in ticks (monotonic microseconds times ticks per us)."""
        return self._clock.now() * self._us_ticks

    def advance(self, now):
        """Main loop hook: start the sequences that are due."""
        for oid in range(len(self.channels)):
            self._start_due(oid, now)

    # -- steppers ------------------------------------------------------
    def dir_invert(self, oid, inverted):
        """Reverse motor ``oid``'s direction (printer.cfg ``dir_pin: !``)."""
        self.dir_inverted[oid] = self._dir_wired[oid] != bool(inverted)

    def step_run(self, oid, first, interval, count, add):
        """Queue a run (MCU ticks); written to the RMT shortly before it is due."""
        self.pending[oid].append((first, interval, count, add))
        self.runlog.add(oid, first, interval, count, add, self.clock())
        self._start_due(oid, self.clock())

    def _start_due(self, oid, now):
        pending = self.pending[oid]
        if not pending or now < self.busy_until[oid]:
            return
        first = pending[0][0]
        if first - now > START_LEAD_US * self._us_ticks:
            return
        if not self.channels[oid].wait_done():
            return
        self._write(oid, now)

    def _write(self, oid, now):
        """Write the pending runs of one direction as one sequence."""
        pending = self.pending[oid]
        forward = pending[0][2] > 0
        self.dir_pins[oid].value(1 if forward != self.dir_inverted[oid] else 0)
        durations, levels = [], []
        cursor = now
        while pending and (pending[0][2] > 0) == forward:
            first, interval, count, add = pending.pop(0)
            lead = first - cursor
            if lead < 0:
                self.late += 1
                lead = 0
            d, lv = pulse_sequence(lead, interval, count, add, self.pulse_rmt, self.scale,
                                   after_step=bool(durations))
            durations.extend(d)
            levels.extend(lv)
            steps = count if count > 0 else -count
            cursor = first - interval + steps * interval + add * steps * (steps - 1) // 2
        self.channels[oid].write_pulses(durations, levels)
        self.busy_until[oid] = cursor

    def stop_motors(self, now):
        """Stop every motor; returns the steps each took by ``now`` (by the schedule:
        the RMT gives no count back)."""
        for oid, channel in enumerate(self.channels):
            channel.deinit()
            self.pending[oid] = []
            self.busy_until[oid] = 0
        return self.runlog.taken(now)
