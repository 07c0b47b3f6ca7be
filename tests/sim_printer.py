"""A Printer on the simulated board for tests: its config, G-code runs, and
the board's own step counters."""
import contextlib

import serial

from mendel import config as config_mod
from mendel.mcu.mcu import Mcu
from mendel.machine.printer import Printer
from mendel.sim.board import SimBoard


def write_cfg(tmp_path, base, extra):
    path = tmp_path / "printer.cfg"
    path.write_text("[include %s]\n%s\n" % (base, extra))
    return config_mod.load(str(path))


@contextlib.contextmanager
def printer_on_sim(cfg, step_log=None, realtime=False):
    """(Printer, the list its warnings and replies go to) on a simulated
    board that simulates printer ``cfg`` (its clock the wall clock's with
    ``realtime``)."""
    with SimBoard("sim", config=cfg, step_log=step_log, realtime=realtime) as sim:
        with serial.Serial(sim.port, 250000, timeout=0.1) as port:
            mcu = Mcu(port)
            mcu.connect()
            said = []
            yield Printer(cfg, mcu, warn=said.append), said


def run(printer, tmp_path, text, name="job.gcode"):
    path = tmp_path / name
    path.write_text(text)
    return printer.print_file(str(path), preflight=False)


def board_steps(printer):
    return [printer.mcu.motor_position(oid) for oid in printer.toolhead.oids]
