# Mendel host: the configfile printer object.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``configfile``: printer.cfg as read at start (Klipper's Status_Reference).

* ``config``: {section: {key: text}}, every section as written (``[include]``
  files merged), values as text;
* ``settings``: the same with section names in lower case and values that
  read as numbers as numbers (Klipper gives parsed values; Mendel's config
  reader keeps no per-key types, so a number is the closest it can say);
* ``save_config_pending``: whether SAVE_CONFIG has results to write;
  ``save_config_pending_items``: {section: {key: text}} of them (a section
  SAVE_CONFIG would drop: null);
* ``warnings``: [{"type": "runtime_warning", "message": text}] of the config
  warnings Mendel found at load (Klipper's type for warnings that are not
  deprecations).
"""


def objects(sources):
    return {"configfile": lambda _t: configfile(sources)}


def configfile(sources):
    """The ``configfile`` status of ``sources`` (see the module docstring)."""
    config = sources.config
    values = getattr(config, "values", None) or _macro_values(sources)
    pending = getattr(sources.machine, "pending", None)
    changes = dict(getattr(pending, "changes", None) or {})
    return {
        "config": {section: dict(keys) for section, keys in values.items()},
        "settings": {section.lower(): {key: _number(text) for key, text in keys.items()}
                     for section, keys in values.items()},
        "save_config_pending": bool(changes),
        "save_config_pending_items": {section: None if keys is None else dict(keys)
                                      for section, keys in changes.items()},
        "warnings": [{"type": "runtime_warning", "message": str(text)}
                     for text in getattr(config, "warnings", None) or ()],
    }


def _macro_values(sources):
    """printer.cfg's sections as a MacroSet kept them (a config not read by
    :func:`mendel.config.load`, as in tests)."""
    macros = sources.macros if sources.macros is not None else sources.interpreter.macros
    return getattr(macros, "config_values", None) or {}


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text
