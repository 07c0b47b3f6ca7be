// Mendel emulator: the control channel, JSON lines on a socket.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// Requests (one JSON object a line; the answer echoes "id"):
//   {"op": "time"}                          -> cycle, ns, hz, epochs [[cycle, ns, hz], ...]
//   {"op": "drive", "pin": 11, "level": 0, "at_cycle": null}   input level, now or later
//   {"op": "release", "pin": 11}            the input floats again (reads its pull)
//   {"op": "adc", "channel": 0, "raw": 2048}  raw 12-bit ADC reading of channel 0..3
//   {"op": "pins", "pins": [14, 15]}        -> levels {pin: 0/1}, pwm {pin: duty 0..1 or null}
//   {"op": "flush"}                         edge log records so far written to the file
//   {"op": "stats"}                         -> cycle, ns, wall_s, edges, usb byte counts,
//                                              idle_cycles (CPU in WFI/WFE), usb_last_in_cycle
//                                              (when the device last got host bytes)
//   {"op": "adxl345"}                       -> the fake accelerometer's counters (adxl345.mjs
//                                              report(): made, dropped, popped, transfers,
//                                              wrong_mode, started_ns, period_ns, waiting)
//   {"op": "quit"}
// Events (no "id"): {"ev": "ready"}, {"ev": "usb"} once the CDC port is up,
// {"ev": "tick", "cycle", "ns", "duty": {pin: fraction high since the last tick}}.
// Units: cycles are clk_sys cycles since power-up, ns emulated nanoseconds.

const PWM_STRIDE = 0x14;                 // RP2040 datasheet 4.5.3: CHn_CSR at 0x14 n
const PWM_CC = 0x0c;
const PWM_TOP = 0x10;

export class Control {
  /** `socket`: a net.Socket; `parts`: {chip, clock, pins, usb, pio, adxl345 or null}. */
  constructor(socket, parts) {
    this.socket = socket;
    this.parts = parts;
    this.closed = false;
    this.paused = false;
    this.stallUntil = 0;
    this.wallStart = Date.now();
    this._partial = '';
    this._usbSaid = false;
    socket.setEncoding('utf8');
    socket.on('data', (text) => this._receive(text));
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => { this.closed = true; });
  }

  event(message) {
    if (!this.closed) this.socket.write(JSON.stringify(message) + '\n');
  }

  tick(duty) {
    const { clock, usb } = this.parts;
    if (usb.connected && !this._usbSaid) {
      this._usbSaid = true;
      this.event({ ev: 'usb', cycle: clock.now, ns: clock.nanos });
    }
    this.event({ ev: 'tick', cycle: clock.now, ns: clock.nanos, duty });
  }

  _receive(text) {
    const lines = (this._partial + text).split('\n');
    this._partial = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      let request;
      try {
        request = JSON.parse(line);
      } catch (err) {
        this.event({ error: `not JSON: ${line.slice(0, 80)}` });
        continue;
      }
      let answer;
      try {
        answer = this._handle(request);
      } catch (err) {
        answer = { error: String(err && err.message ? err.message : err) };
      }
      this.event({ id: request.id, ...answer });
    }
  }

  _handle(request) {
    const { chip, clock, pins, usb } = this.parts;
    switch (request.op) {
      case 'time':
        return { cycle: clock.now, ns: clock.nanos, hz: clock.hz,
                 epochs: clock.epochs.map((e) => [e.cycle, e.ns, e.hz]) };
      case 'drive':
        pins.drive(request.pin, request.level ? 1 : 0, request.at_cycle);
        this.parts.earlier(pins.nextCycle);
        return { ok: true, cycle: clock.now };
      case 'release':
        pins.release(request.pin);
        return { ok: true };
      case 'adc':
        if (!(request.channel >= 0 && request.channel <= 4)) throw new Error('ADC channel 0..4');
        chip.adc.channelValues[request.channel] = Math.max(0, Math.min(4095, request.raw | 0));
        return { ok: true };
      case 'pins': {
        const levels = {};
        const pwm = {};
        for (const pin of request.pins) {
          levels[pin] = pins.level(pin);
          pwm[pin] = this._pwmDuty(pin);
        }
        return { cycle: clock.now, levels, pwm };
      }
      case 'flush':
        this.flushEdges();
        return { ok: true, edges: pins.edges };
      case 'stats':
        return { cycle: clock.now, ns: clock.nanos, wall_s: (Date.now() - this.wallStart) / 1000,
                 edges: pins.edges, usb_in: usb.bytesIn, usb_out: usb.bytesOut,
                 usb_pending: usb.pending, usb_connected: usb.connected,
                 idle_cycles: this.parts.usage.idle, usb_last_in_cycle: usb.lastInCycle };
      case 'stall':
        // The CPU stops for `cycles` while the PIO, DMA, timers and pins go on:
        // a firmware that cannot refill its rings in time (tests).
        this.stallUntil = this.parts.clock.now + Math.max(0, request.cycles | 0);
        return { ok: true, cycle: this.parts.clock.now, until: this.stallUntil };
      case 'adxl345':
        if (!this.parts.adxl345) throw new Error('this emulator has no accelerometer');
        return this.parts.adxl345.report();
      case 'quit':
        this.closed = true;
        return { ok: true };
      default:
        throw new Error(`unknown op ${request.op}`);
    }
  }

  /** Duty (0..1) the PWM slice of `pin` is set to, or null when the pin is not a PWM output. */
  _pwmDuty(pin) {
    const { chip } = this.parts;
    if (chip.gpio[pin].functionSelect !== 4) return null;          // FUNCSEL 4: PWM
    const slice = (pin >> 1) & 7;
    const top = chip.pwm.readUint32(slice * PWM_STRIDE + PWM_TOP) & 0xffff;
    const cc = chip.pwm.readUint32(slice * PWM_STRIDE + PWM_CC);
    const level = pin & 1 ? cc >>> 16 : cc & 0xffff;
    return Math.min(1, level / (top + 1));
  }
}
