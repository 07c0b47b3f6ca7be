# Mendel host: accelerometers on the printer's board.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Accelerometers (``[adxl345]``): streaming samples from the board and the
G-code commands that read them.

* :mod:`mendel.accel.samples`: the board's data messages -> timed samples
  (numpy), pure functions.
* :mod:`mendel.accel.adxl345`: :class:`Accelerometer`, ``start()`` /
  ``stop()`` on a connected board; :func:`make_accelerometers` for a printer
  (``printer.accelerometers``: name -> Accelerometer).
* :mod:`mendel.accel.commands`: ``ACCELEROMETER_QUERY``, ``MEASURE_AXES_NOISE``.
"""


class AccelError(Exception):
    """An accelerometer cannot be read; the message says which and why."""
