"""A print streamed by ``mendel print --port`` to the emulated RP2040.

Units: MCU clock ticks (12 MHz); 1 tick = 10 PIO cycles at the firmware's 120 MHz.
"""
import os
import re
import subprocess
import sys

from paths import EXAMPLE, ROOT

BENCH_CFG = os.path.join(ROOT, "boards", "rpi-pico-bench.cfg")
HEATING = re.compile(r"^M(104|109|140|190)\b")


def bench_config(folder, extra=""):
    """The bench rig's printer.cfg in ``folder``, extruding cold (no heat-up in the
    step tests); ``extra`` is appended. Returns its path."""
    with open(BENCH_CFG) as f:
        text = f.read()
    text = text.replace("[include include/print-macros.cfg]", "")
    text = text.replace("[extruder]\n", "[extruder]\nmin_extrude_temp = 0\n")
    path = os.path.join(folder, "printer.cfg")
    with open(path, "w") as f:
        f.write(text + extra)
    return path


def excerpt(folder, lines, source=EXAMPLE, keep_heating=False):
    """The first ``lines`` lines of a G-code file (the bundled example: its start
    block, purge lines, then layer 1), heating commands dropped unless
    ``keep_heating``, and M400 at the end. Returns its path."""
    with open(source) as f:
        head = [next(f) for _ in range(lines)]
    if not keep_heating:
        head = [line for line in head if not HEATING.match(line)]
    # The bench rig has no switches on its endstop inputs: the position is set.
    head = ["SET_KINEMATIC_POSITION X=0 Y=0 Z=0\n" if line.startswith("G28") else line
            for line in head]
    path = os.path.join(folder, "excerpt.gcode")
    with open(path, "w") as f:
        f.writelines(head + ["M400\n"])
    return path


def mendel_print(port, gcode, config, step_log, timeout_s=900):
    """Run ``mendel print GCODE --port PORT --config CFG --step-log LOG --json`` in
    the G-code's folder (its run log goes there); returns (exit code, stdout, stderr)."""
    result = subprocess.run([sys.executable, "-m", "mendel", "print", gcode, "--port", port,
                             "--config", config, "--step-log", step_log, "--json"],
                            capture_output=True, text=True, timeout=timeout_s,
                            cwd=os.path.dirname(gcode))
    return result.returncode, result.stdout, result.stderr
