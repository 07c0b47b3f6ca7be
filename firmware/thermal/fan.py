# Mendel firmware: fan outputs.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part-cooling and other PWM fans (M106/M107 on the host)."""
import link


class Fans:
    """PWM fans named in the board file."""

    def __init__(self, mcu, specs):
        self.hal = mcu.hal
        self.pins = [spec["pin"] for spec in specs]
        self.names = [spec["name"] for spec in specs]
        self.speed = [0.0] * len(specs)

    @link.command("set_fan", "ii")
    def cmd_set_fan(self, fid, value):
        """Set fan ``fid`` to ``value``/255 of full speed."""
        speed = min(max(value, 0), 255) / 255.0
        self.speed[fid] = speed
        self.hal.pwm_write(self.pins[fid], speed)

    def off(self):
        for fid in range(len(self.pins)):
            self.speed[fid] = 0.0
            self.hal.pwm_write(self.pins[fid], 0.0)
