# Mendel firmware: queues of timed step runs, one per motor.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Timed step runs per motor.

A step run is (interval, count, add) in MCU clock ticks, as in Klipper's
``queue_step``: its k-th step (k = 1..|count|) fires at
``last + k*interval + add*k*(k-1)/2`` where ``last`` is the time of the motor's
previous step (or the clock set by ``set_step_clock``). The sign of ``count`` is
the direction (negative: towards lower positions), so every run is whole on
its own.

Each motor has a fixed ring of ``queue_size`` runs; a run holds its slot until
the clock passes its last step. The host mirrors this accounting and never
sends into a full queue; if it does anyway, or a run's first step is already
in the past when it arrives, the board shuts down rather than guess.
"""
from micropython import const

import link

_NEVER = const(-1)

POSITION = link.response("position", "ii")
QUEUE = link.response("queue", "iii")


class StepQueues:
    """Run queues and step positions of every motor named in the board file.

    ``hal`` executes runs (``hal.step_run(oid, first_clock, interval, count,
    add)``) and enables drivers (``hal.enable_motors(on)``); ``mcu`` gives the
    clock and the shutdown path. Slots are arrays made once here.
    """

    def __init__(self, mcu, names, queue_size):
        self.mcu = mcu
        self.hal = mcu.hal
        self.names = names
        self.queue_size = queue_size
        count = len(names)
        self.position = [0] * count
        self.last_clock = [_NEVER] * count
        # Ring of run end clocks per motor: ends[oid][i].
        self._ends = [[0] * queue_size for _ in range(count)]
        self._head = [0] * count
        self._used = [0] * count
        self.runs = 0

    def _free_finished(self, oid, now):
        ends = self._ends[oid]
        size = self.queue_size
        while self._used[oid] and ends[self._head[oid]] < now:
            self._head[oid] = (self._head[oid] + 1) % size
            self._used[oid] -= 1

    @link.command("set_step_clock", "ii")
    def cmd_set_step_clock(self, oid, clock):
        """Set the reference time of the motor's next run (MCU ticks)."""
        self.last_clock[oid] = clock

    @link.command("queue_step", "iiii")
    def cmd_queue_step(self, oid, interval, count, add):
        """Queue one run; shuts down if it is late or the queue is full."""
        mcu = self.mcu
        if mcu.shutdown_reason is not None:
            return
        last = self.last_clock[oid]
        if last == _NEVER or interval <= 0 or count == 0:
            mcu.shutdown("invalid step run for motor %s" % self.names[oid])
            return
        first = last + interval
        now = self.hal.clock()
        if first < now:
            mcu.shutdown("step run scheduled in the past (motor %s, %d ticks late)"
                         % (self.names[oid], now - first))
            return
        self._free_finished(oid, now)
        if self._used[oid] >= self.queue_size:
            mcu.shutdown("step queue overflow on motor %s" % self.names[oid])
            return
        steps = count if count > 0 else -count
        end = last + steps * interval + add * steps * (steps - 1) // 2
        slot = (self._head[oid] + self._used[oid]) % self.queue_size
        self._ends[oid][slot] = end
        self._used[oid] += 1
        self.last_clock[oid] = end
        self.position[oid] += count
        self.runs += 1
        self.hal.step_run(oid, first, interval, count, add)

    @link.command("get_position", "i")
    def cmd_get_position(self, oid):
        """Report the motor's commanded step position (after its queued runs)."""
        self.mcu.link.send(POSITION, oid, self.position[oid])

    @link.command("get_queue", "i")
    def cmd_get_queue(self, oid):
        """Report the motor's queue: slots in use and slots in all."""
        self._free_finished(oid, self.hal.clock())
        self.mcu.link.send(QUEUE, oid, self._used[oid], self.queue_size)

    @link.command("enable_motors", "i")
    def cmd_enable_motors(self, on):
        """Energise (1) or release (0) every stepper driver; never after a shutdown."""
        if on and self.mcu.shutdown_reason is not None:
            return
        self.hal.enable_motors(bool(on))

    def motor_stopped(self, oid, position):
        """The HAL stopped motor ``oid`` (endstop) at ``position``: its queue is dropped."""
        self._used[oid] = 0
        self.last_clock[oid] = _NEVER
        self.position[oid] = position

    def stop(self, now):
        """Stop at clock ``now``: queued runs are dropped, drivers released.

        ``position`` then holds the steps actually taken (the HAL counts the
        steps of runs cut short).
        """
        taken = self.hal.stop_motors(now)
        for oid in range(len(self.names)):
            self._used[oid] = 0
            self.last_clock[oid] = _NEVER
            if taken is not None:
                self.position[oid] = taken[oid]
        self.hal.enable_motors(False)
