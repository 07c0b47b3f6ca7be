"""printer.cfg loading: the bundled default and clear errors."""
import pytest

from mendel import config


def test_default_is_an_i3_class_cartesian():
    cfg = config.load()
    assert cfg.steps_per_mm() == pytest.approx([80.0, 80.0, 400.0, 93.0])
    assert (cfg.max_velocity, cfg.max_accel) == (300.0, 3000.0)
    assert cfg.kinematics == "cartesian" and cfg.board == "sim"


def test_error_names_file_line_section_and_key(tmp_path):
    text = open(config.load().path).read().replace("max_accel = 3000", "max_accel = fast")
    line = text.splitlines().index("max_accel = fast") + 1
    path = tmp_path / "printer.cfg"
    path.write_text(text)
    with pytest.raises(config.ConfigError,
                       match=r"printer.cfg:%d: \[printer\] max_accel: 'fast' is not a number"
                       % line):
        config.load(str(path))


def test_missing_section_and_gear_ratio(tmp_path):
    path = tmp_path / "printer.cfg"
    path.write_text("[printer]\nkinematics = cartesian\n")
    with pytest.raises(config.ConfigError, match="max_velocity: required key is missing"):
        config.load(str(path))
    text = open(config.load().path).read().replace(
        "[stepper_z]\n", "[stepper_z]\ngear_ratio = 2:1\n")
    path.write_text(text)
    assert config.load(str(path)).steps_per_mm()[2] == pytest.approx(800.0)


@pytest.mark.parametrize("old,new,message", [
    ("square_corner_velocity = 5.0", "square_corner_velocty = 5.0",
     r"\[printer\] square_corner_velocty: unknown key"),
    ("max_velocity = 300", "max_velocity = nan", "not a finite number"),
    ("max_temp = 130", "max_temp = 1300", "above the maximum"),
    ("[fan]", "[heater_fan hotend]\n[fan]", r"\[heater_fan hotend\] is not a section"),
    ("sensor_type = Generic 3950", "sensor_type = Generic 9999",
     r"\[extruder\] sensor_type: 'Generic 9999' is not one of"),
    ("position_max = 250", "position_max = -5", r"\[stepper_x\] position_max: -5 must be above"),
])
def test_typos_and_impossible_values_are_refused(tmp_path, old, new, message):
    text = open(config.load().path).read()
    assert old in text
    path = tmp_path / "printer.cfg"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(config.ConfigError, match=message):
        config.load(str(path))
