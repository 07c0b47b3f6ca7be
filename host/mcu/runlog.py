# Mendel host: the step runs the host sends, written down as it sends them.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``mendel print --step-log FILE --port PORT``: the host's side of the step log.

Units: MCU clock ticks. One line per run, the simulated board's step log
format (firmware/hal/sim.py)::

    motor first_clock interval count add

``motor`` is the board's motor id; the run's k-th step (k = 0..|count|-1)
is commanded at ``first_clock + k*interval + add*k*(k+1)/2``, and
``first_clock`` is the motor's previous step (or ``set_step_clock``) plus
``interval`` (firmware/motion/stepper.py). A board on a real port (or the
emulated RP2040) has no log of its own; this one says what it was told, so
its pins can be checked against it.
"""
from mendel.mcu import codec


class SentRunLog:
    """Decodes the encoded ``set_step_clock``/``queue_step`` messages the toolhead
    sends and writes one line per run to ``path``. ``commands``: the board's
    command table (``Mcu.commands``: name -> [msgid, format])."""

    def __init__(self, path, commands):
        self._file = open(path, "w")
        self._set_clock = commands["set_step_clock"][0]
        self._queue_step = commands["queue_step"][0]
        self._formats = {msgid: fmt for msgid, fmt in (commands["set_step_clock"],
                                                       commands["queue_step"])}
        self._last = {}
        self.runs = 0

    def add(self, data, ends):
        """Log the runs in encoded ``data`` (bytes), messages ending at ``ends``."""
        if not len(ends):
            return
        lines = []
        for msgid, args in codec.decode_messages(bytes(data[:int(ends[-1])]), self._formats):
            if msgid == self._set_clock:
                self._last[args[0]] = args[1]
                continue
            oid, interval, count, add = args
            first = self._last[oid] + interval
            steps = abs(count)
            self._last[oid] += steps * interval + add * steps * (steps - 1) // 2
            lines.append("%d %d %d %d %d\n" % (oid, first, interval, count, add))
        self._file.writelines(lines)
        self.runs += len(lines)

    def close(self):
        self._file.close()
