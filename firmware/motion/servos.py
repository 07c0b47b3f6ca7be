# Mendel firmware: servo outputs (a BLTouch's control pin).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hobby-servo pulses on the board file's "servos" pins.

A BLTouch moves its pin by the width of 50 Hz pulses on its control line
(650 us down, 1475 us up, per its maker's manual). Loaded only on a board
whose file lists servos, so other boards keep the heap.
"""
import link

SERVO_PERIOD_S = 0.020     # 50 Hz frame


class Servos:
    """Servo outputs named in the board file, in its order (index = servo id)."""

    def __init__(self, mcu, specs):
        self.mcu = mcu
        self.pins = [spec["pin"] for spec in specs]
        self._on = bytearray(len(self.pins))

    @link.command("set_servo", "ii")
    def cmd_set_servo(self, sid, pulse_us):
        """Drive servo ``sid`` with ``pulse_us`` us pulses at 50 Hz (0: none)."""
        if not 0 <= sid < len(self.pins):
            self.mcu.shutdown("no servo %d on this board" % sid)
            return
        hal = self.mcu.hal
        pin = self.pins[sid]
        if not self._on[sid]:
            hal.pwm_config(pin, SERVO_PERIOD_S)
            self._on[sid] = 1
        hal.pwm_write(pin, pulse_us / (SERVO_PERIOD_S * 1000000.0))
