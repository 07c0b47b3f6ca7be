# Mendel firmware entry point.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start the firmware.

On a board, MicroPython runs this file at boot with ``board.json`` beside it.
On the unix port (the simulated board) the launcher passes options::

    micropython main.py --board boards/sim.json [--realtime] [--step-log FILE]
                        [--lifeline-fd N]

While the link runs, Ctrl-C is disabled (``micropython.kbd_intr(-1)``) so a
0x03 byte in a binary frame cannot stop a print.
"""
import json
import sys

import micropython

import hal
from mcu import Mcu


def parse_args(argv):
    """Options from ``argv`` (unix port); defaults for a board."""
    options = {"board": "board.json", "virtual": True, "step_log": None,
               "lifeline_fd": None}
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--board":
            i += 1
            options["board"] = argv[i]
        elif arg == "--step-log":
            i += 1
            options["step_log"] = argv[i]
        elif arg == "--lifeline-fd":
            i += 1
            options["lifeline_fd"] = int(argv[i])
        elif arg == "--realtime":
            options["virtual"] = False
        else:
            raise ValueError("unknown option " + arg)
        i += 1
    return options


def main():
    mcu = _make_mcu(parse_args(getattr(sys, "argv", [])))
    micropython.kbd_intr(-1)
    mcu.run()


def _make_mcu(options):
    # The board file's dict is freed when this returns: nothing the main loop
    # runs keeps it (3-4 KB of heap on an RP2040).
    with open(options["board"]) as f:
        board = json.load(f)
    return Mcu(hal.load(board, options), board)


if __name__ == "__main__":
    main()
