"""The print job of `mendel serve` (mendel.printjob) on the simulated board:
a file prints from [virtual_sdcard] between other commands; PAUSE (from a
client or from the file's own M600) stops right after its line and RESUME
goes on from there and from the same toolhead position; CANCEL_PRINT,
errors, M20-M27, print_stats, idle_timeout, RESTART."""
import math
import os
import time

import pytest

from mendel import config
from paths import ROOT
from serve_clients import wait_for
from served import Client, script, served
from sim_printer import printer_on_sim

PARK = """
[gcode_macro M600]
gcode:
    PAUSE
    G91
    G1 Z5 F600
    G90
    G1 X10 Y10 F6000
"""


def ring(radius, count):
    return ["G1 X%.3f Y%.3f E0.05 F3000" % (100 + radius * math.cos(i * 0.1),
                                            100 + radius * math.sin(i * 0.1))
            for i in range(count)]


def job_lines(m600=True):
    lines = ["M109 S200", "G28", "G90", "M83", "G1 Z0.3 F600"] + ring(40, 600)
    return lines + (["M600"] if m600 else []) + ring(30, 600) + ["G1 Z10 F600", "M104 S0"]


def write_setup(tmp_path, extra=""):
    """(config, virtual_sdcard folder): ring.gcode (with an M600 halfway) and
    sub/plain ring.gcode (without) in it."""
    folder = tmp_path / "gcodes"
    (folder / "sub").mkdir(parents=True)
    (folder / "ring.gcode").write_text("\n".join(job_lines()) + "\n")
    # Longer, so that a client's PAUSE lands well before its end.
    plain = job_lines(False)
    plain[-2:-2] = ring(20, 3000)
    (folder / "sub" / "plain ring.gcode").write_text("\n".join(plain) + "\n")
    cfg = tmp_path / "printer.cfg"
    cfg.write_text("[include %s]\n[virtual_sdcard]\npath: gcodes\n[pause_resume]\n"
                   "recover_velocity: 80\n%s\n%s" % (os.path.join(ROOT, "boards", "sim.cfg"),
                                                     PARK, extra))
    return config.load(str(cfg)), folder


def listen(session):
    """The list the session's console lines go to from now on."""
    console = []
    session.add_output_listener(console.append)
    return console


def stats(session):
    return session.jobs.print_stats.status()


def wait_state(session, wanted, timeout=60):
    wait_for(lambda: stats(session)["state"] == wanted, timeout,
             "print_stats state %s" % wanted)


def wait_finished(session):
    """Until the file is complete and its motion has stopped (M400 runs after
    the worker has told the console so)."""
    wait_state(session, "complete")
    assert script(session, "M400") is None


def straight_steps(cfg, path):
    """Board steps (from the machine origin) of `mendel print` of ``path``."""
    with printer_on_sim(cfg) as (printer, _said):
        printer.print_file(str(path), preflight=False)
        return [printer.mcu.motor_position(oid) + offset for oid, offset
                in zip(printer.toolhead.oids, printer.toolhead.step_offsets)]


# Where ring.gcode's M600 finds the toolhead: the end of the first ring.
PAUSED_AT = "X:%.3f Y:%.3f Z:0.300" % (100 + 40 * math.cos(59.9), 100 + 40 * math.sin(59.9))


def print_to_m600(session, folder):
    """Start ring.gcode and wait until its M600 has paused it; returns (the
    console's lines, the file offset just after the M600 line)."""
    data = (folder / "ring.gcode").read_bytes()
    console = listen(session)
    assert script(session, 'SDCARD_PRINT_FILE FILENAME="ring.gcode"') is None
    wait_state(session, "paused")
    return console, data.index(b"M600\n") + len(b"M600\n")


def test_a_file_pauses_at_its_m600_and_resumes_where_it_stopped(tmp_path):
    cfg, folder = write_setup(tmp_path)
    data = (folder / "ring.gcode").read_bytes()
    with served(cfg=cfg) as (_port, session):
        console, after_m600 = print_to_m600(session, folder)
        card = session.jobs.sdcard.status()
        assert card["file_position"] == after_m600 and not card["is_active"]
        assert card["progress"] == pytest.approx(after_m600 / len(data))
        assert session.jobs.pause_resume.status() == {"is_paused": True}
        assert script(session, "M114") is None
        assert console[-1].startswith("X:10.000 Y:10.000 Z:5.300")      # parked by M600
        assert script(session, "PAUSE") is None
        assert console[-1] == "Print already paused"
        assert script(session, "RESUME\nM114") is None
        assert console[-1].startswith(PAUSED_AT)
        assert script(session, "RESUME") is None          # says so, as Klipper
        assert console[-1] == "Print is not paused, resume aborted"
        wait_finished(session)
        assert "Done printing file" in console
        done = stats(session)
        assert done["filament_used"] == pytest.approx(60.0, abs=1e-6)
        assert 0 < done["print_duration"] < done["total_duration"]
        served_steps = session.printer.board_steps()
    # The park is undone: the same board steps as the file printed straight.
    assert served_steps == straight_steps(cfg, folder / "ring.gcode")


def test_a_client_pauses_between_batches_and_the_file_position_holds(tmp_path):
    cfg, folder = write_setup(tmp_path)
    size = (folder / "sub" / "plain ring.gcode").stat().st_size
    with served(cfg=cfg) as (_port, session):
        assert script(session, 'SDCARD_PRINT_FILE FILENAME="sub/plain ring.gcode"') is None
        wait_for(lambda: session.jobs.sdcard.file_position > 2000, 60, "the file to print")
        assert script(session, "PAUSE") is None
        held = session.jobs.sdcard.status()
        assert stats(session)["state"] == "paused" and 0 < held["file_position"] < size
        assert script(session, "G4 P200\nM400") is None     # time passes, nothing is read
        assert session.jobs.sdcard.status() == held
        assert script(session, "RESUME VELOCITY=120") is None
        wait_finished(session)
        served_steps = session.printer.board_steps()
    assert served_steps == straight_steps(cfg, folder / "sub" / "plain ring.gcode")


def test_cancel_print_stops_reading_and_unloads_the_file(tmp_path):
    cfg, _folder = write_setup(tmp_path)
    with served(cfg=cfg) as (_port, session):
        assert script(session, "SDCARD_PRINT_FILE FILENAME=ring.gcode") is None
        wait_state(session, "paused")
        assert script(session, "CANCEL_PRINT") is None
        assert stats(session)["state"] == "cancelled"
        assert session.jobs.sdcard.status()["file_path"] is None
        assert session.jobs.pause_resume.status() == {"is_paused": False}
        assert script(session, "M24") == "no file selected (M23 <name> or " \
                                          "SDCARD_PRINT_FILE FILENAME=)"


def test_a_refused_line_stops_the_print_with_its_file_and_line(tmp_path):
    cfg, folder = write_setup(tmp_path)
    (folder / "cold.gcode").write_text("G28\nG90\nM83\nG1 X20 E1 F3000\nG1 X30\n")
    with served(cfg=cfg) as (_port, session):
        console = listen(session)
        assert script(session, "SDCARD_PRINT_FILE FILENAME=cold.gcode") is None
        wait_state(session, "error")
        message = stats(session)["message"]
        assert message.startswith("cold.gcode:4: G1 X20 E1 F3000: extrude below minimum temp")
        assert console[-1] == "!! print stopped: " + message
        # The line that failed is where the file stopped (bytes of lines 1-3).
        assert session.jobs.sdcard.file_position == len("G28\nG90\nM83\n")
        assert script(session, "M114") is None
        assert console[-1].startswith("X:0.000 Y:0.000")          # G1 X30 not run


def test_marlin_sd_codes_on_the_serial_side(tmp_path):
    cfg, folder = write_setup(tmp_path)
    size = (folder / "ring.gcode").stat().st_size
    with served(cfg=cfg) as (_port, session):
        console = listen(session)
        assert script(session, "M21\nM20") is None
        assert console[-5:] == ["SD card ok", "Begin file list", "ring.gcode %d" % size,
                                "sub/plain ring.gcode %d" % (folder / "sub" / "plain ring.gcode")
                                .stat().st_size, "End file list"]
        assert script(session, "M27") is None and console[-1] == "Not SD printing."
        assert script(session, "M23 ring.gcode") is None
        assert console[-2:] == ["File opened: ring.gcode Size: %d" % size, "File selected"]
        assert script(session, "M109 S200\nM26 S10") is None    # from line 2, G28
        assert session.jobs.sdcard.lineno == 2
        assert script(session, "M24") is None
        wait_state(session, "paused")                # the file's M600
        assert script(session, "M27") is None
        assert console[-1] == "SD printing byte %d/%d" % (session.jobs.sdcard.file_position,
                                                           size)
        assert script(session, "M25\nM26 S5") is None
        assert session.jobs.sdcard.lineno == 1          # counted anew: byte 5 is in line 1
        assert script(session, "M28 new.gcode").startswith("M28 (write or delete a file")


def test_files_outside_the_folder_are_refused(tmp_path):
    cfg, _folder = write_setup(tmp_path)
    with served(cfg=cfg) as (_port, session):
        error = script(session, "SDCARD_PRINT_FILE FILENAME=../printer.cfg")
        assert error == "../printer.cfg is outside the virtual_sdcard folder %s" % (
            tmp_path / "gcodes")
        assert script(session, "SDCARD_PRINT_FILE FILENAME=none.gcode").startswith(
            "file none.gcode not found")
        assert stats(session)["state"] == "standby"


def test_without_virtual_sdcard_the_sd_codes_are_unknown():
    with served() as (_port, session):
        assert script(session, "M20") == 'Unknown command:"M20"'
        assert script(session, "SDCARD_PRINT_FILE FILENAME=x.gcode") == \
            'Unknown command:"SDCARD_PRINT_FILE"'
        assert script(session, "PAUSE") is None            # a streaming host is told
        assert session.jobs.pause_resume.status() == {"is_paused": True}


def test_idle_timeout_turns_the_heaters_off(tmp_path):
    cfg, _folder = write_setup(tmp_path, "[idle_timeout]\ntimeout: 2\n")
    with served(cfg=cfg) as (_port, session):
        assert script(session, "M104 S150\nG28") is None
        assert session.jobs.idle_timeout.status()["state"] == "Printing"
        wait_for(lambda: session.jobs.idle_timeout.status()["state"] == "Ready", 10, "Ready")
        wait_for(lambda: session.jobs.idle_timeout.status()["state"] == "Idle", 10, "Idle")
        assert session.printer.heater_status()["extruder"][1] == 0.0        # target off
        assert session.interpreter.homed_axes == set()                      # M84


def test_restart_reads_printer_cfg_again(tmp_path):
    cfg, _folder = write_setup(tmp_path)
    with served(cfg=cfg) as (_port, session):
        console = listen(session)
        assert script(session, "HELLO") == 'Unknown command:"HELLO"'
        with open(cfg.path, "a") as f:
            f.write("\n[gcode_macro HELLO]\ngcode:\n    RESPOND MSG=hi\n")
        assert script(session, "RESTART") is None
        assert session.state == "ready"
        assert script(session, "HELLO") is None and console[-1] == "hi"
        assert script(session, "STATUS") is None and console[-1] == "// Printer is ready"
        session.emergency("M112")
        wait_for(lambda: session.state == "shutdown" or script(session, "M400") and
                 session.state == "shutdown", 10, "shutdown")
        assert script(session, "G28").startswith("Printer is halted")
        assert script(session, "FIRMWARE_RESTART") is None
        assert session.state == "ready" and script(session, "G28") is None


def test_firmware_restart_after_m112_leaves_no_stop_pending():
    # The worker may see the board halt before emergency() has noted its
    # M112 (Moonraker's emergency_stop then FIRMWARE_RESTART, about one run in
    # two of tests/test_moonraker.py): that M112 must not stop the new printer.
    with served() as (_port, session):
        board = session.printer.mcu
        send_stop = board.emergency_stop

        def stop_seen_first():
            send_stop()
            wait_for(lambda: session.halted is not None, 10, "the worker to see the halt")
        board.emergency_stop = stop_seen_first
        session.emergency("M112")
        assert script(session, "FIRMWARE_RESTART") is None
        assert script(session, "G28") is None and session.state == "ready"


def test_a_marlin_host_prints_from_the_folder_over_the_serial_port(tmp_path):
    cfg, folder = write_setup(tmp_path)
    (folder / "short.gcode").write_text("G28\nG1 X20 Y20 F6000\n")
    with served(cfg=cfg) as (port, _session):
        client = Client(port.path)
        try:
            assert "Cap:SDCARD:1" in client.run("M115")
            assert client.run("M21") == ["SD card ok", "ok"]
            listing = client.run("M20")
            assert listing[0] == "Begin file list" and listing[-2:] == ["End file list", "ok"]
            assert "short.gcode 21" in listing                     # name, bytes: as Marlin
            assert client.run("M23 short.gcode") == ["File opened: short.gcode Size: 21",
                                                     "File selected", "ok"]
            assert client.run("M24") == ["ok"]
            assert client.readline() == "Done printing file"      # unsolicited, as Marlin
            assert client.run("M27") == ["Not SD printing.", "ok"]
            assert client.run("M114")[0].startswith("X:20.000 Y:20.000")
        finally:
            client.close()


def test_display_progress_follows_the_file_until_an_m73_says_otherwise(tmp_path):
    cfg, folder = write_setup(tmp_path)
    with served(cfg=cfg) as (_port, session):
        display = session.interpreter.display_status
        assert script(session, "M73 P40") is None
        assert display.status()["progress"] == 0.4
        print_to_m600(session, folder)
        progress = display.status()["progress"]
        assert progress == session.jobs.sdcard.progress and 0.4 < progress < 0.6


def test_a_script_with_an_unknown_command_says_only_that(tmp_path):
    cfg, _folder = write_setup(tmp_path)
    with served(cfg=cfg) as (_port, session):
        console = listen(session)
        assert script(session, "M117 one\nFOO_BAR\nM117 two") == 'Unknown command:"FOO_BAR"'
        assert console == ["one", '!! Unknown command:"FOO_BAR"']     # no other notice
        assert session.interpreter.display_status.status()["message"] == "one"


def test_m108_ends_a_temperature_wait(tmp_path):
    cfg, _folder = write_setup(tmp_path)
    with served(cfg=cfg) as (_port, session):
        errors = []
        # A minimum above the target: only M108 ends this wait.
        session.submit_script("M104 S200\nTEMPERATURE_WAIT SENSOR=extruder MINIMUM=240",
                              errors.append)
        time.sleep(1.0)
        assert errors == []
        session.emergency("M108")
        wait_for(lambda: errors, 30, "the wait to end")
        assert errors == ["wait for heating cancelled by M108"]


KLIPPER_STYLE = """
[display_status]
[respond]
[exclude_object]
[gcode_macro PAUSE]
rename_existing: PAUSE_BASE
variable_park_z: 10
gcode:
    {% if printer.pause_resume.is_paused %}
        RESPOND MSG="already paused"
    {% else %}
        PAUSE_BASE
        {% if "xyz" in printer.toolhead.homed_axes %}
            G91
            G1 Z{park_z} F600
            G90
            G1 X{printer.toolhead.axis_maximum.x - 5} Y5 F6000
        {% endif %}
    {% endif %}

[gcode_macro RESUME]
rename_existing: RESUME_BASE
gcode:
    RESPOND MSG="resuming at {printer.virtual_sdcard.file_position}"
    RESUME_BASE {rawparams}

[gcode_macro CANCEL_PRINT]
rename_existing: CANCEL_PRINT_BASE
gcode:
    SET_IDLE_TIMEOUT TIMEOUT={printer.configfile.settings.idle_timeout.timeout}
    TURN_OFF_HEATERS
    CANCEL_PRINT_BASE
    RESPOND TYPE=command MSG="cancelled: {printer.print_stats.state}"
"""


def test_klipper_style_pause_resume_cancel_macros_wrap_the_built_ins(tmp_path):
    """A Klipper user's PAUSE/RESUME/CANCEL_PRINT macros (rename_existing,
    printer.pause_resume, printer.print_stats ...) drive the print job."""
    cfg, folder = write_setup(tmp_path, "[idle_timeout]\ntimeout: 900\n" + KLIPPER_STYLE)
    with served(cfg=cfg) as (_port, session):
        # M600 -> PAUSE (the macro) -> PAUSE_BASE
        console, after_m600 = print_to_m600(session, folder)
        assert session.jobs.sdcard.file_position == after_m600
        assert script(session, "PAUSE") is None and console[-1] == "already paused"
        assert script(session, "M114") is None
        # Parked by the PAUSE macro (Z +10), then by the M600 that called it.
        assert console[-1].startswith("X:10.000 Y:10.000 Z:15.300")
        assert script(session, "RESUME\nM114") is None
        assert "resuming at %d" % after_m600 in console
        assert console[-1].startswith(PAUSED_AT)     # back before the file reads on
        wait_finished(session)
        served_steps = session.printer.board_steps()
        assert script(session, "SDCARD_PRINT_FILE FILENAME=ring.gcode\nM104 S200") is None
        assert script(session, "CANCEL_PRINT") is None
        # The template is rendered before its lines run, as in Klipper.
        assert console[-1] == "// cancelled: printing"
        assert stats(session)["state"] == "cancelled"
        assert session.printer.heater_status()["extruder"][1] == 0.0
    plain_cfg, _ = write_setup(tmp_path / "plain")     # `mendel print` has no PAUSE
    assert served_steps == straight_steps(plain_cfg, folder / "ring.gcode")


def test_on_a_real_time_board_pause_stops_the_motion_within_seconds(tmp_path):
    """Slow moves (1 s each) on the simulated board in real time: the file
    keeps at most about 2 s of motion ahead of the board, so PAUSE leaves
    little to run (Klipper keeps about 2 s buffered too)."""
    cfg, folder = write_setup(tmp_path)
    moves = ["G1 X%d F600" % (110 if i % 2 == 0 else 100) for i in range(40)]    # 1 s each
    (folder / "slow.gcode").write_text("SET_KINEMATIC_POSITION X=100 Y=100 Z=10\nG90\n"
                                       + "\n".join(moves) + "\n")
    with served(realtime=True, cfg=cfg) as (_port, session):
        assert script(session, "SDCARD_PRINT_FILE FILENAME=slow.gcode") is None
        time.sleep(3.0)
        mcu, toolhead = session.printer.mcu, session.printer.toolhead
        assert script(session, "PAUSE") is None
        ahead = toolhead.print_time - mcu.clock_estimate() / mcu.clock_freq
        assert stats(session)["state"] == "paused"
        assert 0.0 < ahead < 3.5, ahead
        read = session.jobs.sdcard.lineno - 3          # moves read so far
        assert 3 <= read <= 3 + 4, read               # 3 s run, 2-3 s ahead, a look-ahead


def test_m105_in_a_script_reports_the_temperatures():
    with served() as (_port, session):
        console = listen(session)
        assert script(session, "M105") is None
        assert console[-1].startswith("ok T:") and " B:" in console[-1]


def test_outside_serve_the_job_commands_say_where_they_run(tmp_path):
    """`mendel check`/`print` have no print job: PAUSE is reported as a
    `mendel serve` command, and a Klipper-style PAUSE macro that reads
    printer.pause_resume is refused before anything moves, saying why."""
    from mendel.machine.check import check_file
    job = tmp_path / "job.gcode"
    job.write_text("G28\nPAUSE\nCANCEL_PRINT\n")
    plain, _ = write_setup(tmp_path / "plain")
    report = check_file(str(job), plain)
    assert report["errors"] == []
    assert any("PAUSE runs only in `mendel serve`" in w for w in report["warnings"])
    klipper, _ = write_setup(tmp_path / "klipper", KLIPPER_STYLE)
    report = check_file(str(job), klipper)
    assert [e["line"] for e in report["errors"]] == [2, 3]
    assert "printer.pause_resume is there only in `mendel serve`" in report["errors"][0]["reason"]


def test_config_check_shows_the_folder_and_warns_when_it_is_missing(tmp_path):
    from mendel.config import check as config_check
    cfg, folder = write_setup(tmp_path)
    text = config_check.report(config_check.check(cfg.path))
    assert "  sdcard       %s (mendel serve); RESUME at 80 mm/s; idle timeout 600 s" % folder \
        in text.splitlines()
    folder.rename(tmp_path / "elsewhere")
    cfg = config.load(cfg.path)
    assert cfg.warnings == ["[virtual_sdcard] path %s is not a folder (yet): SDCARD_PRINT_FILE "
                            "and M20 find no files until it is made" % folder]


def test_firmware_restart_after_the_32_bit_clock_wrapped():
    """The board's clock passes 2**32 ticks (358 s at 12 MHz); a new host
    session (FIRMWARE_RESTART, M999, a host that connects late) still knows
    the board's epoch: it reports its whole clock."""
    with served() as (_port, session):
        mcu = session.printer.mcu
        assert script(session, "G4 S400\nM400") is None
        assert mcu.estimated_clock() > 1 << 32
        session.emergency("M112")
        wait_for(lambda: script(session, "M400") is not None, 10, "the halt")
        assert script(session, "FIRMWARE_RESTART") is None
        assert session.printer.mcu.estimated_clock() > 1 << 32
        assert script(session, "G28\nG1 X20 F6000\nM400") is None
        assert session.state == "ready"


def test_filament_used_counts_the_gcodes_e_and_g11_keeps_the_axes_homed(tmp_path):
    """print_stats.filament_used is the E the file asks for (Klipper's): M221
    does not change it, G92 does not count; firmware retraction (G10/G11)
    leaves the axes homed."""
    cfg, folder = write_setup(tmp_path)
    (folder / "e.gcode").write_text("M109 S200\nG28\nM83\nM221 S95\nG1 X50 E5 F3000\n"
                                    "G92 E100\nG1 X100 E2\nG10\nG11\n")
    with served(cfg=cfg) as (_port, session):
        assert script(session, "SDCARD_PRINT_FILE FILENAME=e.gcode") is None
        wait_finished(session)
        assert stats(session)["filament_used"] == pytest.approx(7.0)
        assert session.printer.toolhead.position[3] == pytest.approx(7.0 * 0.95)
        assert session.interpreter.homed_axes == {"x", "y", "z"}


def test_firmware_restart_right_after_an_emergency_stop():
    with served() as (_port, session):
        session.emergency("M112")
        assert script(session, "FIRMWARE_RESTART") is None      # not eaten by the halt
        assert session.state == "ready" and script(session, "G28") is None


def test_sdcard_reset_file_stops_and_unloads_a_print(tmp_path):
    cfg, _folder = write_setup(tmp_path)
    with served(cfg=cfg) as (_port, session):
        assert script(session, "SDCARD_PRINT_FILE FILENAME=ring.gcode\nSDCARD_RESET_FILE") is None
        assert stats(session)["state"] == "standby"
        assert session.jobs.sdcard.status()["file_path"] is None
        assert not session.jobs.printing
