// Mendel emulator: an ADXL345 accelerometer on an emulated SPI bus, playing back a recording.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Units: `ns` emulated nanoseconds (CycleClock.nanos); counts are the chip's raw
// register values (full resolution: 256 per g).
//
// Register level, from Analog Devices' ADXL345 data sheet (rev. G), "Serial
// communications" and "Register map": SPI mode 3 (CPOL 1, CPHA 1); CS low
// starts a transfer whose first byte is the address, bit 7 set to read, bit 6
// set for a multi-byte transfer (the address then counts up); the chip
// drives nothing useful while the address goes out (0 here).
//
//   DEVID       0x00  reads 0xE5
//   BW_RATE     0x2C  low 4 bits: output rate, 0xF = 3200 Hz, each code less halves it
//   POWER_CTL   0x2D  bit 3 Measure: sampling on (its rising edge starts the sample clock)
//   DATA_FORMAT 0x31  kept as written (the recording is already in register counts)
//   DATAX0..Z1  0x32  x, y, z little-endian; the first of them a transfer reads
//                     takes the oldest FIFO entry into all six (one entry a transfer)
//   FIFO_CTL    0x38  bits 7:6 mode: 0 bypass (no FIFO: the data registers hold the
//                     newest sample; writing it empties the FIFO), 1 FIFO (full: new
//                     samples are dropped), 2 stream and 3 trigger (full: the oldest
//                     is dropped)
//   FIFO_STATUS 0x39  bits 5:0 entries waiting, 0..32
//
// Samples: while measuring, sample k (k = 1, 2, ...) is made at start + k / rate
// of emulated time, `start` being when Measure was set; it takes entry
// (k - 1) mod N of the recording (N entries: playback restarts at each start
// and loops). They are made lazily, when a transfer looks, so the FIFO is
// what the chip would hold at that instant. Every other register reads what
// was last written (0 at power-up). The chip's 33rd entry (the one held in
// the data registers) is not modelled: FIFO_STATUS counts at most 32.

const READ = 0x80;
const MULTI = 0x40;
const ADDRESS = 0x3f;
const DEVID = 0xe5;
const REG_DEVID = 0x00;
const REG_BW_RATE = 0x2c;
const REG_POWER_CTL = 0x2d;
const REG_DATAX0 = 0x32;
const REG_FIFO_CTL = 0x38;
const REG_FIFO_STATUS = 0x39;
const MEASURE = 0x08;
const MODE_BYPASS = 0;
const MODE_FIFO = 1;
const FIFO_SIZE = 32;
const TOP_RATE_HZ = 3200;
const BW_RATE_TOP_CODE = 0xf;
const SSPCR0 = 0x000;                    // PrimeCell SSP (RP2040 datasheet 4.4.4)
const SPO = 1 << 6;                      // clock polarity: idles high
const SPH = 1 << 7;                      // clock phase: data taken on the second edge
const PIN_LOW = 0;                       // rp2040js GPIOPinState.Low: an output driven 0

/** BW_RATE code -> samples per second (data sheet table 7: 0xF is 3200 Hz, halving down). */
export function rateHz(code) {
  return TOP_RATE_HZ / 2 ** (BW_RATE_TOP_CODE - (code & 0xf));
}

export class FakeAdxl345 {
  /**
   * `rp2040`: the chip; `clock`: its CycleClock; `spec`: {bus (0/1), cs (GPIO),
   * samples: [[x, y, z], ...] raw counts, at least one}.
   */
  constructor(rp2040, clock, spec) {
    if (!spec.samples || !spec.samples.length) throw new Error('adxl345: an empty recording');
    this.clock = clock;
    this.spi = rp2040.spi[spec.bus];
    this.recording = spec.samples.map(([x, y, z]) => [x | 0, y | 0, z | 0]);
    this.regs = new Uint8Array(64);
    this.regs[REG_DEVID] = DEVID;
    this.regs[REG_BW_RATE] = 0x0a;       // power-up value: 100 Hz
    this.fifo = [];                      // [x, y, z] entries, oldest first
    this.selected = false;
    this.index = 0;                      // byte of the current transfer
    this.address = 0;
    this.latched = false;                // the data registers taken this transfer
    this.stats = { made: 0, dropped: 0, popped: 0, transfers: 0, wrong_mode: 0,
                   started_ns: null, period_ns: null };
    this.spi.onTransmit = (value) => this.spi.completeTransmit(this._byte(value));
    rp2040.gpio[spec.cs].addListener((state) => this._chipSelect(state === PIN_LOW));
  }

  _chipSelect(low) {
    if (low && !this.selected) {
      this.index = 0;
      this.latched = false;
      this.stats.transfers++;
    }
    this.selected = low;
  }

  /** One byte clocked both ways: `value` from MOSI; returns what MISO carries. */
  _byte(value) {
    if (!this.selected) return 0xff;                    // MISO floats (pulled up)
    if ((this.spi.readUint32(SSPCR0) & (SPO | SPH)) !== (SPO | SPH)) {
      this.stats.wrong_mode++;                           // not mode 3: the chip reads garbage
      return 0;
    }
    this._advance();
    if (this.index++ === 0) {
      this.address = value;
      return 0;
    }
    const reg = this.address & ADDRESS;
    if (this.address & MULTI) this.address = (this.address & ~ADDRESS) | ((reg + 1) & ADDRESS);
    if (this.address & READ) return this._read(reg);
    this._write(reg, value);
    return 0;
  }

  _read(reg) {
    if (reg >= REG_DATAX0 && reg < REG_DATAX0 + 6 && !this.latched) {
      this.latched = true;
      if (this._mode() !== MODE_BYPASS && this.fifo.length) {
        this._latch(this.fifo.shift());
        this.stats.popped++;
      }
    }
    if (reg === REG_FIFO_STATUS) return this.fifo.length;
    return this.regs[reg];
  }

  _write(reg, value) {
    const was = this.regs[REG_POWER_CTL] & MEASURE;
    if (reg === REG_DEVID || reg === REG_FIFO_STATUS || (reg >= REG_DATAX0 && reg < REG_DATAX0 + 6)) return;
    this.regs[reg] = value;
    if (reg === REG_FIFO_CTL && this._mode() === MODE_BYPASS) this.fifo = [];
    if (reg === REG_POWER_CTL && value & MEASURE && !was) this._start();
  }

  _mode() {
    return this.regs[REG_FIFO_CTL] >> 6;
  }

  _start() {
    this.period = 1e9 / rateHz(this.regs[REG_BW_RATE]);
    this.startNs = this.clock.nanos;
    this.made = 0;
    Object.assign(this.stats, { made: 0, dropped: 0, popped: 0 });   // counted per measurement
    this.stats.started_ns = this.startNs;
    this.stats.period_ns = this.period;
  }

  /** Make every sample due by now (emulated), while measuring. */
  _advance() {
    if (!(this.regs[REG_POWER_CTL] & MEASURE)) return;
    const due = Math.floor((this.clock.nanos - this.startNs) / this.period);
    while (this.made < due) {
      this._push(this.recording[this.made % this.recording.length]);
      this.made++;
      this.stats.made++;
    }
  }

  _push(entry) {
    const mode = this._mode();
    if (mode === MODE_BYPASS) {
      this._latch(entry);
      return;
    }
    if (this.fifo.length >= FIFO_SIZE) {
      this.stats.dropped++;
      if (mode === MODE_FIFO) return;                    // FIFO mode keeps the oldest 32
      this.fifo.shift();                                 // stream: the oldest goes
    }
    this.fifo.push(entry);
  }

  _latch(entry) {
    for (let axis = 0; axis < 3; axis++) {
      const value = entry[axis] & 0xffff;
      this.regs[REG_DATAX0 + 2 * axis] = value & 0xff;
      this.regs[REG_DATAX0 + 2 * axis + 1] = value >> 8;
    }
  }

  /** Counters for the host: samples made, dropped (FIFO full) and popped (read)
   *  since Measure was last set; transfers and wrong_mode since power-up. */
  report() {
    this._advance();
    return { ...this.stats, waiting: this.fifo.length,
             measuring: !!(this.regs[REG_POWER_CTL] & MEASURE) };
  }
}
