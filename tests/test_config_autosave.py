"""SAVE_CONFIG's block at the end of printer.cfg (Klipper's format): read
after the user's file, rewritten alone, atomically, with one backup."""
import glob
import os

import pytest

from mendel import config
from mendel.config import autosave

BASE = open(config.load().path).read()
PROFILE = {"version": "1", "points": "\n0.1, 0.2, 0.3\n0.0, 0.1, 0.2", "x_count": "3",
           "y_count": "2", "mesh_x_pps": "2", "mesh_y_pps": "2", "algo": "lagrange",
           "tension": "0.2", "min_x": "10", "max_x": "240", "min_y": "10", "max_y": "200"}
BLOCK = """
#*# <---------------------- SAVE_CONFIG ---------------------->
#*# DO NOT EDIT THIS BLOCK OR BELOW. The contents are auto-generated.
#*#
#*# [stepper_z]
#*# position_endstop = 0.5
"""


def printer_cfg(tmp_path, text=BASE, name="printer.cfg"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


def test_block_values_override_the_users(tmp_path):
    path = printer_cfg(tmp_path, BASE + BLOCK)
    assert config.load(path).steppers["z"].position_endstop == 0.5
    assert autosave.read_block(path) == {"stepper_z": {"position_endstop": "0.5"}}


def test_an_error_in_the_block_names_its_line(tmp_path):
    text = BASE + BLOCK.replace("0.5", "low")
    path = printer_cfg(tmp_path, text)
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    [found] = info.value.problems
    assert (found.path, found.line, found.key) == (
        path, text.splitlines().index("#*# position_endstop = low") + 1, "position_endstop")
    bad = printer_cfg(tmp_path, BASE + BLOCK + "[fan]\n")
    with pytest.raises(config.ConfigError, match=r"line %d: '\[fan\]' in the SAVE_CONFIG "
                       % (len((BASE + BLOCK).splitlines()) + 1)):
        config.load(bad)


def test_round_trip_keeps_user_lines_byte_for_byte(tmp_path):
    user = BASE.replace("\n", "\r\n", 3) + "# last user line, no newline"
    path = printer_cfg(tmp_path, user)
    autosave.save(path, {"bed_mesh default": PROFILE, "stepper_z": {"position_endstop": "0.4"}})
    written = open(path, "rb").read()
    assert written.startswith(user.encode())
    assert autosave.read_block(path) == {"bed_mesh default": PROFILE,
                                         "stepper_z": {"position_endstop": "0.4"}}
    cfg = config.load(path)
    assert cfg.mesh_profiles["default"]["points"] == [[0.1, 0.2, 0.3], [0.0, 0.1, 0.2]]
    assert cfg.steppers["z"].position_endstop == 0.4
    # A second save changes only the block: the user part stays as the first save left it.
    user_part = written[:written.index(autosave.HEADER.encode())]
    autosave.save(path, {"stepper_z": {"position_endstop": "0.3"}})
    again = open(path, "rb").read()
    assert again.startswith(user_part) and again.count(autosave.HEADER.encode()) == 1
    assert autosave.read_block(path)["stepper_z"] == {"position_endstop": "0.3"}
    assert "#*# points =\n#*# \t0.1, 0.2, 0.3\n" in again.decode()


def test_delete_a_section_and_a_key(tmp_path):
    path = printer_cfg(tmp_path, BASE + BLOCK)
    autosave.save(path, {"bed_mesh default": PROFILE, "stepper_z": {"position_endstop": None}})
    assert autosave.read_block(path) == {"bed_mesh default": PROFILE}
    autosave.save(path, {"bed_mesh default": None})
    assert autosave.read_block(path) == {}
    cfg = config.load(path)
    assert cfg.mesh_profiles == {} and cfg.steppers["z"].position_endstop == 0.0


def test_one_backup_and_no_temporary_file_left(tmp_path):
    path = printer_cfg(tmp_path)
    first = autosave.save(path, {"stepper_z": {"position_endstop": "0.1"}}, now=1.0e9)
    assert open(first).read() == BASE
    second = autosave.save(path, {"stepper_z": {"position_endstop": "0.2"}}, now=1.0e9 + 60)
    assert os.path.basename(second).startswith("printer-2001") and second.endswith(".cfg")
    assert set(os.listdir(tmp_path)) == {"printer.cfg", os.path.basename(second)}
    assert autosave.read_block(second) == {"stepper_z": {"position_endstop": "0.1"}}


def test_a_key_set_in_an_included_file_cannot_be_saved(tmp_path):
    (tmp_path / "mesh.cfg").write_text("[bed_mesh]\nmesh_min = 10, 10\nmesh_max = 240, 200\n"
                                       "probe_count = 3\n")
    path = printer_cfg(tmp_path, BASE + "\n[include mesh.cfg]\n")
    before = open(path, "rb").read()
    with pytest.raises(autosave.AutosaveError) as info:
        autosave.save(path, {"bed_mesh": {"probe_count": "5"}})
    assert str(info.value).startswith("%s:4: [bed_mesh] probe_count is set in an included "
                                      "file" % (tmp_path / "mesh.cfg"))
    assert open(path, "rb").read() == before and glob.glob(str(tmp_path / "printer-*")) == []
    autosave.save(path, {"stepper_z": {"position_endstop": "0.2"}})     # not included: fine
    assert config.load(path).steppers["z"].position_endstop == 0.2
