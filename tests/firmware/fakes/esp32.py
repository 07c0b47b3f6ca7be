"""Stand-in for MicroPython's ``esp32`` module: RMT channels that record their
pulse sequences (tests only, CPython and micropython)."""


class RMT:
    CHANNELS = {}

    def __init__(self, channel, pin=None, clock_div=8, idle_level=False, tx_carrier=None):
        self.channel = channel
        self.pin = pin
        self.clock_div = clock_div
        self.sequences = []          # (durations, levels) per write_pulses
        self.done = True
        RMT.CHANNELS[channel] = self

    def write_pulses(self, duration, data=True):
        for d in duration:
            if not 0 < d <= 32767:
                raise ValueError("RMT duration %d outside 1..32767" % d)
        self.sequences.append((list(duration), list(data)))
        self.done = False

    def wait_done(self, timeout=0):
        return self.done

    def deinit(self):
        self.done = True
