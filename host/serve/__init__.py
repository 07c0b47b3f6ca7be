# Mendel host: `mendel serve`, a printer for Marlin hosts and Klipper's API.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``mendel serve``: OctoPrint, Pronterface and other Marlin hosts drive Mendel
through a pseudo-terminal, as they would a Marlin printer on /dev/ttyACM0, and
Moonraker (Mainsail, Fluidd) through Klipper's API socket (:mod:`mendel.api`).

:mod:`.protocol` is the line layer (line numbers, checksums, resend requests)
and the report formats; :mod:`.session` runs the accepted commands on a
:class:`.served_printer.ServedPrinter`, with its Marlin side in
:mod:`.marlin`, its console and API scripts in :mod:`.console` and files
printing from the virtual_sdcard in :mod:`.file_print`; :mod:`.port` is the
pty and its loop; :mod:`.server` puts them together.
"""
