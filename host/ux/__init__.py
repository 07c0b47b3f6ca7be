# Mendel host: what a user sees of a print: progress, run logs, console, plots.
# SPDX-License-Identifier: GPL-3.0-or-later
