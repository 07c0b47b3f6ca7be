// Mendel emulator: MicroPython's rp2 port on rp2040js, run against emulated cycles.
// SPDX-License-Identifier: GPL-3.0-or-later
//
// node runner.mjs CONFIG.json   (started by mendel.emulate.Rp2040Emulator)
//
// CONFIG keys: rp2040js (folder holding node_modules/rp2040js), bootrom,
// uf2, fs_image and fs_offset (a littlefs image and its byte offset in
// flash), serial_fd (the master of the pty the host opens, non-blocking),
// control_fd (a socket: JSON lines both ways, see control.mjs), edge_log
// (file) and log_pins (GPIOs), duty_pins (GPIOs whose time high is measured
// for the heater plants), tick_ns (emulated ns between tick events),
// max_speed (emulated s per wall s at most), adc (channel -> raw 12-bit),
// drive (GPIO -> level, before boot), adxl345 (optional: {bus, cs, samples},
// a fake accelerometer on that SPI bus, see adxl345.mjs).
//
// Units: cycles are clk_sys cycles since power-up, ns emulated nanoseconds.

import fs from 'node:fs';
import net from 'node:net';
import { pathToFileURL } from 'node:url';

import { FakeAdxl345 } from './adxl345.mjs';
import { CycleClock } from './clock.mjs';
import { Control } from './control.mjs';
import { Pins } from './pins.mjs';
import { PioStepper } from './pio.mjs';
import { CdcBridge } from './usb.mjs';

const FLASH_BASE = 0x10000000;
const UF2_MAGIC = [0x0a324655, 0x9e5d5157];
const UF2_BLOCK = 512;
const BOOT_HZ = 125e6;                   // clk_sys until the firmware moves it
// Where the CPU starts: the flash image's boot2 (second-stage boot loader), with the
// stack pointer from the boot ROM's vector table, as rp2040js's own demos do. The
// boot ROM's own reset path does not get there on rp2040js 1.4.1: with
// VREG_AND_CHIP_RESET unimplemented it parks, and past that its flash check
// fails and it enters USB boot mode (measured). Its functions (flash
// erase/program, table lookups) are still the ROM's.
const FLASH_BOOT2 = 0x10000000;
const BATCH_CYCLES = 400000;             // emulated between looks at the pty and the socket
const READ_CHUNK = 4096;

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const rp = await import(pathToFileURL(
  `${config.rp2040js}/node_modules/rp2040js/dist/esm/index.js`).href);

function loadUf2(flash, data) {
  let blocks = 0;
  for (let at = 0; at + UF2_BLOCK <= data.length; at += UF2_BLOCK) {
    if (data.readUInt32LE(at) !== UF2_MAGIC[0] || data.readUInt32LE(at + 4) !== UF2_MAGIC[1]) continue;
    const target = data.readUInt32LE(at + 12) - FLASH_BASE;
    const size = data.readUInt32LE(at + 16);
    flash.set(data.subarray(at + 32, at + 32 + size), target);
    blocks++;
  }
  if (!blocks) throw new Error(`${config.uf2}: no UF2 blocks`);
}

const clock = new CycleClock(BOOT_HZ);
const chip = new rp.RP2040(clock);
chip.logger = new rp.ConsoleLogger(rp.LogLevel.Error);
const rom = fs.readFileSync(config.bootrom);
chip.loadBootrom(new Uint32Array(rom.buffer, rom.byteOffset, rom.byteLength >> 2));
loadUf2(chip.flash, fs.readFileSync(config.uf2));
if (config.fs_image) chip.flash.set(fs.readFileSync(config.fs_image), config.fs_offset);
chip.core.PC = FLASH_BOOT2;
chip.addClockListener((hz) => clock.setHz(hz));

const usage = { idle: 0 };                      // cycles the CPU spent waiting (WFI/WFE)
let nextEvent = 0;                               // earliest cycle something other than the CPU is due
const earlier = (cycle) => { if (cycle < nextEvent) nextEvent = cycle; };
clock.onEarlier = earlier;
const pio = new PioStepper(chip, clock, earlier);
const pins = new Pins(chip, clock, config.log_pins || []);
for (const [pin, level] of Object.entries(config.drive || {})) pins.drive(Number(pin), level);
for (const [channel, raw] of Object.entries(config.adc || {})) chip.adc.channelValues[channel] = raw;
for (const pin of config.duty_pins || []) pins.track(pin);
const adxl345 = config.adxl345 ? new FakeAdxl345(chip, clock, config.adxl345) : null;

const serialOut = [];
const usb = new CdcBridge(rp.USBCDC, chip.usbCtrl, clock, (data) => serialOut.push(Buffer.from(data)));
const edgeFd = config.edge_log ? fs.openSync(config.edge_log, 'w') : null;
const ticks = { every: config.tick_ns || 5e6, at: config.tick_ns || 5e6 };
ticks.cycle = clock.cycleAtNanos(ticks.at);

function nextTick() {
  ticks.at += ticks.every;
  ticks.cycle = clock.cycleAtNanos(ticks.at);
  const duty = {};
  for (const pin of config.duty_pins || []) duty[pin] = pins.takeDuty(pin, control.tickFrom);
  control.tick(duty);
  control.tickFrom = clock.now;
}

/** Run everything but the CPU that is due at or before `cycle`, in time order. */
function serviceTo(cycle) {
  for (;;) {
    const alarm = clock.nextAlarm;
    const step = pio.nextCycle;
    const drive = pins.nextCycle;
    const first = Math.min(alarm, step, drive, ticks.cycle);
    if (first > cycle) break;
    if (step === first) pio.stepNext();
    else if (alarm === first) clock.fireDue(first);
    else if (drive === first) pins.runDue();
    else { clock.now = first; nextTick(); }
  }
  clock.now = cycle;
  nextEvent = Math.min(clock.nextAlarm, pio.nextCycle, pins.nextCycle, ticks.cycle);
}

function runBatch(cycles) {
  const core = chip.core;
  const end = clock.now + cycles;
  while (clock.now < end) {
    if (core.waiting || clock.now < control.stallUntil) {
      const from = clock.now;
      serviceTo(Math.min(nextEvent, end));
      usage.idle += clock.now - from;
      continue;
    }
    const took = core.executeInstruction();
    const at = clock.now + took;
    if (at >= nextEvent) serviceTo(at);
    else clock.now = at;
  }
}

function pumpSerial() {
  const buffer = Buffer.alloc(READ_CHUNK);
  for (;;) {
    let n = 0;
    try {
      n = fs.readSync(config.serial_fd, buffer, 0, READ_CHUNK, null);
    } catch (err) {
      if (err.code !== 'EAGAIN' && err.code !== 'EIO') throw err;
    }
    if (n <= 0) break;
    usb.send(Uint8Array.from(buffer.subarray(0, n)));
  }
  while (serialOut.length) {
    const chunk = serialOut[0];
    let n = 0;
    try {
      n = fs.writeSync(config.serial_fd, chunk);
    } catch (err) {
      if (err.code !== 'EAGAIN' && err.code !== 'EIO') throw err;
      break;
    }
    if (n === chunk.length) serialOut.shift();
    else { serialOut[0] = chunk.subarray(n); break; }
  }
}

const control = new Control(new net.Socket({ fd: config.control_fd, readable: true, writable: true }),
                            { chip, clock, pins, usb, pio, earlier, usage, adxl345 });
control.tickFrom = 0;
control.flushEdges = () => { if (edgeFd !== null) fs.writeSync(edgeFd, pins.takeLog()); };
const wallStart = process.hrtime.bigint();

function loop() {
  if (control.closed) {
    if (edgeFd !== null) fs.closeSync(edgeFd);
    process.exit(0);
  }
  if (!control.paused) runBatch(BATCH_CYCLES);
  if (edgeFd !== null && pins.logUsed) fs.writeSync(edgeFd, pins.takeLog());
  pumpSerial();
  const wallNs = Number(process.hrtime.bigint() - wallStart);
  const ahead = clock.nanos / (config.max_speed || 1) - wallNs;
  if (ahead > 1e6) setTimeout(loop, Math.min(ahead / 1e6, 50));
  else setImmediate(loop);
}

control.event({ ev: 'ready', hz: clock.hz });
loop();
