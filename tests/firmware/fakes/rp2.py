"""Stand-in for MicroPython's ``rp2`` module (tests, CPython and micropython).

* :func:`asm_pio` assembles the firmware's PIO source the way the board does:
  it runs the decorated function twice (labels, then code) with the PIO
  instruction names bound, and returns the same list layout as the real
  ``rp2.asm_pio`` (instruction array first). The encodings are those of the
  RP2040 datasheet, section 3.4 (PIO instruction set).
* :class:`StateMachine`, :class:`DMA` and :class:`PIO` model one PIO block's
  state machines fed by DMA from a ring, at the level the firmware sees them:
  words are pulled and executed by the timing of ``hal/rp2_pio.py`` (the
  emulator tests prove that timing on the real program), an all-zero word
  halts, a triggered JMP_PIN halts with the steps left pushed to the RX FIFO.
  Tests move ``machine.TIME_US`` and call :func:`run`.
"""
import array

import machine

# -- assembler ---------------------------------------------------------
_NAMES = {
    "pins": 0, "x": 1, "y": 2, "null": 3, "pindirs": 4, "pc": 5, "isr": 6, "osr": 7,
    "not_x": 1, "x_dec": 2, "not_y": 3, "y_dec": 4, "x_not_y": 5, "pin": 6,
    "not_osre": 7, "block": 0x20, "noblock": 0, "ifempty": 0x40, "iffull": 0x40,
}


class PIOASMError(Exception):
    pass


class _Emit:
    def __init__(self, sideset_count):
        self.sideset = sideset_count
        self.labels = {}
        self.start(0)

    def start(self, pass_no):
        self.pass_no = pass_no
        self.code = array.array("H")
        self.wrap_at = -1
        self.target = 0

    def emit(self, word):
        self.code.append(word)
        return self

    def side(self, value):
        self.code[-1] |= value << (13 - self.sideset)
        return self

    def __getitem__(self, delay):
        if delay >= 1 << (5 - self.sideset):
            raise PIOASMError("delay %d too large" % delay)
        self.code[-1] |= delay << 8
        return self

    def label(self, name):
        if self.pass_no == 0:
            self.labels[name] = len(self.code)

    def address(self, name):
        return self.labels.get(name, 0) if self.pass_no else 0

    def namespace(self):
        emit = self
        ns = dict(_NAMES)

        def jmp(cond, target=None):
            if target is None:
                cond, target = 0, cond
            return emit.emit((cond << 5) | emit.address(target))

        def mark_target():
            emit.target = len(emit.code)

        def mark_wrap():
            emit.wrap_at = len(emit.code) - 1

        ns.update({
            "label": emit.label, "jmp": jmp,
            "wrap_target": mark_target, "wrap": mark_wrap,
            "pull": lambda a=0, b=0: emit.emit(0x8080 | a | b),
            "push": lambda a=0, b=0: emit.emit(0x8000 | a | b),
            "out": lambda dest, n: emit.emit(0x6000 | (dest << 5) | (n & 31)),
            "in_": lambda src, n: emit.emit(0x4000 | (src << 5) | (n & 31)),
            "mov": lambda dest, src: emit.emit(0xA000 | (dest << 5) | src),
            "set": lambda dest, data: emit.emit(0xE000 | (dest << 5) | data),
            "nop": lambda: emit.emit(0xA042),
        })
        return ns


def _call_with(func, namespace):
    try:
        import types
        types.FunctionType(func.__code__, namespace)()
    except ImportError:                     # micropython: swap the globals in place
        saved = dict(func.__globals__)
        func.__globals__.clear()
        func.__globals__.update(namespace)
        try:
            func()
        finally:
            func.__globals__.clear()
            func.__globals__.update(saved)


def asm_pio(out_init=None, set_init=None, sideset_init=None, out_shiftdir=0,
            in_shiftdir=0, autopull=False, autopush=False, pull_thresh=32,
            push_thresh=32, fifo_join=0):
    sideset_count = 0 if sideset_init is None else (
        len(sideset_init) if isinstance(sideset_init, tuple) else 1)

    def assemble(func):
        emit = _Emit(sideset_count)
        for pass_no in (0, 1):
            emit.start(pass_no)
            _call_with(func, emit.namespace())
        wrap = emit.wrap_at if emit.wrap_at >= 0 else len(emit.code) - 1
        execctrl = (wrap << 12) | (emit.target << 7)
        shiftctrl = ((fifo_join << 30) | ((pull_thresh & 31) << 25)
                     | ((push_thresh & 31) << 20) | (out_shiftdir << 19)
                     | (in_shiftdir << 18) | (int(autopull) << 17) | (int(autopush) << 16))
        return [emit.code, -1, -1, execctrl, shiftctrl, out_init, set_init, sideset_init]
    return assemble


def wrap_bounds(program):
    """(wrap_target, wrap_top) of an assembled program."""
    execctrl = program[3]
    return (execctrl >> 7) & 31, (execctrl >> 12) & 31


# -- hardware model ----------------------------------------------------
class PIO:
    OUT_LOW = 2
    OUT_HIGH = 3
    IN_LOW = 0
    IN_HIGH = 1
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2


STATE_MACHINES = {}     # id -> StateMachine
RECORD = [True]         # False: keep no logs of rises (heap measurements)
CHANNELS = []           # DMA channels in creation order


def reset():
    """Forget every state machine and DMA channel (between tests)."""
    STATE_MACHINES.clear()
    del CHANNELS[:]


class Log:
    """An append-only list kept in chunks of 256 (no large block on a
    fragmented micropython heap)."""

    def __init__(self):
        self.chunks = [[]]
        self.size = 0

    def append(self, item):
        if len(self.chunks[-1]) == 256:
            self.chunks.append([])
        self.chunks[-1].append(item)
        self.size += 1

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        if index < 0:
            index += self.size
        return self.chunks[index >> 8][index & 255]

    def __iter__(self):
        for chunk in self.chunks:
            for item in chunk:
                yield item


class StateMachine:
    """A PIO state machine running the step program's word timing.

    Time is the fake ``machine.TIME_US`` in this machine's cycles; the machine
    counts from the cycle it was enabled. Each rise goes to ``rises`` as
    (absolute cycle, dir level), each dir change to ``dir_changes``.
    """

    def __init__(self, sm_id, program=None, freq=None, **pins):
        self.id = sm_id
        STATE_MACHINES[sm_id] = self
        self.enabled = False
        self.rises = Log()
        self.dir_changes = Log()
        self.dir_level = 0
        self.jmp_pin = None
        self.freq = 125000000
        self._reset()
        if program is not None:
            self.init(program, freq, **pins)

    def _reset(self):
        self.fifo = []
        self.rx = []
        self.halted = False
        self.halted_dry = False
        self.start = 0
        self.next_pull = 0
        self.word = None

    def init(self, program, freq=None, sideset_base=None, out_base=None, jmp_pin=None, **_):
        from hal import rp2_pio
        self.program = program
        if program[1] < 0:
            program[1] = 0                  # loaded at offset 0 of PIO0
        self.freq = freq or self.freq
        self.pulse = (program[0][rp2_pio.PULSE_AT] & 31) + rp2_pio.MIN_PULSE
        self.step_pin = sideset_base
        self.dir_pin = out_base
        self.jmp_pin = jmp_pin
        self.enabled = False
        self._reset()

    def now(self):
        """Current absolute cycle (fake timer times this machine's clock)."""
        return machine.TIME_US[0] * (self.freq // 1000000)

    def active(self, value=None):
        if value is None:
            return self.enabled
        if value and not self.enabled:
            self.start = self.now()
        self.enabled = bool(value)

    def restart(self):
        self._reset()

    def tx_fifo(self):
        return len(self.fifo)

    def rx_fifo(self):
        return len(self.rx)

    def get(self):
        return self.rx.pop(0)

    def put(self, word):
        self.fifo.append(word)

    def pc(self):
        """Program counter as the firmware reads it (program at offset 0): the
        halt loop, the pull (between words), the idle loop, or the delay loop
        before the word's next step."""
        from hal import rp2_pio
        if self.halted:
            return rp2_pio.HALT_AT
        if self.word is None:
            return 0
        return 7 if self.word[2] == 0 else 10

    def exec(self, instruction):
        """The two instructions the firmware runs on a stopped machine."""
        if instruction == "mov(isr, y)":
            begin, level, steps, delay, k = self.word
            self.isr = steps - 1 - k
        elif instruction == "push(noblock)":
            self.rx.append(self.isr)
        else:
            raise ValueError("fake exec: %s" % instruction)

    def _feed(self):
        for channel in CHANNELS:
            if channel.target is self:
                channel.pump()

    def run_until(self, cycle):
        """Execute words until absolute cycle ``cycle``, one step at a time."""
        from hal import rp2_pio
        if not self.enabled:
            return
        local = cycle - self.start
        while not self.halted:
            if self.word is None:
                self._feed()
                if self.next_pull > local:
                    break
                if not self.fifo:
                    self.halted_dry = True  # stalled on pull: words came too late
                    break
                word = self.fifo.pop(0)
                if word == 0:
                    self.halted = True
                    break
                self.word = [self.next_pull, word & 1, (word >> 1) & 1023, word >> 11, 0]
                begin, level = self.word[0], self.word[1]
                if level != self.dir_level:
                    self.dir_level = level
                    self.dir_changes.append(self.start + begin + rp2_pio.DIR_LAG)
            begin, level, steps, delay, k = self.word
            if steps == 0:
                self.next_pull = begin + delay + rp2_pio.IDLE_OVERHEAD
                self.word = None
                continue
            period = delay + self.pulse + rp2_pio.PERIOD_OVERHEAD
            rise = begin + rp2_pio.FIRST_RISE + delay + k * period
            if rise > local:
                break
            if (self.jmp_pin is not None and self.jmp_pin is not self.step_pin
                    and self.jmp_pin.value()):
                self.rx.append(steps - 1 - k)
                self.halted = True
                break
            if RECORD[0]:
                self.rises.append((self.start + rise, level))
            self.word[4] = k + 1
            if k + 1 == steps:
                self.next_pull = begin + steps * period
                self.word = None


class DMA:
    """A DMA channel reading a ring into a state machine's TX FIFO (4 deep)."""

    def __init__(self):
        CHANNELS.append(self)
        self.target = None
        self.running = False
        self.read = 0
        self.count = 0

    def pack_ctrl(self, size=2, inc_read=True, inc_write=True, treq_sel=63,
                  ring_size=0, ring_sel=False, **_):
        return {"size": size, "inc_read": inc_read, "inc_write": inc_write,
                "treq_sel": treq_sel, "ring_size": ring_size, "ring_sel": ring_sel}

    def config(self, read=None, write=None, count=None, ctrl=None, trigger=False):
        self.base = read
        self.read = read
        if isinstance(write, int):            # a TX FIFO register: TXFn of PIO0/PIO1
            block = 1 if write >= 0x50300000 else 0
            write = STATE_MACHINES[4 * block + ((write & 0xFF) - 0x10) // 4]
        self.target = write
        self.count = count
        self.ctrl = ctrl
        self.running = trigger

    def active(self, value=None):
        if value is None:
            return self.running
        self.running = bool(value)

    def close(self):
        self.running = False

    def pump(self):
        """Move words while the FIFO has room (ring wrap as ``ring_size`` says)."""
        ring_bytes = 1 << self.ctrl["ring_size"]
        while self.running and self.count and len(self.target.fifo) < 4:
            word = machine.mem32[self.read]
            self.target.fifo.append(word & 0xFFFFFFFF)
            offset = (self.read + 4) & (ring_bytes - 1)
            self.read = (self.read & ~(ring_bytes - 1)) | offset
            self.count -= 1


def run():
    """Advance every enabled state machine to the fake timer's present."""
    for sm in STATE_MACHINES.values():
        sm.run_until(sm.now())


def start_on_tick(timer, ctrl0, mask0, ctrl1, mask1):
    """Stand-in for hal.rp2's viper start (which reads real registers): the
    same writes through the fake ``mem32``; the fake timer does not tick."""
    import machine
    if mask0:
        machine.mem32[ctrl0] = mask0
    if mask1:
        machine.mem32[ctrl1] = mask1
    return machine.mem32[timer]
