# Mendel host: the machines the G-code interpreter drives.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machines behind the interpreter: :mod:`.toolhead` (planned moves to
timed step runs on a board, homing), :mod:`.printer` (a printer on a
connected board: heaters, fan, probe, bed mesh, ``mendel print``) and
:mod:`.check` (the machine that plans without a board: ``mendel check``)."""
