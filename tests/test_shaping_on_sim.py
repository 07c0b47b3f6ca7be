"""Input shaping and pressure advance on the simulated printer as a user
meets them: homing and probing with them on, changes in the middle of a
print, the board's step counts against a plain print's."""
import numpy as np
import pytest

from mendel.resources import default_config
from mendel.sim import steplog

from served import script, served
from sim_printer import board_steps, printer_on_sim, run, write_cfg
from test_printjob import straight_steps, wait_finished, write_setup

SHAPED = "[input_shaper]\nshaper_freq_x = 37\nshaper_freq_y = 52\n"


def homed(tmp_path, extra, advance):
    """(board time s after G28, board steps, host position) of a printer."""
    cfg = write_cfg(tmp_path, default_config(), extra)
    cfg.pressure_advance = advance
    with printer_on_sim(cfg) as (printer, said):
        run(printer, tmp_path, "G28\n")
        return printer.toolhead.print_time, board_steps(printer), printer.toolhead.position


def test_homing_with_shaping_ends_when_the_endstops_stop_it(tmp_path):
    # A homing move is planned for 1.5 x the axis's travel and cut short by
    # the endstop; the shaped path used to give back the planned end, so
    # every G28 waited out the whole planned move (23 s became 61 s).
    plain_s, plain_steps, plain_at = homed(tmp_path, "", 0.0)
    shaped_s, shaped_steps, shaped_at = homed(tmp_path, SHAPED, 0.05)
    assert shaped_steps == plain_steps
    assert shaped_at == plain_at
    # Each of the homing moves and retractions adds the shaper's reach.
    assert plain_s < shaped_s < plain_s + 0.5


def step_clocks(log_path, motors=4):
    """Every step's clock (ticks) of each motor, from the board's step log."""
    clocks = []
    for ms in steplog.read(log_path, motors):
        k = np.concatenate([np.arange(1, n + 1) for n in ms.taken]) if len(ms.taken) \
            else np.zeros(0, dtype=np.int64)
        run = np.repeat(np.arange(len(ms.taken)), ms.taken)
        clocks.append(ms.last_ticks[run] + k * ms.interval_ticks[run]
                      + ms.add_ticks[run] * k * (k - 1) // 2)
    return clocks


@pytest.mark.parametrize("command", ["SET_INPUT_SHAPER SHAPER_FREQ_X=5",
                                     "SET_PRESSURE_ADVANCE ADVANCE=0.1 SMOOTH_TIME=0.2"])
def test_shaping_turned_on_between_moves_starts_after_the_steps_sent(tmp_path, command):
    # The shaped steps of the next move begin the shaper's lead (65 ms for
    # mzv at 5 Hz; half the smooth time for pressure advance) before it:
    # the move used to start right where the unshaped one ended, so the
    # motor got both at once (135 steps one tick apart; on a real-time
    # board "step run scheduled in the past").
    cfg = write_cfg(tmp_path, default_config(), "")
    log = str(tmp_path / "steps.log")
    with printer_on_sim(cfg, step_log=log) as (printer, said):
        run(printer, tmp_path, "G28\nM83\nM109 S200\nG1 X100 Y100 Z0.3 F6000\n"
                               "G1 X120 E1 F6000\n%s\nG1 X140 E1\nM400\n" % command)
        steps = board_steps(printer)
    assert steps[0] == 140 * 80 - 10001 and steps[3] == round(2 * 93)
    for clocks in step_clocks(log):
        # 100 mm/s is 8,000 steps/s of X; the extruder's advance is brisker
        # but nowhere near a step every 40 ticks (3 us).
        assert np.all(np.diff(clocks) > 40)


def test_a_served_file_keeps_the_board_fed_through_a_long_shaper_lead(tmp_path):
    # 3hump_ei at 0.5 Hz: the shaped steps run 1.6 s behind the moves. The
    # file reader ran the virtual board down to 1 s before the moves' end,
    # past the last step sent: "step run scheduled in the past".
    cfg, folder = write_setup(tmp_path / "served")
    with served(cfg=cfg) as (_port, session):
        assert script(session, "SET_INPUT_SHAPER SHAPER_FREQ_X=0.5 SHAPER_FREQ_Y=0.5 "
                               "SHAPER_TYPE=3hump_ei") is None
        assert script(session, 'SDCARD_PRINT_FILE FILENAME="sub/plain ring.gcode"') is None
        wait_finished(session)
        assert session.halted is None
        served_steps = session.printer.board_steps()
    assert served_steps == straight_steps(cfg, folder / "sub" / "plain ring.gcode")


def test_asking_for_the_values_in_use_does_not_stop_the_print(tmp_path):
    # SET_PRESSURE_ADVANCE and SET_INPUT_SHAPER without values report them
    # (a console user asking mid-print); a slicer's M900 repeats the K in
    # use. They used to flush the look-ahead: a stop to rest, and the
    # shaper's lead and tail added, in the middle of a line.
    moves = ["G1 X%d Y%d E0.2 F6000" % (100 + 10 * (i % 2), 100 + i) for i in range(20)]
    times = []
    for asked in ("", "SET_PRESSURE_ADVANCE\nSET_INPUT_SHAPER\nM900 K0.05\nM572 D0 S0.05\n"):
        cfg = write_cfg(tmp_path, default_config(), SHAPED)
        cfg.pressure_advance = 0.05
        with printer_on_sim(cfg) as (printer, said):
            run(printer, tmp_path, "G28\nM83\nM109 S200\nG1 X100 Y100 Z0.3\n%s\n%s%s\nM400\n"
                % ("\n".join(moves[:10]), asked, "\n".join(moves[10:])))
            times.append((printer.toolhead.motion_time, board_steps(printer)))
    assert times[1] == times[0]


def test_a_new_advance_mid_print_takes_effect_without_stopping(tmp_path):
    # A slicer's per-feature advance (OrcaSlicer writes SET_PRESSURE_ADVANCE
    # per feature, PrusaSlicer M900 per filament): the motion goes on as if
    # nothing was said (same motion time) and ends on the same steps; the
    # extruder's steps differ (the new advance is applied).
    moves = ["G1 X%d Y%d E0.2 F6000" % (100 + 10 * (i % 2), 100 + i) for i in range(30)]
    results = []
    for changes in (("", ""), ("M900 K0.02\n", "SET_PRESSURE_ADVANCE ADVANCE=0.08\n")):
        cfg = write_cfg(tmp_path, default_config(), "")
        cfg.pressure_advance = 0.05
        log = tmp_path / "steps.log"
        with printer_on_sim(cfg, step_log=str(log)) as (printer, said):
            run(printer, tmp_path, "G28\nM83\nM109 S200\nG1 X100 Y100 Z0.3\n%s\n%s%s\n%s%s\n"
                "M400\n" % ("\n".join(moves[:10]), changes[0], "\n".join(moves[10:20]),
                            changes[1], "\n".join(moves[20:])))
            results.append((printer.toolhead.motion_time, board_steps(printer),
                            printer.pressure_advance))
        e_runs = [line for line in log.read_text().splitlines() if line.startswith("3 ")]
        results[-1] += (e_runs,)
    (plain_time, plain_steps, _pa, plain_e), (time, steps, pa, e_runs) = results
    assert time == plain_time
    assert steps == plain_steps
    assert pa == (0.08, 0.04)
    assert e_runs != plain_e
