# Mendel host: the board as the host sees it.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Connects to the firmware, learns its commands, and keeps its clock.

At connect the firmware describes itself (commands with their argument
formats, responses, clock frequency, queue sizes, motors, heaters); the host
encodes every command from that description, by name, and refuses to run
against a board that lacks one it needs.

Time: every timed command is in MCU clock ticks. On a real board (and the
simulated board with ``--sim-realtime``) the clock runs by itself and the host
estimates it from ``get_clock`` answers; on the simulated board's virtual clock
the host moves time itself with ``sim_advance``, so the board never runs ahead
of what it was sent.
"""
import collections
import json
import time

from mendel.mcu import codec
from mendel.mcu.clocksync import ClockSync
from mendel.mcu.link import LinkError, SerialLink

# A query unanswered after this long (s, or a few round trips) is sent again,
# then at doubling intervals up to QUERY_MAX_RETRY.
QUERY_FIRST_RETRY = 0.02
QUERY_MAX_RETRY = 0.2
# Longest jump of the virtual clock per sim_advance (s of board time).
VIRTUAL_STEP_S = 60
# Realtime clock queries at least this often (s) keep the estimate fresh.
CLOCK_SYNC_INTERVAL = 1.0
REQUIRED_COMMANDS = ("identify", "get_clock", "queue_step", "set_step_clock", "get_queue",
                     "get_position", "set_heater", "get_temps", "config_heater",
                     "set_pid", "set_fan", "enable_motors", "emergency_stop")
_IDENTIFY_CHUNK = 40
# A shutdown frame carries at most this many bytes of the reason; a reason that
# long may be cut, and the rest is fetched with ``get_shutdown`` in chunks.
_REASON_IN_FRAME = 56
_REASON_CHUNK = 48


class McuShutdown(Exception):
    """The board shut down; the message is its reason."""


class Mcu:
    """Host-side proxy of one board.

    ``port`` is an open pyserial ``Serial`` (or alike). Raises
    :class:`LinkError` when the board does not answer and
    :class:`McuShutdown` when it reports a shutdown.
    """

    def __init__(self, port, link_timeout=5.0):
        self.link = SerialLink(port, timeout=link_timeout)
        self.link.on_message = self._on_message
        self.info = {}
        self.commands = {}
        self.responses = {}
        self._response_names = {}
        self._inbox = collections.deque()
        self.shutdown_reason = None
        self.clock = None              # ClockSync, after identify
        self._virtual_clock = 0
        self._last_sync = 0.0
        self._reason_cut = False
        self.virtual_step_s = VIRTUAL_STEP_S   # longest virtual-clock jump, s
        self.on_advance = None     # called after each virtual-clock step (run logs)
        # Streams (accelerometer data): response name -> fn(args), called as
        # each message arrives instead of queueing it for a query.
        self.handlers = {}

    # -- connection ----------------------------------------------------
    def connect(self, clear_shutdown=False):
        """Handshake and identify.

        Raises McuShutdown if the board is shut down (since an earlier session,
        say), unless ``clear_shutdown``: then the reason is only reported
        through :attr:`previous_shutdown` and the board is told to go on.
        """
        self.link.connect()
        self.responses = {"identify_response": [0, "is"]}
        self._learn_responses()
        text = bytearray()
        while True:
            offset = len(text)
            _offset, chunk = self.query("identify", (offset, _IDENTIFY_CHUNK),
                                        "identify_response", raw_command=(0, "ii"),
                                        match=lambda a: a[0] == offset)
            text += chunk
            if len(chunk) < _IDENTIFY_CHUNK:
                break
        self.info = json.loads(text.decode())
        self.commands = self.info["commands"]
        self.responses = self.info["responses"]
        self._learn_responses()
        self.link.nak_id = self.responses.get("nak", [None])[0]
        self.link.max_frame = max(codec.START_FRAME,
                                  min(codec.MAX_FRAME, self.info.get("max_frame", 0)))
        missing = [name for name in REQUIRED_COMMANDS if name not in self.commands]
        if missing:
            raise LinkError("board firmware %s %s lacks commands: %s"
                            % (self.info.get("firmware"), self.info.get("version"),
                               ", ".join(missing)))
        self.previous_shutdown = self.info.get("shutdown")
        if self.previous_shutdown:
            if not clear_shutdown:
                raise McuShutdown("the board is shut down: %s" % self.previous_shutdown)
            self.send("clear_shutdown")
            self.flush()
        self.clock = ClockSync(self.clock_freq)
        self.sync_clock()

    def _learn_responses(self):
        self.link.formats = {msgid: fmt for msgid, fmt in self.responses.values()}
        self._response_names = {msgid: name for name, (msgid, _f) in self.responses.items()}

    @property
    def clock_freq(self):
        return self.info["clock_freq"]

    @property
    def virtual(self):
        return bool(self.info.get("virtual_clock"))

    # -- messages ------------------------------------------------------
    def send(self, name, *args):
        """Queue command ``name`` with integer/bytes ``args`` (sent as frames fill)."""
        msgid, fmt = self.commands[name]
        self.link.queue(codec.encode_message(msgid, fmt, args))

    def queue_encoded(self, block, first, stop):
        """Queue messages ``first..stop-1`` of an encoded ``block`` (a
        MessageBlock; see SerialLink.queue_block)."""
        self.link.queue_block(block, first, stop)

    def message_id(self, name):
        """The board's message id of command ``name``."""
        return self.commands[name][0]

    def flush(self):
        self.link.flush()

    def _on_message(self, msgid, args):
        name = self._response_names.get(msgid)
        if name == "shutdown":
            if self.shutdown_reason is None:
                self.shutdown_reason = args[0].decode(errors="replace")
                self._reason_cut = len(args[0]) >= _REASON_IN_FRAME
        elif name in self.handlers:
            self.handlers[name](args)
        else:
            self._inbox.append((name, args))

    def pump(self, timeout):
        """Handle what the board sent; raises McuShutdown after a shutdown."""
        self.link.pump(timeout)
        if self.shutdown_reason is not None:
            if self._reason_cut:
                self._reason_cut = False
                self.shutdown_reason = self._fetch_reason() or self.shutdown_reason
            raise McuShutdown(self.shutdown_reason)

    def _fetch_reason(self):
        """The whole shutdown reason, chunk by chunk; None if the board cannot say."""
        if "get_shutdown" not in self.commands:
            return None
        msgid, fmt = self.commands["get_shutdown"]
        text = bytearray()
        while True:
            self.link.queue(codec.encode_message(msgid, fmt, (len(text),)))
            self.link.flush()
            deadline = time.monotonic() + 2.0
            chunk = None
            while chunk is None and time.monotonic() < deadline:
                self.link.pump(0.005)
                while self._inbox and chunk is None:
                    name, args = self._inbox.popleft()
                    if name == "shutdown_text" and args[0] == len(text):
                        chunk = args[1]
            if chunk is None:
                return None
            text += chunk
            if len(chunk) < _REASON_CHUNK:
                return text.decode(errors="replace")

    def query(self, name, args, response, match=None, timeout=None, raw_command=None):
        """Send a command and return the args of the first ``response`` that matches.

        Queries have no side effects that a repeat could harm, so the command
        is sent again whenever its answer is overdue: first after a few round
        trips, then at doubling intervals. Raises LinkError when no answer
        comes within ``timeout`` s (default: the link timeout) while the link
        makes no progress either: an answer queued behind frames that are
        still getting through on a bad line is worth waiting for.
        """
        msgid, fmt = raw_command or self.commands[name]
        message = codec.encode_message(msgid, fmt, args)
        # Answers to earlier copies of a query may still be waiting: not ours.
        self._inbox = collections.deque(m for m in self._inbox if m[0] != response)
        limit = timeout or self.link.timeout
        deadline = time.monotonic() + limit
        patience = max(4 * self.link.rto, QUERY_FIRST_RETRY)
        while time.monotonic() < max(deadline, self.link.last_progress + limit):
            self.link.queue(message)
            self.link.flush()
            retry_at = time.monotonic() + patience
            while time.monotonic() < retry_at:
                while self._inbox:
                    got, got_args = self._inbox.popleft()
                    if got == response and (match is None or match(got_args)):
                        return got_args
                self.pump(0.002)
            patience = min(patience * 2, QUERY_MAX_RETRY)
        raise LinkError("no %s answer to %s within %.1f s"
                        % (response, name, timeout or self.link.timeout))

    # -- clock ---------------------------------------------------------
    def sync_clock(self):
        """Query the board clock once more; returns it (ticks, extended)."""
        sent = time.monotonic()
        (clock32,) = self.query("get_clock", (), "clock")
        self._last_sync = time.monotonic()
        clock = self.clock.add_sample(sent, self._last_sync, clock32)
        self._virtual_clock = max(self._virtual_clock, clock)
        return clock

    def estimated_clock(self):
        """Best estimate of the board clock now (ticks).

        On the virtual clock that is the clock the board last reported, as
        it moves only when the host says so.
        """
        if self.virtual:
            return self._virtual_clock
        if time.monotonic() - self._last_sync > CLOCK_SYNC_INTERVAL:
            self.sync_clock()
        return self.clock.clock_at(time.monotonic())

    def clock_estimate(self):
        """The board clock now (ticks) from what the host already knows, never
        asking the board, so any thread may call it (status reports); None
        before the first clock sample."""
        if self.clock is None:
            return None
        if self.virtual:
            return self._virtual_clock
        return self.clock.clock_at(time.monotonic())

    def wait_until(self, clock):
        """Return once the board clock has reached ``clock`` ticks."""
        if self.virtual:
            # In steps: the board simulates each one before it answers, and a
            # step longer than the 32-bit clock's half range could not be told
            # from a step back.
            while clock > self._virtual_clock:
                step = min(clock, self._virtual_clock
                           + int(self.virtual_step_s * self.clock_freq))
                (now32,) = self.query("sim_advance", (step,), "clock",
                                      match=lambda a: self._reached(a[0], step))
                self._virtual_clock = self.clock.extend(now32)
                if self.on_advance is not None:
                    self.on_advance()
            return
        while self.estimated_clock() < clock:
            remaining = (clock - self.estimated_clock()) / self.clock_freq
            self.pump(min(max(remaining, 0.0005), 0.05))

    def _reached(self, clock32, target):
        """True if a reported 32-bit clock is at or past ``target``."""
        return (clock32 - target) % (1 << 32) < (1 << 31)

    def emergency_stop(self):
        """Stop the board now, ahead of everything queued (urgent frame)."""
        msgid, fmt = self.commands["emergency_stop"]
        self.link.send_urgent(codec.encode_message(msgid, fmt, ()))

    # -- queries -------------------------------------------------------
    def motor_position(self, oid):
        """Commanded step position of motor ``oid`` (steps)."""
        return self.query("get_position", (oid,), "position",
                          match=lambda a: a[0] == oid)[1]

    def queue_used(self, oid):
        """Slots of motor ``oid``'s step queue the board still holds."""
        return self.query("get_queue", (oid,), "queue", match=lambda a: a[0] == oid)[1]

    def temperature(self, hid):
        """``(temp, target, duty)`` of heater ``hid`` in degC, degC, 0..1."""
        _hid, temp, target, duty = self.query("get_temps", (hid,), "temps",
                                              match=lambda a: a[0] == hid)
        return temp / 100.0, target / 100.0, duty / 1000.0

    def stats(self):
        """Board counters: frames ok, bad, duplicate; runs queued; shut down."""
        ok, bad, dup, runs, down = self.query("get_stats", (), "stats")
        return {"frames_ok": ok, "frames_bad": bad, "frames_duplicate": dup,
                "step_runs": runs, "shutdown": bool(down)}
