"""mendel.sim.ringing: the simulated nozzle from a carriage path or a step
log, and its deviation from the commanded path."""
import math

import numpy as np

from mendel.resources import default_config
from mendel.sim import ringing
from mendel.sim.steplog import MotorSteps

from sim_printer import printer_on_sim, run, write_cfg


def test_a_rigid_nozzle_is_the_carriage():
    carriage = np.linspace(0.0, 5.0, 50) ** 2
    assert np.array_equal(ringing.nozzle_response(carriage, 1000.0, 0.0, 0.0), carriage)


def test_after_a_carriage_jump_the_nozzle_rings_and_settles_there():
    rate, freq, zeta = 10000.0, 40.0, 0.1
    carriage = np.concatenate((np.zeros(10), np.ones(20000)))
    nozzle = ringing.nozzle_response(carriage, rate, freq, zeta)
    t = np.arange(len(nozzle)) / rate
    assert abs(nozzle[-1] - 1.0) < 1e-6
    # Overshoot of the step response of a base-excited oscillator, and its period.
    offset = nozzle[10:] - 1.0
    crossings = np.flatnonzero((offset[:-1] < 0.0) & (offset[1:] >= 0.0))
    period = np.mean(np.diff(t[10:][crossings]))
    assert abs(1.0 / period - freq * math.sqrt(1 - zeta ** 2)) < 0.005 * freq
    peaks = [offset[a:b].max() for a, b in zip(crossings, crossings[1:])]
    ratio = peaks[1] / peaks[0]
    expected = math.exp(-2 * math.pi * zeta / math.sqrt(1 - zeta ** 2))
    assert abs(ratio - expected) < 0.02


def test_a_constant_velocity_is_followed_without_lag_once_the_start_rang_out():
    # The damper ties the nozzle to the carriage, not to the frame: at a
    # constant carriage speed it pulls no force, so no lag remains.
    rate, freq, zeta, v = 10000.0, 50.0, 0.2, 100.0
    carriage = np.arange(20000) / rate * v
    lag = carriage - ringing.nozzle_response(carriage, rate, freq, zeta)
    w = 2 * math.pi * freq
    assert 0.5 * v / w < lag.max() < v / w
    assert abs(lag[-1]) < 1e-9


def test_motor_positions_run_through_the_half_steps():
    # Three steps up at 1000, 2000, 3000 ticks (one run: first 1000, interval 1000).
    motor = MotorSteps(np.array([[1000, 1000, 3, 0]]), np.array([2 ** 62]))
    got = ringing.motor_positions(motor, [-500, 1000, 1500, 3000, 3683, 10000])
    assert np.allclose(got, [0.0, 0.5, 1.0, 2.5, 2.75, 3.0], atol=1e-3)


def test_path_deviation_is_the_distance_to_the_polyline():
    path = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]
    points = [(5.0, 0.5), (10.5, 5.0), (12.0, -1.0)]
    assert np.allclose(ringing.path_deviation(points, path), [0.5, 0.5, math.hypot(2, 1)])
    assert ringing.peak_deviation(points, path) == math.hypot(2, 1)


def test_a_corner_on_the_simulated_printer_rings_from_its_step_log(tmp_path):
    extra = ("[sim_plant toolhead]\nresonance_freq_x = 37\ndamping_ratio_x = 0.08\n"
             "resonance_freq_y = 52\ndamping_ratio_y = 0.12\n")
    cfg = write_cfg(tmp_path, default_config(), extra)
    log = tmp_path / "steps.log"
    gcode = "G28\nG1 X50 Y50 F6000\nG1 X100 F12000\nG1 Y100\nG4 P300\n"
    with printer_on_sim(cfg, step_log=str(log)) as (printer, _said):
        run(printer, tmp_path, gcode)
        motors = printer.mcu.info["motors"]
    times, carriage, nozzle = ringing.from_step_log(str(log), cfg, motors)
    assert np.allclose(carriage[-1, :2], (100.0, 100.0), atol=0.02)
    assert np.allclose(nozzle[-1, :2], (100.0, 100.0), atol=0.02)
    # The carriage follows the path within a step; the nozzle swings wide of it.
    path = [(50.0, 50.0), (100.0, 50.0), (100.0, 100.0)]
    at_start = np.argmax(np.hypot(carriage[:, 0] - 50.0, carriage[:, 1] - 50.0) < 0.01)
    late = (np.arange(len(times)) > at_start) & (carriage[:, 0] > 50.5)
    carriage_peak = ringing.peak_deviation(carriage[late, :2], path)
    nozzle_peak = ringing.peak_deviation(nozzle[late, :2], path)
    # An acceleration step a rings with amplitude about a / w^2 (3000 mm/s^2 at 37 Hz: 0.056 mm).
    swing = 3000.0 / (2 * math.pi * 37.0) ** 2
    assert carriage_peak < 0.02
    assert 0.5 * swing < nozzle_peak < 2.5 * swing and nozzle_peak > 3 * carriage_peak
