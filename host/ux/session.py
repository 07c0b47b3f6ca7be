# Mendel host: one command-line run with its run log and progress.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The run log and progress options of ``mendel print`` / ``mendel console``
and the bookkeeping around one run (how it ended goes into the log)."""
import argparse
import sys

from mendel.ux import runlog
from mendel.ux.monitor import PrintMonitor


def add_log_options(parser):
    """``--log PATH`` / ``--no-log``, ``--keep-logs N``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--log", metavar="PATH",
                       help="write the run log (JSON lines) here (default: "
                            "./%s/<UTC time>-<name>.jsonl)" % runlog.DEFAULT_FOLDER)
    group.add_argument("--no-log", action="store_true", help="write no run log")
    parser.add_argument("--keep-logs", type=_count, metavar="N",
                        help="./%s keeps the newest N run logs, this one included; "
                             "older ones are deleted (default: $%s, else %d; 0 keeps "
                             "them all)" % (runlog.DEFAULT_FOLDER, runlog.KEEP_ENV,
                                            runlog.DEFAULT_KEEP))


def _count(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError("%r is not a number of logs (0 keeps them all)"
                                         % text)
    return int(text)


def add_progress_options(parser):
    """``--progress`` / ``--quiet``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--progress", action="store_true",
                       help="show the progress bar even when stderr is not a terminal")
    group.add_argument("--quiet", action="store_true",
                       help="no progress bar and no warnings on stderr (the run log "
                            "and summary keep them)")


class RunSession:
    """A run of ``command`` on ``name`` (a file, or "console"), from parsed
    ``args`` (with ``--log``/``--no-log``). Use as a context manager; the log
    ends with the status: ``ok``, ``shutdown`` (the board shut down, an emergency stop
    say), ``interrupted`` or ``error``.

    Raises OSError when the run log cannot be created.
    """

    def __init__(self, args, command, name, stream=None):
        self.args = args
        self.stream = stream or sys.stderr
        self.quiet = getattr(args, "quiet", False)
        self.log = None
        self.kept = None             # logs the default folder keeps (None: --log PATH)
        if not getattr(args, "no_log", False):
            if not args.log:
                self.kept = runlog.keep_count(getattr(args, "keep_logs", None))
                if self.kept:        # room for this run's log among the newest
                    runlog.prune(runlog.DEFAULT_FOLDER, self.kept - 1)
            self.log = runlog.RunLog(args.log or runlog.default_path(name))
            self.log.start(command, file=name if command == "print" else None,
                           config=getattr(args, "config", None),
                           port=getattr(args, "port", None))
        args.log_path = self.log.path if self.log else None
        self.monitor = None
        self.summary = None

    @property
    def log_path(self):
        return self.log.path if self.log else None

    def log_where(self):
        """The run log's path and what its folder keeps, for the user (or None)."""
        if self.log is None:
            return None
        if not self.kept:
            return self.log.path
        return "%s (%s/ keeps the newest %d: --keep-logs N, $%s)" % (
            self.log.path, runlog.DEFAULT_FOLDER, self.kept, runlog.KEEP_ENV)

    def wants_bar(self):
        if self.quiet:
            return False
        return getattr(self.args, "progress", False) or self.stream.isatty()

    def watch(self, printer):
        """Attach a PrintMonitor to ``printer``; returns it."""
        self.monitor = PrintMonitor(printer, self.log, bar=self.wants_bar(),
                                    stream=None if self.quiet else self.stream)
        return self.monitor

    def warn(self, text):
        if self.monitor is not None:
            self.monitor.warn(text)
            return
        if self.log is not None:
            self.log.write("warning", text=text)
        if not self.quiet:
            print(text, file=self.stream)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, _tb):
        if self.monitor is not None:
            self.monitor.end()
        if self.log is None:
            return False
        if exc_type is not None:
            self.log.attach(None)        # the board may no longer answer
        mcu = self.monitor.printer.mcu if self.monitor else None
        shut_down = mcu is not None and mcu.shutdown_reason is not None
        if shut_down:
            self.log.write("shutdown", reason=mcu.shutdown_reason)
        if exc_type is None:
            status = "shutdown" if shut_down else "ok"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "interrupted"
        else:
            status = "error"
            self.log.write("error", text=str(exc))
        self.log.close(status, self.summary)
        return False
