"""`mendel serve --api-socket` on the simulated printer (boards/sim.cfg), driven
as Moonraker drives Klipper: info, subscriptions, G-code scripts and the
position they leave, errors, emergency stop; with and without the Marlin pty."""
import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from api_client import ApiClient
from paths import ROOT
from serve_clients import wait_for

SIM_CFG = os.path.join(ROOT, "boards", "sim.cfg")
API_LINE = "serving Klipper's API on "


def start_serve(tmp_path, *extra):
    """A `mendel serve` process on a sim.cfg printer with a [virtual_sdcard];
    returns (process, socket path, the lines it printed before the API was up)."""
    gcodes = tmp_path / "gcodes"
    gcodes.mkdir()
    cfg = tmp_path / "printer.cfg"
    cfg.write_text("[include %s]\n[virtual_sdcard]\npath: %s\n" % (SIM_CFG, gcodes))
    path = str(tmp_path / "klippy_uds")
    server = subprocess.Popen([sys.executable, "-m", "mendel", "serve", "--config", str(cfg),
                               "--api-socket", path] + list(extra),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed = []
    while not printed or not printed[-1].startswith(API_LINE):
        line = server.stdout.readline()
        if not line:
            _out, err = server.communicate(timeout=30)
            pytest.fail("mendel serve ended: %s" % err)
        printed.append(line.rstrip("\n"))
    return server, path, printed


def stop_serve(server):
    server.terminate()
    return server.communicate(timeout=30)


@pytest.fixture
def api_only(tmp_path):
    server, path, printed = start_serve(tmp_path, "--no-serial-port")
    client = ApiClient(path, timeout=30)
    try:
        yield client, path, printed
    finally:
        client.close()
        _out, err = stop_serve(server)
    assert server.returncode == 0, err
    assert not os.path.exists(path)             # removed at exit


def test_info_and_the_objects_moonraker_needs(api_only):
    client, path, printed = api_only
    assert printed == [API_LINE + path]         # no serial port with --no-serial-port
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    info = client.result("info", {"client_info": {"program": "Moonraker"}})
    assert info["state"] == "ready" and info["state_message"] == "Printer is ready"
    assert info["software_version"].endswith("-mendel")
    assert info["config_file"].endswith("printer.cfg")
    objects = client.result("objects/list")["objects"]
    for name in ("webhooks", "configfile", "toolhead", "gcode_move", "extruder", "heater_bed",
                 "heaters", "fan", "print_stats", "virtual_sdcard", "pause_resume",
                 "idle_timeout", "gcode", "system_stats", "motion_report",
                 "gcode_macro PRINT_START"):
        assert name in objects, name
    status = client.result("objects/query", {"objects": {
        "configfile": ["config"], "print_stats": ["state"], "virtual_sdcard": None,
        "pause_resume": ["is_paused"]}})["status"]
    assert status["configfile"]["config"]["virtual_sdcard"]["path"].endswith("gcodes")
    assert status["print_stats"] == {"state": "standby"}
    assert status["pause_resume"] == {"is_paused": False}
    assert status["virtual_sdcard"]["is_active"] is False


def test_a_script_moves_the_toolhead_and_the_position_is_reported(api_only):
    client, _path, _printed = api_only
    client.result("objects/subscribe", {
        "objects": {"toolhead": ["position", "homed_axes"], "gcode_move": ["gcode_position"]},
        "response_template": {"method": "process_status_update"}})
    assert client.result("gcode/script", {"script": "G28\nG1 X20 Y30 Z5 F6000\n"
                                                    "M106 S128\nM140 S50"}) == {}
    status = client.result("objects/query", {"objects": {
        "toolhead": ["position", "homed_axes"], "gcode_move": ["gcode_position", "position"]}})[
        "status"]
    assert status["toolhead"] == {"position": [20.0, 30.0, 5.0, 0.0], "homed_axes": "xyz"}
    assert status["gcode_move"] == {"gcode_position": [20.0, 30.0, 5.0, 0.0],
                                    "position": [20.0, 30.0, 5.0, 0.0]}
    heat = client.result("objects/query", {"objects": {"fan": None, "heater_bed": ["target"],
                                                       "heaters": None}})["status"]
    assert heat["fan"] == {"speed": 128 / 255}
    assert heat["heater_bed"] == {"target": 50.0}
    assert heat["heaters"]["available_heaters"] == ["extruder", "heater_bed"]
    pushed = client.wait_push(lambda m: m["params"]["status"].get("toolhead", {}).get(
        "position") == [20.0, 30.0, 5.0, 0.0])
    assert pushed["method"] == "process_status_update"
    # Once the board has run the moves, the live position is there too.
    client.result("gcode/script", {"script": "M400"})

    def live():
        return client.result("objects/query", {"objects": {"motion_report": [
            "live_position", "live_velocity"]}})["status"]["motion_report"]
    wait_for(lambda: live()["live_velocity"] == 0.0, 10, "the toolhead to stop")
    assert [round(v, 6) for v in live()["live_position"]] == [20.0, 30.0, 5.0, 0.0]


def test_an_unknown_command_is_an_error_and_output_reaches_the_console(api_only):
    client, _path, _printed = api_only
    client.result("gcode/subscribe_output", {"response_template": {"method": "out"}})
    answer = client.call("gcode/script", {"script": "FOO_BAR X=1"})
    assert answer["error"] == {"error": "WebRequestError", "message": 'Unknown command:"FOO_BAR"'}
    client.wait_push(lambda m: m["params"]["response"] == '!! Unknown command:"FOO_BAR"')
    client.result("gcode/script", {"script": "M118 hello there"})
    client.wait_push(lambda m: m["params"]["response"] == "hello there")


def test_emergency_stop_shuts_the_printer_down(api_only):
    client, _path, _printed = api_only
    client.result("objects/subscribe", {"objects": {"webhooks": None},
                                        "response_template": {"method": "status"}})
    assert client.result("emergency_stop") == {}
    pushed = client.wait_push(lambda m: m["params"]["status"].get("webhooks", {}).get(
        "state") == "shutdown", timeout=20)
    assert pushed["params"]["status"]["webhooks"]["state_message"]
    assert client.result("info")["state"] == "shutdown"
    answer = client.call("gcode/script", {"script": "G1 X10"})
    assert "error" in answer


def test_the_api_beside_the_serial_port_and_the_socket_removed_at_exit(tmp_path):
    server, path, printed = start_serve(tmp_path)
    try:
        assert printed[-1] == API_LINE + path
        client = ApiClient(path, timeout=30)
        assert client.result("info")["state"] == "ready"
        line = server.stdout.readline()
        assert line.startswith("serving a Marlin-compatible serial port on /dev/"), line
        client.close()
    finally:
        stop_serve(server)
    assert not os.path.exists(path)


def test_no_serial_port_needs_an_api_socket():
    result = subprocess.run([sys.executable, "-m", "mendel", "serve", "--no-serial-port"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--api-socket" in result.stderr


def test_the_live_position_runs_along_a_move_at_its_speed(api_only):
    client, _path, _printed = api_only
    client.result("objects/query", {"objects": {"motion_report": None}})   # history from here
    client.result("gcode/script", {"script": "G28\nG1 X100 F1200"})        # 20 mm/s, 5 s
    samples = []

    def sample():
        report = client.result("objects/query", {"objects": {"motion_report": None}})[
            "status"]["motion_report"]
        samples.append((report["live_position"][0], report["live_velocity"]))
        return report["live_position"][0] == 100.0 and report["live_velocity"] == 0.0
    wait_for(lambda: sample() or samples[-1][1] > 0.0, 30, "the move to start")
    wait_for(sample, 30, "the move to end")
    cruising = [(x, v) for x, v in samples if 5.0 < x < 95.0]
    assert len(cruising) >= 3, samples
    assert all(abs(v - 20.0) < 1e-6 for _x, v in cruising)
    xs = [x for x, _v in cruising]
    assert xs == sorted(xs)


def test_after_a_restart_the_api_follows_the_new_printer(api_only):
    client, _path, _printed = api_only
    client.result("gcode/script", {"script": "G28\nG1 X40"})
    assert client.result("gcode/restart", timeout=60) == {}
    assert client.result("info")["state"] == "ready"
    status = client.result("objects/query", {"objects": {"toolhead": ["homed_axes"]}})["status"]
    assert status["toolhead"]["homed_axes"] == ""           # a new printer: not homed
    assert client.result("gcode/firmware_restart", timeout=60) == {}
    client.result("gcode/script", {"script": "G28\nG1 X15 Y25"})
    status = client.result("objects/query", {"objects": {"gcode_move": ["position"]}})["status"]
    assert status["gcode_move"]["position"] == [15.0, 25.0, 0.0, 0.0]


def test_status_reads_never_talk_to_the_board(tmp_path):
    # On a board whose clock runs by itself (a real one; here the simulated
    # board in real time) the API thread reads the status without a single
    # link request: the worker owns the link.
    from sim_printer import write_cfg
    from test_serve import served
    from mendel import api
    cfg = write_cfg(tmp_path, SIM_CFG, "[virtual_sdcard]\npath: %s\n" % tmp_path)
    with served(realtime=True, cfg=cfg) as (_port, session):
        mcu = session.printer.mcu
        assert not mcu.virtual
        callers = []
        query = mcu.query

        def recording_query(*args, **kwargs):
            callers.append(threading.current_thread().name)
            return query(*args, **kwargs)
        mcu.query = recording_query
        server = api.start(session, str(tmp_path / "uds"))
        try:
            client = ApiClient(server.path, timeout=30)
            names = client.result("objects/list")["objects"]
            assert "print_stats" in names and "motion_report" in names
            client.result("gcode/script", {"script": "M104 S40"})
            for _ in range(5):
                mcu._last_sync = 0.0        # as after a long wait: the clock sample is old
                status = client.result("objects/query", {"objects": dict.fromkeys(names)})
                assert status["status"]["extruder"]["target"] == 40.0
                time.sleep(0.1)
            client.close()
        finally:
            server.stop()
        assert "mendel-api" not in callers and callers     # the worker did talk to it
