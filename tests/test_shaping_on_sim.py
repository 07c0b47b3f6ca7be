"""Input shaping and pressure advance on the simulated printer as a user
meets them: homing and probing with them on, changes in the middle of a
print, the board's step counts against a plain print's."""
import pytest

from mendel.resources import default_config

from sim_printer import board_steps, printer_on_sim, run, write_cfg

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
