# Mendel host: the planned move as the Cython kernels share it.
# SPDX-License-Identifier: GPL-3.0-or-later
# Field for field the layout of PLANNED_DTYPE (numpy, align=True) in
# _lookahead.pyx: start/end mm, axes_r mm per mm, move_d mm, accel mm/s^2,
# speeds mm/s, phase times s, the caller's tag.
from libc.stdint cimport int64_t

cdef struct Planned:
    double start[4]
    double end[4]
    double axes_r[4]
    double move_d
    double accel
    double start_v
    double cruise_v
    double end_v
    double accel_t
    double cruise_t
    double decel_t
    int64_t tag
