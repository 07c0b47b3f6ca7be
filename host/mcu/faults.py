# Mendel host: a serial line that misbehaves on purpose.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault injection between the host and the board, for tests and demos.

:class:`FaultyPort` wraps a pyserial-like port and, in both directions,
drops, flips, duplicates and inserts bytes at given rates (per byte), and can
cut the line for a while. The random generator is seeded, so a run is
repeatable. Select it from the command line with
``mendel print FILE --sim-link-faults drop=1e-3,flip=1e-3,dup=1e-4,insert=1e-4,
cut=1@5`` (``cut=SECONDS@AFTER``: the line is dead for SECONDS, AFTER seconds
of wall-clock time after the board is connected; ``seed=N`` picks another
random sequence).
"""
import random
import time

KINDS = ("drop", "flip", "dup", "insert")


class FaultSpecError(ValueError):
    """A ``--sim-link-faults`` text that does not parse."""


def parse_faults(text):
    """``{"drop": 1e-3, ..., "cut": (seconds, after), "seed": n}`` from the CLI text."""
    faults = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        try:
            if key in KINDS:
                rate = float(value)
                if not 0.0 <= rate < 1.0:
                    raise ValueError
                faults[key] = rate
            elif key == "cut":
                seconds, at, after = value.partition("@")
                if not at:
                    raise ValueError
                faults["cut"] = (float(seconds), float(after))
            elif key == "seed":
                faults["seed"] = int(value)
            else:
                raise ValueError
        except ValueError:
            raise FaultSpecError(
                "bad link fault %r: use drop=, flip=, dup=, insert= (rates 0 <= r < 1), "
                "cut=SECONDS@AFTER, seed=N" % item) from None
        if not sep:
            raise FaultSpecError("bad link fault %r: KEY=VALUE expected" % item)
    return faults


class _Mangler:
    """Applies the byte faults of one direction."""

    def __init__(self, rates, rng):
        self.rates = rates
        self.rng = rng
        self.counts = dict.fromkeys(KINDS, 0)

    def __call__(self, data):
        rates = self.rates
        if not data or not any(rates.get(kind) for kind in KINDS):
            return data
        rng = self.rng
        out = bytearray()
        for byte in data:
            if rng.random() < rates.get("insert", 0.0):
                out.append(rng.randrange(256))
                self.counts["insert"] += 1
            roll = rng.random()
            if roll < rates.get("drop", 0.0):
                self.counts["drop"] += 1
                continue
            if rng.random() < rates.get("flip", 0.0):
                byte ^= 1 << rng.randrange(8)
                self.counts["flip"] += 1
            out.append(byte)
            if rng.random() < rates.get("dup", 0.0):
                out.append(byte)
                self.counts["dup"] += 1
        return bytes(out)


class FaultyPort:
    """A port wrapper that damages the bytes passing through it (see module doc)."""

    def __init__(self, port, faults):
        self._port = port
        rng = random.Random(faults.get("seed", 1))
        self._to_board = _Mangler(faults, rng)
        self._to_host = _Mangler(faults, random.Random(rng.random()))
        self._cut = faults.get("cut")
        self._start = time.monotonic()

    def _line_cut(self):
        if self._cut is None:
            return False
        elapsed = time.monotonic() - self._start
        seconds, after = self._cut
        return after <= elapsed < after + seconds

    @property
    def counts(self):
        """Faults injected so far, per kind, both directions added."""
        return {k: self._to_board.counts[k] + self._to_host.counts[k] for k in KINDS}

    def write(self, data):
        if self._line_cut():
            return len(data)
        return self._port.write(self._to_board(bytes(data)))

    def read(self, size=1):
        data = self._port.read(size)
        if self._line_cut():
            return b""
        return self._to_host(data)

    def __getattr__(self, name):
        return getattr(self._port, name)

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._port, name, value)
