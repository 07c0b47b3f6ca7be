# Mendel host: the command line's parser.
# SPDX-License-Identifier: GPL-3.0-or-later
"""An argparse parser that refuses an unknown option before it reads the rest.

argparse hands a subcommand's arguments to the subparser with
``parse_known_args``: an option it does not know (``--confg``) is set aside,
the value after it (``x.cfg``) fills the next positional (the G-code file),
and only then does the top-level parser complain, with its own usage, about
``--confg x.cfg`` or ``--confg FILE``. :class:`Parser` (used for every
subcommand too, as argparse gives subparsers their parent's class) checks
each ``-x``/``--xxx`` word first: one that is neither an option of that
command nor an unambiguous prefix of one is an error naming it, with the
nearest option when one is close.
"""
import argparse
import difflib
import re
import sys

# A word argparse reads as an option: a dash then a letter (not "-5", "-", "--").
_OPTION_WORD = re.compile(r"^--?[A-Za-z]")


class Parser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose commands refuse unknown options by name."""

    def parse_known_args(self, args=None, namespace=None):
        # A command's words are all its own; before a subcommand, only those
        # up to the subcommand's name are this parser's.
        self._refuse_unknown(sys.argv[1:] if args is None else args,
                             leading_only=self._subparsers is not None)
        return super().parse_known_args(args, namespace)

    def _refuse_unknown(self, words, leading_only):
        known = [s for action in self._actions for s in action.option_strings]
        for word in words:
            if word == "--":
                return                       # positionals only from here
            if not _OPTION_WORD.match(word):
                if leading_only:
                    return
                continue
            name = word.split("=", 1)[0]
            if name in known or (self.allow_abbrev and name.startswith("--") and any(
                    option.startswith(name) for option in known)):
                continue
            near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = ("options of a command go after it: %s COMMAND --help" % self.prog
                    if leading_only else "%s --help lists the options" % self.prog)
            self.error("unknown option %s%s" % (
                name, "; did you mean %s?" % near[0] if near else " (%s)" % hint))
