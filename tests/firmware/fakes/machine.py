"""Stand-in for MicroPython's ``machine`` module on an RP2040 (tests only).

Pins, PWM and ADC record what the firmware does to them; ``mem32`` serves the
registers the ``rp2`` backend touches (timer, PIO CTRL, state machine
EXECCTRL and ADDR) and words of memory (buffers known to the fake ``uctypes`` under CPython, real
memory through ``uctypes.bytearray_at`` under micropython, whose built-in
``uctypes`` a file cannot replace); ``freq`` is the system clock.
"""
import uctypes

SYS_FREQ = [125000000]
TIME_US = [0]            # the RP2040 timer, moved by tests
_TIMER_HIGH = 0x40054024
_TIMER_LOW = 0x40054028
_PIO_BASES = (0x50200000, 0x50300000)
_SM_EXECCTRL = 0x0CC
_SM_ADDR = 0x0D4
_SM_STRIDE = 0x18
_IO_BANK0 = 0x40014000


def freq(value=None):
    if value is None:
        return SYS_FREQ[0]
    SYS_FREQ[0] = value


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2
    ALL = {}

    def __init__(self, number, mode=-1, pull=None, value=None):
        self.number = number
        self.mode = mode
        self.pull = pull
        self.level = 0 if value is None else value
        Pin.ALL[number] = self

    def init(self, mode=-1, pull=None, value=None):
        self.mode, self.pull = mode, pull
        if value is not None:
            self.level = value

    def value(self, level=None):
        if level is None:
            return self.level
        self.level = 1 if level else 0

    def __call__(self, level=None):
        return self.value(level)


class PWM:
    def __init__(self, pin, freq=None, duty_u16=None):
        self.pin = pin
        self.frequency = freq or 1000
        self.duty = duty_u16 or 0

    def freq(self, value=None):
        if value is None:
            return self.frequency
        self.frequency = value

    def duty_u16(self, value=None):
        if value is None:
            return self.duty
        self.duty = value


class ADC:
    READINGS = {}            # pin number -> read_u16 value

    def __init__(self, pin, atten=None):
        self.pin = pin

    def read_u16(self):
        return ADC.READINGS.get(self.pin.number, 0)


class Timer:
    PERIODIC = 1
    ONE_SHOT = 0

    def __init__(self, *args, **kwargs):
        self.callback = None
        if kwargs:
            self.init(**kwargs)

    def init(self, mode=1, period=-1, freq=-1, callback=None):
        self.callback = callback
        self.period = period

    def deinit(self):
        self.callback = None


def disable_irq():
    return 0


def enable_irq(_state):
    pass


class _Mem32:
    """Register file: the few registers the rp2 backend uses, and buffers."""

    def __init__(self):
        self.writes = []
        self.registers = {}

    def _sm(self, addr, offset):
        import rp2
        for block, base in enumerate(_PIO_BASES):
            for sm in range(4):
                if addr == base + offset + _SM_STRIDE * sm:
                    return rp2.STATE_MACHINES.get(4 * block + sm)
        return None

    def __getitem__(self, addr):
        if addr == _TIMER_LOW:
            return TIME_US[0] & 0xFFFFFFFF
        if addr == _TIMER_HIGH:
            return TIME_US[0] >> 32
        sm = self._sm(addr, _SM_ADDR)
        if sm is not None:
            return sm.pc()
        sm = self._sm(addr, _SM_EXECCTRL)
        if sm is not None:
            return (sm.jmp_pin.number if sm.jmp_pin is not None else 0) << 24
        if addr not in self.registers and _IO_BANK0 <= addr < _IO_BANK0 + 0x100:
            return 0
        if addr in self.registers:
            return self.registers[addr]
        if hasattr(uctypes, "lookup"):
            buf, index = uctypes.lookup(addr)
            return buf[index]
        # micropython: the real uctypes gave a real address; read the word there.
        raw = uctypes.bytearray_at(addr, 4)
        return raw[0] | (raw[1] << 8) | (raw[2] << 16) | (raw[3] << 24)

    def __setitem__(self, addr, value):
        if len(self.writes) < 64:
            self.writes.append((addr, value))
        import rp2
        for block, base in enumerate(_PIO_BASES):
            if addr in (base + 0x2000, base + 0x3000):   # CTRL set / clear alias
                for sm in range(4):
                    machine_ = rp2.STATE_MACHINES.get(4 * block + sm)
                    if machine_ is not None and value & (1 << sm):
                        machine_.active(addr == base + 0x2000)
                return
        sm = self._sm(addr, _SM_EXECCTRL)
        if sm is not None:
            sm.jmp_pin = Pin.ALL.get((value >> 24) & 31)
            return
        if _IO_BANK0 <= addr < _IO_BANK0 + 0x100:
            self.registers[addr] = value
            return
        raise ValueError("fake mem32: no register at 0x%x" % addr)


mem32 = _Mem32()


ADC.ATTN_11DB = 3


class SPI:
    """Records its setup; each transfer goes to ``device`` (set by a test:
    ``write_readinto(out, into)``), with the CS level it saw."""
    LAST = []

    def __init__(self, bus, baudrate=0, polarity=0, phase=0, sck=None, mosi=None, miso=None):
        self.bus, self.baudrate, self.polarity, self.phase = bus, baudrate, polarity, phase
        self.pins = (sck, mosi, miso)
        self.device = None
        self.cs_levels = []
        SPI.LAST.append(self)

    def write_readinto(self, out, into):
        self.device.write_readinto(out, into)
