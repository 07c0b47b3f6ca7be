# Mendel firmware: HAL of RP2040 boards (MicroPython rp2 port).
# SPDX-License-Identifier: GPL-3.0-or-later
"""RP2040 backend: PIO + DMA step pulses, ADC, PWM, USB CDC link.

Suffixes: ``_ticks`` MCU clock ticks (``board["clock_freq"]``), ``_cycles``
PIO cycles, ``_us`` microseconds, ``_ns`` nanoseconds.

* Clock: the RP2040's 64-bit 1 MHz timer (TIMERAWH/TIMERAWL, RP2040
  datasheet 4.6), read high-low-high so a carry between the reads cannot
  tear it; it does not wrap in the board's life, so clock comparisons in the
  firmware stay plain. ``clock_freq`` must be a multiple of 1 MHz.
* Steps: one PIO state machine per motor (``hal/rp2_pio.py``), motors 0-3 on
  PIO0 and 4-7 on PIO1, all running one program at ``pio_freq``, an integer
  multiple of ``clock_freq`` (the system clock is moved to 120 MHz when
  125 MHz is not such a multiple), so a tick is a whole number of cycles and
  steps land on their commanded cycle. Each state machine is fed by a DMA
  channel paced by its TX DREQ, reading a ring of ``RING_WORDS`` words in
  ring mode; :class:`motion.pulses.PulseStream` keeps the rings filled from
  ``service`` (main loop and a 2 ms soft timer). A state machine that halts
  on the ring's halt word has run out of words: the board shuts down.
* Start: all state machines of a PIO block are enabled by one write to its
  CTRL set alias (with CLKDIV_RESTART), so they share cycle 0, and that
  write is made by :func:`_start_on_tick` (viper) a few CPU cycles after the
  microsecond timer ticks: cycle 0 is that tick, so steps land on their
  commanded time (within those few cycles, well under 1 us).
* Lead: the streams are written ``LEAD_US`` ahead of the clock, so a run
  must arrive before its first step is that close; the identify text says
  so (``lead_ticks``) and the host keeps its runs earlier.
* Limit: a DMA channel is started once with the largest transfer count,
  2**32 - 1 words; a motor that runs through that many words in one boot
  (11.9 h at a sustained 100k words/s; idle costs about 3.5k words/s) ends in
  an underrun shutdown. Chaining a second channel to re-arm it is not done.
* Homing: while armed, a motor's JMP_PIN is its endstop; the program stops
  before the next step and reports the steps left in its word, from which
  the exact trigger position follows.
* Step pulse width and dir setup time: ``board["step_pulse_ns"]`` (default
  100 ns, TMC2209 tSH/tSL) and ``board["dir_setup_ns"]`` (default 20 ns,
  TMC2209 tDSU; TMC2209 datasheet, STEP/DIR timing).
"""
import array

import machine
import micropython
import rp2
import uctypes
from micropython import const

from hal import rp2_pio
from hal.machine_io import MachineIo
from hal.rp2_pio import LEAD_US, LEAD_WORDS, RING_WORDS, TIMING, cycles_of, pio_clock
from hal.stdio import StdioTransport
from motion.intake import PulseIntake
from motion.pulses import PulseStream

_RING_BITS = const(11)            # log2 of RING_WORDS words in bytes, for DMA ring mode
SERVICE_MS = const(2)
_IN_FLIGHT = const(5)             # words taken by the DMA and not yet run: FIFO + OSR
_GUARD_EVERY = const(50)          # refill ticks between main-loop checks: 100 ms
_TIMER_HIGH = const(0x40054024)   # TIMERAWH
_TIMER_LOW = const(0x40054028)    # TIMERAWL
_PIO_BASES = (0x50200000, 0x50300000)
_SET_ALIAS = const(0x2000)        # atomic bit set (RP2040 datasheet 2.1.2)
_CLR_ALIAS = const(0x3000)
_TXF0 = const(0x010)              # TX FIFO of state machine 0; sm n at +4n
_SM_EXECCTRL = const(0x0CC)
_SM_ADDR = const(0x0D4)
_SM_STRIDE = const(0x18)
_IO_BANK0_CTRL = const(0x40014004)  # GPIO0_CTRL; GPIOn at +8n; INOVER bits 17:16


def gpio(name):
    """GPIO number of a pin name such as ``"gpio11"``; ValueError otherwise."""
    if not name.startswith("gpio") or not name[4:].isdigit():
        raise ValueError("pin %r is not an RP2040 pin name like 'gpio11'" % name)
    number = int(name[4:])
    if number > 29:
        raise ValueError("pin %r does not exist on the RP2040 (gpio0..gpio29)" % name)
    return number


def _aligned_rings(count):
    """[(buffer, address)] of ``count`` rings of ``RING_WORDS`` 32-bit words,
    each aligned to its size in bytes as DMA ring mode needs, and the one
    allocation they are cut from (it must stay referenced)."""
    size = 4 * RING_WORDS
    raw = array.array("I", bytes((count + 1) * size))
    addr = uctypes.addressof(raw)
    offset = (-addr) & (size - 1)
    if offset == 0 and count == 1:
        return [(raw, addr)], raw
    return [(uctypes.bytearray_at(addr + offset + k * size, size), addr + offset + k * size)
            for k in range(count)], raw


class Rp2Hal(MachineIo):
    """HAL backend of RP2040 boards (board["mcu"] == "rp2040").

    PWM from 8 Hz: the RP2040 PWM's floor at 125 MHz is 125e6 / 256 / 65536
    = 7.5 Hz (RP2040 datasheet 4.5, 8.8-bit divider, 16-bit counter).
    """

    virtual = False

    def __init__(self, board, transport=None, start=None):
        motors = board["motors"]
        MachineIo.__init__(self, gpio, motors, board["adc_max"], 8)
        self.clock_freq = clock_hz = board["clock_freq"]
        if len(motors) > 8:
            raise ValueError("an RP2040 has 8 PIO state machines: %d motors" % len(motors))
        system, div, self.pio_freq = pio_clock(machine.freq(), clock_hz,
                                               board.get("step_pulse_ns", 100))
        if system != machine.freq():
            machine.freq(system)
        self.cycles_per_tick = self.pio_freq // clock_hz
        self._us_ticks = clock_hz // 1000000
        pulse = cycles_of(board.get("step_pulse_ns", 100), self.pio_freq, rp2_pio.MIN_PULSE)
        setup = cycles_of(board.get("dir_setup_ns", 20), self.pio_freq, 0)
        self.program = rp2_pio.program(pulse)
        self.transport = transport if transport is not None else StdioTransport()
        self.mcu = None
        self.last_log = ""
        self.names = [m["name"] for m in motors]
        self.step_gpio = [gpio(m["step_pin"]) for m in motors]
        self.step_pins = [machine.Pin(n, machine.Pin.OUT, value=0) for n in self.step_gpio]
        self.dir_gpio = [gpio(m["dir_pin"]) for m in motors]
        self.dir_pins = [machine.Pin(n, machine.Pin.OUT, value=0) for n in self.dir_gpio]
        self.streams, self.rings, self.channels, self.machines = [], [], [], []
        rings, self._ring_block = _aligned_rings(len(motors))
        for oid, motor in enumerate(motors):
            ring, addr = rings[oid]
            self.rings.append(addr)
            stream = PulseStream(TIMING, pulse, setup, board["step_queue_size"],
                                 RING_WORDS, ring, motor.get("dir_inverted", False))
            self.streams.append(stream)
            self.channels.append(rp2.DMA())
            self.machines.append(rp2.StateMachine(oid))
        self.intake = PulseIntake(self.streams, self.cycles_per_tick, clock_hz, self.names,
                                  self._refuse)
        self._start = start or _start_on_tick
        self.lead_ticks = LEAD_US * self._us_ticks
        self.lead = self.lead_ticks * self.cycles_per_tick
        for stream in self.streams:
            stream.idle_cap(self.lead // LEAD_WORDS)
        self.endstops = [self._endstop_pin(spec) for spec in board.get("endstops", [])]
        self.homing = [None] * len(motors)   # armed endstop GPIO per motor
        self.hits = [None] * len(motors)     # trigger position per motor
        self._busy = False
        self._timer = None
        self._ticks = 0

    # -- set-up --------------------------------------------------------
    def _endstop_pin(self, spec):
        number = gpio(spec["pin"])
        pull = {"up": machine.Pin.PULL_UP, "down": machine.Pin.PULL_DOWN}.get(spec.get("pull"))
        pin = machine.Pin(number, machine.Pin.IN, pull)
        _invert_pad(number, 16, spec.get("active", "high") == "low")
        return number, pin

    def endstop_invert(self, endstop, inverted):
        """Read endstop ``endstop`` inverted or not (printer.cfg ``!``): the
        pad's input override, so the CPU and the PIO stop both see it."""
        _invert_pad(self.endstops[endstop][0], 16, inverted)

    def dir_invert(self, oid, inverted):
        """Reverse motor ``oid``'s direction pin (printer.cfg ``dir_pin: !``):
        the pad's output override, under whatever the PIO drives."""
        _invert_pad(self.dir_gpio[oid], 8, inverted)

    def attach(self, mcu):
        """Start every motor's stream together and the refill timer."""
        self.mcu = mcu
        self.start_all()
        self._timer = machine.Timer(mode=machine.Timer.PERIODIC, period=SERVICE_MS,
                                    callback=self._tick)

    def _arm_stream(self, oid, now):
        """Load motor ``oid``'s state machine and DMA with an idle stream from ``now``."""
        sm = self.machines[oid]
        sm.init(self.program, freq=self.pio_freq, sideset_base=self.step_pins[oid],
                out_base=self.dir_pins[oid], jmp_pin=self.step_pins[oid])
        stream = self.streams[oid]
        stream.clear(0, stream.position)
        stream.fill(self.lead)
        self.intake.armed(oid, now)
        dma = self.channels[oid]
        dreq = ((oid >> 2) << 3) + (oid & 3)          # DREQ_PIOn_TXm
        ctrl = dma.pack_ctrl(size=2, inc_read=True, inc_write=False, treq_sel=dreq,
                             ring_size=_RING_BITS, ring_sel=False)
        txf = _PIO_BASES[oid >> 2] + _TXF0 + 4 * (oid & 3)
        dma.config(read=self.rings[oid], write=txf, count=0xFFFFFFFF, ctrl=ctrl,
                   trigger=True)

    def start_all(self):
        """(Re)start every motor's stream; all state machines share cycle 0,
        which is the microsecond tick at which they are enabled."""
        self._stop_machines(range(len(self.machines)))
        for oid in range(len(self.machines)):
            self._arm_stream(oid, 0)
        masks = [0, 0]
        for oid in range(len(self.machines)):
            masks[oid >> 2] |= 1 << (oid & 3)
        state = machine.disable_irq()
        low = self._start(_TIMER_LOW, _PIO_BASES[0] + _SET_ALIAS, masks[0] | (masks[0] << 8),
                          _PIO_BASES[1] + _SET_ALIAS, masks[1] | (masks[1] << 8))
        machine.enable_irq(state)
        # The 64-bit microsecond count whose low word was ``low`` (read just now).
        now_us = self.clock() // self._us_ticks
        start_us = now_us - ((now_us - low) & 0xFFFFFFFF)
        for oid in range(len(self.machines)):
            self.intake.armed(oid, start_us * self._us_ticks)

    def _stop_machines(self, oids):
        for oid in oids:
            machine.mem32[_PIO_BASES[oid >> 2] + _CLR_ALIAS] = 1 << (oid & 3)
            self.channels[oid].active(0)

    def log(self, text):
        """Keep the last message (stdout is the link on this board)."""
        self.last_log = text

    # -- clock ---------------------------------------------------------
    def clock(self):
        """MCU clock in ticks: the 64-bit microsecond timer times ticks per us."""
        mem = machine.mem32
        while True:
            high = mem[_TIMER_HIGH]
            low = mem[_TIMER_LOW]
            if mem[_TIMER_HIGH] == high:
                return ((high << 32) | (low & 0xFFFFFFFF)) * self._us_ticks

    def advance(self, now):
        """Main loop hook: keep the rings filled."""
        self.service()

    def _tick(self, _timer):
        # Scheduled between bytecodes of the main loop (and while it waits in
        # a read): refill only; a halted motor is left for the main loop,
        # whose shutdown writes to the link. Every _GUARD_EVERY ticks the
        # main loop's own progress is checked (Mcu.guard).
        self.service(stops=False)
        self._ticks += 1
        if self._ticks >= _GUARD_EVERY and self.mcu is not None:
            self._ticks = 0
            self.mcu.guard()

    # -- steppers ------------------------------------------------------
    def step_run(self, oid, first, interval, count, add):
        """Queue a run (MCU ticks); shuts down if its stream is already past it."""
        self._busy = True
        try:
            self.intake.step_run(oid, first, interval, count, add)
        finally:
            self._busy = False
        self.service()

    def take_runs(self, inbox, n, epoch):
        """Queue decoded runs in bulk (see motion/stepper.py); the main loop
        writes them out. Returns how many were taken."""
        self._busy = True
        try:
            return self.intake.take_runs(inbox, n, epoch)
        finally:
            self._busy = False

    def refused(self, inbox, index, count):
        """Runs the bulk path did not take: each one's reason, or it waits."""
        self._busy = True
        try:
            self.intake.refused(inbox, index, count)
        finally:
            self._busy = False

    def epoch_moved(self, epoch):
        self.intake.epoch_moved(epoch)

    def _refuse(self, text):
        self.mcu.shutdown(text)

    def service(self, stops=True):
        """Refill every ring; with ``stops``, act on underruns and endstop stops.

        Runs from the main loop and the soft timer; allocates only the clock's
        long ints and, when a motor stopped, what the stop needs.
        """
        if self._busy or self.mcu is None:
            return
        self._busy = True
        try:
            now = self.clock()
            halted = 0
            for oid in range(len(self.streams)):
                if self._halted(oid):
                    if stops:                   # re-armed after it (a homing stop,
                        self._stopped(oid, now)  # or the shutdown's restart)
                    else:
                        halted |= 1 << oid      # left as it is for the main loop
                    continue
                # Words the DMA took may still be in the FIFO or running:
                # their ring slots are kept until they ran (positions follow from them).
                self.streams[oid].consumed(
                    ((self.channels[oid].read - self.rings[oid]) >> 2) - _IN_FLIGHT)
            self.intake.refill_all(now, self.lead, halted)
        finally:
            self._busy = False

    def _pc(self, oid):
        """Program counter of motor ``oid``'s state machine, relative to the program."""
        addr = _PIO_BASES[oid >> 2] + _SM_ADDR + _SM_STRIDE * (oid & 3)
        return (machine.mem32[addr] & 31) - self._program_offset(oid)

    def _halted(self, oid):
        return self._pc(oid) == rp2_pio.HALT_AT

    def _program_offset(self, oid):
        offset = self.program[1 + (oid >> 2)]
        return offset if offset > 0 else 0

    def _stopped(self, oid, now):
        sm = self.machines[oid]
        if sm.rx_fifo() and self.homing[oid] is not None:
            left = sm.get() + 1
            position = self._hit_position(oid, left)
            self.hits[oid] = position
            self.streams[oid].position = position
            self.mcu.steppers.motor_stopped(oid, position)
            self.home_disarm(oid)
            self._stop_machines((oid,))
            self._arm_stream(oid, self.clock())
            sm.active(1)
            return
        self.mcu.shutdown("step underrun on motor %s: its PIO ring ran dry"
                          % self.names[oid])

    def _current_word(self, oid):
        """Ring index of the word in the state machine's OSR."""
        read = (self.channels[oid].read - self.rings[oid]) >> 2
        return (read - self.machines[oid].tx_fifo() - 1) & (RING_WORDS - 1)

    def _hit_position(self, oid, left):
        """Position of a motor halted at its endstop (steps)."""
        return self.streams[oid].position_at(self._current_word(oid), left)

    def _stopped_position(self, oid):
        """Exact step position of a disabled state machine, from where it stopped.

        The program counter says how far the word in the OSR got (addresses
        of ``hal/rp2_pio.py``); y, read out through ``exec``, holds the steps
        still to come in it after the one being waited for.
        """
        stream = self.streams[oid]
        pc = self._pc(oid)
        if pc == rp2_pio.HALT_AT:
            # Every word before the halt word it pulled ran, none after: the
            # ring may hold more by now (a refill that came after the DMA had
            # fetched the halt word).
            return stream.position_before(self._current_word(oid))
        current = self._current_word(oid)
        y = 0
        if 9 <= pc < rp2_pio.HIT_AT:          # inside a step word: y counts what is left
            sm = self.machines[oid]
            sm.exec("mov(isr, y)")
            sm.exec("push(noblock)")
            y = sm.get()
        left = rp2_pio.steps_left(pc, y, stream.word_steps(current))
        return stream.position_at(current, left)

    def stop_motors(self, now):
        """Stop every motor now; returns the steps each one took (exact)."""
        self._stop_machines(range(len(self.machines)))
        self.intake.clear()
        taken = [self._stopped_position(oid) for oid in range(len(self.streams))]
        for oid, stream in enumerate(self.streams):
            stream.position = taken[oid]
        self.start_all()
        return taken

    # -- homing --------------------------------------------------------
    def home_arm(self, oid, endstop):
        """Let endstop ``endstop`` (index in the board file) stop motor ``oid``."""
        number = self.endstops[endstop][0]
        self.homing[oid] = number
        self.hits[oid] = None
        self._set_jmp_pin(oid, number)

    def home_disarm(self, oid):
        self.homing[oid] = None
        self._set_jmp_pin(oid, self.step_gpio[oid])

    def _set_jmp_pin(self, oid, number):
        addr = _PIO_BASES[oid >> 2] + _SM_EXECCTRL + _SM_STRIDE * (oid & 3)
        machine.mem32[addr] = (machine.mem32[addr] & ~(31 << 24)) | (number << 24)

    def endstop_read(self, endstop):
        """1 when endstop ``endstop`` is triggered."""
        return self.endstops[endstop][1].value()


def _invert_pad(number, shift, inverted):
    """Set GPIO ``number``'s INOVER (``shift`` 16: the input, for every
    reader) or OUTOVER (8: the output, whatever drives it) to invert (1) or
    pass (0)."""
    ctrl = _IO_BANK0_CTRL + 8 * number
    machine.mem32[ctrl] = (machine.mem32[ctrl] & ~(3 << shift)) | ((1 if inverted else 0) << shift)


@micropython.viper
def _start_on_tick(timer: uint, ctrl0: uint, mask0: uint, ctrl1: uint, mask1: uint) -> int:
    """Write ``mask0``/``mask1`` to the PIO CTRL registers at ``ctrl0``/``ctrl1``
    right after the microsecond timer (its low word at ``timer``) ticks;
    returns that tick's low word. Call with interrupts off."""
    clock = ptr32(timer)        # noqa: F821 (viper builtin)
    before = clock[0]
    now = before
    spins = 0
    while now == before and spins < 100000:
        now = clock[0]
        spins += 1
    if mask0:
        ptr32(ctrl0)[0] = mask0   # noqa: F821
    if mask1:
        ptr32(ctrl1)[0] = mask1   # noqa: F821
    return now
