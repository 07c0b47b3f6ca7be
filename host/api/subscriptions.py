# Mendel host: subscriptions of API clients (status changes, console lines).
# SPDX-License-Identifier: GPL-3.0-or-later
"""``objects/subscribe`` and ``gcode/subscribe_output`` clients and what is
pushed to them (Klipper docs/API_Server.md "Subscriptions").

Status: every tick (0.25 s, Klipper's SUBSCRIPTION_REFRESH_TIME) each
subscriber gets the fields that changed since what it was last sent, as its
``response_template`` with ``params`` = ``{"eventtime": s, "status":
{object: {field: value}}}``; nothing when nothing changed. A new
subscription of a client replaces its earlier one (as Klipper's).

Console: each line the session prints goes to every output subscriber as its
template with ``params`` = ``{"response": line}``.
"""
import json
import threading


class StatusSubscriptions:
    """Status subscribers: client -> (objects asked, template, last sent).
    Used on the API server thread only."""

    def __init__(self):
        self._subscribers = {}

    def __bool__(self):
        return bool(self._subscribers)

    def subscribe(self, client, request, template, status):
        """Client ``client`` now follows ``request`` ({object: [fields] or
        None}); ``status`` is what it was just sent."""
        self._subscribers[client] = (request, template, _fingerprints(status))

    def drop(self, client):
        self._subscribers.pop(client, None)

    def tick(self, objects, eventtime):
        """Push the changes to each subscriber (``objects``: PrinterObjects).
        Each object is read once per tick, however many ask for it."""
        cache = {}
        for client, (request, template, last) in list(self._subscribers.items()):
            status = objects.query(request, eventtime, cache)
            changes = {}
            for name, fields in status.items():
                before = last.setdefault(name, {})
                changed = {}
                for field, value in fields.items():
                    mark = json.dumps(value, sort_keys=True)
                    if before.get(field) != mark:
                        before[field] = mark
                        changed[field] = value
                if changed:
                    changes[name] = changed
            if changes:
                message = dict(template)
                message["params"] = {"eventtime": eventtime, "status": changes}
                client.send(message)


def _fingerprints(status):
    """{object: {field: JSON text}}: a deep copy to compare the next values
    against (a list changed in place still shows as changed)."""
    return {name: {field: json.dumps(value, sort_keys=True) for field, value in fields.items()}
            for name, fields in status.items()}


class OutputSubscriptions:
    """Console subscribers: client -> template. :meth:`push` may be called
    from any thread (the session's worker)."""

    def __init__(self):
        self._subscribers = {}
        self._lock = threading.Lock()

    def subscribe(self, client, template):
        with self._lock:
            self._subscribers[client] = template

    def drop(self, client):
        with self._lock:
            self._subscribers.pop(client, None)

    def push(self, line):
        """Send console line ``line`` to every subscriber."""
        with self._lock:
            subscribers = list(self._subscribers.items())
        for client, template in subscribers:
            message = dict(template)
            message["params"] = {"response": line}
            client.send(message)
