# Mendel firmware: the RP2040 PIO program that emits step pulses.
# SPDX-License-Identifier: GPL-3.0-or-later
"""One PIO state machine per motor turns 32-bit words into step pulses.

Word layout (shifted out to the right, LSB first; see ``motion/pulses.py``)::

    bit 0        direction level written to the dir pin (OUT pin)
    bits 1..10   steps in the word, 0..1023 (0: an idle word, no step)
    bits 11..31  delay d, 0..2**21-1 PIO cycles

Timing of a word that the state machine pulls at cycle ``s`` (every figure
below is counted from the instructions and checked cycle by cycle on
``rp2040-pio-emulator`` in ``tests/test_pio_emulator.py``):

* the dir pin takes the word's level at ``s + DIR_LAG``;
* a step word with n steps and delay d rises at ``s + FIRST_RISE + d + k*P``
  (k = 0..n-1) with period ``P = d + pulse + PERIOD_OVERHEAD``, holds the step
  pin high ``pulse`` cycles, and the next word is pulled at ``s + n*P``;
* an idle word (n = 0, d >= 1) lasts ``d + IDLE_OVERHEAD`` cycles;
* the all-zero word halts the machine (``jmp halt`` forever): the firmware
  writes it after the last word it has, so a late refill halts the motor
  (an underrun the firmware turns into a shutdown) instead of replaying old
  words from the ring;
* before each rise ``jmp pin`` samples the state machine's JMP_PIN; while
  homing the firmware points it at the endstop, so a triggered endstop stops
  the motor before the next step, pushes the steps left in the word (y) to
  the RX FIFO and halts. Outside homing JMP_PIN is the motor's own step pin,
  which is low whenever it is sampled.

The pulse width is the ``set(x, N)`` immediate: ``pulse = N + 2`` cycles,
2..33 (:func:`program` patches it). The PIO has no adder, so runs with a
non-zero ``add`` become one word per step (the CPU expands them).
"""
from micropython import const

try:
    import rp2
except ImportError:     # not an RP2040 (firmware/bench.py): the figures only
    rp2 = None  # type: ignore[assignment]

# Cycle counts of the program below (see the module docstring).
DIR_LAG = const(1)
FIRST_RISE = const(8)
PERIOD_OVERHEAD = const(9)
IDLE_OVERHEAD = const(9)
MIN_PULSE = const(2)
MAX_PULSE = const(33)
COUNT_BITS = const(10)
DELAY_BITS = const(21)
# Instruction addresses (relative to the program's start).
PULSE_AT = const(12)     # set(x, N) side 1: the rise
HIT_AT = const(16)       # endstop path
HALT_AT = const(18)      # jmp halt: underrun, stop or endstop


def steps_left(pc, y, steps):
    """Steps of the word in the OSR not taken yet, for a machine stopped at
    ``pc`` (relative address) with ``y`` in its Y register; ``steps`` is the
    word's step count. Not for the halt addresses (``HIT_AT`` and after).

    0: between words (pc 0: the word in the OSR is done) or an idle word
    (5..8); the word's steps: pulled but none taken (1..4); y + 1: waiting for
    the next step (9..12, 15: y was decremented before its rise); y: the rise
    has happened, y not yet decremented (13, 14).
    """
    if pc == 0 or 5 <= pc <= 8:
        return 0
    if pc <= 4:
        return steps
    if PULSE_AT < pc < PULSE_AT + 3:
        return y
    return y + 1


def program(pulse_cycles):
    """The assembled program with the step pulse set to ``pulse_cycles``.

    Returns the list ``rp2.asm_pio`` makes (instruction array first); raises
    ValueError outside ``MIN_PULSE..MAX_PULSE``.
    """
    if not MIN_PULSE <= pulse_cycles <= MAX_PULSE:
        raise ValueError("step pulse of %d PIO cycles is outside %d..%d"
                         % (pulse_cycles, MIN_PULSE, MAX_PULSE))
    code = step_program[0]
    code[PULSE_AT] = (code[PULSE_AT] & 0xFFE0) | (pulse_cycles - MIN_PULSE)
    return step_program


# How the RP2040 backend (hal/rp2.py) streams the program, here so that code
# without the hardware (firmware/bench.py) uses the very same figures.
TIMING = (DIR_LAG, FIRST_RISE, PERIOD_OVERHEAD, IDLE_OVERHEAD, COUNT_BITS, DELAY_BITS)
RING_WORDS = const(512)         # words per motor's DMA ring: 2 KiB
LEAD_US = const(60000)          # streams are written this far ahead of the clock:
                                # more than a GC pause (10-21 ms, emulated RP2040)
LEAD_WORDS = const(10)          # idle words per lead (the DMA prefetches 4)
_SYS_CHOICES = (125000000, 120000000, 132000000, 100000000, 96000000)


def pio_clock(sys_hz, clock_hz, pulse_ns):
    """(system Hz, PIO divider, PIO Hz) with PIO Hz a multiple of ``clock_hz`` and
    the step pulse within the program's 33 cycles; ValueError if none fits."""
    if clock_hz % 1000000:
        raise ValueError("clock_freq %d is not a multiple of 1 MHz" % clock_hz)
    for system in (sys_hz,) + _SYS_CHOICES:
        for div in range(1, 256):
            pio_hz = system // div
            if system % div or pio_hz % clock_hz:
                continue
            if cycles_of(pulse_ns, pio_hz, MIN_PULSE) <= MAX_PULSE:
                return system, div, pio_hz
    raise ValueError("no PIO clock gives %d ns pulses at clock_freq %d" % (pulse_ns, clock_hz))


def cycles_of(ns, hz, floor):
    """Whole cycles at ``hz`` covering ``ns`` nanoseconds, at least ``floor``."""
    return max(floor, (ns * (hz // 1000000) + 999) // 1000)


if rp2 is not None:
    @rp2.asm_pio(out_init=rp2.PIO.OUT_LOW, sideset_init=rp2.PIO.OUT_LOW,
                 out_shiftdir=rp2.PIO.SHIFT_RIGHT)
    def step_program():
        wrap_target()                   # noqa: F821 (asm_pio names)
        label("top")                    # noqa: F821
        pull(block)            .side(0)  # noqa: F821   0 word -> OSR
        out(pins, 1)           .side(0)  # noqa: F821   1 direction
        out(y, 10)             .side(0)  # noqa: F821   2 steps in the word
        out(isr, 21)           .side(0)  # noqa: F821   3 delay, kept in ISR
        jmp(y_dec, "step")     .side(0)  # noqa: F821   4 n > 0: step word
        mov(x, isr)            .side(0)  # noqa: F821   5 idle word
        jmp(not_x, "halt")     .side(0)  # noqa: F821   6 all-zero word: halt
        label("idle")                   # noqa: F821
        jmp(x_dec, "idle")     .side(0)  # noqa: F821   7
        jmp("top")             .side(0)  # noqa: F821   8
        label("step")                   # noqa: F821
        mov(x, isr)            .side(0)  # noqa: F821   9
        label("wait")                   # noqa: F821
        jmp(x_dec, "wait")     .side(0)  # noqa: F821  10 d + 1 cycles
        jmp(pin, "hit")        .side(0)  # noqa: F821  11 endstop (homing only)
        set(x, 0)              .side(1)  # noqa: F821  12 rise; pulse = N + 2
        label("high")                   # noqa: F821
        jmp(x_dec, "high")     .side(1)  # noqa: F821  13
        jmp(y_dec, "again")    .side(0)  # noqa: F821  14 fall; more steps?
        wrap()                          # noqa: F821
        label("again")                  # noqa: F821
        jmp("step")            .side(0)[4]  # noqa: F821  15 evens both paths
        label("hit")                    # noqa: F821
        mov(isr, y)            .side(0)  # noqa: F821  16 steps left in the word
        push(noblock)          .side(0)  # noqa: F821  17
        label("halt")                   # noqa: F821
        jmp("halt")            .side(0)  # noqa: F821  18
