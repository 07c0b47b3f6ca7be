// Mendel emulator: emulated time counted in system clock cycles.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Units: `cycle` system clock (clk_sys) cycles since power-up, an integer;
// `ns` nanoseconds since power-up; `hz` clk_sys frequency.
//
// rp2040js peripherals ask an IClock for `nanos` and schedule alarms in
// nanoseconds. Here the master count is the integer cycle, and nanoseconds
// follow from it piecewise (one epoch per clk_sys frequency), so that the
// 1 MHz timer the firmware reads and the PIO cycles that place step edges
// stay exact to the cycle however long the run: at 120 MHz a microsecond is
// exactly 120 cycles, never 119.9999 from summed float steps.

export class CycleClock {
  /** `hz`: clk_sys at power-up (the RP2040 boots on its 125 MHz default in rp2040js). */
  constructor(hz) {
    this.now = 0;                                  // cycle of the instruction or event being run
    this.epochs = [{ cycle: 0, ns: 0, hz }];
    this._epoch = this.epochs[0];
    this._alarms = [];                             // scheduled, sorted by .cycle
    this.onEarlier = null;                         // called with a cycle when an alarm lands before others
  }

  get hz() {
    return this._epoch.hz;
  }

  /** Nanoseconds at cycle `cycle` (>= the current epoch's start). */
  nanosAt(cycle) {
    const ep = this._epoch;
    return ep.ns + ((cycle - ep.cycle) * 1000) / (ep.hz / 1e6);
  }

  get nanos() {
    return this.nanosAt(this.now);
  }

  get micros() {
    return this.nanos / 1000;
  }

  /** First cycle at or after `now` whose time is at least `ns`. */
  cycleAtNanos(ns) {
    if (ns <= this.nanos) return this.now;
    const ep = this._epoch;
    let cycle = ep.cycle + Math.ceil(((ns - ep.ns) * (ep.hz / 1e6)) / 1000);
    while (cycle > this.now && this.nanosAt(cycle - 1) >= ns) cycle--;
    while (this.nanosAt(cycle) < ns) cycle++;
    return cycle;
  }

  /** clk_sys changed to `hz` at the current cycle: a new epoch; alarms keep their times. */
  setHz(hz) {
    if (hz === this._epoch.hz) return;
    this._epoch = { cycle: this.now, ns: this.nanos, hz };
    this.epochs.push(this._epoch);
    for (const alarm of this._alarms) alarm.cycle = this.cycleAtNanos(alarm.ns);
    this._alarms.sort((a, b) => a.cycle - b.cycle);
  }

  createAlarm(callback) {
    return new CycleAlarm(this, callback);
  }

  /** Cycle of the next alarm, Infinity when none is scheduled. */
  get nextAlarm() {
    return this._alarms.length ? this._alarms[0].cycle : Infinity;
  }

  /** Run the first alarm if it is due at or before `cycle`; true if one ran. */
  fireDue(cycle) {
    const alarm = this._alarms[0];
    if (alarm === undefined || alarm.cycle > cycle) return false;
    this._alarms.shift();
    alarm.scheduled = false;
    this.now = alarm.cycle;
    alarm.callback();
    return true;
  }

  _link(alarm) {
    const list = this._alarms;
    let i = list.length;
    while (i > 0 && list[i - 1].cycle > alarm.cycle) i--;
    list.splice(i, 0, alarm);
    if (i === 0 && this.onEarlier) this.onEarlier(alarm.cycle);
  }

  _unlink(alarm) {
    const i = this._alarms.indexOf(alarm);
    if (i >= 0) this._alarms.splice(i, 1);
  }
}

/** One rp2040js alarm (the IAlarm interface): `schedule(deltaNanos)`, `cancel()`. */
class CycleAlarm {
  constructor(clock, callback) {
    this.clock = clock;
    this.callback = callback;
    this.scheduled = false;
    this.ns = 0;
    this.cycle = 0;
  }

  schedule(deltaNanos) {
    if (this.scheduled) this.clock._unlink(this);
    this.ns = this.clock.nanos + deltaNanos;
    this.cycle = this.clock.cycleAtNanos(this.ns);
    this.scheduled = true;
    this.clock._link(this);
  }

  cancel() {
    if (this.scheduled) this.clock._unlink(this);
    this.scheduled = false;
  }
}
