# Mendel host: a manual Z probe (the paper test), TESTZ / ACCEPT / ABORT.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The user lowers the nozzle until it drags a sheet of paper on the bed, as
with Klipper's manual probe (Probe_Calibrate.md, G-Codes.md "TESTZ").
Units: mm, mm/s.

``TESTZ Z=<mm>`` moves the nozzle by that much; ``Z=+`` / ``Z=-`` move half
way to the nearest height already tried above / below (a bisection), and
``Z=++`` / ``Z=--`` all the way to it; none of these moves more than
:data:`BISECT_MAX_MM`. Every move ends going down: a target above the
nozzle, or less than :data:`BOB_MM` below it, is reached from
:data:`BOB_MM` above, so the lead screw's backlash is always taken the
same way. After each move it reports ``Z position: <tried below> --> <z>
<-- <tried above>`` (``??????`` where there is none). ``ACCEPT`` returns
the nozzle's Z, refused when the nozzle is not below where it started, at
the same X, Y; ``ABORT`` ends it with no result.
"""
import bisect

from mendel.errors import CommandError

BISECT_MAX_MM = 0.2        # largest step of a Z=+ / Z=- bisection (Klipper's)
BOB_MM = 0.5               # approach every height from this far above
SPEED_MM_S = 5.0           # Z speed of TESTZ moves ([manual_probe] speed's default)
_NONE = "??????"


class ManualProbeError(CommandError):
    """A TESTZ / ACCEPT that cannot be done."""


class ManualProbe:
    """A manual probe that starts where ``toolhead`` (its ``position``,
    ``move(target, speed)``) is now."""

    def __init__(self, toolhead, speed=SPEED_MM_S):
        self.toolhead = toolhead
        self.speed = speed
        self.start = list(toolhead.position[:3])
        self.tried = []                # heights tested so far, sorted (mm)

    def testz(self, request):
        """TESTZ Z=``request`` (text: a number of mm, or + - ++ --): moves and
        returns the report lines. Raises ManualProbeError for other text."""
        z = self.toolhead.position[2]
        index = bisect.bisect_left(self.tried, z)
        if index >= len(self.tried) or self.tried[index] != z:
            self.tried.insert(index, z)
        target = self._target(request, z, index)
        self._move_z(target)
        lines = []
        if target == z:
            lines.append("WARNING: No change in position (reached stepper resolution)")
        return lines + [self.status()]

    def _target(self, request, z, index):
        if request in ("+", "++"):
            above = self.tried[index + 1] if index + 1 < len(self.tried) else None
            if above is None:
                return z + BISECT_MAX_MM
            goal = above if request == "++" else (above + z) / 2.0
            return min(goal, z + BISECT_MAX_MM)
        if request in ("-", "--"):
            below = self.tried[index - 1] if index > 0 else None
            if below is None:
                return z - BISECT_MAX_MM
            goal = below if request == "--" else (below + z) / 2.0
            return max(goal, z - BISECT_MAX_MM)
        try:
            return z + float(request)
        except (TypeError, ValueError):
            raise ManualProbeError("TESTZ Z=%s: Z is a distance in mm or one of + - ++ --"
                                   % request) from None

    def _move_z(self, z):
        toolhead = self.toolhead
        target = list(toolhead.position)
        if target[2] < z + BOB_MM:
            target[2] = z + BOB_MM
            toolhead.move(list(target), self.speed)
        target[2] = z
        toolhead.move(target, self.speed)

    def status(self):
        """``Z position: <below> --> <z> <-- <above>`` for the nozzle now."""
        z = self.toolhead.position[2]
        low = bisect.bisect_left(self.tried, z)
        high = low + 1 if low < len(self.tried) and self.tried[low] == z else low
        below = "%.3f" % self.tried[low - 1] if low > 0 else _NONE
        above = "%.3f" % self.tried[high] if high < len(self.tried) else _NONE
        return "Z position: %s --> %.3f <-- %s" % (below, z, above)

    def accept(self):
        """The nozzle's Z (mm) as the result. Raises ManualProbeError when
        the nozzle was not lowered at the X, Y where the probe started."""
        position = self.toolhead.position
        if list(position[:2]) != self.start[:2] or position[2] >= self.start[2]:
            raise ManualProbeError("Manual probe failed! Use TESTZ commands to position the "
                                   "nozzle prior to running ACCEPT.")
        return position[2]
