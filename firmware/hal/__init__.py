# Mendel firmware: hardware abstraction layer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""One thin backend per MCU family behind one interface.

A backend provides: ``clock_freq``, ``virtual``, ``transport`` (``wait``,
``readinto``, ``write``, ``connected``), ``clock()``, ``advance(now)``,
``attach(mcu)``, ``log(text)``, ``step_run(oid, first, interval, count, add)``,
``stop_motors(now)`` (returns the steps each motor took, or None),
``enable_motors(on)``, ``adc_read(pin)`` (0..adc_max), ``pwm_config(pin, period_s)``
and ``pwm_write(pin, duty)`` (duty 0.0..1.0). Backends with endstop hardware
add ``home_arm(oid, endstop)``, ``endstop_read(endstop)`` and ``hits`` (the
step position at which each motor stopped at its endstop, or None). A backend
that keeps a log may add ``note_output(clock, kind, index, value)``: told each
heater target or fan speed the firmware applies (the sim's step log).

Backends: ``sim`` (unix port, ``hal/sim.py``), ``rp2040`` (PIO + DMA,
``hal/rp2.py``), ``esp32`` (``hal/esp32.py``). Only the chosen one is
imported, so a board never loads another port's modules.
"""


def load(board, options):
    """Build the backend named by ``board["mcu"]``; raises ValueError if unknown."""
    family = board["mcu"]
    if family == "sim":
        from hal.sim import SimHal
        return SimHal(board, virtual=options.get("virtual", True),
                      step_log=options.get("step_log"),
                      lifeline_fd=options.get("lifeline_fd"))
    if family == "rp2040":
        from hal.rp2 import Rp2Hal
        return Rp2Hal(board)
    if family == "esp32":
        from hal.esp32 import Esp32Hal
        return Esp32Hal(board)
    raise ValueError("no HAL backend for MCU family %r yet" % family)
