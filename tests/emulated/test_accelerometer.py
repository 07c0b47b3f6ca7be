"""The ADXL345 driver on the emulated RP2040, against a fake chip on SPI0.

The bench board with its ADXL345 wired as its "accelerometer_wiring" entry
says (SPI0 GPIO18/19/20, CS GPIO21) boots the real firmware, which loads
its driver (firmware/sensors/adxl345.py over machine.SPI); the fake chip
(host/emulate/adxl345.mjs) plays back a recording at its rate in emulated
time; the host reads it through the real link with mendel.accel's
Accelerometer start/stop.

Units: s, mm/s^2; counts are raw ADXL345 full-resolution values (256 per g).
"""
import types

import numpy as np
import pytest

from mendel.accel.adxl345 import AccelError, Accelerometer
from mendel.accel.samples import COUNTS_PER_G, GRAVITY_MM_S2
from mendel.config.accel import RATES, AccelConfig, parse_axes_map
from mendel.emulate import Rp2040Emulator
from mendel.emulate.emulator import load_board

from conftest import connect

pytestmark = pytest.mark.emulated

BOARD = "rpi-pico-bench"
HEAP_BUDGET_BYTES = 96 * 1024
RECORDING = 500                      # entries, looped by the fake chip
AXES_MAP = "x, -z, y"                # printer X, Y, Z from chip x, -z, y
SUSTAINED_HZ = 800                   # a rate the emulated board keeps up with
SUSTAINED_S = 1.0
TOP_HZ = 3200
TOP_S = 0.5


def recording():
    """(RECORDING, 3) counts: x = the entry's index (so each sample says where it
    came from), y and z other distinct patterns, all within +-16 g."""
    index = np.arange(RECORDING)
    return np.stack([index, (index * 37) % 4001 - 2000, 256 + (index * 11) % 300 - 150],
                    axis=1)


def bench_with_accelerometer():
    """The bench board dict with its wiring note's ADXL345 entry as its accelerometer."""
    board = dict(load_board(BOARD))
    board["accelerometers"] = [board["accelerometer_wiring"]["entry"]]
    return board


def printer_axes(counts):
    """Recorded counts -> (N, 3) mm/s^2 in printer axes under AXES_MAP."""
    scale = GRAVITY_MM_S2 / COUNTS_PER_G
    return np.stack([sign * scale * counts[:, axis]
                     for axis, sign in parse_axes_map(AXES_MAP)], axis=1)


def measure(emu, mcu, rate_hz, seconds):
    """Stream for ``seconds`` of emulated time at ``rate_hz``; returns
    (samples (N, 4), the Accelerometer, the fake chip's counters after the stop)."""
    config = AccelConfig(name="adxl345", oid=0, axes_map=parse_axes_map(AXES_MAP),
                         rate=rate_hz, rate_code=RATES[rate_hz])
    accel = Accelerometer(config, mcu)
    mcu.handlers["adxl345_data"] = accel.on_data
    accel.start()
    emu.wait_emulated(seconds)
    samples = accel.stop()
    return samples, accel, emu.accelerometer_stats()


@pytest.fixture(scope="module")
def streaming():
    """(emulator, Mcu, figures dict) of the bench board with the fake ADXL345."""
    figures = {}
    with Rp2040Emulator(bench_with_accelerometer(), accelerometer=recording()) as emu:
        emu.wait_usb()
        port, mcu = connect(emu)
        try:
            figures["heap_idle"] = mcu.query("get_memory", (), "memory")
            yield emu, mcu, figures
        finally:
            port.close()
    print("\nADXL345 on the emulated RP2040:", figures)


def test_every_sample_arrives_in_order_with_the_chips_timing(streaming):
    """At 800 Hz for 1 s of emulated time: the samples the host gets are every
    sample the fake chip made, in order, equal to the recording (looped) after
    the axes map and scale; their times are spaced 1/800 s (to 0.1 %) and each
    lies within a quarter period of the middle of the period before the chip
    made it (the board's clock is read right after FIFO_STATUS)."""
    emu, mcu, figures = streaming
    samples, accel, chip = measure(emu, mcu, SUSTAINED_HZ, SUSTAINED_S)
    figures["sustained"] = {"rate_hz": SUSTAINED_HZ, "samples": len(samples),
                            "made": chip["made"], "dropped": chip["dropped"],
                            "board_overflows": accel.overflows}
    # The board's overflow count says the FIFO was found full (it may have
    # dropped); the fake chip knows whether it did.
    assert chip["wrong_mode"] == 0 and chip["dropped"] == 0
    assert len(samples) == chip["made"] >= SUSTAINED_HZ * SUSTAINED_S
    index = np.arange(len(samples))
    expected = printer_axes(recording()[index % RECORDING])
    np.testing.assert_allclose(samples[:, 1:], expected, atol=1e-9)
    period_s = 1.0 / SUSTAINED_HZ
    spacing = np.diff(samples[:, 0])
    assert np.all(np.abs(spacing - period_s) < 1e-3 * period_s), (spacing.min(), spacing.max())
    made_s = chip["started_ns"] / 1e9 + (index + 1) * period_s
    error_s = samples[:, 0] - (made_s - period_s / 2)
    figures["sustained"]["time_error_us"] = [round(float(error_s.min()) * 1e6, 1),
                                             round(float(error_s.max()) * 1e6, 1)]
    assert np.all(np.abs(error_s) < period_s / 4), figures["sustained"]


def test_at_3200_hz_the_host_refuses_the_samples_the_chip_dropped(streaming):
    """At 3200 Hz for 0.5 s the board reads about half the samples and the
    chip drops the rest from its full FIFO: the host does not hand on
    samples whose times it cannot know, it says why (the figure of
    samples/s the driver took out of the chip is kept)."""
    emu, mcu, figures = streaming
    with pytest.raises(AccelError, match="not the 3200 Hz asked for: the chip dropped"):
        measure(emu, mcu, TOP_HZ, TOP_S)
    chip = emu.accelerometer_stats()
    made_s = chip["made"] / TOP_HZ
    figures["top"] = {"rate_hz": TOP_HZ, "made": chip["made"], "dropped": chip["dropped"],
                      "read_per_s": round(chip["popped"] / made_s)}
    figures["heap_after_streaming"] = mcu.query("get_memory", (), "memory")
    assert chip["wrong_mode"] == 0 and chip["dropped"] > 0


@pytest.mark.xfail(strict=True, reason="the emulated RP2040 reads about half of 3200 "
                   "samples/s: the firmware's 2 ms refill timer, its main loop and ~2 ms "
                   "per data frame sent leave too little time (figures in the report)")
def test_at_3200_hz_no_sample_is_dropped(streaming):
    """At 3200 Hz the driver empties the FIFO before it fills: the chip drops
    nothing and the board counts no overflow."""
    emu, mcu, _figures = streaming
    _samples, accel, chip = measure(emu, mcu, TOP_HZ, TOP_S)
    assert chip["dropped"] == 0 and accel.overflows == 0


def test_heap_with_the_driver_loaded(streaming):
    """get_memory on the board without an accelerometer and with the driver
    loaded (idle, after streaming): the driver's cost is printed and must stay
    within the 5 KB the board file's wiring note gives; the total is checked
    against the 96 KB budget only where it fits (printed either way)."""
    _emu, _mcu, figures = streaming
    with Rp2040Emulator(BOARD) as plain:
        plain.wait_usb()
        port, mcu = connect(plain)
        try:
            figures["heap_without_driver"] = mcu.query("get_memory", (), "memory")
        finally:
            port.close()
    before = figures["heap_without_driver"][0]
    after = figures["heap_idle"][0]
    figures["driver_bytes"] = after - before
    figures["within_96_kb_budget"] = after <= HEAP_BUDGET_BYTES
    print("\nheap in use: %d bytes without the ADXL345 driver, %d with it (+%d), budget %d"
          % (before, after, after - before, HEAP_BUDGET_BYTES))
    assert 0 < after - before <= 5 * 1024
