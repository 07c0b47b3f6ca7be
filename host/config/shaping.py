# Mendel host: the [input_shaper] section of printer.cfg.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``[input_shaper]`` as Klipper's Config_Reference describes it.

Keys (defaults): ``shaper_freq_x``, ``shaper_freq_y`` (0 Hz: that axis is
not shaped), ``shaper_type`` (mzv) for both axes, or ``shaper_type_x`` /
``shaper_type_y`` for one, ``damping_ratio_x``, ``damping_ratio_y`` (0.1).
The types are those of :mod:`mendel.shaping.shapers`. Shaping needs linear
kinematics (cartesian, CoreXY): a delta with a shaper frequency is refused.
"""
import dataclasses

from mendel.shaping.shapers import DEFAULT_DAMPING_RATIO, SHAPER_TYPES


@dataclasses.dataclass
class InputShaperConfig:
    """Per axis ("x", "y"): (shaper_type, shaper_freq Hz, damping_ratio)."""
    x: tuple
    y: tuple

    def axes(self):
        """``[(axis, type, freq, damping), ...]`` of both axes."""
        return [("x",) + tuple(self.x), ("y",) + tuple(self.y)]


def load(section, linear):
    """InputShaperConfig from the ``[input_shaper]`` Section, or None without
    it. ``linear``: the kinematics are linear. Raises ConfigError."""
    if section is None:
        return None
    common = section.getchoice("shaper_type", SHAPER_TYPES, "mzv")
    axes = {}
    for axis in "xy":
        shaper_type = section.getchoice("shaper_type_" + axis, SHAPER_TYPES, common)
        freq = section.getfloat("shaper_freq_" + axis, 0.0, minval=0.0)
        damping = section.getfloat("damping_ratio_" + axis, DEFAULT_DAMPING_RATIO,
                                   minval=0.0, below=1.0)
        if freq and not linear:
            section._fail("shaper_freq_" + axis, "input shaping needs cartesian or "
                                  "CoreXY kinematics (a delta's is not supported)")
        axes[axis] = (shaper_type, freq, damping)
    return InputShaperConfig(**axes)
