# Mendel firmware: the board's main object.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ties the HAL, the link, motion and thermal control together.

The main loop reads the link, applies the heater and fan changes whose clock
has come (thermal/timed.py), then runs the control timer (heaters every
``CONTROL_HZ``-th of a second) and the host-silence watchdog. Any fault goes
through :meth:`Mcu.shutdown`: heaters off, pending changes dropped, motors
stopped and released, the reason kept and sent to the host, and motion
refused until the board restarts.
"""
import gc

from micropython import const

import link
from motion.endstops import Endstops
from motion.stepper import StepQueues
from thermal.fan import Fans
from thermal.heaters import Heaters
from thermal.timed import QUEUE_SIZE, TimedOutputs

# 0.2: queue_heater and queue_fan (changes at a board clock).
VERSION = "0.2.0"
CONTROL_HZ = const(10)
# Default longest time a heater stays on without any frame from the host
# (Klipper's heater PWM max_duration plays the same role); per heater with
# set_max_duration.
HOST_SILENCE_S = const(3)
# Longest time the main loop may be away (inside a read) before guard() acts.
STALL_S = const(1)
# Bytes of a shutdown reason that fit one frame: 64 - 5 framing - id - length.
_REASON_IN_FRAME = const(56)
# Chunk of ``get_shutdown``: 64 - 5 framing - id - offset (2) - length.
_REASON_CHUNK = const(48)

CLOCK = link.response("clock", "i")
SHUTDOWN = link.response("shutdown", "s")
SHUTDOWN_TEXT = link.response("shutdown_text", "is")
STATS = link.response("stats", "iiiii")
MEMORY = link.response("memory", "ii")


class Mcu:
    """The firmware: owns every subsystem and the shutdown state."""

    def __init__(self, hal, board):
        self.hal = hal
        # Only the facts identify reports are kept: the board file's dict
        # (3-4 KB of heap on an RP2040) is dropped once everything is made.
        self.identity = (board["id"], board["mcu"], board["step_queue_size"])
        self.shutdown_reason = None
        # A frame the board cannot read shuts it down (link.py, "refused").
        self.link = link.Link(hal.transport, self.describe, self.shutdown)
        self.steppers = StepQueues(self, [m["name"] for m in board["motors"]],
                                   board["step_queue_size"])
        self.heaters = Heaters(self, board["heaters"], board["adc_max"], 1.0 / CONTROL_HZ)
        self.fans = Fans(self, board["fans"])
        self.timed = TimedOutputs(hal, (self.heaters.apply_target, self.fans.apply_speed))
        self.endstops = Endstops(self, board.get("endstops", []))
        for obj in (self.link, self, self.steppers, self.heaters, self.fans, self.endstops,
                    hal):
            self.link.bind(obj)
        if board.get("servos"):
            from motion.servos import Servos
            self.link.bind(Servos(self, board["servos"]))
        # Accelerometers (sensors/adxl345.py): imported only when the board has
        # one; their poll timer joins self.timed.
        if board.get("accelerometers"):
            from sensors.adxl345 import Accelerometers
            self.link.bind(Accelerometers(self, board["accelerometers"]))
        self.steppers.bind_link(self.link)
        hal.attach(self)
        freq = hal.clock_freq
        self.control_ticks = freq // CONTROL_HZ
        self.max_silence = [HOST_SILENCE_S * freq] * len(self.heaters.heaters)
        self.next_control = hal.clock() + self.control_ticks
        self.last_rx = hal.clock()
        self.loop_clock = self.last_rx
        self.stall_ticks = STALL_S * freq
        self.was_connected = False

    def describe(self):
        """Facts for the identify response (allocates)."""
        board, mcu, queue_size = self.identity
        return {
            "firmware": "mendel", "version": VERSION, "board": board,
            "mcu": mcu, "clock_freq": self.hal.clock_freq,
            "step_queue_size": queue_size,
            # Heater/fan changes held for their clock (queue_heater, queue_fan).
            "output_queue_size": QUEUE_SIZE,
            # Runs must arrive this long before their first step (ticks).
            "lead_ticks": getattr(self.hal, "lead_ticks", 0),
            "motors": self.steppers.names,
            "heaters": [h.name for h in self.heaters.heaters],
            "fans": self.fans.names, "endstops": self.endstops.names,
            # Motors stopped at an endstop in hardware (home_arm): G28 works.
            "homing": hasattr(self.hal, "home_arm"),
            "virtual_clock": self.hal.virtual,
            "shutdown": self.shutdown_reason,
        }

    # -- commands ------------------------------------------------------
    @link.command("set_inverted", "iii")
    def cmd_set_inverted(self, kind, index, inverted):
        """printer.cfg's ``!``: read endstop ``index`` inverted (``kind`` 0),
        or reverse motor ``index``'s direction (``kind`` 1, with no runs
        queued); 0 undoes it. A board that cannot shuts down saying so."""
        hal = self.hal
        invert = None
        if kind == 0 and 0 <= index < len(self.endstops.names):
            invert = getattr(hal, "endstop_invert", None)
        elif kind == 1 and 0 <= index < len(self.steppers.names) \
                and not self.steppers.used(index):
            invert = getattr(hal, "dir_invert", None)
        if invert is None:
            self.shutdown("cannot invert %s %d on this board"
                          % ("endstop" if kind == 0 else "motor", index))
            return
        invert(index, inverted)

    @link.command("get_clock")
    def cmd_get_clock(self):
        """Report the MCU clock (ticks), all its bits: a host that connects
        after the clock passed 2**32 (358 s at 12 MHz: a board left powered,
        FIRMWARE_RESTART, M999) learns its epoch, since every clock the host
        sends (set_step_clock, queue_heater ...) is a whole one."""
        self.link.send(CLOCK, self.hal.clock())

    @link.command("set_max_duration", "ii")
    def cmd_set_max_duration(self, hid, ms):
        """Longest time heater ``hid`` stays on without a frame from the host (ms)."""
        self.max_silence[hid] = ms * (self.hal.clock_freq // 1000)

    @link.command("get_stats")
    def cmd_get_stats(self):
        """Report link and motion counters."""
        lk = self.link
        self.link.send(STATS, lk.frames_ok, lk.frames_bad, lk.frames_dup,
                       self.steppers.runs, 1 if self.shutdown_reason else 0)

    @link.command("get_memory")
    def cmd_get_memory(self):
        """Report the GC heap after a collection: bytes in use (code loaded as
        .mpy included) and bytes free; -1 each where the interpreter cannot say
        (CPython). The collection stops the board for a few ms or more (about
        10-20 ms on an RP2040): not for use while printing."""
        gc.collect()
        alloc = getattr(gc, "mem_alloc", None)
        free = getattr(gc, "mem_free", None)
        self.link.send(MEMORY, alloc() if alloc else -1, free() if free else -1)

    @link.command("clear_shutdown")
    def cmd_clear_shutdown(self):
        """Leave the shutdown state (the host asks only when its user says so)."""
        self.shutdown_reason = None
        self.link.reset_identify()

    @link.command("get_shutdown", "i")
    def cmd_get_shutdown(self, offset):
        """Send up to 48 bytes of the shutdown reason from ``offset`` (UTF-8)."""
        text = (self.shutdown_reason or "").encode()
        self.link.send(SHUTDOWN_TEXT, offset, text[offset:offset + _REASON_CHUNK])

    @link.command("emergency_stop")
    def cmd_emergency_stop(self):
        """M112: stop everything now."""
        self.shutdown("emergency stop (M112)")

    # -- safety --------------------------------------------------------
    def shutdown(self, reason):
        """Heaters off, pending changes dropped, motors stopped; keep and
        report ``reason``."""
        self.timed.clear()
        self.heaters.off()
        if self.shutdown_reason is None:
            self.fans.off()
            self.steppers.stop(self.hal.clock())
            self.shutdown_reason = reason
            self.link.reset_identify()
            self.hal.log("shutdown: " + reason)
        if self.hal.transport.connected:
            # The whole reason is in the identify text; a frame takes its start.
            self.link.send(SHUTDOWN, self.shutdown_reason.encode()[:_REASON_IN_FRAME])

    def host_gone(self):
        """The host closed the port: nothing may stay hot, and no change
        queued for later may turn a heater back on."""
        self.timed.clear()
        if self.heaters.active():
            self.heaters.off()
            self.hal.log("host disconnected: heaters off")
        self.fans.off()
        self.hal.enable_motors(False)

    # -- time ----------------------------------------------------------
    def run_timers(self, now):
        """Apply the changes due by ``now``, then run the control timer for
        every period that ``now`` has passed."""
        self.timed.run(now)
        while now >= self.next_control:
            self.heaters.update(1.0 / CONTROL_HZ)
            self.next_control += self.control_ticks
            self._watchdog(now)

    def _watchdog(self, now):
        # Checked each control period, and a PWM output drops only at the end
        # of its period: cut that much early, so the heater is off within
        # the limit itself.
        silent = now - self.last_rx + self.control_ticks
        freq = self.hal.clock_freq
        heaters = self.heaters.heaters
        for hid in range(len(heaters)):
            heater = heaters[hid]
            lag = int(heater.pwm_period_s * freq)
            if heater.target > 0.0 and silent + lag > self.max_silence[hid]:
                self.shutdown("host silent for %.1f s: heaters off"
                              % (silent / self.hal.clock_freq))
                return

    def guard(self):
        """From a timer, which runs even while the main loop waits inside a
        read: a main loop that has not come round for ``STALL_S`` (a frame
        whose rest never came: the host died mid-frame) shuts the board down,
        heaters off. Allocates the clock's long int."""
        now = self.hal.clock()
        if self.shutdown_reason is None and now - self.loop_clock > self.stall_ticks:
            self.shutdown("main loop stalled for %.1f s (a frame never completed)"
                          % ((now - self.loop_clock) / self.hal.clock_freq))

    def run_until(self, target):
        """Virtual clock only: advance to ``target`` ticks, timers included.

        The host is driving the clock, so it counts as present throughout.
        A queued heater or fan change is applied at its own clock.
        """
        hal = self.hal
        while True:
            step = min(target, self.next_control, self.timed.next_clock(target))
            hal.advance(step)
            self.last_rx = step
            self.run_timers(step)
            if step >= target:
                return

    def poll_once(self):
        """One pass of the main loop."""
        hal = self.hal
        wake = min(self.next_control, self.timed.next_clock(self.next_control))
        wait = 100 if hal.virtual else (wake - hal.clock()) * 1000 // hal.clock_freq
        try:
            self.link.poll(max(0, min(wait, 100)))
        except Exception as exc:  # a command the firmware cannot run: stop safely
            self.shutdown("firmware error: %s %s" % (type(exc).__name__, exc))
        now = hal.clock()
        self.loop_clock = now
        if self.link.rx_activity:
            self.link.rx_activity = False
            self.last_rx = now
        if not hal.virtual:
            hal.advance(now)
            self.run_timers(now)
        connected = hal.transport.connected
        if self.was_connected and not connected:
            self.host_gone()
        self.was_connected = connected

    def run(self):
        """The main loop; never returns."""
        while True:
            self.poll_once()
