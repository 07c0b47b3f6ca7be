"""Klipper's API server (mendel.api) on a stand-in session: the socket file,
the message framing, every method, subscriptions, errors, several clients.
tests/test_api_serve.py drives the same server in `mendel serve` on the
simulated board."""
import json
import os
import queue
import socket
import stat
import threading
import time

import pytest

from api_client import ApiClient
from mendel import api, config
from mendel.api.protocol import Request, RequestError, Splitter
from mendel.gcode.interpreter import Interpreter
from mendel.gcode.reader import parse_text
from paths import ROOT

SIM_CFG = os.path.join(ROOT, "boards", "sim.cfg")


class Machine:
    """A printer stand-in: remembers what the interpreter asks."""

    extruder_count = 1

    def __init__(self, cfg):
        self.config = cfg
        self.position = [0.0, 0.0, 0.0, 0.0]
        self.targets = {}
        self.fan_speed = 0.0
        self.said = []

    def move(self, target, speed):
        self.position = list(target)

    def home(self, axes):
        for axis in axes:
            self.position["XYZ".index(axis)] = 0.0

    def set_temperature(self, heater, temp, wait, cooling=False):
        self.targets[heater] = temp

    def heater_status(self):
        return {name: (21.5, self.targets.get(name, 0.0)) for name in ("extruder", "heater_bed")}

    def set_fan(self, fraction):
        self.fan_speed = fraction

    def respond(self, text):
        self.said.append(text)

    def dwell(self, seconds):
        pass

    def wait_moves(self):
        pass

    def motors_off(self):
        pass

    def event(self, kind, value):
        pass


class FakeSession:
    """The Session interface the API uses (submit_script, add_output_listener,
    emergency, state, state_message, printer, interpreter, jobs), with a
    worker thread that runs scripts on an Interpreter over :class:`Machine`."""

    def __init__(self, cfg):
        self.state, self.state_message = "ready", "Printer is ready"
        self.printer = None
        self.jobs = None
        self.machine = Machine(cfg)
        self.interpreter = Interpreter(self.machine, macros=cfg.macros.session(),
                                       warn=lambda text: None)
        self.scripts = []
        self.listeners = []
        self.hold = threading.Event()       # cleared: the worker waits before each script
        self.hold.set()
        self._queue = queue.Queue()
        threading.Thread(target=self._work, daemon=True).start()

    def submit_script(self, script, done):
        self._queue.put((script, done))

    def add_output_listener(self, listener):
        self.listeners.append(listener)

    def emergency(self, code):
        assert code == "M112"
        self.state, self.state_message = "shutdown", "Shutdown due to webhooks request"

    def _work(self):
        while True:
            script, done = self._queue.get()
            self.hold.wait()
            self.scripts.append(script)
            done(self._run(script))

    def _run(self, script):
        known = set(self.interpreter.command_handlers()) | set(self.interpreter.macros.macros)
        for command in parse_text(script):
            if command.code not in known:
                for listener in self.listeners:
                    listener('!! Unknown command:"%s"' % command.code)
                return 'Unknown command:"%s"' % command.code
            self.interpreter.execute(command)
            for listener in self.listeners:
                listener("// ran %s" % command.code)
        return None


@pytest.fixture
def served(tmp_path):
    """(socket path, fake session, server) of a running API server."""
    session = FakeSession(config.load(SIM_CFG))
    path = str(tmp_path / "klippy_uds")
    server = api.start(session, path, config_file=SIM_CFG)
    try:
        yield path, session, server
    finally:
        server.stop()


@pytest.fixture
def client(served):
    path, _session, _server = served
    connection = ApiClient(path)
    yield connection
    connection.close()


# -- the message layer ---------------------------------------------------
def test_messages_split_at_0x03_across_and_within_reads():
    splitter = Splitter()
    assert splitter.feed(b'{"a":1}\x03{"b"') == [b'{"a":1}']
    assert splitter.pending == 4
    assert splitter.feed(b':2}\x03{"c":3}\x03') == [b'{"b":2}', b'{"c":3}']
    assert splitter.pending == 0


def test_a_request_that_is_not_one_is_refused_with_its_id_when_readable():
    with pytest.raises(RequestError) as info:
        Request.parse(b'{"id": 7, "params": {}}')
    assert info.value.id == 7 and "method" in str(info.value)
    with pytest.raises(RequestError) as info:
        Request.parse(b'{"id": 8, "method": "info", "params": [1]}')
    assert info.value.id == 8
    with pytest.raises(RequestError) as info:
        Request.parse(b"not json")
    assert info.value.id is None
    request = Request.parse(b'{"id": "x", "method": "info"}')
    assert (request.id, request.method, request.params) == ("x", "info", {})


# -- the socket file -------------------------------------------------------
def test_the_socket_is_the_users_only_and_gone_after_stop(served):
    path, session, server = served
    info = os.stat(path)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    server.stop()
    assert not os.path.exists(path)


def test_a_stale_socket_file_is_replaced_a_live_one_or_a_file_refused(tmp_path):
    session = FakeSession(config.load(SIM_CFG))
    path = str(tmp_path / "uds")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()                       # the file stays, nobody listens
    server = api.start(session, path)
    try:
        assert ApiClient(path).result("info")["state"] == "ready"
        with pytest.raises(api.ApiSocketError, match="in use"):
            api.start(session, path)
    finally:
        server.stop()
    plain = tmp_path / "plain"
    plain.write_text("keep me")
    with pytest.raises(api.ApiSocketError, match="not a socket"):
        api.start(session, str(plain))
    assert plain.read_text() == "keep me"


def test_no_tcp_port_is_opened(served):
    # Nothing of this process listens on TCP: /proc/net/tcp* shows no LISTEN
    # (state 0A) socket whose inode is one of our file descriptors.
    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        target = os.readlink("/proc/self/fd/" + fd) if os.path.exists("/proc/self/fd/" + fd) \
            else ""
        if target.startswith("socket:["):
            ours.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as stream:
            next(stream)
            for line in stream:
                fields = line.split()
                assert not (fields[3] == "0A" and fields[9] in ours), line


# -- methods ----------------------------------------------------------------
def test_info_reports_mendel_honestly(client):
    info = client.result("info", {"client_info": {"program": "Moonraker", "version": "v0.11"}})
    assert info["state"] == "ready" and info["state_message"] == "Printer is ready"
    assert info["software_version"].endswith("-mendel")
    assert info["process_id"] == os.getpid() and info["user_id"] == os.getuid()
    assert info["group_id"] == os.getgid()
    assert info["config_file"] == SIM_CFG
    assert os.path.isdir(info["klipper_path"]) and os.path.exists(info["python_path"])
    assert {"hostname", "cpu_info", "log_file"} <= set(info)


def test_list_endpoints_names_every_method(client):
    endpoints = set(client.result("list_endpoints")["endpoints"])
    assert endpoints == {
        "info", "list_endpoints", "objects/list", "objects/query", "objects/subscribe",
        "gcode/script", "gcode/help", "gcode/subscribe_output", "gcode/restart",
        "gcode/firmware_restart", "register_remote_method", "emergency_stop",
        "pause_resume/pause", "pause_resume/resume", "pause_resume/cancel"}


def test_objects_list_and_query_give_klippers_fields(client):
    names = client.result("objects/list")["objects"]
    for name in ("webhooks", "configfile", "toolhead", "gcode_move", "extruder", "heater_bed",
                 "heaters", "fan", "gcode", "system_stats", "motion_report",
                 "gcode_macro PRINT_START"):
        assert name in names
    result = client.result("objects/query", {"objects": {
        "toolhead": ["position", "homed_axes", "no_such_field"], "webhooks": None,
        "extruder": ["temperature", "target", "can_extrude"],
        "configfile": ["settings"], "no_such_object": None}})
    status = result["status"]
    assert isinstance(result["eventtime"], float)
    assert status["toolhead"] == {"position": [0.0, 0.0, 0.0, 0.0], "homed_axes": ""}
    assert status["webhooks"] == {"state": "ready", "state_message": "Printer is ready"}
    assert status["extruder"] == {"temperature": 21.5, "target": 0.0, "can_extrude": False}
    assert status["configfile"]["settings"]["extruder"]["max_temp"] == 300.0
    assert status["no_such_object"] == {}          # as Klipper: no error, an empty object


def test_gcode_script_is_answered_once_it_has_run(client, served):
    _path, session, _server = served
    session.hold.clear()
    request_id = 99
    client.send({"id": request_id, "method": "gcode/script", "params": {"script": "G28\nG1 X12"}})
    time.sleep(0.3)
    assert request_id not in client.answers and not client.pushed   # still queued
    session.hold.set()
    assert client.answer(request_id) == {"id": request_id, "result": {}}
    status = client.result("objects/query", {"objects": {"gcode_move": ["gcode_position"],
                                                         "toolhead": ["homed_axes"]}})["status"]
    assert status["gcode_move"]["gcode_position"] == [12.0, 0.0, 0.0, 0.0]
    assert status["toolhead"]["homed_axes"] == "xyz"


def test_errors_are_klippers_error_objects(client):
    def error(answer):
        assert set(answer) == {"id", "error"}, answer
        assert answer["error"]["error"] == "WebRequestError"
        return answer["error"]["message"]

    assert error(client.call("gcode/script", {"script": "FOO"})) == 'Unknown command:"FOO"'
    assert error(client.call("no/such")) == "webhooks: No registered callback for path 'no/such'"
    assert error(client.call("gcode/script", {})) == "Missing Argument [script]"
    assert error(client.call("gcode/script", {"script": 5})) == "Invalid Argument Type [script]"
    assert error(client.call("objects/query", {"objects": {"toolhead": "position"}})) \
        == "Invalid argument"
    assert error(client.call("objects/query", {"objects": []})) == "Invalid Argument Type [objects]"
    client.send({"id": 5, "params": {}})                           # no method
    assert "method" in error(client.answer(5))
    client.send({"method": "info"})                                # no id: no answer
    assert client.result("info")["state"] == "ready"
    assert client.answers == {} and client.pushed == []


def test_subscribe_pushes_only_what_changed_at_most_every_quarter_second(client):
    template = {"method": "process_status_update"}
    first = client.result("objects/subscribe", {
        "objects": {"toolhead": ["position", "homed_axes"], "gcode_move": None,
                    "webhooks": ["state"]},
        "response_template": template})
    assert first["status"]["toolhead"]["position"] == [0.0, 0.0, 0.0, 0.0]
    assert first["status"]["gcode_move"]["absolute_coordinates"] is True
    time.sleep(0.6)
    assert client.pushed == []                      # nothing changed, nothing sent
    client.result("gcode/script", {"script": "G28\nG1 X10 Y5 F3000"})
    pushed = client.wait_push(lambda m: "toolhead" in m["params"]["status"])
    assert pushed["method"] == "process_status_update"
    status = pushed["params"]["status"]
    assert status["toolhead"] == {"position": [10.0, 5.0, 0.0, 0.0], "homed_axes": "xyz"}
    assert set(status["gcode_move"]) == {"gcode_position", "position", "speed"}
    assert "webhooks" not in status
    assert isinstance(pushed["params"]["eventtime"], float)
    # Pushes are at least 0.25 s apart.
    stamps = [pushed["params"]["eventtime"]]
    for x in (20, 30):
        client.result("gcode/script", {"script": "G1 X%d" % x})
        stamps.append(client.wait_push(lambda m: True)["params"]["eventtime"])
    assert all(b - a >= 0.24 for a, b in zip(stamps, stamps[1:]))


def test_emergency_stop_is_pushed_as_webhooks_shutdown(client):
    client.result("objects/subscribe", {"objects": {"webhooks": None},
                                        "response_template": {"method": "update"}})
    assert client.result("emergency_stop") == {}
    pushed = client.wait_push(lambda m: True)
    assert pushed == {"method": "update", "params": {
        "eventtime": pushed["params"]["eventtime"],
        "status": {"webhooks": {"state": "shutdown",
                                "state_message": "Shutdown due to webhooks request"}}}}


def test_console_lines_go_to_output_subscribers(client):
    assert client.result("gcode/subscribe_output",
                         {"response_template": {"method": "process_gcode_response"}}) == {}
    client.call("gcode/script", {"script": "G28\nBAR"})
    lines = [client.wait_push(lambda m: True)["params"]["response"] for _ in range(2)]
    assert lines == ["// ran G28", '!! Unknown command:"BAR"']


def test_pause_resume_and_restarts_run_klippers_commands(client, served):
    _path, session, _server = served
    session.interpreter.macros.macros.clear()
    for method in ("pause_resume/pause", "pause_resume/resume", "pause_resume/cancel",
                   "gcode/restart", "gcode/firmware_restart"):
        client.call(method)
    assert session.scripts == ["PAUSE", "RESUME", "CANCEL_PRINT", "RESTART",
                               "FIRMWARE_RESTART"]


def test_gcode_help_and_the_gcode_object_list_commands_with_their_help(client):
    help_text = client.result("gcode/help")
    assert help_text["PRINT_START"]                  # a macro: its description
    assert "G1" not in help_text or help_text["G1"]
    commands = client.result("objects/query", {"objects": {"gcode": None}})[
        "status"]["gcode"]["commands"]
    assert "G1" in commands and "PRINT_START" in commands and "SET_GCODE_VARIABLE" in commands
    assert commands["PRINT_START"] == {"help": help_text["PRINT_START"]}


def test_remote_methods_reach_the_clients_that_registered_them(served, client):
    _path, _session, server = served
    assert client.result("register_remote_method", {
        "response_template": {"method": "paneldue_beep"},
        "remote_method": "paneldue_beep"}) == {}
    assert server.endpoints.call_remote_method("paneldue_beep", frequency=300)
    assert client.wait_push(lambda m: True) == {"method": "paneldue_beep",
                                                "params": {"frequency": 300}}
    assert not server.endpoints.call_remote_method("nobody")


def test_several_clients_and_sends_from_many_threads_stay_whole(served):
    path, session, server = served
    clients = [ApiClient(path) for _ in range(3)]
    for c in clients:
        c.result("gcode/subscribe_output", {"response_template": {"k": 1}})
    lines = ["// line %d %s" % (i, "x" * (i % 500)) for i in range(600)]

    def emit(part):
        for line in part:
            for listener in session.listeners:
                listener(line)
    threads = [threading.Thread(target=emit, args=(lines[k::3],)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        got = [c.wait_push(lambda m: True)["params"]["response"] for _ in lines]
        assert sorted(got) == sorted(lines)
        assert c.result("info")["state"] == "ready"
        c.close()


def test_a_client_that_hangs_up_is_forgotten(served):
    path, session, server = served
    gone = ApiClient(path)
    gone.result("gcode/subscribe_output", {})
    gone.result("objects/subscribe", {"objects": {"toolhead": None}})
    gone.close()
    deadline = time.monotonic() + 5
    while server.clients and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.clients
    assert not server.endpoints.status
    for listener in session.listeners:
        listener("// nobody listens")                 # must not raise
    assert json.loads(json.dumps(ApiClient(path).result("info")))["state"] == "ready"


def test_numpy_values_and_nan_go_out_as_plain_json():
    import numpy as np
    from mendel.api.protocol import encode
    data = encode({"a": np.int64(3), "b": np.array([1.5, np.nan]), "c": float("inf"),
                   "d": (1.0, float("nan"))})
    assert data.endswith(b"\x03")
    assert json.loads(data[:-1]) == {"a": 3, "b": [1.5, None], "c": None, "d": [1.0, None]}
