"""Step positions and step times read off the emulated RP2040's pins.

Units: MCU clock ticks (12 MHz) for times, steps for positions.
"""
import numpy as np


def gpio(name):
    return int(name[4:])


def rising_ticks(emu, motor):
    """Ticks of every rising edge of ``motor``'s step pin (board motor dict), sorted,
    and the dir pin level at each (the PIO sets dir before it steps)."""
    step, direction = gpio(motor["step_pin"]), gpio(motor["dir_pin"])
    records = emu.edges([step, direction])
    level = 0
    rises, dirs = [], []
    for cycle, pin, value in zip(records["cycle"], records["pin"], records["level"]):
        if pin == direction:
            level = value
        elif value:
            rises.append(cycle)
            dirs.append(level)
    ticks = emu.ticks_of(np.array(rises, dtype=np.uint64))
    return ticks, np.array(dirs, dtype=np.int64)


def net_steps(emu, motor):
    """Net step position of ``motor`` from its pins (dir high: +1, unless dir_inverted)."""
    _ticks, dirs = rising_ticks(emu, motor)
    sign = np.where(dirs == (0 if motor.get("dir_inverted") else 1), 1, -1)
    return int(sign.sum())


def commanded_ticks(log_path, oid):
    """Commanded step times (ticks, in log order) of motor ``oid`` from a step log
    (``motor first_clock interval count add`` lines) and each step's sign.

    A run's step k (k = 0..|count|-1) is at ``first + k*interval + add*k*(k+1)/2``:
    ``first`` is the previous step plus ``interval``, and each later interval
    grows by ``add`` (firmware/motion/stepper.py)."""
    times, signs = [], []
    with open(log_path) as f:
        for line in f:
            parts = line.split()
            if parts[0] == "stop" or int(parts[0]) != oid:
                continue
            first, interval, count, add = (int(p) for p in parts[1:])
            k = np.arange(abs(count), dtype=np.int64)
            times.append(first + k * interval + add * k * (k + 1) // 2)
            signs.append(np.full(abs(count), 1 if count > 0 else -1))
    if not times:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(times), np.concatenate(signs)
