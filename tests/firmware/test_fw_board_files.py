"""The bundled board files start their real HAL backends (through the fakes of
rp2/esp32/machine, under CPython and micropython): every pin the file names
is one the backend can open, in the shape the backend reads."""
import json

import esp32
from fakeboard import FakeTransport
from hal.esp32 import Esp32Hal
from mcu import Mcu
from test_fw_rp2 import rig


def _board(board_id):
    here = globals().get("__file__", "")
    folder = here.rsplit("/", 1)[0] if "/" in here else "."
    with open(folder + "/../../boards/" + board_id + ".json") as f:
        return json.load(f)


def _rp2(board_id):
    return rig(spec=_board(board_id))[0]


def test_skr_pico_starts_the_rp2_backend():
    hal = _rp2("btt-skr-pico-v1.0")
    assert hal.step_gpio == [11, 6, 19, 14]
    assert hal.clock_freq == 12000000 and hal.cycles_per_tick == 10   # PIO at 120 MHz


def test_pico_bench_rig_starts_the_rp2_backend():
    hal = _rp2("rpi-pico-bench")
    assert hal.step_gpio == [2, 4, 6, 8]
    assert hal.pio_freq == 120000000


class _Ticks:
    def now(self):
        return 5000


def test_fysetc_e4_starts_the_esp32_backend():
    esp32.RMT.CHANNELS.clear()
    spec = _board("fysetc-e4")
    hal = Esp32Hal(spec, transport=FakeTransport(), ticks=_Ticks())
    Mcu(hal, spec)
    assert hal.clock_div == 80 and len(hal.channels) == 4
