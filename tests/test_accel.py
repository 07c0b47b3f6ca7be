"""Accelerometers end to end on the simulated printer: the simulated ADXL345
read by the firmware driver, streamed beside the step runs, decoded by
mendel.accel; [adxl345] and [sim_plant toolhead] in printer.cfg."""
import math

import numpy as np
import pytest

from mendel import config as config_mod
from mendel.accel import AccelError
from mendel.accel.samples import decode
from mendel.config.section import ConfigError
from mendel.machine.printer import PrintError
from mendel.resources import default_config

from sim_printer import printer_on_sim, run, write_cfg

ADXL = "[adxl345]\ncs_pin = sim_accel_cs\n"
RATE = 3200


def _cfg(tmp_path, extra=ADXL):
    return write_cfg(tmp_path, default_config(), extra)


def _echo(said, prefix):
    return [line[len("echo: "):] for line in said if line.startswith("echo: " + prefix)]


def test_adxl345_section_must_name_a_chip_select_the_board_wires(tmp_path):
    with pytest.raises(ConfigError, match="board sim has no accelerometer with chip select "
                                          "sim_x_step"):
        _cfg(tmp_path, "[adxl345]\ncs_pin = sim_x_step\n")
    with pytest.raises(ConfigError, match="'x, q, z': 'q' is not x, y or z"):
        _cfg(tmp_path, ADXL + "axes_map = x, q, z\n")
    with pytest.raises(ConfigError, match="rate.*3000 is not an ADXL345 rate"):
        _cfg(tmp_path, ADXL + "rate = 3000\n")
    cfg = _cfg(tmp_path, ADXL + "axes_map = -y, x, z\n")
    assert cfg.accelerometers["adxl345"].axes_map == ((1, -1), (0, 1), (2, 1))
    assert cfg.accelerometers["adxl345"].rate_code == 0xF


def test_sim_plant_toolhead_keys_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="damping_ratio_x.*must be below 1"):
        _cfg(tmp_path, "[sim_plant toolhead]\ndamping_ratio_x = 1\n")
    cfg = _cfg(tmp_path, "[sim_plant toolhead]\nresonance_freq_x = 37\ndamping_ratio_x = 0.08\n")
    assert cfg.sim_toolhead["resonance_freq_x"] == 37.0
    assert cfg.sim_toolhead["resonance_freq_y"] == 0.0


def test_accelerometer_query_without_adxl345_is_an_error(tmp_path):
    cfg = config_mod.load(None)
    with printer_on_sim(cfg) as (printer, _said):
        assert printer.accelerometers == {}
        with pytest.raises(PrintError, match="this printer has no accelerometer: add an "
                                             r"\[adxl345\] section"):
            run(printer, tmp_path, "ACCELEROMETER_QUERY\n")


def test_accelerometer_query_at_rest_reads_gravity_on_z(tmp_path):
    with printer_on_sim(_cfg(tmp_path)) as (printer, said):
        run(printer, tmp_path, "ACCELEROMETER_QUERY\nACCELEROMETER_QUERY CHIP=adxl345 RATE=800\n")
        lines = _echo(said, "accelerometer values (x, y, z): ")
        assert len(lines) == 2
        for line in lines:
            x, y, z = (float(v) for v in line.split(": ")[1].split(", "))
            assert abs(x) < 200 and abs(y) < 200 and abs(z - 9806.65) < 200, line
        run(printer, tmp_path, "MEASURE_AXES_NOISE\n")
        (noise,) = _echo(said, "Axes noise for xy-axis accelerometer: ")
        values = [float(v.split()[0]) for v in noise.split(": ")[1].split(", ")]
        # About 1 LSB (38.3 mm/s^2) of white noise: 2 s^2 / rate = 0.9 (mm/s^2)^2/Hz.
        assert all(0.3 < v < 3.0 for v in values), noise


def test_a_wrong_chip_id_is_a_clear_error(tmp_path):
    with printer_on_sim(_cfg(tmp_path)) as (printer, _said):
        accel = printer.accelerometers["adxl345"]
        real_query = printer.mcu.query

        def query(name, args, response, **kwargs):
            got = real_query(name, args, response, **kwargs)
            return (got[0], 0xFF) if name == "adxl345_query_id" else got
        printer.mcu.query = query
        with pytest.raises(AccelError, match=r"Invalid adxl345 id \(got ff vs e5\)"):
            accel.start()


def _home_and_measure(printer, tmp_path, moves):
    run(printer, tmp_path, "G28\nG1 X50 Y50 F6000\nM400\n", name="home.gcode")
    accel = printer.accelerometers["adxl345"]
    accel.start()
    summary = run(printer, tmp_path, moves)
    return accel.stop(), summary


def test_a_move_on_a_rigid_toolhead_measures_the_planned_trapezoid(tmp_path):
    # sim.cfg: max_accel 3000 mm/s^2; 100 mm/s reached after 1/30 s.
    with printer_on_sim(_cfg(tmp_path)) as (printer, said):
        samples, summary = _home_and_measure(printer, tmp_path, "G1 X150 F6000\nG4 P100\n")
        assert summary.position_steps == summary.expected_steps     # no step lost
        assert not printer.mcu.stats()["shutdown"]
    t, ax, ay, az = samples.T
    dt = np.diff(t)
    assert np.all(dt > 0)
    assert abs(np.median(dt) * RATE - 1.0) < 1e-3
    assert abs(len(t) - (t[-1] - t[0]) * RATE) <= 2                 # every sample, no gap
    # Velocity (the integral of the samples) against the plan: 0 -> 100 mm/s
    # at 3000 mm/s^2, cruise, back to 0; 100 mm between the half-speed times.
    velocity = np.cumsum(ax) / RATE
    velocity -= velocity[:100].mean()
    fast = np.flatnonzero(velocity > 50.0)
    up, down = t[fast[0]], t[fast[-1]]
    assert abs((down - up) - 1.0) < 0.002
    plan = (np.clip(3000.0 * (t - up) + 50.0, 0.0, 100.0)
            - np.clip(3000.0 * (t - down) + 50.0, 0.0, 100.0))
    # Within 5 % of the peak: the step times may be 25 us off the plan,
    # 2.5 um at 100 mm/s, and the samples read the motors' steps.
    assert np.max(np.abs(velocity - plan)) < 5.0
    for middle, sign in ((up, 1.0), (down, -1.0)):
        before, after = np.searchsorted(t, (middle - 0.01, middle + 0.01))
        mean_accel = (velocity[after] - velocity[before]) / (t[after] - t[before])
        assert abs(mean_accel - sign * 3000.0) < 0.03 * 3000.0
    assert np.all(np.abs(ay) < 400.0)
    assert abs(np.mean(az) - 9806.65) < 10.0


def _fit_ringing(t, a):
    """Natural frequency (Hz) and damping from zero crossings and peak decay."""
    crossings = [t[i] + (t[i + 1] - t[i]) * a[i] / (a[i] - a[i + 1])
                 for i in range(len(a) - 1) if a[i] < 0.0 <= a[i + 1]]
    damped = (crossings[-1] - crossings[0]) / (len(crossings) - 1)
    peaks = [a[(t >= lo) & (t < hi)].max() for lo, hi in zip(crossings, crossings[1:])]
    delta = np.mean(np.log(np.array(peaks[:-1]) / np.array(peaks[1:])))
    zeta = delta / math.sqrt(4 * math.pi ** 2 + delta ** 2)
    return 1.0 / damped / math.sqrt(1.0 - zeta ** 2), zeta


def test_the_nozzle_rings_at_the_configured_resonance_after_a_move(tmp_path):
    extra = ADXL + ("[sim_plant toolhead]\nresonance_freq_x = 37\ndamping_ratio_x = 0.05\n"
                    "resonance_freq_y = 52\ndamping_ratio_y = 0.1\n")
    with printer_on_sim(_cfg(tmp_path, extra)) as (printer, _said):
        samples, _summary = _home_and_measure(printer, tmp_path, "G1 X150 F6000\nG4 P600\n")
    t, ax = samples[:, 0], samples[:, 1]
    velocity = np.cumsum(ax) / RATE                # the nozzle's: it rings, the mean does not
    end = t[np.flatnonzero(velocity > 50.0)[0]] + 1.0 + 1.0 / 60.0   # the carriage stops
    after = (t > end + 0.01) & (t < end + 0.16)
    smooth = np.convolve(ax, np.ones(5) / 5.0, mode="same")
    freq, zeta = _fit_ringing(t[after], smooth[after])
    assert abs(freq - 37.0) < 0.02 * 37.0
    assert abs(zeta - 0.05) < 0.2 * 0.05


def test_decode_orders_times_by_the_fifo_reads_and_maps_axes():
    # Two reads 10 samples apart (3750 ticks each at 12 MHz and 3200 Hz).
    raw = np.array([[i, -i, 256] for i in range(16)], dtype="<i2").tobytes()
    messages = [(40000, 0, 2, raw[:48]), (40000, 8, 0, raw[48:60]),
                (62500, 10, 0, raw[60:96])]
    out = decode(messages, 12000000, 3200, ((1, -1), (0, 1), (2, 1)))
    assert out.shape == (16, 4)
    assert np.allclose(np.diff(out[:, 0]), 3750 / 12e6)
    assert np.allclose(out[:, 1], np.arange(16) * 9806.65 / 256)   # printer X = -chip y
    assert np.allclose(out[:, 3], 9806.65)
    with pytest.raises(ValueError, match="samples 8..9 were lost"):
        decode([messages[0], messages[2]], 12000000, 3200, ((0, 1), (1, 1), (2, 1)))
    # Reads that find samples at half the rate: the chip dropped the rest.
    slow = [(40000 + k * 7500 * 8, 8 * k, 0, raw[:48]) for k in range(6)]
    with pytest.raises(ValueError, match="samples came at 1600 Hz, not the 3200 Hz asked for"):
        decode(slow, 12000000, 3200, ((0, 1), (1, 1), (2, 1)))


def test_samples_stream_in_real_time_beside_the_step_runs(tmp_path):
    # The board's clock runs by itself: 2 s of zigzags (short moves, many
    # step runs) while the chip streams 3200 samples/s, 25.6 KB/s of frames.
    moves = "".join("G1 X%d Y%d F9000\n" % (60 + 10 * (i % 2), 60 + i % 5) for i in range(24))
    with printer_on_sim(_cfg(tmp_path), realtime=True) as (printer, _said):
        run(printer, tmp_path, "SET_KINEMATIC_POSITION X=50 Y=50 Z=10\n", name="home.gcode")
        accel = printer.accelerometers["adxl345"]
        accel.start()
        summary = run(printer, tmp_path, moves)
        samples = accel.stop()
        stats = printer.mcu.stats()
    assert summary.position_steps == summary.expected_steps     # no step lost
    assert not stats["shutdown"]                                  # no underrun
    assert accel.overflows == 0
    t = samples[:, 0]
    assert np.all(np.diff(t) > 0)
    assert abs(np.median(np.diff(t)) * RATE - 1.0) < 0.01
    assert abs(len(t) - (t[-1] - t[0]) * RATE) <= 2
    assert t[-1] - t[0] > summary.print_time_s * 0.9


def test_the_bench_boards_accelerometer_wiring_makes_a_valid_board():
    from mendel.boards import load_board, validate_board
    from mendel.flash.upload import DOC_KEYS
    board = load_board("rpi-pico-bench")
    assert "accelerometers" not in board            # the firmware loads no driver by default
    assert "accelerometer_wiring" in DOC_KEYS       # a note for people, not flashed
    wired = dict(board, accelerometers=[board["accelerometer_wiring"]["entry"]])
    assert validate_board(wired, "rpi-pico-bench") == []
    clash = dict(board, accelerometers=[dict(board["accelerometer_wiring"]["entry"],
                                             cs="gpio16")])
    assert validate_board(clash, "rpi-pico-bench")   # the fan's pin: refused
