# Mendel host: G-code macros from printer.cfg (Klipper's [gcode_macro]).
# SPDX-License-Identifier: GPL-3.0-or-later
"""``[gcode_macro NAME]`` sections: a named G-code template that a file or
another macro calls like a command (``PRINT_START BED=60 EXTRUDER=210``).

Keys, as Klipper's Config_Reference and Command_Templates documents:

* ``gcode``: the template, Jinja2 with Klipper's delimiters: ``{ expr }`` for
  values, ``{% ... %}`` for statements, ``{# ... #}`` for comments.
* ``description``: one line of help (``mendel config check`` lists it).
* ``variable_<name>``: a Python literal (``50``, ``'PLA'``, ``[1, 2]``), read as
  ``printer["gcode_macro NAME"].<name>``; ``SET_GCODE_VARIABLE MACRO=NAME
  VARIABLE=<name> VALUE=<literal>`` changes it.

* ``rename_existing``: the macro takes the name of an existing command (a
  built-in such as G28 or PAUSE), which stays reachable under this other
  name (Klipper's key). The interpreter makes the swap
  (:meth:`mendel.gcode.interpreter.Interpreter`); a macro named like a
  built-in without it is refused.

With macros comes Klipper's ``SET_GCODE_VARIABLE``; ``SAVE_GCODE_STATE``,
``RESTORE_GCODE_STATE`` and ``RESPOND`` are always there
(:mod:`mendel.gcode.macro_commands`).

A template sees ``params`` (the call's parameters: ``KEY=VALUE`` words, keys
upper-cased, values as text; for a macro named like a G-code, ``M600 X5``,
the letter words), ``rawparams`` (the text after the command name),
``printer`` (a read-only view of the printer's state, Klipper's printer
objects: ``toolhead``, ``gcode_move``, ``extruder``, ``heater_bed``,
``configfile``, ``gcode_macro NAME`` ...; see :mod:`mendel.status`), and ``action_respond_info(msg)``,
``action_raise_error(msg)``, ``action_emergency_stop(msg)``.

The rendered text runs line by line through the same interpreter as the
file, so a macro may call built-in commands and other macros. A macro that
calls itself, directly or through others, is refused. An error inside a
macro stops it and names the macro chain, its printer.cfg line and the
output line; the interpreter adds the calling file's line.

Templates run in Jinja2's sandbox: they read the printer, they cannot reach
into Python objects.
"""
import ast
import copy
import dataclasses
import re

import jinja2
import jinja2.sandbox

from mendel import status
from mendel.errors import CommandError, printable
from mendel.gcode.arcs import ArcError
from mendel.gcode.macro_commands import COMMANDS, MacroError, keyword_params

SECTION = "gcode_macro"
# Names the G-code reader reads as one command: two letters (or a letter and _)
# first, like PRINT_START; "_NAME" helpers, callable from other macros.
_NAME = re.compile(r"([A-Z][A-Z_]|_)[A-Z0-9_]*$")
_GCODE_NAME = re.compile(r"[GMT]\d+(\.\d+)?$")
_VARIABLE = "variable_"

@dataclasses.dataclass
class Macro:
    """One ``[gcode_macro NAME]``: its template, description, variables and
    where it is written (``path``, ``line`` of its ``gcode`` key)."""
    name: str
    template: jinja2.Template
    description: str
    variables: dict
    path: str
    line: int
    rename_existing: str = None     # the existing command NAME's new name, or None

    def where(self):
        return "%s:%d" % (self.path, self.line)


def _environment():
    # Klipper's delimiters: { } for expressions, so "M104 S{params.T}" reads naturally.
    return jinja2.sandbox.SandboxedEnvironment(
        block_start_string="{%", block_end_string="%}",
        variable_start_string="{", variable_end_string="}",
        comment_start_string="{#", comment_end_string="#}",
        keep_trailing_newline=True)


def builtin_names():
    """Command names a macro may not take: the interpreter's own."""
    from mendel.gcode.interpreter import Interpreter

    class _Still:
        position = [0.0, 0.0, 0.0, 0.0]

    return set(Interpreter(_Still())._handlers) | set(COMMANDS)


class MacroSet:
    """The macros of one printer.cfg, by upper-case name; runs them for an
    interpreter (:meth:`call`)."""

    def __init__(self, macros=(), config_values=None):
        self.macros = {macro.name: macro for macro in macros}
        self.config_values = config_values or {}
        self.calls = {}              # name -> times called
        self._stack = []

    @classmethod
    def from_sections(cls, sections, problems):
        """MacroSet of ``[gcode_macro NAME]`` sections (config._Section objects);
        each wrong one adds a config Problem to ``problems`` and is left out."""
        env = _environment()
        builtins = builtin_names()
        macros = []
        for section in sections:
            macro = _macro(env, section, builtins, problems)
            if macro is not None:
                macros.append(macro)
        parser = sections[0].parser if sections else None
        values = {}
        if parser is not None:
            values = {name: dict(parser.items(name)) for name in parser.sections()}
        return cls(macros, values)

    def session(self):
        """A copy for one run of a file: its own variables and call counts."""
        return MacroSet([dataclasses.replace(m, variables=copy.deepcopy(m.variables))
                         for m in self], self.config_values)

    def __contains__(self, name):
        return name in self.macros or (name in COMMANDS and bool(self.macros))

    def __len__(self):
        return len(self.macros)

    def __iter__(self):
        return iter(self.macros.values())

    # -- running -------------------------------------------------------
    def call(self, interpreter, command):
        """Run the macro ``command.code`` for ``interpreter`` (its machine and
        modal state). Raises MacroError (a CommandError)."""
        name = command.code
        raw = command.text or ""
        if _GCODE_NAME.match(name):
            raw = _after_code(command.raw)
        self.run(interpreter, name, raw)

    def run(self, interpreter, name, rawparams):
        """Run macro ``name`` with parameter text ``rawparams``."""
        params = _params(name, rawparams, " > ".join(self._stack + [name]))
        command = COMMANDS.get(name)
        if command is not None:
            command(self, interpreter, params)
            return
        self.run_macro(interpreter, self.macros[name], rawparams, params)

    def run_macro(self, interpreter, macro, rawparams, params=None):
        """Run ``macro`` (one of this set, or a Macro of its own section such
        as [homing_override]'s) with parameter text ``rawparams``."""
        name = macro.name
        if name in self._stack:
            raise MacroError("macro %s calls itself (%s): a macro may not recurse"
                             % (name, " > ".join(self._stack + [name])))
        if self.macros.get(name) is macro:
            self.calls[name] = self.calls.get(name, 0) + 1
        if params is None:
            params = _params(name, rawparams, " > ".join(self._stack + [name]))
        self._stack.append(name)
        try:
            text = self._render(interpreter, macro, params, rawparams)
            for number, line in enumerate(text.split("\n"), 1):
                self._execute(interpreter, macro, number, line)
        finally:
            self._stack.pop()

    def _chain(self):
        """The running macros, outermost first: ``PRINT_START > HEAT``."""
        return " > ".join(self._stack)

    def _render(self, interpreter, macro, params, rawparams):
        # The macro's variable_<name> values are names of the template too,
        # as in Klipper (gcode_macro's context: its variables, then params).
        context = dict(macro.variables)
        context.update({
            "params": params, "rawparams": rawparams,
            "printer": printer_status(interpreter, self),
            "action_respond_info": lambda msg: _respond(interpreter, msg),
            "action_raise_error": _raise_error,
            "action_emergency_stop": lambda msg="action_emergency_stop":
                _emergency(interpreter, msg),
        })
        try:
            return macro.template.render(context)
        except _RaisedError as exc:
            raise MacroError("macro %s (%s): %s" % (self._chain(), macro.where(),
                                                    exc)) from None
        except MacroError:
            raise
        except Exception as exc:     # a template's own error: bad filter input, x / 0 ...
            raise MacroError("macro %s (%s): cannot render: %s: %s"
                             % (self._chain(), macro.where(),
                                type(exc).__name__, exc)) from None

    def _execute(self, interpreter, macro, number, line):
        from mendel.gcode.reader import parse_text
        text = line.strip()
        if not text or text.startswith(";"):
            return
        word = text.split(None, 1)[0].upper()
        try:
            if word in self and not _GCODE_NAME.match(word):
                self.run(interpreter, word, _strip_comment(text[len(word):]))
                return
            for command in parse_text(text):
                command.lineno = interpreter.lines     # reports name the calling line
                interpreter.execute(command)
        except MacroError:
            raise
        except (CommandError, ArcError) as exc:
            raise MacroError("macro %s (%s), output line %d %r: %s"
                             % (self._chain(), macro.where(), number,
                                printable(text, 60), exc)) from None


def _macro(env, section, builtins, problems):
    """Macro from one section, or None after adding its problems."""
    name = section.name.split(None, 1)[1].strip().upper() if " " in section.name else ""
    before = len(problems)
    if not _NAME.match(name) and not _GCODE_NAME.match(name):
        problems.append(section.problem(None, "%r is not a command name: two letters (or a "
                                              "letter and _) first, then letters, digits, _ "
                                              "(PRINT_START), or a G-code (M600)" % name))
    rename = _rename_existing(section, name, builtins, problems)
    if rename is None and (name in builtins or name[0] == "T" and _GCODE_NAME.match(name)):
        problems.append(section.problem(None, "%s is a built-in command; a macro cannot "
                                              "replace it without rename_existing: <new "
                                              "name of the built-in>" % name))
    if not section.has("gcode"):
        problems.append(section.problem("gcode", "required key is missing"))
    source = section.get("gcode", "")
    description = section.get("description", "G-code macro")
    variables = {}
    for key in section.keys():
        if key.startswith(_VARIABLE):
            raw = section.get(key)
            try:
                variables[key[len(_VARIABLE):]] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                problems.append(section.problem(
                    key, "%r is not a Python literal (numbers as 50, text quoted as "
                         "'PLA', lists as [1, 2])" % raw))
    template = _template(env, section, source, problems)
    if template is None or len(problems) > before:
        return None
    path, line = section.parser.where(section.name, "gcode")
    return Macro(name, template, description, variables, path, line, rename)


def _rename_existing(section, name, builtins, problems):
    """The ``rename_existing`` name (upper case) of ``section``, or None
    (absent, or a Problem added). Whether ``name`` is a command is known
    only to the interpreter that runs it (commands such as PAUSE come from
    the session), so only the new name is checked here."""
    if not section.has("rename_existing"):
        return None
    other = section.get("rename_existing").strip().upper()
    if not _NAME.match(other) and not _GCODE_NAME.match(other):
        problems.append(section.problem("rename_existing", "%r is not a command name" % other))
        return None
    if other in builtins or other == name:
        problems.append(section.problem("rename_existing", "%s is already a command" % other))
        return None
    return other


def _template(env, section, source, problems):
    """The compiled ``gcode`` template of ``section``, or None after adding a
    Problem at the template's faulty line."""
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        lines = section.parser.value_lines(section.name, "gcode")
        raw = section.parser.get(section.name, "gcode")
        skipped = raw[:len(raw) - len(raw.lstrip())].count("\n")   # blank lines stripped
        problem = section.problem("gcode", "template error: %s" % exc.message)
        if exc.lineno and exc.lineno + skipped <= len(lines):
            problem.line = lines[exc.lineno - 1 + skipped]
        problems.append(problem)
        return None


def template_macro(section, name, problems):
    """A Macro ``name`` from the required ``gcode`` key of a non-macro
    section (``[homing_override]``), compiled as macros are; None after adding
    its Problem to ``problems``."""
    template = _template(_environment(), section, section.get("gcode"), problems)
    if template is None:
        return None
    path, line = section.parser.where(section.name, "gcode")
    return Macro(name, template, "G-code of [%s]" % section.name, {}, path, line)


def _params(name, rawparams, chain):
    """Parameters of a call: ``KEY=VALUE`` words (shell quoting), or for a
    G-code-like name the letter words (``X5`` -> X: "5")."""
    params = {}
    if _GCODE_NAME.match(name):
        for word in rawparams.split():
            params[word[0].upper()] = word[1:]
        return params
    return keyword_params(rawparams, "macro " + chain)


def _after_code(raw):
    """The text after the command word of a G-code-style line, comment removed."""
    parts = _strip_comment(raw).split(None, 1)
    return parts[1] if len(parts) > 1 else ""


def _strip_comment(text):
    return text.split(";", 1)[0].strip()


class _RaisedError(Exception):
    """action_raise_error() in a template."""


def _raise_error(msg):
    raise _RaisedError(msg)


def _respond(interpreter, msg):
    interpreter.machine.respond(str(msg))
    return ""


def _emergency(interpreter, msg):
    interpreter.machine.respond("emergency stop: %s" % msg)
    interpreter.machine.emergency_stop()
    return ""


def printer_status(interpreter, macros):
    """The ``printer`` object of a template: Klipper's printer objects of
    this interpreter's printer (:mod:`mendel.status`), each built when the
    template first reads it. ``printer["gcode_macro NAME"]`` shows the
    variables of ``macros``; under ``mendel serve`` the interpreter's
    ``status_sources`` (set by the session) adds the print job's objects."""
    sources = getattr(interpreter, "status_sources", None)
    if sources is None:
        sources = status.Sources(interpreter, macros=macros)
    return status.PrinterObjects(sources).template_view()
