# Mendel firmware: sensors on a bus (accelerometers).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sensors the firmware reads over a bus; each is imported only when the
board file lists one (``"accelerometers"``), to spare the RP2040's heap."""
