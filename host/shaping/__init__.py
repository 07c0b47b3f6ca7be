# Mendel host: input shaping (shapers, resonance measurement and calibration).
# SPDX-License-Identifier: GPL-3.0-or-later
