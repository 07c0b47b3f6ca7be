# Mendel firmware: fan outputs.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part-cooling and other PWM fans (M106/M107 on the host).

Speeds on the wire are 0..255 of full speed; ``queue_fan`` holds a change
until its clock (thermal/timed.py), ``set_fan`` acts at once.
"""
import link
from thermal.timed import FAN


class Fans:
    """PWM fans named in the board file."""

    def __init__(self, mcu, specs):
        self.mcu = mcu
        self.hal = mcu.hal
        self.pins = [spec["pin"] for spec in specs]
        self.names = [spec["name"] for spec in specs]
        self.speed = [0.0] * len(specs)

    @link.command("set_fan", "ii")
    def cmd_set_fan(self, fid, value):
        """Set fan ``fid`` to ``value``/255 of full speed now; changes queued
        for it (``queue_fan``) are dropped."""
        self.pins[fid]                       # IndexError: no such fan
        self.mcu.timed.set_now(FAN, fid, min(max(value, 0), 255))

    @link.command("queue_fan", "iii")
    def cmd_queue_fan(self, clock, fid, value):
        """Set fan ``fid`` to ``value``/255 when the clock reaches ``clock``
        (ticks); at once if it has passed. Shuts down for an unknown fan or a
        full queue."""
        mcu = self.mcu
        if not 0 <= fid < len(self.pins):
            mcu.shutdown("queue_fan: no fan %d on this board" % fid)
            return
        if mcu.shutdown_reason is not None:
            return
        mcu.timed.queue(mcu, clock, FAN, fid, min(max(value, 0), 255))

    def apply_speed(self, fid, value):
        """Drive fan ``fid`` at ``value``/255 now."""
        speed = value / 255.0
        self.speed[fid] = speed
        self.hal.pwm_write(self.pins[fid], speed)

    def off(self):
        for fid in range(len(self.pins)):
            self.speed[fid] = 0.0
            self.hal.pwm_write(self.pins[fid], 0.0)
