# Mendel host: the run log a lab can analyse.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every ``mendel print`` and ``mendel console`` run writes a JSON-lines log.

One JSON object per line, each with ``kind``, ``wall_s`` (s since the run
started, host clock) and, once the board is connected, ``board_s`` (board
clock, s, as the host sees it when it writes the entry: the host reads ahead
of the motion by its look-ahead queue). Kinds and their other fields:

* ``start``: ``command`` (print/console), ``file``, ``config``, ``port``
  (None: simulated board), ``mendel`` (version), ``time`` (ISO 8601 UTC);
* ``command``: ``line`` (line number in the file or console session),
  ``text`` (the G-code line as read, comments included);
* ``layer``: ``layer`` (number from 1, see :mod:`mendel.gcode.layers`), ``line``;
* ``temperature``: per heater ``{name: [temp_c, target_c, duty]}`` in
  ``heaters`` (duty 0..1);
* ``link``: ``retransmits`` (frames the host sent again since the start),
  logged when it grows;
* ``warning``, ``echo`` (a reply such as M114's), ``error``: ``text`` (a
  console's refused line also has ``line``); ``shutdown``: ``reason`` (the board's);
  ``emergency_stop``: sent by the user (M112 or Ctrl-\\);
* ``end``: ``status`` (``ok``, ``error``, ``interrupted``) and, after a
  finished print, ``summary`` (as ``mendel print --json``).

The default place is ``./mendel-logs/<UTC time>-<file stem>.jsonl``;
``--log PATH`` chooses another, ``--no-log`` writes none. That folder keeps
the newest ``DEFAULT_KEEP`` logs (``--keep-logs N`` or ``$MENDEL_KEEP_LOGS``;
0 keeps them all): when a run starts its log there, the oldest beyond that
are deleted (:func:`prune`). A log written with ``--log`` is never deleted.
"""
import datetime
import json
import os
import re
import time

from mendel import __version__
from mendel.errors import MendelError

DEFAULT_FOLDER = "mendel-logs"
DEFAULT_KEEP = 50
KEEP_ENV = "MENDEL_KEEP_LOGS"
# Names default_path gives (the only files prune deletes).
_LOG_NAME = re.compile(r"^\d{8}-\d{6}-.*\.jsonl$")


def default_path(name, folder=DEFAULT_FOLDER, now=None):
    """``<folder>/<YYYYmmdd-HHMMSS>-<stem of name>.jsonl`` (UTC), not yet taken."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    stem = os.path.splitext(os.path.basename(name))[0] or "run"
    base = os.path.join(folder, "%s-%s" % (now.strftime("%Y%m%d-%H%M%S"), stem))
    path, n = base + ".jsonl", 1
    while os.path.exists(path):
        n += 1
        path = "%s-%d.jsonl" % (base, n)
    return path


def keep_count(flag=None, environ=os.environ):
    """How many logs the default folder keeps: ``flag`` (``--keep-logs``) if
    given, else ``$MENDEL_KEEP_LOGS``, else DEFAULT_KEEP; 0 keeps them all.
    Raises MendelError for an environment value that is not a count."""
    if flag is not None:
        return flag
    text = environ.get(KEEP_ENV, "").strip()
    if not text:
        return DEFAULT_KEEP
    if not text.isdigit():
        raise MendelError("%s=%s: not a number of run logs to keep (0 keeps them all)"
                          % (KEEP_ENV, text))
    return int(text)


def prune(folder, keep):
    """Delete the oldest run logs of ``folder`` (files named as
    :func:`default_path` names them) until ``keep`` (>= 0) remain; oldest by
    the UTC second in the name, then, within one second (``...-part.jsonl``,
    ``...-part-2.jsonl``), by when the file was last written. Returns the
    deleted paths."""
    if not os.path.isdir(folder):
        return []
    paths = [os.path.join(folder, n) for n in os.listdir(folder) if _LOG_NAME.match(n)]
    logs = sorted((os.path.basename(p)[:15], os.stat(p).st_mtime_ns, p)
                  for p in paths if os.path.isfile(p))
    gone = [p for _second, _mtime, p in logs[:max(0, len(logs) - keep)]]
    for path in gone:
        os.remove(path)
    return gone


class RunLog:
    """A JSON-lines run log at ``path`` (folders made as needed).

    ``clock`` is a callable returning the board time in s, or None before the
    board is connected (see :meth:`attach`). Raises OSError when the file
    cannot be written.
    """

    def __init__(self, path, clock=None):
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self.path = path
        self._stream = open(path, "w", encoding="utf-8", buffering=1 << 16)
        self._start = time.monotonic()
        self._clock = clock
        self.retransmits = 0

    def attach(self, clock):
        """From now on stamp entries with ``clock()`` (board time, s)."""
        self._clock = clock

    def write(self, kind, **fields):
        entry = {"kind": kind, "wall_s": round(time.monotonic() - self._start, 4)}
        if self._clock is not None:
            entry["board_s"] = round(self._clock(), 4)
        entry.update(fields)
        self._stream.write(json.dumps(entry) + "\n")

    def start(self, command, file=None, config=None, port=None):
        self.write("start", command=command, file=file, config=config, port=port,
                   mendel=__version__,
                   time=datetime.datetime.now(datetime.timezone.utc).isoformat())

    def command(self, line, text):
        self.write("command", line=line, text=text)

    def temperatures(self, readings):
        """``readings``: ``{heater: (temp_c, target_c, duty)}``."""
        self.write("temperature", heaters={name: [round(v, 3) for v in reading]
                                           for name, reading in readings.items()})

    def link(self, retransmits):
        """Log the link's resend counter when it has grown since the last entry."""
        if retransmits > self.retransmits:
            self.retransmits = retransmits
            self.write("link", retransmits=retransmits)

    def close(self, status, summary=None):
        fields = {"status": status}
        if summary is not None:
            fields["summary"] = summary
        self.write("end", **fields)
        self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        if not self._stream.closed:
            self._stream.close()


def read(path):
    """Every entry of a run log, as dicts, in order.

    Raises ValueError naming the line when a line is not a JSON object; an
    unfinished last line (a run that crashed mid-write) is left out.
    """
    entries = []
    with open(path, encoding="utf-8") as stream:
        for number, text in enumerate(stream, 1):
            if not text.strip():
                continue
            try:
                entry = json.loads(text)
            except json.JSONDecodeError as exc:
                if not text.endswith("\n"):
                    break
                raise ValueError("%s:%d: not a run log line: %s" % (path, number, exc)) from None
            if not isinstance(entry, dict) or "kind" not in entry:
                raise ValueError("%s:%d: not a run log entry" % (path, number))
            entries.append(entry)
    return entries


def temperature_series(entries):
    """``{heater: (times_s, temps_c, targets_c)}`` from run log ``entries``.

    Times are board time (s) where logged, else wall time.
    """
    series = {}
    for entry in entries:
        if entry["kind"] != "temperature":
            continue
        when = entry.get("board_s", entry["wall_s"])
        for name, (temp, target, _duty) in entry["heaters"].items():
            times, temps, targets = series.setdefault(name, ([], [], []))
            times.append(when)
            temps.append(temp)
            targets.append(target)
    return series
