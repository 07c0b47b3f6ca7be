# Mendel host: `mendel selftest`, the bench-rig checks of a board.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bench-rig checks of one board and the report a builder publishes.

``mendel selftest [--port DEVICE] [--board NAME] [--config printer.cfg]
--report FILE`` connects to a board (the simulated one without ``--port``),
runs every check of :data:`mendel.selftest.run.CHECKS` in order and writes
``FILE`` (JSON) and ``FILE`` with ``.md`` (a Markdown summary). Reports in
``docs/reports/`` feed the board maturity table
(``python -m mendel.selftest.table docs/reports``).

Modules: :mod:`.checks` (a check's result; identity, clock, link under load),
:mod:`.motion` (step timing, endstop reads), :mod:`.thermal` (thermistors,
heater response), :mod:`.run` (the order, the board's session),
:mod:`.report` (JSON and Markdown), :mod:`.table` (the maturity table).
"""
