# Mendel host: SAVE_CONFIG on a running printer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the pending results into printer.cfg's SAVE_CONFIG block and put
the saved values into use.

Klipper restarts after SAVE_CONFIG to read them. Mendel writes the block
(:meth:`mendel.config.autosave.PendingSave.save`: the user's lines kept
byte for byte, one backup), reads the whole file back with
:func:`mendel.config.load` (so what is in use is what the next start will
read) and copies the values that take effect without a restart into the
running config: the probe's section (z_offset, ...) and the bed mesh
profiles. Anything else saved (a heater's PID gains) is used from the
next start, and the reply says so.
"""
import dataclasses
import os

from mendel import config as config_mod
from mendel import resources
from mendel.config.autosave import AutosaveError

# Sections whose saved values the running printer takes at once
# ([input_shaper]: SHAPER_CALIBRATE applied its result already).
LIVE = ("probe", "bltouch", "input_shaper")
MESH_PROFILE = "bed_mesh "    # a [bed_mesh NAME] profile section


def save_config(config, pending):
    """SAVE_CONFIG for the running ``config`` (a Config) and its
    ``pending`` (a PendingSave). Returns the reply lines. Raises
    AutosaveError (the bundled config, a conflict) or OSError."""
    if not pending:
        return ["SAVE_CONFIG: no pending changes to save"]
    path = pending.path
    if os.path.dirname(os.path.abspath(path)) == os.path.dirname(resources.default_config()):
        raise AutosaveError("SAVE_CONFIG: %s is Mendel's bundled printer.cfg: copy it, run "
                            "with --config <your copy>, and calibrate again" % path)
    sections = sorted(pending.changes)
    backup = pending.save()
    fresh = config_mod.load(path)
    _take(config, fresh)
    later = [name for name in sections if name not in LIVE
             and not name.startswith(MESH_PROFILE)]
    lines = ["SAVE_CONFIG: saved %s to %s (the previous file is %s)"
             % (" ".join("[%s]" % name for name in sections), path, backup),
             "The new values are in use (read back from %s; no restart)." % path]
    if later:
        lines.append("%s take effect at the next start."
                     % " ".join("[%s]" % name for name in later))
    return lines


def _take(config, fresh):
    """Copy the live-updatable values of ``fresh`` into ``config``, in place
    (objects that hold the probe's config see the new values)."""
    if config.probe is not None and fresh.probe is not None:
        for field in dataclasses.fields(fresh.probe):
            setattr(config.probe, field.name, getattr(fresh.probe, field.name))
    config.mesh_profiles.clear()
    config.mesh_profiles.update(fresh.mesh_profiles)
    config.input_shaper = fresh.input_shaper
