"""Fakes at the HAL boundary for firmware tests (CPython and micropython)."""


class FakeTransport:
    """Bytes in from ``feed``, bytes out collected in ``sent``."""

    def __init__(self):
        self.inbox = bytearray()
        self.sent = []
        self.connected = True

    def feed(self, data):
        self.inbox.extend(data)

    def wait(self, timeout_ms):
        return len(self.inbox) > 0

    def readinto(self, view):
        n = min(len(view), len(self.inbox))
        view[:n] = self.inbox[:n]
        self.inbox = self.inbox[n:]
        return n

    def write(self, data):
        self.sent.append(bytes(data))


class FakeHal:
    """Clock set by the test; records runs, PWM and enables."""

    def __init__(self, clock_freq=12000000):
        self.clock_freq = clock_freq
        self.virtual = True
        self.transport = FakeTransport()
        self.now = 0
        self.runs = []
        self.pwm = {}
        self.adc = {}
        self.enabled = None
        self.logs = []

    def attach(self, mcu):
        self.mcu = mcu

    def log(self, text):
        self.logs.append(text)

    def clock(self):
        return self.now

    def advance(self, now):
        self.now = now

    def step_run(self, oid, first, interval, count, add):
        self.runs.append((oid, first, interval, count, add))

    def stop_motors(self, now):
        self.stopped_at = now

    def enable_motors(self, on):
        self.enabled = on

    def adc_read(self, pin):
        return self.adc[pin]

    def pwm_config(self, pin, period_s):
        self.pwm_period = {pin: period_s}

    def pwm_write(self, pin, duty):
        self.pwm[pin] = duty


BOARD = {
    "id": "test", "mcu": "fake", "clock_freq": 12000000, "step_queue_size": 4,
    "adc_max": 65535,
    "motors": [{"name": "x"}, {"name": "y"}],
    "heaters": [{"name": "extruder", "sensor_pin": "adc0", "heater_pin": "pwm0",
                 "pullup_ohm": 4700}],
    "fans": [{"name": "fan", "pin": "pwm2"}],
}


def frame(seq, payload):
    """A host->board frame, built independently of the firmware's code."""
    body = bytes((len(payload) + 5, seq)) + payload
    crc = 0xFFFF
    for byte in body:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return body + bytes((crc >> 8, crc & 0xFF, 0x7E))


def vlq(*values):
    out = bytearray()
    for value in values:
        value = (value << 1) if value >= 0 else ((-value) << 1) - 1
        while value > 0x7F:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out)
