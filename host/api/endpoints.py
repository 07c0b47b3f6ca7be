# Mendel host: Klipper's API endpoints on a `mendel serve` session.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The methods of Klipper's API server (docs/API_Server.md), run on a
serving :class:`mendel.serve.session.Session`.

``info``, ``list_endpoints``, ``objects/list``, ``objects/query``,
``objects/subscribe``, ``gcode/script``, ``gcode/help``,
``gcode/subscribe_output``, ``gcode/restart``, ``gcode/firmware_restart``,
``register_remote_method``, ``emergency_stop``, ``pause_resume/pause``,
``pause_resume/resume``, ``pause_resume/cancel``.

Requests that run G-code (``gcode/*`` scripts, ``pause_resume/*``) are queued
on the session's worker behind the commands before them and answered when
they have run: ``{}``, or the error Klipper would give ('Unknown
command:"FOO"'). The others are answered at once from the server thread.
Errors use Klipper's words: "webhooks: No registered callback for path
'X'", "Missing Argument [name]", "Invalid Argument Type [name]", "Invalid
argument" (an objects request of the wrong shape). An object the printer
does not have is answered as Klipper does: ``{}`` for it, no error.
"""
import os
import socket
import sys
import time

import mendel
from mendel.api.protocol import RequestError, error_message
from mendel.api.subscriptions import OutputSubscriptions, StatusSubscriptions
from mendel.status import PrinterObjects, Sources
from mendel.status.host import command_help
from mendel.status.motion_report import MotionHistory

SCRIPTS = {"pause_resume/pause": "PAUSE", "pause_resume/resume": "RESUME",
           "pause_resume/cancel": "CANCEL_PRINT", "gcode/restart": "RESTART",
           "gcode/firmware_restart": "FIRMWARE_RESTART"}
_LATER = object()        # a handler's result: the answer comes later


def software_version():
    """What ``info`` reports as ``software_version``: Mendel's own version,
    Klipper's form ("v" + version + "-" + what), never a Klipper version."""
    return "v%s-mendel" % mendel.__version__


def source_path():
    """``klipper_path``: Mendel's source tree (the checkout holding setup.py,
    else the installed package folder)."""
    package = os.path.dirname(os.path.abspath(mendel.__file__))
    checkout = os.path.dirname(package)
    return checkout if os.path.exists(os.path.join(checkout, "setup.py")) else package


def cpu_info():
    """"<n> core <model>" as Klipper gives it, from /proc/cpuinfo."""
    model = ""
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                key, _sep, value = line.partition(":")
                if key.strip() in ("model name", "Model") and not model:
                    model = value.strip()
    except OSError:
        pass
    return ("%d core %s" % (os.cpu_count() or 1, model)).strip()


class Endpoints:
    """Klipper's endpoints for ``session``; :meth:`dispatch`, :meth:`tick` and
    :meth:`closed` are the :class:`mendel.api.server.ApiServer` callbacks.

    ``config_file``, ``log_file``: paths ``info`` reports (None if none).
    """

    def __init__(self, session, config_file=None, log_file=None, log=None):
        self.session = session
        self.config_file = config_file
        self.log_file = log_file
        self.log = log or (lambda text: None)
        self.status = StatusSubscriptions()
        self.output = OutputSubscriptions()
        self.remote_methods = {}       # name -> {client: response template}
        self.methods = {
            "info": self._info, "list_endpoints": self._list_endpoints,
            "objects/list": self._objects_list, "objects/query": self._objects_query,
            "objects/subscribe": self._objects_subscribe,
            "gcode/script": self._gcode_script, "gcode/help": self._gcode_help,
            "gcode/subscribe_output": self._subscribe_output,
            "register_remote_method": self._register_remote_method,
            "emergency_stop": self._emergency_stop,
        }
        for method, script in SCRIPTS.items():
            self.methods[method] = lambda client, request, s=script: \
                self._run_script(client, request, s)
        session.add_output_listener(self.output.push)

    # -- server callbacks ------------------------------------------------
    def dispatch(self, client, request):
        """Run one request; answer it unless it has no id."""
        handler = self.methods.get(request.method)
        try:
            if handler is None:
                raise RequestError("webhooks: No registered callback for path '%s'"
                                   % request.method)
            result = handler(client, request)
        except RequestError as exc:
            self._answer_error(client, request, str(exc))
        except Exception as exc:     # any failure of one request is its error answer
            self.log("API %s failed: %s: %s" % (request.method, type(exc).__name__, exc))
            self._answer_error(client, request, "Internal Error on WebRequest: %s: %s"
                               % (request.method, exc))
        else:
            if result is not _LATER:
                self._answer(client, request, result)

    def tick(self, now):
        """Push status changes to subscribers (every 0.25 s)."""
        if self.status:
            self.status.tick(self.objects(), now)

    def closed(self, client):
        self.status.drop(client)
        self.output.drop(client)
        for clients in self.remote_methods.values():
            clients.pop(client, None)

    @staticmethod
    def _answer(client, request, result):
        if request.id is not None:
            client.send({"id": request.id, "result": result})

    @staticmethod
    def _answer_error(client, request, text):
        if request.id is not None:
            client.send(error_message(request.id, text))

    def objects(self):
        """The printer objects of the session's printer as it is now."""
        session = self.session
        printer = session.printer
        head = getattr(printer, "toolhead", None)
        history = MotionHistory.attach(head) if head is not None else None
        return PrinterObjects(Sources(session.interpreter, session=session, history=history))

    # -- endpoints ---------------------------------------------------------
    def _info(self, client, request):
        client_info = request.get_dict("client_info", None)
        if client_info is not None:
            client.info = client_info
        return {
            "state": self.session.state, "state_message": self.session.state_message,
            "hostname": socket.gethostname(), "klipper_path": source_path(),
            "python_path": sys.executable, "process_id": os.getpid(),
            "user_id": os.getuid(), "group_id": os.getgid(),
            "log_file": self.log_file, "config_file": self.config_file,
            "software_version": software_version(), "cpu_info": cpu_info(),
        }

    def _list_endpoints(self, _client, _request):
        return {"endpoints": list(self.methods)}

    def _objects_list(self, _client, _request):
        return {"objects": self.objects().names()}

    def _objects_query(self, _client, request):
        asked = _objects_request(request)
        eventtime = time.monotonic()
        return {"eventtime": eventtime, "status": self.objects().query(asked, eventtime)}

    def _objects_subscribe(self, client, request):
        asked = _objects_request(request)
        template = request.get_dict("response_template", {})
        eventtime = time.monotonic()
        status = self.objects().query(asked, eventtime)
        self.status.subscribe(client, asked, template, status)
        return {"eventtime": eventtime, "status": status}

    def _gcode_script(self, client, request):
        return self._run_script(client, request, request.get_str("script"))

    def _run_script(self, client, request, script):
        def done(error):
            if error is None:
                self._answer(client, request, {})
            else:
                self._answer_error(client, request, str(error))
        self.session.submit_script(script, done)
        return _LATER

    def _gcode_help(self, _client, _request):
        interpreter = self.session.interpreter
        return command_help(interpreter, self.session) if interpreter is not None else {}

    def _subscribe_output(self, client, request):
        self.output.subscribe(client, request.get_dict("response_template", {}))
        return {}

    def _register_remote_method(self, client, request):
        template = request.get_dict("response_template")
        method = request.get_str("remote_method")
        self.remote_methods.setdefault(method, {})[client] = template
        return {}

    def _emergency_stop(self, _client, _request):
        self.session.emergency("M112")
        return {}

    def call_remote_method(self, method, **params):
        """Send ``params`` to each client that registered remote ``method``
        (Klipper's action_call_remote_method); False if none did."""
        clients = dict(self.remote_methods.get(method, {}))
        for client, template in clients.items():
            message = dict(template)
            message["params"] = params
            client.send(message)
        return bool(clients)


def _objects_request(request):
    """The ``objects`` parameter checked as Klipper checks it: {name: None or
    [field names]}; RequestError "Invalid argument" otherwise."""
    asked = request.get_dict("objects")
    for name, fields in asked.items():
        if fields is not None and (not isinstance(fields, list)
                                   or not all(isinstance(f, str) for f in fields)):
            raise RequestError("Invalid argument")
    return asked
