"""Stand-in for MicroPython's ``machine`` module on an RP2040 (tests only).

Pins, PWM and ADC record what the firmware does to them; ``mem32`` serves the
registers the ``rp2`` backend touches (timer, PIO CTRL, state machine
EXECCTRL and ADDR) and words of buffers registered through the fake
``uctypes.addressof``; ``freq`` is the system clock.
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

    def __init__(self, pin):
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
        buf, index = uctypes.lookup(addr)
        return buf[index]

    def __setitem__(self, addr, value):
        self.writes.append((addr, value))
        import rp2
        for block, base in enumerate(_PIO_BASES):
            if addr == base:                       # CTRL: SM_ENABLE bits 0..3
                for sm in range(4):
                    machine_ = rp2.STATE_MACHINES.get(4 * block + sm)
                    if machine_ is not None:
                        machine_.active(value & (1 << sm))
                return
        sm = self._sm(addr, _SM_EXECCTRL)
        if sm is not None:
            sm.jmp_pin = Pin.ALL.get((value >> 24) & 31)
            return
        buf, index = uctypes.lookup(addr)
        buf[index] = value


mem32 = _Mem32()
