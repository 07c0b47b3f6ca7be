# Mendel host: benchmarks (`mendel bench`).
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks that print figures, each beside its baseline in the same run:
:mod:`~mendel.bench.motion` (the host's G-code-to-steps pipeline),
:mod:`~mendel.bench.link` (the link on the simulated board) and
:mod:`~mendel.bench.firmware` (the firmware's step-run throughput, on the
unix port and on an emulated RP2040). A benchmark asserts nothing.
"""
