# Mendel firmware: HAL of the simulated board (MicroPython unix port).
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated board: the real firmware on the unix port, with a sim HAL.

* Transport: the process's stdin/stdout are the master side of a
  pseudo-terminal; the host opens the slave (``/dev/pts/N``) with pyserial as it
  would ``/dev/ttyACM0``. The launcher sets O_NONBLOCK on the master, so a read
  returns what is there and a hang-up (host closed the port) shows as POLLHUP.
* Clock: ``virtual`` (the default) stands still until the host's
  ``sim_advance`` moves it, so a print runs as fast as the host can feed it
  and gives the same result every run; otherwise it follows the wall clock.
* Steppers: each queued run moves the motor's position analytically and, when
  a step log path is given, is written there as ``oid first interval count add``.
  On a shutdown the steps taken so far are counted (runs cut short included)
  and logged as ``stop clock position...``. Each heater target or fan speed
  the firmware applies is logged as ``heater clock hid centi_degC`` or
  ``fan clock fid value_0_255`` (the clock it took effect).
* Heaters: ADC readings come from a :class:`ThermalPlant` per heater (sensor
  lag and noise included) through the same divider and sensor model the
  firmware reads them with; heater and fan PWM drive the plants.
* Endstops and probe: switches on the simulated carriages and bed
  (``hal/simswitch.py``), placed by the host in the board file's endstops
  ("sim"). An armed motor stops after the step that triggers its switch,
  found exactly by bisecting the clock (the switches are planes and homing
  moves are straight), and its queued runs are dropped, as the RP2040's PIO
  stop does; the step log gets ``hit clock oid position``.
* Toolhead and accelerometer: the board file's "sim_toolhead" (placed by
  the host from printer.cfg's ``[sim_plant toolhead]``) maps the motors'
  steps to the carriage's x, y, z (mm) and gives each axis a resonance
  (``hal/simtoolhead.py``); an ADXL345 (``hal/simadxl345.py``) on the
  board's SPI (:meth:`SimHal.spi`) samples the nozzle's acceleration as
  the clock advances, only while it measures.
* Faults: ``sim_fault`` schedules one of ``simplant.FAULTS`` on a heater's
  plant at a board clock; the tests and ``mendel print --sim-fault`` use it.
"""
import select
import sys
import time

import link
from hal.simplant import FAULTS as FAULT_WORDS
from hal.simplant import ThermalPlant, sensor_mode
from hal.simswitch import Switch
from hal.simtoolhead import motor_position
from motion.runlog import RunLog
from thermal.sensor import make_sensor

PEAKS = link.response("sim_peaks", "ii")


class PtyTransport:
    """Non-blocking byte transport over the inherited pty master (fd 0/1).

    ``lifeline_fd`` is the read end of a pipe whose write end only the
    launching host holds: when that process ends, however it ends, the pipe
    hangs up and the simulated board exits instead of waiting forever.
    """

    def __init__(self, lifeline_fd=None):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        self._lifeline = None
        if lifeline_fd is not None:
            self._lifeline = open(lifeline_fd, "rb")
            self._poll.register(self._lifeline, select.POLLIN)
        self.connected = False

    def wait(self, timeout_ms):
        """True when bytes are ready; tracks hang-ups in ``connected``."""
        for obj, event in self._poll.poll(timeout_ms):
            if obj is self._lifeline:
                raise SystemExit("mendel-sim: the host process is gone")
            if event & select.POLLIN:
                self.connected = True
                return True
            if event & (select.POLLHUP | select.POLLERR):
                self.connected = False
                time.sleep_ms(min(timeout_ms, 20))
        return False

    def readinto(self, view):
        """Read what is waiting into memoryview ``view``; returns the count."""
        try:
            n = self._in.readinto(view)
        except OSError:
            self.connected = False
            return 0
        return n or 0

    def write(self, data):
        if not self.connected:
            return
        view = memoryview(data)
        while len(view):
            try:
                n = self._out.write(view)
            except OSError:
                self.connected = False
                return
            if n is None:
                time.sleep_ms(1)
                continue
            view = view[n:]


class SimHal:
    """HAL backend of the simulated board."""

    def __init__(self, board, virtual=True, step_log=None, lifeline_fd=None):
        self.clock_freq = board["clock_freq"]
        self.virtual = virtual
        self.transport = PtyTransport(lifeline_fd)
        self._ticks = 0
        self._start_ns = time.time_ns()
        self._last_advance = 0
        self.mcu = None
        self.motors_enabled = False
        self._log = open(step_log, "w") if step_log else None
        self._runlog = RunLog(len(board["motors"]), board["step_queue_size"])
        self._pins = {}  # pin name -> plant and role
        self.plants = []
        self.pwm_periods = {}
        self._adc_cache = {}
        self._faults = []   # [clock, plant index, fault word], applied as time passes
        self.adc_max = adc_max = board["adc_max"]
        for i, spec in enumerate(board["heaters"]):
            plant = ThermalPlant(spec["sim_plant"], seed=i + 1)
            probe = make_sensor(spec["sim_sensor"], spec["pullup_ohm"], adc_max)
            self.plants.append(plant)
            self._pins[spec["sensor_pin"]] = ("adc", plant, probe)
            self._pins[spec["heater_pin"]] = ("heater", plant, None)
        for spec in board["fans"]:
            cooled = [self.plants[i] for i in spec.get("sim_cools", [])]
            self._pins[spec["pin"]] = ("fan", cooled, None)
        for spec in board.get("servos", []):
            # A BLTouch's control pin: the probe (endstop) of the same name.
            self._pins[spec["pin"]] = ("servo", spec["name"], None)
        motors = len(board["motors"])
        self._endstop_names = [spec["name"] for spec in board.get("endstops", [])]
        # Which way each carriage moves for a step up: -1 for a motor wired
        # the other way round ("sim_reversed"), flipped again by dir_invert.
        self._wired = [-1 if m.get("sim_reversed") else 1 for m in board["motors"]]
        self._sign = list(self._wired)
        self.switches = [Switch(spec["sim"], 100 + i) if "sim" in spec else None
                         for i, spec in enumerate(board.get("endstops", []))]
        self.hits = [None] * motors       # step position of each endstop stop
        self._armed = [-1] * motors       # endstop armed on each motor, or -1
        self._watching = False            # a switch is armed: check it as time passes
        self._checked = 0                 # clock up to which no armed switch triggered
        # Carriage map (rows: mm per step of each motor, origin: mm at 0 steps)
        # and the plant of the toolhead; SPI devices made on first use.
        self._toolhead = board.get("sim_toolhead") or {
            "rows": [[0.0] * motors] * 3, "origin": [0.0, 0.0, 0.0]}
        self._chips = []

    def attach(self, mcu):
        self.mcu = mcu

    def log(self, text):
        sys.stderr.write("mendel-sim: %s\n" % text)

    # -- clock ---------------------------------------------------------
    def clock(self):
        """MCU clock in ticks."""
        if self.virtual:
            return self._ticks
        return (time.time_ns() - self._start_ns) * self.clock_freq // 1000000000

    def advance(self, now):
        """Move simulated physics to ``now`` ticks (and the virtual clock)."""
        dt = (now - self._last_advance) / self.clock_freq
        if dt <= 0:
            return
        if self._watching:
            self._check_stops(now)
        if self._faults:
            self._apply_faults(now)
        for plant in self.plants:
            plant.advance(dt)
        if self._chips:
            # The chips sample after the last advance: runs over by then fold in.
            self._runlog.settle(self._last_advance)
            for chip in self._chips:
                chip.advance(now)
        self._last_advance = now
        if self.virtual:
            self._ticks = now

    @link.command("sim_advance", "i")
    def cmd_sim_advance(self, clock):
        """Virtual clock: run the board up to ``clock`` ticks, then report it."""
        if self.virtual and clock > self._ticks:
            self.mcu.run_until(clock)
        self.mcu.cmd_get_clock()

    @link.command("sim_fault", "isi")
    def cmd_sim_fault(self, hid, fault, clock):
        """Inject fault word ``fault`` into heater ``hid``'s plant at ``clock`` ticks."""
        word = fault.decode()
        if word not in FAULT_WORDS:
            self.mcu.shutdown("unknown sim fault %s" % word)
            return
        self._faults.append([clock, hid, word])
        self._apply_faults(self.clock())

    def _apply_faults(self, now):
        for entry in list(self._faults):
            if entry[0] <= now:
                self.plants[entry[1]].inject(entry[2])
                self.log("fault %s on heater %d" % (entry[2], entry[1]))
                self._faults.remove(entry)

    @link.command("sim_get_peaks", "i")
    def cmd_sim_get_peaks(self, hid):
        """Report the highest temperature heater ``hid`` reached (degC x100)."""
        self.mcu.link.send(PEAKS, hid, int(self.plants[hid].peak * 100))

    # -- steppers ------------------------------------------------------
    def step_run(self, oid, first, interval, count, add):
        self._runlog.add(oid, first, interval, count, add, self.clock())
        if self._log is not None:
            self._log.write("%d %d %d %d %d\n" % (oid, first, interval, count, add))

    def stop_motors(self, now):
        """Stop at ``now``: returns each motor's position in steps actually taken."""
        taken = self._runlog.taken(now)
        if self._log is not None:
            self._log.write("stop %d %s\n" % (now, " ".join(str(p) for p in taken)))
            self._log.flush()
        return taken

    def enable_motors(self, on):
        self.motors_enabled = on

    def note_output(self, clock, kind, index, value):
        """Log a heater target (degC x100) or fan speed (0..255) the firmware
        applied at ``clock``, as ``heater|fan clock index value``."""
        if self._log is not None:
            self._log.write("%s %d %d %d\n" % (kind, clock, index, value))

    # -- endstops -----------------------------------------------------
    def home_arm(self, oid, endstop):
        """Let endstop ``endstop`` stop motor ``oid`` (from the next step on)."""
        switch = self.switches[endstop]
        now = self.clock()
        if max(self._armed) < 0:
            self._checked = now
        self._armed[oid] = endstop
        self._watching = True
        self.hits[oid] = None
        if switch is not None:          # none placed: an input with nothing wired
            switch.rearm()

    def home_disarm(self, oid):
        self._armed[oid] = -1

    def endstop_invert(self, endstop, inverted):
        """Read endstop ``endstop``'s pin inverted (printer.cfg ``!``)."""
        if self.switches[endstop] is not None:
            self.switches[endstop].inverted = bool(inverted)

    def endstop_read(self, endstop):
        """The endstop pin's level (1 = triggered, once inversion is applied)."""
        switch = self.switches[endstop]
        if switch is None:
            return 0
        return switch.level(self._positions(self.clock()))


    def _servo(self, name, pulse_us):
        """A BLTouch's pin follows its servo pulse: below 1000 us down
        (deployed, 650 us), 1300..1600 us up (stowed, 1475 us); other modes
        (self-test, reset) leave it as it is."""
        if name not in self._endstop_names:
            return
        switch = self.switches[self._endstop_names.index(name)]
        if switch is None:
            return
        if 0 < pulse_us < 1000:
            switch.deployed = True
        elif 1300 <= pulse_us <= 1600:
            switch.deployed = False

    def dir_invert(self, oid, inverted):
        """Reverse motor ``oid``'s direction (printer.cfg ``dir_pin: !``)."""
        self._sign[oid] = -self._wired[oid] if inverted else self._wired[oid]

    def _positions(self, now):
        """Each motor's physical position (steps, signed by its wiring) at ``now``."""
        runlog = self._runlog
        sign = self._sign
        return [sign[oid] * runlog.position_at(oid, now) for oid in range(len(sign))]

    def _check_stops(self, now):
        """Stop each armed motor after the step that triggered its switch, if
        one did by ``now``."""
        start = self._checked
        for eid in range(len(self.switches)):
            switch = self.switches[eid]
            if switch is None or eid not in self._armed:
                continue
            if not switch.level(self._positions(now)):
                continue
            if switch.level(self._positions(start)):
                at = start                      # triggered before it moved
            else:
                low, at = start, now            # not triggered at low, triggered at at
                while at - low > 1:
                    mid = (low + at) // 2
                    if switch.level(self._positions(mid)):
                        at = mid
                    else:
                        low = mid
            for oid in range(len(self._armed)):
                if self._armed[oid] == eid:
                    self._stop_at(oid, at, self._runlog.position_at(oid, at))
        self._checked = now
        self._watching = max(self._armed) >= 0

    def _stop_at(self, oid, clock, position):
        self._armed[oid] = -1
        self._runlog.stop(oid, clock, position)
        self.hits[oid] = position
        if self._log is not None:
            self._log.write("hit %d %d %d\n" % (clock, oid, position))
        self.mcu.steppers.motor_stopped(oid, position)

    # -- SPI and the toolhead ------------------------------------------
    def spi(self, spec):
        """The SPI device of board accelerometer ``spec`` (the board file's
        entry): a simulated ADXL345 mounted on the toolhead. The device has
        ``write_readinto(out, into)`` (one transfer, CS held low) and
        ``write(out)``."""
        from hal.simadxl345 import SimAdxl345
        chip = SimAdxl345(self._toolhead, self.clock_freq, self.carriage,
                          seed=len(self._chips) + 7)
        self._chips.append(chip)
        return chip

    def carriage(self, clock):
        """The carriage's x, y, z (mm) at board ``clock``, from the steps
        around it (hal/simtoolhead.py's motor_position)."""
        runlog = self._runlog
        sign = self._sign
        rows = self._toolhead["rows"]
        # Motors that move no axis (the extruder) are not looked at.
        steps = [sign[oid] * motor_position(*runlog.around(oid, clock), clock)
                 if rows[0][oid] or rows[1][oid] or rows[2][oid] else 0.0
                 for oid in range(len(sign))]
        origin = self._toolhead["origin"]
        out = []
        for i in range(3):
            row = rows[i]
            total = origin[i]
            for m in range(len(steps)):
                total += row[m] * steps[m]
            out.append(total)
        return out

    # -- analog --------------------------------------------------------
    def adc_read(self, pin):
        """Divider reading of the plant's sensor, noise included (counts)."""
        entry = self._pins[pin]
        plant = entry[1]
        mode = sensor_mode(plant) if plant.faults else None
        if mode is not None:
            return self.adc_max if mode == "open" else 0
        # The sensor model is costly (Cardano's formula): evaluate it once per
        # sensor temperature and add the noise through the local slope.
        cache = self._adc_cache.get(pin)
        if cache is None or cache[0] != plant.sensor:
            probe = entry[2]
            base = probe.adc(plant.sensor)
            cache = (plant.sensor, base, probe.adc(plant.sensor + 0.5) - base)
            self._adc_cache[pin] = cache
        adc = int(cache[1] + cache[2] * 2.0 * (plant.reading() - plant.sensor) + 0.5)
        return 0 if adc < 0 else (self.adc_max if adc > self.adc_max else adc)

    def pwm_config(self, pin, period_s):
        """Record the PWM period (s); the plant integrates the mean duty."""
        self.pwm_periods[pin] = period_s

    def pwm_write(self, pin, duty):
        role, target, _probe = self._pins[pin]
        if role == "servo":
            self._servo(target, duty * 20000.0)
        elif role == "heater":
            target.duty = duty
        else:
            for plant in target:
                plant.fan = duty

