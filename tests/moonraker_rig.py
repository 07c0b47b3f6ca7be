"""Mendel behind the real Moonraker, for the tests that drive it (import this,
as paths.py, not conftest): a printer.cfg as a Klipper user has it, a
loopback-only moonraker.conf, the two processes, and a small client of
Moonraker's HTTP API.

Moonraker (PyPI ``moonraker``, GPL-3.0, Python >= 3.10) pins packages of its
own, so it lives in a venv of its own: ``MENDEL_MOONRAKER`` names its
``moonraker`` command, its venv's python, or the venv folder (.ci/run makes
``.moonraker-venv``). Moonraker's HTTP API: its docs/web_api.md; the socket
it talks to: Klipper's docs/API_Server.md."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from mendel.sim.board import end_process
from paths import ROOT
from serve_clients import wait_for

MOONRAKER_VERSION = "0.11.0"       # the version .ci/run installs and these tests were run with

# The sections a Klipper user adds for Moonraker and Mainsail, in our words:
# a G-code folder, pause/resume, display_status, and PAUSE/RESUME/CANCEL_PRINT
# macros that retract and park around the built-in commands (rename_existing).
PRINTER_CFG = """\
[include {root}/boards/sim.cfg]

[virtual_sdcard]
path: {gcodes}

[pause_resume]
recover_velocity: 100

[display_status]

[gcode_macro PAUSE]
description: Pause; retract 1 mm if hot, lift 5 mm (within the Z range) and park if homed
rename_existing: PAUSE_BASE
variable_retracted: False
gcode:
    {{% set head = printer.toolhead %}}
    {{% set hot = printer.extruder.can_extrude %}}
    PAUSE_BASE
    SET_GCODE_VARIABLE MACRO=PAUSE VARIABLE=retracted VALUE={{hot}}
    {{% if hot %}}
    G91
    G1 E-1 F2100
    {{% endif %}}
    G90
    {{% if head.homed_axes == "xyz" %}}
    G1 Z{{[head.position.z + 5, head.axis_maximum.z]|min}} F600
    G1 X{{head.axis_minimum.x + 5}} Y{{head.axis_maximum.y - 5}} F6000
    {{% endif %}}

[gcode_macro RESUME]
description: Prime what PAUSE retracted and go back to the print
rename_existing: RESUME_BASE
gcode:
    {{% if printer["gcode_macro PAUSE"].retracted %}}
    G91
    G1 E1 F2100
    G90
    {{% endif %}}
    RESUME_BASE

[gcode_macro CANCEL_PRINT]
description: Heaters and fan off, then cancel the print
rename_existing: CANCEL_PRINT_BASE
gcode:
    TURN_OFF_HEATERS
    M107
    CANCEL_PRINT_BASE
    RESPOND MSG="Print cancelled"
"""

# Loopback only and offline: no announcements feed, an empty usb.ids (else it
# downloads one), no D-Bus (provider: none). Clients on 127.0.0.0/8 are
# trusted; cors_domains lets a Mainsail served from another local port in.
MOONRAKER_CONF = """\
[server]
host: 127.0.0.1
port: {port}
klippy_uds_address: {socket}

[authorization]
trusted_clients:
    127.0.0.0/8
cors_domains:
    http://127.0.0.1:*

[machine]
provider: none

[announcements]
enable_moonlight: False

[file_manager]

[history]
"""


def moonraker_command():
    """argv that starts Moonraker, from $MENDEL_MOONRAKER; skips without it
    (fails on CI, where .ci/run installs it)."""
    given = os.environ.get("MENDEL_MOONRAKER")
    if not given:
        message = ("Moonraker not given: set MENDEL_MOONRAKER to its `moonraker` command "
                   "or venv (python3 -m venv V && V/bin/pip install moonraker==%s)"
                   % MOONRAKER_VERSION)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if os.path.isdir(given):
        given = os.path.join(given, "bin", "python")
    if not os.path.exists(given):
        pytest.fail("MENDEL_MOONRAKER=%s: no such file" % given)
    if os.path.basename(given).startswith("python"):
        return [given, "-m", "moonraker"]
    return [given]


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Rig:
    """Paths of one Mendel + Moonraker pair. ``data``: Moonraker's data
    folder (config/, gcodes/, comms/, misc/), short enough for a Unix socket
    path (at most 107 bytes); ``cfg``: Mendel's printer.cfg; ``step_log``:
    the simulated board's step log; ``url``: Moonraker's HTTP root."""

    def __init__(self, data, port):
        self.data = data
        self.gcodes = os.path.join(data, "gcodes")
        self.socket = os.path.join(data, "comms", "klippy.sock")
        self.cfg = os.path.join(data, "config", "printer.cfg")     # where Moonraker looks
        self.step_log = os.path.join(data, "steps.log")
        self.url = "http://127.0.0.1:%d" % port
        self.port = port
        self.logs = {}

    def write(self):
        for folder in ("config", "gcodes", "comms", "misc", "logs"):
            os.makedirs(os.path.join(self.data, folder), exist_ok=True)
        open(os.path.join(self.data, "misc", "usb.ids"), "w").close()
        with open(os.path.join(self.data, "config", "moonraker.conf"), "w") as f:
            f.write(MOONRAKER_CONF.format(port=self.port, socket=self.socket))
        with open(self.cfg, "w") as f:
            f.write(PRINTER_CFG.format(root=ROOT, gcodes=self.gcodes))

    def tail(self, name, lines=40):
        """The last ``lines`` lines a process wrote (for failure messages)."""
        with open(self.logs[name]) as f:
            return "".join(f.readlines()[-lines:])


@contextlib.contextmanager
def _process(rig, name, argv):
    """Run ``argv`` with its output in DATA/logs/NAME.out; SIGTERM at the end."""
    rig.logs[name] = os.path.join(rig.data, "logs", name + ".out")
    with open(rig.logs[name], "w") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        end_process(process, timeout=30)


@contextlib.contextmanager
def short_tmp():
    """A fresh folder under /tmp, removed at the end: pytest's tmp_path can be
    too long for a Unix socket path (108 bytes with its NUL)."""
    data = tempfile.mkdtemp(prefix="mendel-moon-")
    try:
        yield data
    finally:
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def mendel_and_moonraker(command, data, realtime=False):
    """Start `mendel serve --api-socket` on the simulated board (on its
    virtual clock, or in real time) and Moonraker (argv ``command``) in front
    of it, with their files in folder ``data``; yield (Rig, Client) once
    Moonraker says Klippy is ready. Both are stopped at the end (Mendel
    last: its step log is whole after the block)."""
    rig = Rig(data, free_port())
    rig.write()
    mendel = [sys.executable, "-m", "mendel", "serve", "--config", rig.cfg,
              "--api-socket", rig.socket, "--step-log", rig.step_log]
    if realtime:
        mendel.append("--sim-realtime")
    started = time.monotonic()
    with _process(rig, "mendel", mendel) as served:
        with _process(rig, "moonraker", command + ["-d", data, "-n"]) as moonraker:
            client = Client(rig.url)

            def ready():
                for name, process in (("mendel", served), ("moonraker", moonraker)):
                    assert process.poll() is None, "%s exited:\n%s" % (name, rig.tail(name))
                info = client.get("/server/info", missing_ok=True)
                return info is not None and info["klippy_state"] == "ready"
            wait_for(ready, 60, "Moonraker to report Klippy ready")
            rig.ready_after_s = time.monotonic() - started
            yield rig, client


class MoonrakerError(AssertionError):
    """Moonraker answered an HTTP error: ``status`` and its error ``message``."""

    def __init__(self, status, message):
        AssertionError.__init__(self, "HTTP %d: %s" % (status, message))
        self.status, self.message = status, message


class Client:
    """Moonraker's HTTP API: each call returns the ``result`` of its JSON
    answer; an HTTP error raises MoonrakerError."""

    def __init__(self, url):
        self.url = url

    def _call(self, method, path, params=None, body=None, headers=None, missing_ok=False):
        query = "?" + urllib.parse.urlencode(params) if params else ""
        request = urllib.request.Request(self.url + path + query, data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                answer = json.loads(answer.read())
                # an upload's answer is not wrapped in "result"
                return answer["result"] if path != "/server/files/upload" else answer
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                message = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = text
            raise MoonrakerError(exc.code, message) from None
        except (urllib.error.URLError, ConnectionError):
            if missing_ok:          # not listening yet
                return None
            raise

    def get(self, path, params=None, missing_ok=False):
        return self._call("GET", path, params, missing_ok=missing_ok)

    def post(self, path, params=None):
        return self._call("POST", path, params, body=b"")

    def upload(self, path, name):
        """POST /server/files/upload: the file at ``path`` as gcodes/``name``
        (multipart/form-data, RFC 7578)."""
        boundary = uuid.uuid4().hex
        with open(path, "rb") as f:
            content = f.read()
        body = b"".join([
            b"--%s\r\n" % boundary.encode(),
            b'Content-Disposition: form-data; name="root"\r\n\r\ngcodes\r\n',
            b"--%s\r\n" % boundary.encode(),
            b'Content-Disposition: form-data; name="file"; filename="%s"\r\n' % name.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n", content, b"\r\n",
            b"--%s--\r\n" % boundary.encode()])
        return self._call("POST", "/server/files/upload", body=body, headers={
            "Content-Type": "multipart/form-data; boundary=" + boundary})

    def query(self, *objects):
        """/printer/objects/query of whole objects: {name: status dict}."""
        path = "/printer/objects/query?" + "&".join(urllib.parse.quote(o) for o in objects)
        return self._call("GET", path)["status"]

    def script(self, text):
        """/printer/gcode/script: returns "ok" once the script has run."""
        return self.post("/printer/gcode/script", {"script": text})

    def console(self, count=100):
        """The last ``count`` console lines Moonraker kept (/server/gcode_store):
        [(type, message)], type "command" or "response"."""
        store = self.get("/server/gcode_store", {"count": count})["gcode_store"]
        return [(item["type"], item["message"]) for item in store]

    def wait_state(self, states, timeout):
        """Poll print_stats until its state is one of ``states``; returns the
        virtual_sdcard and print_stats status then."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.query("print_stats", "virtual_sdcard")
            if status["print_stats"]["state"] in states:
                return status
            assert time.monotonic() < deadline, "timed out waiting for print_stats state " \
                "%s; last: %s" % ("/".join(states), status["print_stats"])
            time.sleep(0.02)
