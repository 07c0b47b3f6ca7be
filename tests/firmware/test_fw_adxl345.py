"""The ADXL345 driver (sensors/adxl345.py) against a fake SPI chip that
plays back a recorded FIFO, and the simulated chip and toolhead plant
(hal/simadxl345.py, hal/simtoolhead.py). Runs under CPython and MicroPython."""
import math

from hal.simadxl345 import SimAdxl345
from hal.simtoolhead import Axis, motor_position
from sensors.adxl345 import ADXL_DATA, ADXL_ID, ADXL_STATUS, Accelerometers

# A recorded FIFO: (x, y, z) counts as a chip read them out, one per sample.
RECORDED = [(i - 20, 3 * i - 50, 256 + (i % 7) - 3) for i in range(45)]


class PlaybackChip:
    """SPI device that plays RECORDED back: ``available`` entries wait in
    its FIFO; register writes are kept."""

    def __init__(self):
        self.available = 0
        self.taken = 0
        self.writes = []

    def write_readinto(self, out, into):
        reg = out[0] & 0x3F
        if not out[0] & 0x80:
            self.writes.append((reg, out[1]))
            return
        if reg == 0x00:
            into[1] = 0xE5
        elif reg == 0x39:
            into[1] = min(self.available, 32)
        elif reg == 0x32:
            x, y, z = RECORDED[self.taken]
            self.taken += 1
            self.available -= 1
            for i, value in enumerate((x, y, z)):
                into[1 + 2 * i] = value & 0xFF
                into[2 + 2 * i] = (value >> 8) & 0xFF


class FakeHal:
    clock_freq = 12000000

    def __init__(self, device):
        self.device = device
        self.now = 0

    def spi(self, spec):
        return self.device

    def clock(self):
        return self.now


class FakeLink:
    def __init__(self):
        self.sent = []

    def send(self, msgid, *args):
        self.sent.append((msgid,) + tuple(bytes(a) if not isinstance(a, int) else a
                                          for a in args))


class FakeTimed:
    """The firmware's timed heater/fan changes: none pending; calls kept."""

    def __init__(self):
        self.calls = []

    def next_clock(self, default):
        return default

    def run(self, now):
        self.calls.append(("run", now))

    def clear(self):
        self.calls.append(("clear",))


class FakeMcu:
    def __init__(self, device):
        self.hal = FakeHal(device)
        self.link = FakeLink()
        self.timed = FakeTimed()


def _decode(data):
    out = []
    for i in range(0, len(data), 6):
        triple = []
        for k in range(3):
            value = data[i + 2 * k] | (data[i + 2 * k + 1] << 8)
            triple.append(value - 65536 if value & 0x8000 else value)
        out.append(tuple(triple))
    return out


def _made():
    chip = PlaybackChip()
    mcu = FakeMcu(chip)
    return chip, mcu, Accelerometers(mcu, [{"name": "adxl345", "chip": "adxl345"}])


def test_start_configures_full_resolution_stream_fifo_then_measures():
    chip, mcu, accels = _made()
    accels.cmd_start(0, 0x0F)
    assert chip.writes[0] == (0x2D, 0)                 # stand by first
    assert (0x31, 0x0B) in chip.writes                 # full resolution, +-16 g
    assert (0x2C, 0x0F) in chip.writes                 # 3200 Hz
    assert chip.writes[-2] == (0x38, 0x80)             # stream mode
    assert chip.writes[-1] == (0x2D, 0x08)             # measure, last
    assert accels.next_clock == 12000000 * 4 // 1000


def test_query_id_reports_devid():
    _chip, mcu, accels = _made()
    accels.cmd_query_id(0)
    assert mcu.link.sent == [(ADXL_ID, 0, 0xE5)]


def test_fifo_is_sent_in_batches_with_clock_sequence_and_remaining():
    chip, mcu, accels = _made()
    timed = mcu.timed.timed
    assert mcu.timed.next_clock(10 ** 9) == 10 ** 9      # idle: the main loop's own wake
    accels.cmd_start(0, 0x0F)
    assert mcu.timed.next_clock(10 ** 9) == accels.next_clock == 48000
    chip.available = 13
    mcu.hal.now = 48000
    mcu.timed.run(47999)                                 # not yet: the changes only
    assert mcu.link.sent == [] and timed.calls == [("run", 47999)]
    mcu.timed.run(48000)                                 # the main loop's timers
    sent = mcu.link.sent
    assert [m[0] for m in sent] == [ADXL_DATA, ADXL_DATA]
    assert [(m[1], m[2], m[3], m[4]) for m in sent] == [(0, 48000, 0, 5), (0, 48000, 8, 0)]
    assert _decode(sent[0][5]) + _decode(sent[1][5]) == RECORDED[:13]
    assert accels.next_clock == 48000 + 48000
    mcu.timed.clear()
    assert timed.calls[-1] == ("clear",)
    chip.available = 32                                  # fell behind: full FIFO
    accels.run(96000)
    got = []
    for message in mcu.link.sent[2:]:
        got += _decode(message[5])
        assert len(message[5]) <= 48
    assert got == RECORDED[13:45]
    assert mcu.link.sent[2][3] == 13
    accels.cmd_stop(0)
    assert mcu.link.sent[-1] == (ADXL_STATUS, 0, 48000, 45, 1)   # 45 samples, 1 overflow
    assert chip.writes[-1] == (0x2D, 0)
    assert accels.next_clock is None


def test_a_data_message_fits_a_64_byte_frame():
    import link
    sent = []

    class Transport:
        def write(self, data):
            sent.append(bytes(data))
    lk = link.Link(Transport(), lambda: {})
    lk.send(ADXL_DATA, 0, 0xFFFFFFFF, 8191, 32, bytes(48))
    assert len(sent[0]) <= 64


# -- the simulated chip and plant ------------------------------------------
def _chip(spec=None, carriage=None):
    return SimAdxl345(spec or {}, 12000000, carriage or (lambda clock: (0.0, 0.0, 0.0)))


def _read(chip, reg):
    into = bytearray(2)
    chip.write_readinto(bytes((0x80 | reg, 0)), into)
    return into[1]


def test_sim_chip_at_rest_reads_one_g_on_z_and_its_id():
    chip = _chip()
    assert _read(chip, 0x00) == 0xE5
    chip.write(bytes((0x31, 0x0B)))
    chip.write(bytes((0x2C, 0x0F)))
    chip.write(bytes((0x38, 0x80)))
    chip.write(bytes((0x2D, 0x08)))
    chip.advance(0)
    chip.advance(3750 * 20)                 # 20 samples at 3200 Hz of a 12 MHz clock
    assert _read(chip, 0x39) == 20
    sums = [0, 0, 0]
    for _ in range(20):
        into = bytearray(7)
        chip.write_readinto(bytes((0xF2, 0, 0, 0, 0, 0, 0)), into)
        for i, value in enumerate(_decode(into[1:])[0]):
            sums[i] += value
    assert _read(chip, 0x39) == 0
    assert abs(sums[0]) <= 20 * 3 and abs(sums[1]) <= 20 * 3
    assert abs(sums[2] / 20 - 256) < 2


def test_sim_chip_stream_fifo_keeps_the_newest_32():
    chip = _chip()
    chip.write(bytes((0x2C, 0x0F)))
    chip.write(bytes((0x38, 0x80)))
    chip.write(bytes((0x2D, 0x08)))
    chip.advance(0)
    chip.advance(3750 * 40)
    assert _read(chip, 0x39) == 32
    assert chip.lost == 8
    chip.write(bytes((0x2D, 0x00)))
    chip.advance(3750 * 80)                  # standing by: no more samples
    assert _read(chip, 0x39) == 32


def _ring(freq, zeta, period=1.0 / 3200):
    """Accelerations (mm/s^2) of an axis whose carriage jumps 1 mm at once."""
    axis = Axis(freq, zeta, period)
    axis.sample(0.0)
    return [axis.sample(1.0)] + [axis.sample(1.0) for _ in range(3199)]


def _fit(samples, period):
    """Natural frequency (Hz) and damping ratio from zero crossings and the
    decay of successive peaks of a ringing signal."""
    crossings = []
    for i in range(10, len(samples) - 1):
        a, b = samples[i], samples[i + 1]
        if a < 0.0 <= b:
            crossings.append((i + a / (a - b)) * period)
    damped_period = (crossings[-1] - crossings[0]) / (len(crossings) - 1)
    peaks = []
    for k in range(len(crossings) - 1):
        lo, hi = int(crossings[k] / period), int(crossings[k + 1] / period)
        peaks.append(max(samples[lo:hi + 1]))
    ratios = [math.log(peaks[k] / peaks[k + 1]) for k in range(min(6, len(peaks) - 1))]
    delta = sum(ratios) / len(ratios)
    zeta = delta / math.sqrt(4 * math.pi * math.pi + delta * delta)
    return 1.0 / damped_period / math.sqrt(1.0 - zeta * zeta), zeta


def test_a_carriage_step_rings_at_the_resonance_with_its_damping():
    for freq, zeta in ((37.0, 0.08), (52.0, 0.12), (80.0, 0.03)):
        got_freq, got_zeta = _fit(_ring(freq, zeta), 1.0 / 3200)
        assert abs(got_freq - freq) < 0.01 * freq, (freq, got_freq)
        assert abs(got_zeta - zeta) < 0.10 * zeta, (zeta, got_zeta)


def test_a_rigid_axis_reads_the_carriage_second_difference():
    axis = Axis(0.0, 0.0, 0.5)
    got = [axis.sample(c) for c in (0.0, 0.0, 1.0, 3.0, 5.0)]
    assert got == [0.0, 0.0, 4.0, 4.0, 0.0]


def test_motor_position_runs_through_the_half_steps():
    # Steps at 1000 and 2000 (up), nothing after: rests, then leaves rest
    # 1366 ticks (1.366 intervals) before the first step, settles as long after the last.
    assert motor_position(1, (1000, 1, 1000), (2000, 1, 1000), 1500) == 1.0
    assert motor_position(0, None, (1000, 1, 1000), -400) == 0.0
    assert abs(motor_position(0, None, (1000, 1, 1000), 317) - 0.25) < 1e-9
    assert abs(motor_position(2, (2000, 1, 1000), None, 2683) - 1.75) < 1e-9
    assert motor_position(2, (2000, 1, 1000), None, 4000) == 2.0
    # A reversal stays at the half step between.
    assert motor_position(1, (1000, 1, 1000), (2000, -1, 1000), 1500) == 0.5


def test_spi_device_holds_cs_low_for_a_transfer_in_mode_3():
    import machine
    from hal.spi import SpiDevice
    from sensors.adxl345 import Adxl345
    device = SpiDevice({"spi": {"bus": 0, "sck": "gpio2", "mosi": "gpio3", "miso": "gpio0"},
                        "cs": "gpio1"}, lambda name: int(name[4:]))
    spi = machine.SPI.LAST[-1]
    levels = []

    class Chip:
        def write_readinto(self, out, into):
            levels.append(machine.Pin.ALL[1].level)
            into[1] = 0xE5 if out[0] == 0x80 else 0
    spi.device = Chip()
    assert Adxl345(device).read_reg(0x00) == 0xE5
    assert levels == [0] and machine.Pin.ALL[1].level == 1
    assert (spi.bus, spi.polarity, spi.phase, spi.baudrate) == (0, 1, 1, 5000000)


def test_runlog_tells_the_steps_around_a_clock():
    from motion.runlog import RunLog
    log = RunLog(1, 4)
    # Steps at 10000 and 10100 after a pause: the run's first interval (9000)
    # spans the pause, the second is 9000 - 8900 = 100.
    log.add(0, 10000, 9000, 2, -8900, 0)
    assert log.around(0, 5000) == (0, None, (10000, 1, 100))
    assert log.around(0, 10050) == (1, (10000, 1, 100), (10100, 1, 100))
    log.add(0, 20000, 100, -2, 0, 15000)            # the first run folds in
    assert log.around(0, 20050) == (1, (20000, -1, 100), (20100, -1, 100))
    assert log.around(0, 19000) == (2, (10100, 1, 100), (20000, -1, 100))
    assert log.around(0, 30000) == (0, (20100, -1, 100), None)


def test_runlog_settles_runs_over_by_a_clock_without_changing_answers():
    from motion.runlog import RunLog
    log = RunLog(1, 8)
    for k in range(5):
        log.add(0, 1000 + 1000 * k, 100, 3, 0, 0)       # steps at +0, +100, +200
    before = [log.around(0, c) for c in (3250, 4150, 9000)]
    log.settle(3250)
    assert log._used[0] == 2
    assert [log.around(0, c) for c in (3250, 4150, 9000)] == before
