"""Helpers of the tests that drive `mendel serve` with real hosts (import this,
as paths.py, not conftest)."""
import importlib
import os
import time

import pytest


def require(module, install):
    """Import ``module`` (a real host's); skip without it, fail on CI, where
    .ci/run installs it (``install``: the command that would)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        message = "%s is not installed: %s" % (module.split(".")[0], install)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def wait_for(predicate, timeout, what):
    """Poll ``predicate`` until true; fail after ``timeout`` s naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def step_totals(log):
    """Final step position of motors 0..3 (X, Y, Z, E) from the board's step
    log, counted from where G28 last stopped each at its endstop ("hit"
    lines): position_endstop, 0 in the bundled config."""
    totals = [0, 0, 0, 0]
    with open(log) as f:
        for line in f:
            if line.startswith(("heater", "fan")):   # output changes, not runs
                continue
            if line.startswith("hit"):
                totals[int(line.split()[2])] = 0
                continue
            oid, _first, _interval, count, _add = map(int, line.split())
            totals[oid] += count
    return totals


def served_port(server):
    """The pty path `mendel serve` (a Popen with stdout piped) prints first."""
    line = server.stdout.readline()
    assert "serving a Marlin-compatible serial port on /dev/" in line, line
    return line.split(" on ")[1].split()[0]


def _rewrite_writes(port, writes, old, new):
    """Make ``port.write`` (a host's serial port) replace the first ``old`` by
    ``new`` in the lines of the given write calls."""
    write, count = port.write, [0]

    def rewriting_write(data):
        count[0] += 1
        if count[0] in writes and old in data:
            data = data.replace(old, new, 1)
        return write(data)
    port.write = rewriting_write


def damage_writes(port, writes=(1000, 3000)):
    """Damage the lines of the given write calls: a digit slipped in before
    the checksum, as line noise would."""
    _rewrite_writes(port, writes, b"*", b"7*")


def split_writes(port, writes=(2000, 4000)):
    """Split the lines of the given write calls with a stray line end after
    the ``*``, as line noise would: the line arrives as ``N12 G1 X5*`` and a
    bare checksum (``71``)."""
    _rewrite_writes(port, writes, b"*", b"*\n")
