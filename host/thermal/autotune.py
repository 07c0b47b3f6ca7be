# Mendel host: PID gains from a relay autotune (M303, `mendel pid-tune`).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Turn the board's relay experiment into PID gains.

Units: Ku in output fraction per degC (the board's), Tu in s; gains are
returned in Klipper's printer.cfg units (output 0..255, ``PID_PARAM_BASE``).

The relay runs on the board (firmware/thermal/autotune.py: switching at the
control rate whatever the link does, safety checks active); the host starts it,
polls its progress and applies a tuning rule to the ultimate gain Ku and
period Tu it measured. Rules, as (Kp/Ku, Ti/Tu, Td/Tu) with Ki = Kp/Ti and
Kd = Kp*Td:

* ``ziegler-nichols`` (the default): 0.6, 1/2, 1/8 -- Ziegler & Nichols,
  Trans. ASME 64 (1942), the "classic" ultimate-gain rule, which Marlin's
  M303 and Klipper's PID_CALIBRATE also use. With derivative on measurement
  and conditional integration on the board it gives < 1 degC overshoot on the
  simulated E3D V6 (tests/test_autotune.py).
* ``some-overshoot``: 0.33, 1/2, 1/3 and ``no-overshoot``: 0.2, 1/2, 1/3 --
  the variants in Astrom & Hagglund, "PID Controllers" (2nd ed., 1995).
* ``tyreus-luyben``: 0.45, 2.2, 1/6.3 -- Tyreus & Luyben, Ind. Eng. Chem.
  Res. 31 (1992): slower, for lagging plants such as big beds.
"""
import dataclasses

PID_PARAM_BASE = 255.0
RULES = {
    "ziegler-nichols": (0.6, 0.5, 0.125),
    "some-overshoot": (0.33, 0.5, 1.0 / 3.0),
    "no-overshoot": (0.2, 0.5, 1.0 / 3.0),
    "tyreus-luyben": (0.45, 2.2, 1.0 / 6.3),
}
DEFAULT_RULE = "ziegler-nichols"


class AutotuneError(Exception):
    """The relay experiment failed or was given impossible parameters."""


@dataclasses.dataclass
class TuneResult:
    """Outcome of one relay autotune; gains in Klipper units (output 0..255)."""
    heater: str
    target_c: float
    cycles: int
    ku: float
    tu_s: float
    rule: str
    kp: float
    ki: float
    kd: float

    def config_lines(self):
        """The printer.cfg lines that keep these gains."""
        return ["pid_kp = %.3f" % self.kp, "pid_ki = %.3f" % self.ki,
                "pid_kd = %.3f" % self.kd]


def gains(ku, tu_s, rule=DEFAULT_RULE):
    """(Kp, Ki, Kd) in Klipper units from Ku (fraction/degC) and Tu (s)."""
    if rule not in RULES:
        raise AutotuneError("unknown tuning rule %r (one of %s)" % (rule, ", ".join(RULES)))
    if ku <= 0.0 or tu_s <= 0.0:
        raise AutotuneError("relay experiment gave Ku=%g, Tu=%g s" % (ku, tu_s))
    kp_ratio, ti_ratio, td_ratio = RULES[rule]
    kp = kp_ratio * ku
    ki = kp / (ti_ratio * tu_s)
    kd = kp * td_ratio * tu_s
    return kp * PID_PARAM_BASE, ki * PID_PARAM_BASE, kd * PID_PARAM_BASE
