"""Feed host->board frames to the firmware and print what it did (CPython and micropython).

    python|micropython linkfuzz.py probe|mcu CASES_FILE
    python|micropython linkfuzz.py table probe|mcu

``CASES_FILE`` holds a JSON list of frame payloads in hex; each is framed (valid
CRC, the next sequence number) and polled on its own. Prints one JSON line
per case; tests/test_firmware_fuzz.py runs this under both interpreters with
payloads made by hypothesis and compares the lines with each other and with
its own decoding of the payloads.

``probe``: one link bound to :class:`Probe`, whose commands cover every
argument shape and record their calls; a case's line is ``{"calls": [[name,
args...], ...], "refused": reason or null, "ack": next expected seq}``, bytes
arguments in hex. ``mcu``: a fresh firmware (fake HAL) per case, run through
the main loop's ``poll_once``; a line is ``{"runs": [...], "position": [...],
"last_clock": [...], "shutdown": reason or null, "refused": why the link refused the frame or null}``, where a
reason from a handler's exception keeps only its type (the two interpreters
word their messages differently). ``table`` prints the command table of the
probe or of the firmware: ``[[name, fmt], ...]`` in message id order.
"""
import sys

_HERE = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
if sys.implementation.name == "micropython":
    sys.path[:0] = [_HERE + "/../../firmware", _HERE + "/fakes", _HERE]
else:
    sys.path.insert(0, _HERE)
    import conftest  # noqa: F401  (CPython: firmware paths and viper shims)

import binascii  # noqa: E402
import json  # noqa: E402

import link  # noqa: E402
from fakeboard import BOARD, FakeHal, FakeTransport, frame  # noqa: E402
from mcu import Mcu  # noqa: E402

# The probe's commands, in declaration (so message id) order: every shape the
# link reads, up to link.MAX_ARGS arguments.
PROBE_COMMANDS = [("probe", ""), ("probe_i", "i"), ("probe_s", "s"), ("probe_ii", "ii"),
                  ("probe_is", "is"), ("probe_si", "si"), ("probe_iiii", "iiii"),
                  ("probe_isiis", "isiis")]


def _arg(value):
    if isinstance(value, int):
        return value
    return binascii.hexlify(value).decode()


class Probe:
    """Records every call its link makes."""

    def __init__(self):
        self.calls = []

    def _record(self, name, args):
        self.calls.append([name] + [_arg(a) for a in args])

    @link.command("probe")
    def probe(self):
        self._record("probe", ())

    @link.command("probe_i", "i")
    def probe_i(self, a):
        self._record("probe_i", (a,))

    @link.command("probe_s", "s")
    def probe_s(self, a):
        self._record("probe_s", (a,))

    @link.command("probe_ii", "ii")
    def probe_ii(self, a, b):
        self._record("probe_ii", (a, b))

    @link.command("probe_is", "is")
    def probe_is(self, a, b):
        self._record("probe_is", (a, b))

    @link.command("probe_si", "si")
    def probe_si(self, a, b):
        self._record("probe_si", (a, b))

    @link.command("probe_iiii", "iiii")
    def probe_iiii(self, a, b, c, d):
        self._record("probe_iiii", (a, b, c, d))

    @link.command("probe_isiis", "isiis")
    def probe_isiis(self, a, b, c, d, e):
        self._record("probe_isiis", (a, b, c, d, e))


def run_probe(payloads):
    """One JSON-able dict per payload, through one link (its state carries on)."""
    transport = FakeTransport()
    lk = link.Link(transport, dict)
    probe = Probe()
    lk.bind(probe)
    out = []
    for seq, payload in enumerate(payloads):
        probe.calls = []
        lk.refused = None
        transport.feed(frame(seq & link.SEQ_MASK, payload))
        lk.poll(0)
        out.append({"calls": probe.calls, "refused": lk.refused,
                    "ack": transport.sent[-1][1]})
    return out


def _reason(text):
    if text is None or not text.startswith("firmware error: "):
        return text
    return text.split(" ")[2]


def run_mcu(payloads):
    """One JSON-able dict per payload, each through a fresh firmware."""
    out = []
    for payload in payloads:
        hal = FakeHal()
        mcu = Mcu(hal, BOARD)
        hal.transport.feed(frame(0, payload))
        mcu.poll_once()
        out.append({"runs": [list(r) for r in hal.runs], "position": mcu.steppers.position,
                    "last_clock": mcu.steppers.last_clock,
                    "shutdown": _reason(mcu.shutdown_reason),
                    "refused": mcu.link.refused})
    return out


def _table(which):
    hal = FakeHal()
    lk = Mcu(hal, BOARD).link if which == "mcu" else link.Link(hal.transport, dict)
    if which != "mcu":
        lk.bind(Probe())
    return [[name, lk._handlers[i][0]] for i, name in enumerate(lk._names)]


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "table":
        print(json.dumps(_table(path)))
        return
    with open(path) as f:
        payloads = [binascii.unhexlify(text) for text in json.load(f)]
    for result in (run_probe if mode == "probe" else run_mcu)(payloads):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
