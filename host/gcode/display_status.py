# Mendel host: what a printer's display shows (Klipper's display_status).
# SPDX-License-Identifier: GPL-3.0-or-later
"""The message and progress a G-code file sets for the printer's display.

As Klipper's G-Codes document and Status_Reference (``display_status``):

* ``M117 <text>`` sets the message; ``M117`` alone clears it.
  ``SET_DISPLAY_TEXT MSG=<text>`` does the same (no MSG clears it).
* ``M73 P<percent>`` sets the progress, 0..100 percent, kept as a fraction
  0..1 (a value outside is clamped, as Klipper does).

The interpreter owns one as ``interpreter.display_status``; a server reads
:meth:`DisplayStatus.status`.
"""


class DisplayStatus:
    """Message (str or None) and progress (fraction 0..1) of the display."""

    def __init__(self):
        self.message = None
        self.progress = None        # M73's fraction; None until an M73 sets one
        # Progress shown without M73 (a file printing from the virtual_sdcard:
        # its bytes read), as Klipper's display_status falls back to it.
        self.fallback_progress = None

    def reset_progress(self):
        """A new print: M73's progress is forgotten."""
        self.progress = None

    def set_message(self, text):
        """Show ``text``; empty text or None clears the message."""
        self.message = text or None

    def set_progress(self, percent):
        """M73 P: ``percent`` 0..100 (clamped) as the fraction 0..1; not a
        number (nan) leaves the progress as it was."""
        if percent != percent:
            return
        self.progress = min(max(percent, 0.0), 100.0) / 100.0

    def status(self, eventtime=None):
        """Klipper's ``display_status`` object: {"progress": 0..1, "message": str|None}.
        ``eventtime`` (s) is accepted for the status interface and not used."""
        progress = self.progress
        if progress is None:
            progress = self.fallback_progress() if self.fallback_progress else 0.0
        return {"progress": progress, "message": self.message}
