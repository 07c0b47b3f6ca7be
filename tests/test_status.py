"""Klipper's printer objects (mendel.status): the live position inside a planned
move, configfile's pending SAVE_CONFIG items and warnings, and one source for
the API and macro templates."""
import os

import numpy as np
import pytest

from mendel import config
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.reader import parse_text
from mendel.planner._lookahead import PLANNED_DTYPE
from mendel.status import PrinterObjects, Sources
from mendel.status.motion_report import MotionHistory
from paths import ROOT
from test_api import Machine

SIM_CFG = os.path.join(ROOT, "boards", "sim.cfg")


class Board:
    clock_freq = 1000.0

    def __init__(self):
        self.now_s = 0.0

    def clock_estimate(self):
        return self.now_s * self.clock_freq


class Head:
    def __init__(self):
        self.mcu = Board()
        self.scheduled = None


def move_along_x():
    """100 mm along X with E 0.05 mm/mm: 0 -> 50 mm/s at 1000 mm/s^2 (0.05 s,
    1.25 mm), cruise 97.5 mm (1.95 s), down to 0 (0.05 s)."""
    move = np.zeros(1, dtype=PLANNED_DTYPE)
    move["start"] = [[10.0, 20.0, 0.3, 1.0]]
    move["end"] = [[110.0, 20.0, 0.3, 6.0]]
    move["axes_r"] = [[1.0, 0.0, 0.0, 0.05]]
    move["move_d"], move["accel"] = 100.0, 1000.0
    move["start_v"], move["cruise_v"], move["end_v"] = 0.0, 50.0, 0.0
    move["accel_t"], move["cruise_t"], move["decel_t"] = 0.05, 1.95, 0.05
    return move


@pytest.mark.parametrize("t, x, v", [
    (3.0, 10.0, 0.0),                                   # the move's start, at rest
    (3.025, 10.0 + 0.5 * 1000 * 0.025 ** 2, 25.0),     # accelerating
    (4.0, 10.0 + 1.25 + 50 * 0.95, 50.0),              # cruising
    (5.025, 10.0 + 98.75 + 50 * 0.025 - 0.5 * 1000 * 0.025 ** 2, 25.0),   # braking
])
def test_the_live_position_follows_the_planned_trapezoid(t, x, v):
    head = Head()
    history = MotionHistory.attach(head)
    assert MotionHistory.attach(head) is history            # one history per toolhead
    head.scheduled(move_along_x(), 3.0)
    position, velocity, e_velocity = history.at(t)
    assert position[0] == pytest.approx(x) and position[1:3] == [20.0, 0.3]
    assert position[3] == pytest.approx(1.0 + 0.05 * (x - 10.0))
    assert velocity == pytest.approx(v) and e_velocity == pytest.approx(0.05 * v)


def test_the_live_position_outside_the_kept_moves():
    head = Head()
    history = MotionHistory.attach(head)
    assert history.at(1.0) is None and history.last_end() is None
    head.scheduled(move_along_x(), 3.0)
    # Before the move (scheduled a buffer ahead of the board): standing at
    # its start, not at the commanded end; after it: None (the commanded).
    assert history.at(2.9) == ([10.0, 20.0, 0.3, 1.0], 0.0, 0.0)
    assert history.at(5.06) is None
    assert history.last_end() == ([110.0, 20.0, 0.3, 6.0], 0.0, 0.0)
    head.scheduled(move_along_x(), 8.0)                   # a gap: standing at the end
    assert history.at(6.0) == ([110.0, 20.0, 0.3, 6.0], 0.0, 0.0)


def test_old_moves_are_dropped():
    head = Head()
    history = MotionHistory.attach(head)
    head.scheduled(move_along_x(), 0.0)
    head.mcu.now_s = 20.0
    head.scheduled(move_along_x(), 20.0)
    assert len(history._batches) == 1                     # the first one is gone
    assert history.at(1.0) == ([10.0, 20.0, 0.3, 1.0], 0.0, 0.0)
    assert history.at(21.0) is not None


def test_a_position_declared_anew_forgets_the_moves_kept():
    """Homing ends in force_position: the homing move an endstop cut short
    must not show as still under way (Mainsail's live position)."""
    head = Head()
    history = MotionHistory.attach(head)
    head.scheduled(move_along_x(), 3.0)
    assert history.at(4.0) is not None
    head.scheduled(None, 4.0)
    assert history.at(4.0) is None and history.last_end() is None


def test_after_homing_the_live_position_is_where_the_toolhead_is():
    from served import script, served
    with served() as (_port, session):
        history = MotionHistory.attach(session.printer.toolhead)
        assert script(session, "G28") is None
        assert history.last_end() == ([0.0, 0.0, 0.0, 0.0], 0.0, 0.0)


def interpreter_on(cfg):
    machine = Machine(cfg)
    return Interpreter(machine, macros=cfg.macros.session(), warn=lambda text: None), machine


class Pending:
    changes = {"probe": {"z_offset": "1.250"}, "bed_mesh old": None}


def test_configfile_reports_pending_save_config_items_and_warnings():
    cfg = config.load(SIM_CFG)
    cfg.warnings = ["[extruder] something to say"]
    interpreter, machine = interpreter_on(cfg)
    machine.pending = Pending()
    status = PrinterObjects(Sources(interpreter)).get("configfile", 0.0)
    assert status["save_config_pending"] is True
    assert status["save_config_pending_items"] == {"probe": {"z_offset": "1.250"},
                                                   "bed_mesh old": None}
    assert status["warnings"] == [{"type": "runtime_warning",
                                   "message": "[extruder] something to say"}]
    assert status["config"]["stepper_x"]["position_max"] == "250"
    assert status["settings"]["stepper_x"]["position_max"] == 250.0


class Part:
    def __init__(self, values):
        self.values = values

    def status(self, _eventtime=None):
        return dict(self.values)


class Jobs:
    sdcard = None
    print_stats = Part({"state": "paused", "filename": "cube.gcode"})
    pause_resume = Part({"is_paused": True})
    idle_timeout = Part({"state": "Printing"})


class Session:
    state, state_message = "ready", "Printer is ready"
    jobs = Jobs()


def test_macro_templates_and_the_api_read_the_same_objects(tmp_path):
    path = tmp_path / "printer.cfg"
    path.write_text("[include %s]\n[gcode_macro SHOW]\ngcode:\n"
                    "  M118 {printer.print_stats.state} {printer.pause_resume.is_paused} "
                    "{printer.webhooks.state} {printer.toolhead.position.x} "
                    "{printer.gcode_move.gcode_position.y}\n" % SIM_CFG)
    cfg = config.load(str(path))
    interpreter, machine = interpreter_on(cfg)
    sources = Sources(interpreter, session=Session())
    interpreter.status_sources = sources
    interpreter.run(parse_text("G28\nG1 X12 Y7\nSHOW\n"))
    assert machine.said[-1] == "paused True ready 12.0 7.0"
    api_view = PrinterObjects(sources).query({"print_stats": ["state"],
                                              "toolhead": ["position"]}, 0.0)
    assert api_view == {"print_stats": {"state": "paused"},
                        "toolhead": {"position": (12.0, 7.0, 0.0, 0.0)}}
    assert "virtual_sdcard" not in PrinterObjects(sources).names()   # no [virtual_sdcard]


def test_fan_generic_objects_follow_the_printers_fans():
    interpreter, machine = interpreter_on(config.load(SIM_CFG))
    machine.generic_fans = {"exhaust": 0.0}
    objects = PrinterObjects(Sources(interpreter))
    assert "fan_generic exhaust" in objects.names()
    machine.generic_fans["exhaust"] = 0.5
    assert objects.get("fan_generic exhaust", 0.0) == {"speed": 0.5}
