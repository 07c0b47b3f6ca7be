# Mendel host: homing rails against their endstops.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Home axes with the board's endstop stop, as Klipper users know it.

A homing move arms the axis's endstop on the board for every motor the move
drives, then runs towards it from a position declared far enough away
(``1.5 x`` the axis's travel). The board stops each motor after the step
that triggers its endstop (the RP2040 in its PIO program, the simulated
board by bisecting its clock), drops the rest of the move and keeps the stop
position; the host reads it (``get_trigger``) and takes the toolhead's
position from it, with the homed axis at ``position_endstop``. With
``homing_retract_dist`` the axis then backs off and homes again at
``second_homing_speed``. Keys are Klipper's ([stepper_x] homing_speed,
second_homing_speed, homing_retract_dist, homing_retract_speed,
homing_positive_dir); so are the errors:

* ``No trigger on x after full movement``: the switch never closed;
* ``Endstop x still triggered after retract``: it never opened (a switch
  wired the other way round: see ``!`` on endstop_pin).

A delta homes its three towers together, upwards, each carriage stopped by
its own endstop; the toolhead position then follows from the forward
kinematics with every carriage at its ``position_endstop``.
"""
from mendel.errors import CommandError

TRAVEL_FACTOR = 1.5     # a homing move runs this many times the axis's travel


class HomingError(CommandError):
    """Homing failed; the axis is not homed and the board is not shut down."""


def _setting(stepper, name, default):
    value = getattr(stepper, name, None)
    return default if value is None else value


class Rail:
    """One homing axis: its stepper section and the endstop that stops it."""

    def __init__(self, name, stepper, endstop_id, home, probe=False):
        self.name = name                 # axis letter ("x") or tower ("a")
        self.stepper = stepper
        self.endstop_id = endstop_id
        self.home = home                 # mm where the endstop triggers (position_endstop)
        self.probe = probe               # homes on the probe (probe:z_virtual_endstop)
        self.speed = stepper.homing_speed
        self.second_speed = _setting(stepper, "second_homing_speed", self.speed / 2.0)
        self.retract_dist = _setting(stepper, "homing_retract_dist", 5.0)
        self.retract_speed = _setting(stepper, "homing_retract_speed", self.speed)
        positive = getattr(stepper, "homing_positive_dir", None)
        if positive is None:
            positive = stepper.position_endstop >= stepper.position_max
        self.direction = 1.0 if positive else -1.0

    @property
    def travel(self):
        return self.stepper.position_max - self.stepper.position_min


class Homing:
    """Homes the axes of ``toolhead`` (a Toolhead on a board with endstops)."""

    def __init__(self, toolhead):
        self.toolhead = toolhead
        config = toolhead.config
        names = list(toolhead.mcu.info.get("endstops", ()))
        self.delta = not toolhead.kinematics.is_linear
        self.rails = {}
        for name, stepper in config.steppers.items():
            if name == "e":
                continue
            endstop = getattr(stepper, "endstop", None)
            home = stepper.position_endstop
            probe = endstop == "probe" and config.probe is not None
            if probe:
                # probe:z_virtual_endstop: the nozzle is z_offset above the
                # bed when the probe triggers.
                endstop, home = config.probe.pin, config.probe.z_offset
            self.rails[name] = Rail(name, stepper,
                                    names.index(endstop) if endstop in names else None, home,
                                    probe)

    # -- public --------------------------------------------------------
    def home(self, axes):
        """Home ``axes`` (letters of "xyz"), in that order; a delta homes
        all three towers whatever ``axes``. Returns the axes now homed.
        Raises HomingError (Klipper's messages)."""
        if self.delta:
            self._home_delta()
            return ["x", "y", "z"]
        for axis in axes:
            self._home_axis("xyz".index(axis.lower()))
        return [axis.lower() for axis in axes]

    # -- one axis ------------------------------------------------------
    def _home_axis(self, i):
        axis = "xyz"[i]
        rail = self.rails[axis]
        self._need_endstop(rail)
        if rail.probe:
            self._home_on_probe(i, rail)
        else:
            self._home_rail(i, rail)

    def _home_on_probe(self, i, rail):
        """probe:z_virtual_endstop: the probe's pin out (a BLTouch's) while
        Z homes on it, and Klipper's error when it reads triggered first."""
        from mendel.probing.probe import Probe
        probe = Probe(self.toolhead)
        probe.deploy()
        try:
            if probe.triggered():
                raise HomingError("Probe triggered prior to movement")
            self._home_rail(i, rail)
        finally:
            probe.stow()

    def _home_rail(self, i, rail):
        toolhead = self.toolhead
        home = list(toolhead.position)
        home[i] = rail.home
        start = list(home)
        start[i] -= rail.direction * TRAVEL_FACTOR * rail.travel
        toolhead.force_position(start)
        self._stage(rail, home, rail.speed, first=True)
        if rail.retract_dist > 0.0:
            back = list(toolhead.position)
            back[i] -= rail.direction * rail.retract_dist
            toolhead.homing_move(back, rail.retract_speed, [])
            again = list(toolhead.position)
            again[i] += 2.0 * rail.direction * rail.retract_dist
            self._stage(rail, again, rail.second_speed, first=False)
        # The trigger is position_endstop: the axis is where the switch says.
        final = list(toolhead.position)
        final[i] = rail.home
        toolhead.force_position(final)

    def _stage(self, rail, target, speed, first):
        """One homing move of ``rail`` towards ``target``; raises HomingError
        if it did not trigger, or (after a retract) triggered at once."""
        toolhead = self.toolhead
        motors = self._motors_moved(toolhead.position, target)
        before = toolhead.motor_positions()
        stopped = toolhead.homing_move(target, speed, [(rail.endstop_id, motors)])
        if not all(stopped.values()):
            raise HomingError("No trigger on %s after full movement" % rail.name)
        after = toolhead.motor_positions()
        if all(after[m] == before[m] for m in motors):
            if first and rail.retract_dist > 0.0:
                return          # parked on its switch: the retract frees it
            raise HomingError("Endstop %s still triggered after retract" % rail.name)

    def _motors_moved(self, start, end):
        """Kinematic motors whose position changes between two points."""
        stepgen = self.toolhead.stepgen
        a, b = stepgen.motor_positions([start, end])
        return [m for m in range(3) if abs(a[m] - b[m]) > 1e-9]

    # -- delta ---------------------------------------------------------
    def _home_delta(self):
        toolhead = self.toolhead
        rails = [self.rails[name] for name in ("a", "b", "c") if name in self.rails] or \
            [self.rails[name] for name in ("x", "y", "z")]
        for rail in rails:
            self._need_endstop(rail)
        home = list(toolhead.kinematics.home_position()) + [toolhead.position[3]]
        travel = max(rail.travel for rail in rails)
        start = list(home)
        start[2] -= TRAVEL_FACTOR * travel
        toolhead.force_position(start)
        speed = min(rail.speed for rail in rails)
        self._delta_stage(rails, home, speed, first=True)
        retract = max(rail.retract_dist for rail in rails)
        if retract > 0.0:
            home_now = list(home)
            toolhead.force_position(home_now)
            back = list(home_now)
            back[2] -= retract
            toolhead.homing_move(back, min(rail.retract_speed for rail in rails), [])
            again = list(toolhead.position)
            again[2] += 2.0 * retract
            self._delta_stage(rails, again, min(rail.second_speed for rail in rails),
                              first=False)
        toolhead.force_position(home)

    def _delta_stage(self, rails, target, speed, first):
        toolhead = self.toolhead
        before = toolhead.motor_positions()
        armed = [(rail.endstop_id, [m]) for m, rail in enumerate(rails)]
        stopped = toolhead.homing_move(target, speed, armed)
        after = toolhead.motor_positions()
        for m, rail in enumerate(rails):
            if not stopped[m]:
                raise HomingError("No trigger on %s after full movement" % rail.name)
            if after[m] == before[m] and not (first and rail.retract_dist > 0.0):
                raise HomingError("Endstop %s still triggered after retract" % rail.name)

    def _need_endstop(self, rail):
        mcu = self.toolhead.mcu
        if not mcu.info.get("homing", True):
            raise HomingError("this board (%s) cannot stop its motors at an endstop, so it "
                              "cannot home: set the position with SET_KINEMATIC_POSITION"
                              % mcu.info.get("mcu"))
        if rail.endstop_id is None:
            raise HomingError("%s cannot home: [%s] has no endstop_pin (or SET_KINEMATIC_POSITION "
                              "sets the position by hand)" % (rail.name, rail.stepper.name))
