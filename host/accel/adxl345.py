# Mendel host: an ADXL345 on the board, started and stopped by the host.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``[adxl345]`` accelerometers of a printer (``printer.accelerometers``).

``Accelerometer.start()`` checks the chip's id and starts it streaming at
the board's clock now; ``stop()`` waits for the queued moves, stops the chip
and returns every sample since the start as a numpy (N, 4) float64 array:
print time (s, the toolhead's clock: board ticks / clock frequency), ax,
ay, az (mm/s^2, printer axes after ``axes_map``). Messages arrive while the
host waits for the board (any link pump); the board's final
``adxl345_status`` comes after the last of them, so ``stop()`` has them all.
"""
from mendel.accel import AccelError
from mendel.accel.samples import decode

DEVID = 0xE5
QUERY_TIMEOUT_S = 5.0


class Accelerometer:
    """One chip: ``config`` a mendel.config.accel.AccelConfig, ``mcu`` the
    board (mendel.mcu.mcu.Mcu), ``toolhead`` (or None) whose moves ``stop``
    waits for."""

    def __init__(self, config, mcu, toolhead=None):
        self.name = config.name
        self.config = config
        self.mcu = mcu
        self.toolhead = toolhead
        self.overflows = 0           # FIFO overflows of the last measurement
        self._messages = None        # data messages while measuring

    @property
    def measuring(self):
        return self._messages is not None

    def on_data(self, args):
        """An ``adxl345_data`` message for this chip (oid, clock32, seq, remaining, data)."""
        if self._messages is not None:
            _oid, clock32, seq, remaining, data = args
            self._messages.append((self._whole_clock(clock32), seq, remaining, data))

    def _whole_clock(self, clock32):
        """The board clock (ticks) nearest the host's latest estimate with these low 32 bits."""
        ref = self.mcu.clock_estimate() or 0
        return ref + ((clock32 - ref + (1 << 31)) % (1 << 32)) - (1 << 31)

    def check_id(self):
        """Raise AccelError unless the chip answers with the ADXL345's DEVID."""
        if "adxl345_query_id" not in self.mcu.commands:
            raise AccelError("[%s]: the board firmware %s has no accelerometer (its board file "
                             "lists none: boards/<board>.json \"accelerometers\")"
                             % (self.name, self.mcu.info.get("board")))
        oid = self.config.oid
        _oid, devid = self.mcu.query("adxl345_query_id", (oid,), "adxl345_id",
                                     match=lambda a: a[0] == oid, timeout=QUERY_TIMEOUT_S)
        if devid != DEVID:
            raise AccelError("Invalid adxl345 id (got %x vs %x): [%s] reads no ADXL345 on its "
                             "SPI bus; check its wiring (CS, SDO/MISO, power) or the chip"
                             % (devid, DEVID, self.name))

    def start(self):
        """Check the chip and begin streaming now (board clock). AccelError
        if it is already measuring or does not answer as an ADXL345."""
        if self.measuring:
            raise AccelError("[%s] is already measuring" % self.name)
        self.check_id()
        self._messages = []
        self.overflows = 0
        self.mcu.send("adxl345_start", self.config.oid, self.config.rate_code)
        self.mcu.flush()

    def stop(self):
        """Wait for the queued moves, stop, and return the samples: numpy
        (N, 4) float64 (print time s, ax, ay, az mm/s^2). AccelError if it
        was not measuring or samples were lost on the link."""
        if not self.measuring:
            raise AccelError("[%s] is not measuring" % self.name)
        if self.toolhead is not None:
            self.toolhead.wait_moves()
        oid = self.config.oid
        try:
            _oid, _clock, count, overflows = self.mcu.query(
                "adxl345_stop", (oid,), "adxl345_status", match=lambda a: a[0] == oid,
                timeout=QUERY_TIMEOUT_S)
        finally:
            messages, self._messages = self._messages, None
        self.overflows = overflows
        try:
            samples = decode(messages, self.mcu.clock_freq, self.config.rate,
                             self.config.axes_map)
        except ValueError as exc:
            raise AccelError("[%s]: %s" % (self.name, exc)) from None
        if len(samples) != count:
            raise AccelError("[%s]: the board read %d samples, %d arrived"
                             % (self.name, count, len(samples)))
        return samples


def make_accelerometers(config, mcu, toolhead=None):
    """``{name: Accelerometer}`` of printer ``config``'s [adxl345] sections,
    their data messages routed to them."""
    found = {name: Accelerometer(accel, mcu, toolhead)
             for name, accel in getattr(config, "accelerometers", {}).items()}
    if found:
        by_oid = {}
        for accel in found.values():
            by_oid.setdefault(accel.config.oid, []).append(accel)

        def route(args):
            for accel in by_oid.get(args[0], ()):
                accel.on_data(args)
        mcu.handlers["adxl345_data"] = route
    return found
