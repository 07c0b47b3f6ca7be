// Mendel emulator: PIO state machines stepped against emulated cycles.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Units: cycles are clk_sys cycles (CycleClock.now); `t256` is a time in
// 1/256 cycle, the resolution of a PIO clock divider (16.8 fixed point).
//
// rp2040js runs its PIO blocks on a JavaScript timer, detached from emulated
// time: 1000 instructions per timer callback whatever the clock divider, the
// delay fields or whether a state machine is enabled. Here the stock timer is
// switched off and each *enabled* state machine executes one instruction per
// PIO cycle of its own divider (RP2040 datasheet 3.5.5), an instruction with
// delay d occupying 1 + d cycles (3.4.1), so every pin change lands on the
// PIO cycle it would on the chip. A stalled instruction completes on the
// cycle its condition holds; its delay follows the stall.
//
// Cheap stepping (emulated speed): a `jmp x--` or `jmp y--` to itself is a
// counted delay loop with a constant side-set; after its first pass the
// remaining passes are skipped in one go (the register is left as the loop
// leaves it, or reconciled if the machine is stopped or exec'd mid-loop).
// An unconditional jump to itself (a halt) and a stall on an empty TX FIFO
// park the machine until the CPU or DMA touches it.
//
// FIFO flush: changing a machine's FJOIN bits in SHIFTCTRL clears both its
// FIFOs (datasheet 3.7; the SDK's pio_sm_clear_fifos, which MicroPython's
// StateMachine.init calls, toggles FJOIN_RX twice for this). rp2040js keeps
// them, so a re-initialised machine would run stale words; here they go.

const JMP = 0b000;
const COND_X_DEC = 0b010;
const COND_Y_DEC = 0b100;
const WAIT_TX = new Set([3, 5]);          // rp2040js WaitType.txFIFO, WaitType.Out
const CTRL = 0x000;
const SM_REGS = [0x0c8, 0x0e0, 0x0f8, 0x110];   // SMn_CLKDIV; INSTR is at +0x10
const SM_INSTR = 0x10;
const SM_SPAN = 0x18;
const SM_SHIFTCTRL = 0x08;
const FJOIN = 0xc0000000;

class Machine {
  constructor(pio, index) {
    this.pio = pio;
    this.sm = pio.machines[index];
    this.index = index;
    this.t256 = Infinity;       // next instruction (or stall re-check)
    this.period256 = 256;       // one PIO cycle
    this.stalled = false;       // last step left the machine waiting
    this.parked = false;        // waiting for the CPU or DMA, not re-checked per cycle
    this.loop = null;           // skipped passes of a delay loop: {start256, per256, count, reg}
  }

  get nextCycle() {
    return this.parked ? Infinity : Math.ceil(this.t256 / 256);
  }

  /** Take clk_sys's divider from the CLKDIV register (integer 16 bits, fraction 8). */
  readDivider() {
    const div = this.sm.clockDivInt || 65536;     // 0 means 65536
    this.period256 = div * 256 + this.sm.clockDivFrac;
  }

  /** Execute at PIO cycle `now` (a clk_sys cycle); returns the PIO cycles it took. */
  step() {
    const sm = this.sm;
    this.loop = null;
    if (this.stalled) {
      if (sm.waiting) sm.checkWait();
      if (sm.waiting) return 1;
      this.stalled = false;                       // completes on this cycle
      return 1 + Math.max(0, sm.waitDelay);
    }
    const before = sm.cycles;
    const pc = sm.pc;
    const opcode = this.pio.instructions[pc];
    sm.updatePC = true;
    sm.executeInstruction(opcode);
    if (sm.updatePC) sm.nextPC();
    if (sm.waiting) {
      this.stalled = true;
      this.parked = WAIT_TX.has(sm.waitType);
      return 1;
    }
    let took = sm.cycles - before;
    if (opcode >>> 13 === JMP && (opcode & 0x1f) === pc && sm.pc === pc) {
      const cond = (opcode >> 5) & 0x7;
      if (cond === 0) {
        this.parked = true;                       // jmp to itself: forever
      } else if (cond === COND_X_DEC || cond === COND_Y_DEC) {
        const reg = cond === COND_X_DEC ? 'x' : 'y';
        const count = sm[reg];                    // passes that jump again; one more falls through
        if (count > 0) {
          this.loop = { start256: this.t256 + took * this.period256,
                        per256: took * this.period256, count, reg };
          sm[reg] = 0;
          took += count * took;
        }
      }
    }
    return took;
  }

  /** Empty both FIFOs (an FJOIN change) and tell the DMA the TX FIFO has room. */
  clearFifos() {
    this.sm.txFIFO.reset();
    this.sm.rxFIFO.reset();
    this.sm.updateDMATx();
    this.sm.updateDMARx();
  }

  /** Undo a skipped loop's shortcut at `cycle`: the register holds the passes still to run. */
  reconcile(cycle) {
    const loop = this.loop;
    if (loop === null) return;
    this.loop = null;
    const done = Math.max(0, Math.min(loop.count,
                                      Math.floor((cycle * 256 - loop.start256) / loop.per256) + 1));
    if (done >= loop.count) return;
    this.sm[loop.reg] = loop.count - done;
    this.t256 = loop.start256 + done * loop.per256;
  }
}

export class PioStepper {
  /** `rp2040`: the chip; `clock`: its CycleClock; `onEarlier(cycle)`: a machine became due earlier. */
  constructor(rp2040, clock, onEarlier) {
    this.clock = clock;
    this.onEarlier = onEarlier;
    this.machines = [];
    this.blocks = rp2040.pio;
    this.nextCycle = Infinity;
    for (const pio of rp2040.pio) {
      pio.run = () => {};                         // no free-running JS timer
      pio.machines.forEach((sm) => { sm.clkDivRestart = () => {}; });
      const ours = [0, 1, 2, 3].map((i) => new Machine(pio, i));
      this.machines.push(...ours);
      this._hook(pio, ours);
    }
    this.active = [];
  }

  _hook(pio, ours) {
    const write = pio.writeUint32.bind(pio);
    pio.writeUint32 = (offset, value) => {
      const index = SM_REGS.findIndex((base) => offset >= base && offset < base + SM_SPAN);
      const m = index >= 0 ? ours[index] : null;
      if (offset === CTRL) {
        const was = ours.map((o) => o.sm.enabled);
        ours.forEach((o) => { if (o.sm.enabled) o.reconcile(this.clock.now); });
        write(offset, value);
        this._started(ours, was, value);
      } else if (m !== null && offset - SM_REGS[index] === SM_INSTR) {
        m.reconcile(this.clock.now);
        write(offset, value);
        this._touched(m);
      } else if (m !== null && offset - SM_REGS[index] === SM_SHIFTCTRL) {
        const joined = m.sm.shiftCtrl & FJOIN;
        write(offset, value);
        if ((m.sm.shiftCtrl & FJOIN) !== joined) m.clearFifos();
      } else {
        write(offset, value);
        if (m !== null) m.readDivider();
      }
    };
    for (const m of ours) {
      const push = m.sm.writeFIFO.bind(m.sm);
      m.sm.writeFIFO = (value) => { push(value); if (m.parked) this._touched(m); };
    }
  }

  /** CTRL written: machines enabled or clock-divider-restarted start on the next cycle. */
  _started(ours, was, value) {
    const start256 = (this.clock.now + 1) * 256;
    for (const m of ours) {
      const restart = value & (1 << (8 + m.index));
      if (m.sm.enabled && (!was[m.index] || restart)) {
        m.readDivider();
        m.t256 = start256;
        m.stalled = m.sm.waiting;
        m.parked = false;
      }
    }
    this._refresh();
  }

  /** The CPU or DMA changed a machine: re-check it on its next PIO cycle. */
  _touched(m) {
    m.readDivider();
    if (!m.sm.enabled) return;
    if (m.parked) {
      m.parked = false;
      const now256 = (this.clock.now + 1) * 256;
      if (m.t256 < now256) {                      // on its own divider's grid
        m.t256 += Math.ceil((now256 - m.t256) / m.period256) * m.period256;
      }
    }
    this._refresh();
  }

  _refresh() {
    this.active = this.machines.filter((m) => m.sm.enabled);
    let next = Infinity;
    for (const m of this.active) next = Math.min(next, m.nextCycle);
    if (next < this.nextCycle && this.onEarlier) this.onEarlier(next);
    this.nextCycle = next;
  }

  /** Execute the earliest due machine's next instruction (at cycle `nextCycle`). */
  stepNext() {
    let first = null;
    for (const m of this.active) {
      if (!m.parked && (first === null || m.t256 < first.t256)) first = m;
    }
    this.clock.now = Math.ceil(first.t256 / 256);
    first.t256 += first.step() * first.period256;
    first.pio.checkChangedPins();
    let next = Infinity;
    for (const m of this.active) next = Math.min(next, m.nextCycle);
    this.nextCycle = next;
  }
}
