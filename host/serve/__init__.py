# Mendel host: a virtual serial port that speaks Marlin's host protocol.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``mendel serve``: OctoPrint, Pronterface and other Marlin hosts drive Mendel
through a pseudo-terminal, as they would a Marlin printer on /dev/ttyACM0.

:mod:`.protocol` is the line layer (line numbers, checksums, resend requests)
and the report formats; :mod:`.session` runs the accepted commands on a
:class:`mendel.machine.printer.Printer`; :mod:`.port` is the pty and its loop.
"""
