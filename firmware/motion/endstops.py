# Mendel firmware: endstops and homing stops.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Endstop reads and homing stops, over whatever the HAL does in hardware.

Homing: the host arms an endstop for the motors that move towards it
(``endstop_home``), then queues the homing runs as usual. The HAL stops each
armed motor before its next step once the endstop reads triggered (the
RP2040 does it in the PIO program, at the PIO clock), drops that motor's
queued runs and keeps the exact step position of the stop, which the host
reads with ``get_trigger`` to set the axis position. A HAL without endstop
hardware (the simulated board) refuses homing with a shutdown that says so.
"""
import link

ENDSTOP_STATE = link.response("endstop_state", "ii")
TRIGGER = link.response("trigger", "iii")


class Endstops:
    """Endstops named in the board file, in its order (index = endstop id)."""

    def __init__(self, mcu, specs):
        self.mcu = mcu
        self.names = [spec["name"] for spec in specs]

    def _check(self, eid):
        if not 0 <= eid < len(self.names):
            self.mcu.shutdown("no endstop %d on this board" % eid)
            return False
        if not hasattr(self.mcu.hal, "home_arm"):
            self.mcu.shutdown("this board has no endstop hardware")
            return False
        return True

    @link.command("endstop_home", "ii")
    def cmd_endstop_home(self, eid, motor_mask):
        """Arm endstop ``eid`` to stop every motor whose bit is set in
        ``motor_mask``; a mask of 0 disarms every motor (a homing move that
        ended without a trigger)."""
        if self.mcu.shutdown_reason is not None or not self._check(eid):
            return
        hal = self.mcu.hal
        for oid in range(len(self.mcu.steppers.names)):
            if motor_mask & (1 << oid):
                hal.home_arm(oid, eid)
            elif not motor_mask:
                hal.home_disarm(oid)

    @link.command("endstop_query", "i")
    def cmd_endstop_query(self, eid):
        """Report whether endstop ``eid`` reads triggered now (1) or not (0)."""
        if self._check(eid):
            self.mcu.link.send(ENDSTOP_STATE, eid, 1 if self.mcu.hal.endstop_read(eid) else 0)

    @link.command("get_trigger", "i")
    def cmd_get_trigger(self, oid):
        """Report whether motor ``oid`` stopped at its endstop, and its step position there."""
        hits = getattr(self.mcu.hal, "hits", None)
        position = hits[oid] if hits else None
        self.mcu.link.send(TRIGGER, oid, 0 if position is None else 1, position or 0)
