# Mendel host: selftest results, and the identity, clock and link checks.
# SPDX-License-Identifier: GPL-3.0-or-later
"""One check's result, and the checks of the board itself and its link.

Suffixes: ``_s`` seconds (host clock unless named board), ``_ppm`` parts per
million, ``_ticks`` MCU clock ticks.

A check is a function ``check(bench) -> Result`` (``bench``: a
:class:`mendel.selftest.run.Bench`); it raises nothing for a board that
fails, it returns ``Result(..., passed=False)`` with the reason in words.
"""
import dataclasses
import statistics
import time

# A crystal is good to ~50 ppm; over CLOCK_WINDOW_S the round trip of a USB
# query (~1 ms) adds up to ~250 ppm of measuring error: 1000 ppm is a board
# whose clock is wrong, not one that was measured badly.
CLOCK_WINDOW_S = 2.0
CLOCK_TOLERANCE_PPM = 1000
# Queries of the link-under-load burst, and how many of its frames may need
# a resend on a real line before the check fails (the simulated link: none).
LOAD_QUERIES = 400
LOAD_RESEND_SHARE = 0.01


@dataclasses.dataclass
class Result:
    """A check's outcome: ``name`` (its key), ``passed`` (True/False, None
    when it did not run), ``summary`` (one line), ``figures`` (JSON-able
    measurements, units in their keys)."""
    name: str
    passed: object
    summary: str
    figures: dict = dataclasses.field(default_factory=dict)


def identity(bench):
    """The board answers, describes itself, and has what the host needs."""
    info = bench.mcu.info
    figures = {key: info.get(key) for key in ("firmware", "version", "board", "mcu",
                                              "clock_freq", "motors", "endstops",
                                              "heaters", "fans", "step_queue_size")}
    figures["commands"] = len(bench.mcu.commands)
    wanted = bench.expected_board
    if wanted and info.get("board") != wanted:
        return Result("identity", False, "the board says it is %s, not %s (--board)"
                      % (info.get("board"), wanted), figures)
    return Result("identity", True, "%s %s on %s (%s), %d commands"
                  % (info.get("firmware"), info.get("version"), info.get("board"),
                     info.get("mcu"), len(bench.mcu.commands)), figures)


def clock(bench):
    """The board's clock rate against the host's (monotonic) clock.

    A virtual clock (the simulated board's default) moves only when the
    host says: its rate is how much faster than real time the board ran,
    measured, and no crystal is checked."""
    mcu = bench.mcu
    freq = mcu.clock_freq
    if mcu.virtual:
        start_s, start_ticks = time.monotonic(), mcu.estimated_clock()
        mcu.wait_until(start_ticks + int(CLOCK_WINDOW_S * freq))
        board_s = (mcu.estimated_clock() - start_ticks) / freq
        host_s = time.monotonic() - start_s
        speed = board_s / host_s if host_s else 0.0
        return Result("clock", True, "virtual clock at %d Hz: %.1f s of board time in "
                      "%.3f s (%.0fx real time); no crystal to check"
                      % (freq, board_s, host_s, speed),
                      {"clock_freq": freq, "virtual": True, "board_s": board_s,
                       "host_s": host_s, "speed_vs_host": speed})
    first = _clock_sample(mcu)
    time.sleep(CLOCK_WINDOW_S)
    last = _clock_sample(mcu)
    host_s = last[0] - first[0]
    rate = ((last[1] - first[1]) % (1 << 32)) / host_s
    error_ppm = (rate / freq - 1.0) * 1e6
    figures = {"clock_freq": freq, "virtual": False, "measured_hz": rate,
               "error_ppm": error_ppm, "window_s": host_s,
               "round_trip_s": max(first[2], last[2])}
    passed = abs(error_ppm) <= CLOCK_TOLERANCE_PPM
    return Result("clock", passed, "%.0f Hz measured against the host over %.1f s: %+.0f ppm "
                  "of the declared %d Hz (limit %d ppm)"
                  % (rate, host_s, error_ppm, freq, CLOCK_TOLERANCE_PPM), figures)


def _clock_sample(mcu, tries=5):
    """(host time at the answer's middle, board clock32, round trip) of the
    quickest of ``tries`` get_clock queries."""
    best = None
    for _ in range(tries):
        sent = time.monotonic()
        (clock32,) = mcu.query("get_clock", (), "clock")
        got = time.monotonic()
        if best is None or got - sent < best[2]:
            best = ((sent + got) / 2, clock32, got - sent)
    return best


def link(bench):
    """A burst of queries on top of the step runs sent so far: round trips,
    and frames damaged or sent again (none on the simulated link)."""
    mcu = bench.mcu
    before = mcu.stats()
    resends0, frames0 = mcu.link.retransmits, mcu.link.frames_sent
    trips = []
    start = time.monotonic()
    for i in range(LOAD_QUERIES):
        sent = time.monotonic()
        mcu.query("get_position", (i % len(mcu.info["motors"]),), "position")
        trips.append(time.monotonic() - sent)
    seconds = time.monotonic() - start
    after = mcu.stats()
    frames = mcu.link.frames_sent - frames0
    resends = mcu.link.retransmits - resends0
    bad = after["frames_bad"] - before["frames_bad"]
    trips.sort()
    figures = {"queries": LOAD_QUERIES, "seconds": seconds,
               "queries_per_s": LOAD_QUERIES / seconds,
               "round_trip_median_s": statistics.median(trips),
               "round_trip_p99_s": trips[int(0.99 * (len(trips) - 1))],
               "frames_sent": frames, "resends": resends, "frames_bad": bad,
               "session_resends": mcu.link.retransmits,
               "session_frames_bad": after["frames_bad"]}
    allowed = 0 if bench.simulated else int(LOAD_RESEND_SHARE * frames)
    passed = bad == 0 and resends <= allowed and after["frames_bad"] == 0
    return Result("link", passed, "%d queries in %.2f s (median round trip %.2f ms); %d "
                  "frames sent again, %d damaged (this session: %d, %d)"
                  % (LOAD_QUERIES, seconds, 1e3 * figures["round_trip_median_s"], resends,
                     bad, mcu.link.retransmits, after["frames_bad"]), figures)
