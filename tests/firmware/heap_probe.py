"""Heap use of the firmware on the MicroPython unix port (run by test_firmware_heap.py).

    micropython heap_probe.py FIRMWARE_DIR

Builds the real Mcu on the rp2 backend (fakes of rp2/machine at the
boundary) for a four-motor board with 128-run queues, then fills every queue
and every DMA ring, and prints one line of JSON: bytes of GC heap in use
(after a collection) once the firmware is imported, at idle, with full
queues, after the queued motion ran, and the highest of those.
"""
import gc
import sys


def board():
    motors = [{"name": n, "step_pin": "gpio%d" % s, "dir_pin": "gpio%d" % d,
               "enable_pin": "gpio%d" % e, "enable_inverted": True}
              for n, s, d, e in (("x", 11, 10, 12), ("y", 6, 5, 7), ("z", 19, 28, 2),
                                 ("e", 14, 13, 15))]
    return {"id": "heap", "mcu": "rp2040", "clock_freq": 1000000, "step_queue_size": 128,
            "adc_max": 65535, "motors": motors,
            "endstops": [{"name": "x", "pin": "gpio4", "pull": "up"}],
            "heaters": [{"name": "extruder", "sensor_pin": "gpio27", "heater_pin": "gpio23",
                         "pullup_ohm": 4700},
                        {"name": "heater_bed", "sensor_pin": "gpio26", "heater_pin": "gpio21",
                         "pullup_ohm": 4700}],
            "fans": [{"name": "fan", "pin": "gpio17"}, {"name": "fan1", "pin": "gpio18"}]}


def used():
    gc.collect()
    return gc.mem_alloc()


def main():
    here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
    sys.path[:0] = [sys.argv[1], here + "/fakes", here]
    import machine
    import rp2
    from fakeboard import FakeTransport
    rp2.RECORD[0] = False
    base = used()
    from hal.rp2 import Rp2Hal
    from mcu import Mcu
    import thermal.heater  # noqa: F401  (imported lazily by Heaters: code, not data)
    figures = {"imported": used() - base}
    spec = board()
    hal = Rp2Hal(spec, transport=FakeTransport(), start=rp2.start_on_tick)
    mcu = Mcu(hal, spec)
    figures["idle"] = used() - base
    start = machine.TIME_US[0] + 100000          # past the 60 ms lead
    steppers = mcu.steppers
    for oid in range(4):
        steppers.cmd_set_step_clock(oid, start)
        for _ in range(128):
            steppers.cmd_queue_step(oid, 40, 12, 1)
    assert mcu.shutdown_reason is None, mcu.shutdown_reason
    figures["full_queues"] = used() - base
    figures["rings_used"] = [s.state[10] for s in hal.streams]
    for _ in range(200):
        machine.TIME_US[0] += 500
        rp2.run()
        hal.service()
    assert mcu.shutdown_reason is None, mcu.shutdown_reason
    figures["after_motion"] = used() - base
    figures["peak"] = max(figures["idle"], figures["full_queues"], figures["after_motion"])
    print("HEAP " + repr(figures).replace("'", '"'))


if __name__ == "__main__":
    main()
