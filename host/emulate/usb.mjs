// Mendel emulator: the USB CDC serial port of the emulated RP2040, as bytes.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// rp2040js's USBCDC plays the USB host: it enumerates the device, finds the
// CDC data endpoints and passes IN packets on. Its OUT side answers every
// buffer the device arms with a packet at once, an empty one when the host
// has nothing to say, so the device's USB interrupt fires again and again
// (about 70 % of the emulated CPU with MicroPython). Here an armed OUT
// buffer is held until host bytes are waiting, as a real host's NAK does.

export class CdcBridge {
  /** `USBCDC`: rp2040js's class; `usb`: the chip's RPUSBController; `clock`: its
   *  CycleClock; `onData(Uint8Array)`: bytes the device sent. */
  constructor(USBCDC, usb, clock, onData) {
    this.usb = usb;
    this.clock = clock;
    this.lastInCycle = -1;       // cycle the device was last handed host bytes
    this.cdc = new USBCDC(usb);
    this.connected = false;
    this.waiting = [];           // host bytes not yet handed to the device (Uint8Array chunks)
    this.armed = null;           // {endpoint, size} of a held OUT buffer
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.cdc.onDeviceConnected = () => { this.connected = true; };
    this.cdc.onSerialData = (data) => { this.bytesOut += data.length; onData(data); };
    usb.onEndpointRead = (endpoint, size) => {
      if (endpoint !== this.cdc.outEndpoint) return;
      this.armed = { endpoint, size };
      this._deliver();
    };
  }

  /** Queue bytes from the host (a Uint8Array) for the device. */
  send(bytes) {
    if (bytes.length === 0) return;
    this.waiting.push(bytes);
    this._deliver();
  }

  get pending() {
    return this.waiting.reduce((n, chunk) => n + chunk.length, 0);
  }

  _deliver() {
    if (this.armed === null || this.waiting.length === 0) return;
    const { endpoint, size } = this.armed;
    this.armed = null;
    const packet = new Uint8Array(size);
    let filled = 0;
    while (filled < size && this.waiting.length) {
      const chunk = this.waiting[0];
      const take = Math.min(size - filled, chunk.length);
      packet.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take === chunk.length) this.waiting.shift();
      else this.waiting[0] = chunk.subarray(take);
    }
    this.bytesIn += filled;
    this.lastInCycle = this.clock.now;
    this.usb.endpointReadDone(endpoint, packet.subarray(0, filled));
  }
}
