// Mendel emulator: GPIO edges, driven inputs, pulls, and heater pin duty.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Units: cycles are clk_sys cycles (CycleClock.now).
//
// Edge log: one 10-byte record per level change of a logged pin,
// little-endian: uint32 cycle low word, uint32 cycle high word, uint8 GPIO,
// uint8 level (0/1). A PIO pin's record carries the PIO cycle it changed on.
//
// Inputs: rp2040js reads an undriven input as 0 whatever its pad pull; here
// an input that no test drives follows its pull (pull-up reads 1), as on the
// chip. A driven pin keeps the level given until driven again.

const HIGH = 1;
const INPUT_PULL_UP = 3;
const RECORD = 10;

export class Pins {
  /** `rp2040`: the chip; `clock`: its CycleClock; `logPins`: GPIOs whose edges are logged. */
  constructor(rp2040, clock, logPins) {
    this.gpio = rp2040.gpio;
    this.clock = clock;
    this.driven = new Set();
    this.scheduled = [];         // [{cycle, pin, level}] sorted by cycle
    this.log = new Uint8Array(1 << 16);
    this.logView = new DataView(this.log.buffer);
    this.logUsed = 0;
    this.logged = new Set(logPins);
    this.edges = 0;
    this.duty = new Map();       // pin -> {level, since, high}: time at level 1 since the last read
    this.gpio.forEach((pin, index) => {
      pin.addListener((state) => this._changed(index, state));
    });
  }

  level(index) {
    const pin = this.gpio[index];
    return (pin.outputEnable ? pin.outputValue : pin.inputValue) ? 1 : 0;
  }

  _changed(index, state) {
    if (!this.driven.has(index) && !this.gpio[index].outputEnable) {
      this.gpio[index].setInputValue(state === INPUT_PULL_UP);
    }
    this._record(index);
  }

  _record(index) {
    const level = this.level(index);
    const track = this.duty.get(index);
    if (track !== undefined && track.level !== level) {
      if (track.level) track.high += this.clock.now - track.since;
      track.level = level;
      track.since = this.clock.now;
    }
    if (this.logged.has(index)) this._append(index, level);
  }

  _append(index, level) {
    if (this.logUsed + RECORD > this.log.length) {
      const bigger = new Uint8Array(this.log.length * 2);
      bigger.set(this.log);
      this.log = bigger;
      this.logView = new DataView(bigger.buffer);
    }
    const cycle = this.clock.now;
    const view = this.logView;
    view.setUint32(this.logUsed, cycle % 4294967296, true);
    view.setUint32(this.logUsed + 4, Math.floor(cycle / 4294967296), true);
    view.setUint8(this.logUsed + 8, index);
    view.setUint8(this.logUsed + 9, level);
    this.logUsed += RECORD;
    this.edges++;
  }

  /** The log records made since the last call (a Uint8Array view, valid until the next record). */
  takeLog() {
    const out = this.log.subarray(0, this.logUsed);
    this.logUsed = 0;
    return out;
  }

  /** Drive input `pin` to `level` now, or at `cycle` (emulated) if later than now. */
  drive(pin, level, cycle) {
    if (cycle !== undefined && cycle !== null && cycle > this.clock.now) {
      this.scheduled.push({ cycle, pin, level });
      this.scheduled.sort((a, b) => a.cycle - b.cycle);
      return;
    }
    this.driven.add(pin);
    const before = this.level(pin);
    this.gpio[pin].setInputValue(!!level);
    if (this.level(pin) !== before) this._record(pin);
  }

  /** Let `pin` float again: it reads its pull. */
  release(pin) {
    this.driven.delete(pin);
    this._changed(pin, this.gpio[pin].value);
  }

  get nextCycle() {
    return this.scheduled.length ? this.scheduled[0].cycle : Infinity;
  }

  /** Apply the scheduled drive due at or before `cycle`. */
  runDue() {
    const due = this.scheduled.shift();
    this.clock.now = due.cycle;
    this.drive(due.pin, due.level);
  }

  /** Start measuring the time `pin` spends high. */
  track(pin) {
    this.duty.set(pin, { level: this.level(pin), since: this.clock.now, high: 0 });
  }

  /** Fraction of the cycles since the last call that `pin` (tracked) spent high. */
  takeDuty(pin, fromCycle) {
    const track = this.duty.get(pin);
    const now = this.clock.now;
    let high = track.high + (track.level ? now - track.since : 0);
    track.high = 0;
    track.since = now;
    return now > fromCycle ? high / (now - fromCycle) : track.level;
  }
}
