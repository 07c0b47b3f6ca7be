"""The firmware's PIO step program on rp2040-pio-emulator (CPython only).

The program is assembled from ``firmware/hal/rp2_pio.py`` itself (the fake
``rp2.asm_pio`` runs its source), fed the words ``motion/pulses.py`` makes
for given step runs, and run cycle by cycle. Step edges must land on the
commanded cycles exactly, direction changes must lead the next rise by the
setup time, and the top step rate per motor is measured and printed.
"""
from collections import deque

import pytest

pioemu = pytest.importorskip("pioemu")

from hal import rp2_pio  # noqa: E402  (after the importorskip)
from motion.pulses import PulseStream  # noqa: E402
import rp2  # noqa: E402  (the fake: its assembler)

STEP, DIR, ENDSTOP = 2, 3, 5
PIO_HZ = 125000000              # RP2040 default system clock, PIO divider 1
PULSE = 13                      # TMC2209: 100 ns at 125 MHz -> 13 cycles
SETUP = 3                       # TMC2209 dir setup 20 ns -> 3 cycles
TIMING = (rp2_pio.DIR_LAG, rp2_pio.FIRST_RISE, rp2_pio.PERIOD_OVERHEAD,
          rp2_pio.IDLE_OVERHEAD, rp2_pio.COUNT_BITS, rp2_pio.DELAY_BITS)


def stream(setup=SETUP, words=1024):
    return PulseStream(TIMING, PULSE, setup, 64, words)


def words_of(ps):
    """Words written so far, in ring order (the ring does not wrap here)."""
    return [ps.ring[i] for i in range(ps.state[10])]


def expected_rises(runs):
    """Commanded step cycles: k-th step at last + k*interval + add*k*(k-1)/2."""
    out = []
    for last, interval, count, add in runs:
        for k in range(1, abs(count) + 1):
            out.append((last + k * interval + add * k * (k - 1) // 2, 1 if count > 0 else 0))
    return out


def emulate(words, cycles, jmp_pin=STEP, endstop_at=None):
    """Run the program; returns (rises [(cycle, dir)], dir changes, final state,
    index of the word being run at the end)."""
    program = rp2_pio.program(PULSE)
    target, top = rp2.wrap_bounds(program)
    feed = deque(words)
    fifo = deque()
    while feed and len(fifo) < 4:
        fifo.append(feed.popleft())
    initial = pioemu.State(transmit_fifo=fifo, pin_directions=(1 << STEP) | (1 << DIR))

    def inputs(state: pioemu.State) -> int:
        return (1 << ENDSTOP) if endstop_at is not None and state.clock >= endstop_at else 0

    rises, dir_changes, last = [], [], initial
    for before, after in pioemu.emulate(
            list(program[0]), stop_when=lambda _op, st: st.clock >= cycles,
            initial_state=initial, side_set_base=STEP, side_set_count=1,
            out_base=DIR, out_count=1, shift_osr_right=True, jmp_pin=jmp_pin,
            wrap_target=target, wrap_top=top,
            input_source=inputs if endstop_at is not None else None):
        while feed and len(after.transmit_fifo) < 4:
            after.transmit_fifo.append(feed.popleft())
        was, now = before.pin_values, after.pin_values
        if now & (1 << STEP) and not was & (1 << STEP):
            rises.append((before.clock, (now >> DIR) & 1))
        if (now ^ was) & (1 << DIR):
            dir_changes.append(before.clock)
        last = after
    current = len(words) - len(feed) - len(last.transmit_fifo) - 1
    return rises, dir_changes, last, current


def test_assembled_program_fits_one_pio_block_and_matches_its_constants():
    code = rp2_pio.program(PULSE)[0]
    assert len(code) <= 32
    assert code[rp2_pio.PULSE_AT] & 0xE01F == 0xE000 | (PULSE - 2)   # set x, N
    assert code[rp2_pio.PULSE_AT] & 0x1000                           # side 1: rise
    assert code[rp2_pio.HALT_AT] == rp2_pio.HALT_AT                  # jmp halt
    with pytest.raises(ValueError):
        rp2_pio.program(1)


def test_step_edges_land_on_the_commanded_cycles():
    runs = [(400, 300, 5, 0),        # cruise: one word
            (1900, 260, 6, -20),     # slowing down: one word per step
            (3760, 120, -4, 15),     # reversal, accelerating the other way
            (4500, 90, -8, 0)]       # the shortest cruise at this pulse: 90 cycles
    ps = stream()
    for last, interval, count, add in runs:
        assert ps.queue(last + interval, interval, count, add)
    ps.fill(0)
    rises, changes, _, _ = emulate(words_of(ps), 5400)
    assert rises == expected_rises(runs)
    assert ps.late == 0
    assert len(words_of(ps)) < sum(abs(r[2]) for r in runs)   # cruise runs packed


def test_direction_changes_lead_the_next_rise_by_the_setup_time():
    setup = 40                        # a slow driver: 320 ns at 125 MHz
    runs = [(100, 200, 3, 0), (700, 30, -3, 0)]   # reverses 30 cycles after a step
    ps = stream(setup=setup)
    for last, interval, count, add in runs:
        ps.queue(last + interval, interval, count, add)
    ps.fill(0)
    rises, changes, _, _ = emulate(words_of(ps), 1200)
    assert len(rises) == 6
    for change in changes:
        following = [c for c, _level in rises if c > change]
        assert following and following[0] - change >= setup
    assert ps.late >= 1                        # the first reversed step came late
    commanded = expected_rises(runs)
    assert [r[0] for r in rises[:3]] == [c for c, _ in commanded[:3]]
    assert all(r[0] >= c[0] for r, c in zip(rises, commanded))


def test_long_gaps_become_idle_words_and_stay_exact():
    # The stream may use fewer delay bits than the program reads (here 8, so
    # that a gap longer than one word fits in an emulator run); the words are
    # the same kind as with the full 21 bits.
    short = TIMING[:5] + (8,)
    ps = PulseStream(short, PULSE, SETUP, 8, 64)
    runs = [(0, 700, 2, 0), (2400, 1500, -2, 0)]
    for last, interval, count, add in runs:
        ps.queue(last + interval, interval, count, add)
    ps.fill(0)
    words = words_of(ps)
    assert sum(1 for w in words if (w >> 1) & 1023 == 0) >= 10    # idle words
    rises, _, _, _ = emulate(words, 5600)
    assert rises == expected_rises(runs)


def _rate(words, steps):
    rises, _, _, _ = emulate(words, 40 * steps)
    cycles = rises[-1][0] - rises[0][0]
    return len(rises), PIO_HZ * (len(rises) - 1) / cycles


def test_maximum_step_rate_per_motor(capsys):
    period = PULSE + rp2_pio.PERIOD_OVERHEAD             # d = 0
    packed = [1 | (200 << 1)] * 2                         # cruise words: 200 steps each
    single = [1 | (1 << 1)] * 300                         # one word per step (add != 0)
    count, cruise_hz = _rate(packed, 400)
    assert count == 400
    count, accel_hz = _rate(single, 300)
    assert count == 300
    assert cruise_hz == pytest.approx(PIO_HZ / period)
    assert accel_hz == pytest.approx(PIO_HZ / period)
    with capsys.disabled():
        print("\nPIO emulator, one motor, %d-cycle pulse at %d MHz: %.0f kHz packed, "
              "%.0f kHz one word per step" % (PULSE, PIO_HZ // 1000000,
                                              cruise_hz / 1000, accel_hz / 1000))
    assert min(cruise_hz, accel_hz) >= 500000


def test_halt_word_stops_the_machine_and_an_endstop_stops_it_before_a_step():
    ps = stream()
    ps.queue(300, 300, 6, 0)
    ps.fill(0)
    words = words_of(ps) + [0]                  # the halt word the ring holds after them
    rises, _, state, _ = emulate(words, 3000)
    assert len(rises) == 6 and state.program_counter == rp2_pio.HALT_AT
    # Homing: JMP_PIN on the endstop, which closes between the 3rd and 4th step.
    rises, _, state, current = emulate(words, 3000, jmp_pin=ENDSTOP, endstop_at=1050)
    assert [c for c, _ in rises] == [300, 600, 900]
    assert state.program_counter == rp2_pio.HALT_AT
    left = state.receive_fifo[0] + 1             # steps of the word not taken
    assert ps.position_at(current, left) == 3


def test_a_machine_stopped_anywhere_gives_its_exact_position():
    """The rp2 backend stops motors by disabling them and reads the program
    counter and Y: at every instruction boundary of a real run, that read-out
    must give the number of steps the pins show."""
    ps = stream()
    for last, interval, count, add in [(60, 80, 3, 0), (300, 70, 2, 5), (500, 90, -3, 0)]:
        ps.queue(last + interval, interval, count, add)
    ps.fill(0)
    words = words_of(ps)
    program = rp2_pio.program(PULSE)
    target, top = rp2.wrap_bounds(program)
    feed, fifo = deque(words[4:]), deque(words[:4])
    initial = pioemu.State(transmit_fifo=fifo, pin_directions=(1 << STEP) | (1 << DIR))
    position, checked = 0, 0
    for before, after in pioemu.emulate(
            list(program[0]), stop_when=lambda _op, st: st.clock >= 1100,
            initial_state=initial, side_set_base=STEP, side_set_count=1,
            out_base=DIR, out_count=1, shift_osr_right=True, jmp_pin=STEP,
            wrap_target=target, wrap_top=top):
        while feed and len(after.transmit_fifo) < 4:
            after.transmit_fifo.append(feed.popleft())
        if after.pin_values & (1 << STEP) and not before.pin_values & (1 << STEP):
            position += 1 if after.pin_values & (1 << DIR) else -1
        current = len(words) - len(feed) - len(after.transmit_fifo) - 1
        pc = after.program_counter
        if current < 0 or pc >= rp2_pio.HIT_AT:
            continue
        left = rp2_pio.steps_left(pc, after.y_register, ps.word_steps(current))
        assert ps.position_at(current, left) == position, (after.clock, pc)
        checked += 1
    assert position == 2 and checked > 100
