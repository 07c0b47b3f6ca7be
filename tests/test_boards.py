"""Every board definition in boards/ validates against its MCU's pin catalogue;
the validator catches each kind of mistake."""
import copy
import json
import os

import pytest

from mendel import boards

BOARD_IDS = boards.board_ids()


def test_the_issue_boards_are_bundled():
    assert {"sim", "btt-skr-pico-v1.0", "rpi-pico-bench", "fysetc-e4"} <= set(BOARD_IDS)


@pytest.mark.parametrize("board_id", BOARD_IDS)
def test_board_file_is_valid(board_id):
    board = boards.load_board(board_id)
    assert boards.validate_board(board, board_id) == []
    assert all(isinstance(s, str) and s for s in board["source"])


@pytest.mark.parametrize("board_id", [b for b in BOARD_IDS if b != "sim"])
def test_real_boards_cite_their_pins_and_drive_four_motors(board_id):
    board = boards.checked_board(board_id)
    assert [m["name"] for m in board["motors"]] == ["x", "y", "z", "e"]
    assert {h["kind"] for h in board["heaters"]} == {"hotend", "bed"}
    assert any("Klipper" in s or "Marlin" in s or "Datasheet" in s for s in board["source"])


def test_catalogues_match_the_datasheets():
    rp2040 = boards.mcu_pins("rp2040")
    assert rp2040["pins"] == ["gpio%d" % i for i in range(30)]
    assert sorted(rp2040["adc"]) == ["gpio26", "gpio27", "gpio28", "gpio29"]
    esp32 = boards.mcu_pins("esp32")
    assert len(esp32["pins"]) == 34 and "gpio20" not in esp32["pins"]
    assert sorted(esp32["reserved"]) == ["gpio%d" % i for i in (10, 11, 6, 7, 8, 9)]
    assert set(esp32["input_only"]) == {"gpio%d" % i for i in range(34, 40)}


def test_pico_bench_rig_leaves_the_picos_internal_pins_alone():
    board = boards.load_board("rpi-pico-bench")
    used = {pin for pin, _role, _owner in boards._pin_uses(board)}
    assert not used & {"gpio23", "gpio24", "gpio25", "gpio29"}
    assert set(board["reserved_pins"]) == {"gpio23", "gpio24", "gpio25", "gpio29"}


def _broken(board_id, change):
    board = copy.deepcopy(boards.load_board(board_id))
    change(board)
    return boards.validate_board(board, board_id)


def _set(path, value):
    def change(board):
        target = board
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


@pytest.mark.parametrize("board_id, path, value, message", [
    ("btt-skr-pico-v1.0", ("motors", 0, "step_pin"), "gpio30", "motor x step gpio30: no such pin"),
    ("btt-skr-pico-v1.0", ("motors", 1, "step_pin"), "gpio11", "already used by motor x"),
    ("btt-skr-pico-v1.0", ("heaters", 0, "sensor_pin"), "gpio22", "not an ADC pin"),
    ("btt-skr-pico-v1.0", ("fans", 0, "pin"), "gpio27", "already used by heater extruder"),
    ("btt-skr-pico-v1.0", ("motors", 1, "uart", "address"), 0, "address 0 shared"),
    ("rpi-pico-bench", ("fans", 0, "pin"), "gpio25", "reserved (Pico: on-board LED)"),
    ("fysetc-e4", ("motors", 0, "step_pin"), "gpio20", "no such pin on esp32"),
    ("fysetc-e4", ("motors", 0, "step_pin"), "gpio7", "reserved (wired to the module's SPI"),
    ("fysetc-e4", ("fans", 0, "pin"), "gpio38", "input-only pin used as an output"),
    ("fysetc-e4", ("heaters", 0, "sensor_pin"), "gpio13",
     "fan fan fan gpio13: already used by heater extruder"),
    ("fysetc-e4", ("heaters", 1, "sensor_pin"), "gpio0", "not an ADC pin"),
    ("fysetc-e4", ("endstops", 0, "pull"), "up", "gpio34 has no internal pull"),
    ("rpi-pico-bench", ("endstops", 0, "active"), "high",
     "endstop x: pull up with active high reads triggered with nothing attached"),
    ("rpi-pico-bench", ("endstops", 1, "active"), None, "endstop y: active must be low or high"),
    ("sim", ("heaters", 0, "sensor_pin"), "sim_pwm5", "not an ADC pin"),
    ("sim", ("clock_freq",), 0, "clock_freq must be a positive integer"),
])
def test_validator_names_the_mistake(board_id, path, value, message):
    problems = _broken(board_id, _set(path, value))
    assert any(message in p for p in problems), problems


def test_validator_refuses_missing_keys_and_a_wrong_id():
    assert _broken("sim", lambda b: b.pop("motors")) == ["missing key 'motors'"]
    assert "differs from the file name" in _broken("sim", _set(("id",), "other"))[0]
    assert "unknown" not in boards.validate_board(dict(boards.load_board("sim"), mcu="avr"))[0]
    assert "no pin catalogue for MCU family 'avr'" in boards.validate_board(
        dict(boards.load_board("sim"), mcu="avr"))[0]


def test_unknown_board_names_the_known_ones():
    with pytest.raises(boards.BoardError, match="known boards: .*fysetc-e4"):
        boards.load_board("skr-mini")


def test_board_files_are_plain_json_the_firmware_can_load():
    for board_id in BOARD_IDS:
        with open(boards.board_path(board_id)) as f:
            assert json.load(f)["mcu"] in ("sim", "rp2040", "esp32")
    assert os.path.isfile(os.path.join(boards.boards_dir(), "mcu", "rp2040.json"))
