# Mendel host: the toolhead, from moves to timed step runs on the board.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plans moves, schedules them in board time and streams their step runs.

``print_time`` is the board time (s) at which the next released move starts.
When the board has run out of motion (after a heat-up wait, say) it restarts
``BUFFER_TIME`` plus the board's lead time ahead of the board clock, so the
first run never arrives late. The lead time (``lead_ticks`` in the board's
identify text; 20 ms on the RP2040, whose pulse streams are written that far
ahead) is how long before its first step a run must reach the board.

Flow control: each motor's queue on the board holds ``step_queue_size`` runs,
and a run frees its slot once the clock passes its last step. The host keeps
the same books and, before sending into a full queue, waits for the board
clock to pass half of them (on the virtual clock it moves the clock itself),
then asks the board how many slots it still uses (``get_queue``).

Motion time: :meth:`Toolhead.at_motion_time` calls back with the board clock
at which the motion reaches the point where it was called (the end of the
last move queued before it, or of a dwell), once that move has been
scheduled: the look-ahead is not flushed for it, so an M106 between two
moves does not stop the toolhead. Heater and fan changes are sent for that
clock (mendel.mcu.timed), as Klipper does for its fans. The callbacks of a
batch run before the host waits for the board clock to pass theirs (a full
step queue), so no change reaches the board after its time.
"""
import collections

import numpy as np

from mendel.errors import CommandError
from mendel.homing.rails import Homing
from mendel.mcu._framing import MessageBlock
from mendel.mcu._queues import StepQueues
from mendel.planner._lookahead import MoveFeed
from mendel.planner.extrusion import check_extrusion, small_extrusion_mm
from mendel.planner.motion import Motion
from mendel.planner.stepgen import StepGenerator

BUFFER_TIME = 0.25       # s of motion scheduled ahead of the board clock
MIN_AHEAD_TIME = 0.05    # s: less motion left on the board than this is a restart
TEMP_POLL_TIME = 1.0     # s of board time between temperature reports
# Planned moves gathered before their steps are generated and sent: one call
# into the step kernel per batch keeps Python out of the per-move work. The
# board does not wait for them: while it has less than LOW_WATER_TIME s of
# motion ahead, released moves go out at once (a slow source such as a host
# streaming line by line), and the console and `mendel serve` flush when idle.
EXECUTE_BATCH = 256
LOW_WATER_TIME = 1.0     # s of motion queued ahead of the board clock
HOMING_POLL_TIME = 0.05  # s between trigger queries during a homing move


class MoveError(CommandError):
    """A move the printer cannot make; nothing of it was sent."""


class Toolhead:
    """Motion of one printer on one board (``mcu``: a connected Mcu)."""

    def __init__(self, config, mcu, on_temperatures=None):
        self.config = config
        self.mcu = mcu
        self.freq = mcu.clock_freq
        self.motion = Motion(config)
        self.kinematics = self.motion.kinematics
        self.limits = self.motion.limits
        motor_ids = {name: i for i, name in enumerate(mcu.info["motors"])}
        self.oids = [motor_ids[stepper.motor] for stepper in config.steppers.values()]
        self.stepgen = StepGenerator(self.kinematics, config.steps_per_mm(), self.freq)
        # The board counts steps from where it started; the host's steps
        # (round(mm * steps/mm)) are the board's plus these offsets, which
        # change only when the host learns where the motors are (homing,
        # SET_KINEMATIC_POSITION).
        self.stepgen.set_position(self.motion.position)
        self._offsets = self.stepgen.positions()
        # printer.cfg's [input_shaper] and [extruder] pressure advance.
        for axis, kind, freq, damping in (config.input_shaper.axes()
                                          if config.input_shaper is not None else ()):
            self.stepgen.set_input_shaper(axis, kind, freq, damping)
        self.stepgen.set_pressure_advance(config.pressure_advance,
                                          config.pressure_advance_smooth_time)
        self.print_time = 0.0
        self.queue_size = mcu.info["step_queue_size"]
        self.lead_time = mcu.info.get("lead_ticks", 0) / self.freq   # s
        self._queues = StepQueues(len(self.oids), self.queue_size)
        self._last_poll = 0.0
        self.on_temperatures = on_temperatures
        self.runs_sent = 0
        self.motion_time = 0.0     # s of planned motion and dwells released so far
        self._set_clock_id = mcu.message_id("set_step_clock")
        self._queue_step_id = mcu.message_id("queue_step")
        self._feed = self._move_feed()
        self.sent_runs = None      # called with (data, ends) of each batch of encoded runs
        # Called with (moves, start s) of each batch scheduled, and with
        # (None, s) when the position is declared anew (force_position).
        self.scheduled = None
        # (move tag, action): actions waiting for the moves before them to be timed;
        # (clock, action): timed ones, called before the board clock gets there.
        self._at_motion = collections.deque()
        self._due = collections.deque()
        self._homing = None
        self.homed = set()         # "x", "y", "z": axes whose position homing found

    def _move_feed(self):
        """The MoveFeed of linear kinematics (cartesian, CoreXY), else None."""
        kinematics = self.kinematics
        if not kinematics.is_linear:
            return None
        extrusion = self.config.extrusion
        return MoveFeed(self.motion.planner, kinematics.axis_min, kinematics.axis_max,
                        kinematics.max_z_velocity, kinematics.max_z_accel,
                        extrusion.filament_area, extrusion.max_extrude_cross_section,
                        extrusion.max_extrude_only_distance, small_extrusion_mm(extrusion),
                        EXECUTE_BATCH)

    # -- moves ---------------------------------------------------------
    def move(self, target, speed):
        """Queue a straight move to ``target`` [x, y, z, e] mm at ``speed`` mm/s.

        Raises KinematicsError (a CommandError) if any point of the move is out
        of reach, CommandError if the extruder may not make it; nothing is
        queued then.
        """
        self._check_homed(target)
        limits = self.motion.check(target)
        check_extrusion(self.config.extrusion, self.motion.position, target)
        self._release(self.motion.move(target, speed, limits))

    def move_feed(self, cold=False):
        """The :class:`~mendel.planner._lookahead.MoveFeed` that queues plain
        G-code moves straight into this toolhead's planner, or None (a delta
        plans in Python). ``cold``: the hot end may not extrude. Call
        :meth:`fed_moves` after each of its runs."""
        feed = self._feed
        if len(self.homed) < 3:
            return None     # moves are checked for "Must home axis first" one by one
        if feed is not None:
            feed.start = self.motion.position
            feed.tag = self.motion.moves
            feed.cold = cold
            # While the board runs low, a run ends at the first released move.
            feed.release_at = 1 if self._running_low() else EXECUTE_BATCH
        return feed

    def fed_moves(self):
        """Take over the moves a MoveFeed run queued; send a full batch.

        As :meth:`move` after each move: a run that fed none (comments, a
        move of no length) sends nothing, even if the board runs low."""
        motion = self.motion
        fed = self._feed.tag - motion.moves
        motion.position = self._feed.start
        motion.moves = self._feed.tag
        if fed:
            self._release(motion.planner.released)

    def _check_homed(self, target):
        """Raise MoveError unless every axis ``target`` moves is homed (a
        delta's axes move together: all three must be)."""
        position = self.motion.position
        moved = [axis for i, axis in enumerate("xyz") if target[i] != position[i]]
        if not moved or len(self.homed) == 3:
            return
        if not self.kinematics.is_linear:
            moved = "xyz"
        missing = [axis for axis in moved if axis not in self.homed]
        if missing:
            raise MoveError("Must home axis first: %s (G28)" % " ".join(missing))

    def _release(self, released):
        """Send the ``released`` planned moves once there are EXECUTE_BATCH of
        them, or at once while the board runs low on motion."""
        if released >= EXECUTE_BATCH or released and self._running_low():
            self._execute(self.motion.take())

    def send_released(self):
        """Send the moves the look-ahead has released (final, not slowed to a
        stop), without waiting for a full batch; returns the board time (s)
        the motion sent so far ends. A caller that wants to know how much
        motion the board has ahead (a file printing in real time) asks this."""
        if self.motion.planner.released:
            self._execute(self.motion.take())
        return self.print_time

    @property
    def sent_until(self):
        """Board time (s) the steps sent so far reach: :attr:`print_time`
        less the shaped motion's lead (the shaped steps of the last moves'
        final ``stepgen.lead_time`` s wait for the moves after them, or for
        a flush). What the board has ahead is measured from here."""
        return self.print_time - self.stepgen.lead_time

    def _running_low(self):
        ahead = self.sent_until - self.mcu.estimated_clock() / self.freq
        return ahead < LOW_WATER_TIME + self.lead_time

    @property
    def position(self):
        """[x, y, z, e] mm at the end of the last move queued."""
        return self.motion.position

    @property
    def moves(self):
        return self.motion.moves

    def set_limits(self, **limits):
        """Change velocity/acceleration limits for the moves that follow."""
        self.limits.update(**limits)

    def home(self, axes):
        """Home ``axes`` ("XYZ" letters) against their endstops
        (mendel.homing.rails); returns the axes homed. A delta homes its
        three towers together (as Klipper does), whatever ``axes``. Raises
        HomingError."""
        if self._homing is None:
            self._homing = Homing(self)
        for axis in axes:
            self.homed.discard(axis.lower())
        self.mcu.send("enable_motors", 1)       # released by an M84 before
        homed = self._homing.home(axes)
        self.homed.update(homed)
        return homed

    def set_kinematic_position(self, values, set_homed="xyz", clear_homed=""):
        """SET_KINEMATIC_POSITION: declare axes at ``values`` ({"x": mm, ...};
        the others keep their position) without moving, and mark the axes of
        ``set_homed`` homed, those of ``clear_homed`` not."""
        point = list(self.position)
        for axis, mm in values.items():
            point["xyz".index(axis)] = mm
        self.force_position(point)
        self.homed.update(set_homed)
        self.homed.difference_update(clear_homed)

    def motors_moving_z(self):
        """Indexes of the kinematic motors a Z move drives."""
        point = list(self.position)
        raised = list(point)
        raised[2] += 1.0
        a, b = self.stepgen.motor_positions([point, raised])
        return [m for m in range(3) if abs(a[m] - b[m]) > 1e-9]

    def lift(self, distance, speed):
        """Raise Z by ``distance`` mm at ``speed`` mm/s from wherever it is,
        unchecked ([safe_z_home] z_hop before Z is homed)."""
        target = list(self.position)
        target[2] += distance
        self.homing_move(target, speed, [])

    def query_endstops(self):
        """``[(name, triggered)]`` of the endstops printer.cfg uses (and its
        probe), read once the moves queued so far are done."""
        self.wait_moves()
        mcu = self.mcu
        used = {getattr(s, "endstop", None) for s in self.config.steppers.values()}
        if self.config.probe is not None:
            used.add(self.config.probe.pin)
        states = []
        for eid, name in enumerate(mcu.info.get("endstops", ())):
            if name not in used:
                continue
            _eid, state = mcu.query("endstop_query", (eid,), "endstop_state",
                                    match=lambda args, eid=eid: args[0] == eid)
            states.append((name, bool(state)))
        return states

    def flush(self):
        """Plan and send every queued move (the last one ends at rest)."""
        if self.motion.flush():
            self._execute(self.motion.take())
        if self.stepgen.shaped:
            self._finish_shaped()
        if self._at_motion:
            self._time_at_motion(None, self.print_time)
            self._call_due()

    def _finish_shaped(self):
        """Send the shaped motion's tails (input shaping and pressure advance
        go on for a few ms after the moves); later moves start after them."""
        resume = self.stepgen.finish()
        if resume is None:
            return
        self._send_generated()
        if resume > self.print_time:
            self.print_time = resume

    def set_input_shaper(self, axis, shaper_type, freq, damping_ratio):
        """Shape ``axis`` ("x"/"y") from the next move on (freq 0: off);
        ValueError for bad values (mendel.planner.stepgen). The values in
        use already change nothing: the moves go on without a stop (a
        SET_INPUT_SHAPER that only reports them, say)."""
        wanted = (shaper_type, float(freq), float(damping_ratio)) if freq else None
        if self.stepgen.shapers.get(axis, False) == wanted:
            return
        self._change_shaping(lambda: self.stepgen.set_input_shaper(
            axis, shaper_type, freq, damping_ratio))

    def _change_shaping(self, change):
        """Flush, call ``change()`` (it changes the step generator's shaping),
        and start the next moves late enough that their shaped steps, which
        may now begin further ahead of them, come after every step sent:
        else the motors would be told both motions at once (a burst of
        steps one tick apart, or a run scheduled in the past)."""
        self.flush()
        lead = self.stepgen.lead_time
        change()
        self.print_time += max(0.0, self.stepgen.lead_time - lead)

    @property
    def input_shaper(self):
        """{"x": (type, freq Hz, damping ratio) or None, "y": ...}."""
        return dict(self.stepgen.shapers)

    def set_pressure_advance(self, advance, smooth_time):
        """Pressure advance (s) and its smooth time (s) from the next move on;
        the values in use already change nothing (no stop), and a new advance
        with the smooth time in use takes effect at the next move without
        stopping; turning it on, or a new smooth time, stops the motion once."""
        if (float(advance), float(smooth_time)) == self.stepgen.pressure_advance:
            return
        if self.stepgen.advances_live(smooth_time):
            # A new advance from the next move on, the motion going on (as
            # Klipper changes it); the moves queued before keep theirs.
            self.stepgen.set_pressure_advance(advance, smooth_time, tag=self.motion.moves)
            return
        self._change_shaping(lambda: self.stepgen.set_pressure_advance(advance, smooth_time))

    def wait_moves(self):
        """Flush, then return when the board has finished every move (M400)."""
        self.flush()
        self.mcu.wait_until(self._ticks(self.print_time))

    def at_motion_time(self, action):
        """Call ``action(clock)`` with the board clock (ticks) at which the
        motion reaches this point: the end of the moves queued so far (and
        of any dwell after them). At once when every queued move is already
        scheduled; else as soon as the look-ahead schedules the last of
        them. Actions run in the order they were given."""
        if not self._at_motion and self._planned_all():
            action(self._ticks(self.print_time))
            return
        self._at_motion.append((self.motion.moves, action))

    def _time_at_motion(self, moves, start):
        """Give their clock to the actions whose moves ``moves`` (just
        scheduled from ``start`` s on) completed. A move tagged at or after
        an action's tag says every move before it is in; an empty look-ahead
        says so too."""
        pending = self._at_motion
        tags = moves["tag"] if moves is not None else ()
        last_tag = int(tags[-1]) if len(tags) else -1
        ends = None
        idle = self._planned_all()
        while pending:
            tag, action = pending[0]
            if tag <= last_tag:
                if ends is None:
                    ends = start + np.cumsum(moves["accel_t"] + moves["cruise_t"]
                                             + moves["decel_t"])
                k = int(np.searchsorted(tags, tag, side="left"))
                at = float(ends[k - 1]) if k else start
            elif idle:
                at = self.print_time
            else:
                return
            pending.popleft()
            self._due.append((self._ticks(at), action))

    def planned_all(self):
        """True when no move waits in the look-ahead (any thread may ask)."""
        return self._planned_all()

    def _planned_all(self):
        """No move waits in the look-ahead: every queued one is scheduled."""
        planner = self.motion.planner
        return not (planner.queued or planner.released)

    def _call_due(self, until=None):
        """Call the timed actions whose clock is at most ``until`` ticks (all
        with None), in order."""
        due = self._due
        while due and (until is None or due[0][0] <= until):
            clock, action = due.popleft()
            action(clock)

    def dwell(self, seconds):
        """Pause motion for ``seconds`` (G4)."""
        self.flush()
        self._restart_time()
        self.print_time += max(seconds, 0.0)
        self.motion_time += max(seconds, 0.0)

    # -- scheduling ----------------------------------------------------
    def _ticks(self, print_time):
        return int(round(print_time * self.freq))

    def _restart_time(self):
        """Start the next motion ``BUFFER_TIME`` ahead of the board clock
        once the board has (all but) run out of motion. While it still has
        more than ``MIN_AHEAD_TIME`` beyond the lead times, motion goes on
        where it is: a gap there would stop the motors dead at speed (the
        moves released so far need not end at rest), as a full step queue
        of short moves holding under BUFFER_TIME of motion would make it."""
        board_now = self.mcu.estimated_clock() / self.freq
        lead = self.lead_time + self.stepgen.lead_time
        if self.print_time >= board_now + lead + MIN_AHEAD_TIME:
            return
        earliest = board_now + BUFFER_TIME + lead
        if self.print_time < earliest:
            self.print_time = earliest

    def _execute(self, moves):
        """Schedule planned ``moves`` (PLANNED_DTYPE rows) and send their steps."""
        self._restart_time()
        start = self.print_time
        self.print_time = self.stepgen.add_moves(moves, self.print_time)
        self.motion_time += self.print_time - start
        if self.scheduled is not None:
            self.scheduled(moves, start)
        if self._at_motion:
            self._time_at_motion(moves, start)
        self._send_generated()
        self._call_due()
        if self.print_time - self._last_poll >= TEMP_POLL_TIME and self.on_temperatures:
            self._last_poll = self.print_time
            self.on_temperatures()

    def _send_generated(self):
        """Send the runs the step generator has made since the last send."""
        self._send(self.stepgen.flush_encoded(self.oids, self._set_clock_id,
                                              self._queue_step_id))

    def _send(self, encoded):
        """Queue encoded runs on the link, waiting where a motor's queue on the
        board is full."""
        data, ends, motors, last_clocks = encoded
        if self.sent_runs is not None:
            self.sent_runs(data, ends)
        mcu = self.mcu
        block = MessageBlock(data, ends)
        queues = self._queues
        queues.begin(motors, last_clocks)
        first = 0
        while True:
            stop, full = queues.next_stop()
            if stop > first:
                mcu.queue_encoded(block, first, stop)
            first = stop
            if full < 0:
                break
            self._wait_for_room(full)
        self.runs_sent += len(ends)
        mcu.flush()

    def _wait_for_room(self, motor):
        """Wait until the board has finished half of ``motor``'s full queue.

        Half, not one slot, so that a full queue costs one wait per
        ``queue_size / 2`` runs, and the other half stays buffered. The board
        then reports the slots it still uses, and its word settles the books.
        """
        mcu = self.mcu
        queues = self._queues
        until = queues.end(motor, queues.used(motor) // 2) + 1
        self._call_due(until)
        mcu.flush()
        mcu.wait_until(until)
        try:
            queues.settle(motor, mcu.queue_used(self.oids[motor]))
        except ValueError as exc:
            raise MoveError("%s (motor %s)" % (exc, "xyze"[motor])) from None

    @property
    def steps_moved(self):
        """Steps generated (and sent) per motor since the start, all directions."""
        return [c.steps_total for c in self.stepgen.compressors]

    @property
    def step_offsets(self):
        """Per motor, machine-origin steps minus the board's counter (homing
        sets them; before it, the board's start counts as home)."""
        return list(self._offsets)

    def motor_positions(self):
        """Commanded step position of each motor (kinematic ones, then e), host
        side, counted from where the board started."""
        return [now - offset for now, offset in zip(self.stepgen.positions(),
                                                    self._offsets)]

    # -- homing --------------------------------------------------------
    def force_position(self, point):
        """Declare the toolhead at ``point`` [x, y, z, e] mm without moving it
        (Klipper's set_position): the motors stay where the board has them."""
        self.flush()
        board = self.motor_positions()
        self.motion.set_position(point)
        self.stepgen.set_position(point)
        self._offsets = [now - steps for now, steps in zip(self.stepgen.positions(), board)]
        if self.scheduled is not None:
            # The moves scheduled so far (a homing move an endstop cut short)
            # are not where the toolhead is: a watcher forgets them.
            self.scheduled(None, self.print_time)

    def homing_move(self, target, speed, armed):
        """Move straight to ``target`` [x, y, z, e] mm at ``speed`` mm/s with
        endstops armed, unchecked against the axis limits (the position is
        not known yet).

        ``armed``: ``[(endstop id, [motor index, ...]), ...]``; each endstop
        stops its motors on the board after the step that triggers it.
        Waits for the move to end, then takes each stopped motor's position
        from the board's trigger (``get_trigger``). Returns ``{motor index:
        True if it stopped at its endstop}``; :attr:`position` is then where
        the motors really are (forward kinematics of their steps).
        """
        self.wait_moves()
        mcu = self.mcu
        for eid, motors in armed:
            mcu.send("endstop_home", eid, sum(1 << self.oids[m] for m in motors))
        self.motion.move(target, speed, limits=(float("inf"), float("inf")), split=False)
        self.flush()
        motors = [m for _eid, group in armed for m in group]
        triggers = self._wait_triggers(motors)
        for eid, _group in armed:
            mcu.send("endstop_home", eid, 0)
        compressors = self.stepgen.compressors
        for m, steps in triggers.items():
            if steps is not None:
                # The board dropped the rest of the move: the next run of
                # this motor starts from a new step clock.
                compressors[m].position = steps + self._offsets[m]
                compressors[m].has_reference = False
                self._queues.settle(m, mcu.queue_used(self.oids[m]))
        self._settle_position()
        return {m: steps is not None for m, steps in triggers.items()}

    def _wait_triggers(self, motors):
        """Wait for the move sent to end, or for every motor of ``motors`` to
        have stopped at its endstop (then motion ends there: a homing move
        planned for 1.5 x the travel need not be waited out). Returns
        ``{motor: trigger step position or None}``."""
        mcu = self.mcu
        end = self._ticks(self.print_time)
        if not motors:
            mcu.wait_until(end)
            return {}
        poll = self._ticks(HOMING_POLL_TIME)
        triggers = dict.fromkeys(motors)
        while True:
            now = mcu.estimated_clock()
            if now >= end:
                mcu.wait_until(end)
            else:
                mcu.wait_until(min(end, now + poll))
            for m in motors:
                if triggers[m] is None:
                    oid = self.oids[m]
                    _oid, hit, steps = mcu.query("get_trigger", (oid,), "trigger",
                                                 match=lambda args, oid=oid: args[0] == oid)
                    if hit:
                        triggers[m] = steps
            if mcu.estimated_clock() >= end or motors and all(
                    steps is not None for steps in triggers.values()):
                break
        # Motion ended at the last stop: what follows starts from now.
        self.print_time = min(self.print_time, mcu.estimated_clock() / self.freq)
        return triggers

    def _settle_position(self):
        """Set :attr:`position` from the motors' steps (forward kinematics)."""
        motors = self.stepgen.positions()
        spm = self.stepgen.steps_per_mm
        mm = np.array([[motors[m] / spm[m] for m in range(3)]])
        xyz = [float(v) for v in self.kinematics.calc_toolhead_positions(mm)[0]]
        # The board's steps stay where they are; the host's follow the point.
        self.force_position(xyz + [self.motion.position[3]])


class ToolheadMachine:
    """The motion half of the interpreter's machine interface, on ``self.toolhead``."""

    @property
    def position(self):
        return self.toolhead.position

    def move(self, target, speed):
        self.toolhead.move(target, speed)

    def move_feed(self):
        return self.toolhead.move_feed()

    def fed_moves(self):
        self.toolhead.fed_moves()

    def home(self, axes):
        return self.toolhead.home(axes)

    def set_kinematic_position(self, values, set_homed="xyz", clear_homed=""):
        self.toolhead.set_kinematic_position(values, set_homed, clear_homed)

    def query_endstops(self):
        return self.toolhead.query_endstops()

    def lift(self, distance, speed):
        self.toolhead.lift(distance, speed)

    def dwell(self, seconds):
        self.toolhead.dwell(seconds)

    def wait_moves(self):
        self.toolhead.wait_moves()

    @property
    def input_shaper(self):
        return self.toolhead.input_shaper

    def set_input_shaper(self, axis, shaper_type, freq, damping_ratio):
        self.toolhead.set_input_shaper(axis, shaper_type, freq, damping_ratio)

    @property
    def pressure_advance(self):
        return self.toolhead.stepgen.pressure_advance

    def set_pressure_advance(self, advance, smooth_time):
        self.toolhead.set_pressure_advance(advance, smooth_time)

    def set_limits(self, **limits):
        self.toolhead.set_limits(**limits)
