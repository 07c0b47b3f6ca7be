# Mendel host: the message layer of Klipper's API server protocol.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Messages, requests and errors of Klipper's API server socket.

Facts of the protocol (Klipper docs/API_Server.md, klippy/webhooks.py):

* each message is one JSON object followed by the byte 0x03; no newline is
  needed, several may arrive in one read and one may be split across reads;
* a request is ``{"id": any, "method": str, "params": {...}}``; ``params``
  may be left out (``{}``); without ``id`` (or with ``"id": null``) no
  answer is sent;
* an answer is ``{"id": id, "result": {...}}`` or
  ``{"id": id, "error": {"error": "WebRequestError", "message": text}}``;
* a subscription's messages are its ``response_template`` dict with a
  ``params`` field added.

Klipper drops a message that is not a JSON object with a string ``method``
and a dict ``params`` without an answer; Mendel answers it with an error
when the message has an ``id`` it can read, and logs it either way.
"""
import json
import math

TERMINATOR = b"\x03"
ERROR_KIND = "WebRequestError"        # the "error" field of every error answer


class RequestError(Exception):
    """A request refused; the message goes to the client as Klipper's error
    object (:func:`error_message`)."""


def encode(message):
    """One message as bytes on the wire: compact JSON and 0x03. Numpy values
    become plain numbers and lists; a NaN or infinite number becomes null
    (strict JSON readers, such as Moonraker's, refuse ``NaN``)."""
    try:
        text = json.dumps(message, separators=(",", ":"), allow_nan=False, default=_plain)
    except ValueError:
        text = json.dumps(_finite(message), separators=(",", ":"), default=_plain)
    return text.encode() + TERMINATOR


def _plain(value):
    """JSON form of a numpy scalar or array; TypeError for anything else."""
    if hasattr(value, "tolist"):
        return _finite(value.tolist())
    raise TypeError("%s is not JSON: %r" % (type(value).__name__, value))


def _finite(value):
    """``value`` with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def error_message(request_id, text):
    """Klipper's error answer to request ``request_id``."""
    return {"id": request_id, "error": {"error": ERROR_KIND, "message": text}}


class Splitter:
    """Cuts a byte stream into messages at 0x03; keeps an unfinished tail."""

    def __init__(self):
        self._tail = b""

    def feed(self, data):
        """The complete messages (bytes, without 0x03) that ``data`` ends."""
        parts = (self._tail + data).split(TERMINATOR)
        self._tail = parts.pop()
        return parts

    @property
    def pending(self):
        """Bytes of a message not yet ended."""
        return len(self._tail)


class Request:
    """One request of a client: ``id``, ``method``, ``params`` (dict).

    :meth:`get` reads a parameter as Klipper's WebRequest does: a missing one
    without default is "Missing Argument [name]", one of another JSON type
    "Invalid Argument Type [name]".
    """

    def __init__(self, request_id, method, params):
        self.id = request_id
        self.method = method
        self.params = params

    @classmethod
    def parse(cls, raw):
        """Request from one message (bytes). RequestError (with ``.id`` set
        to the request's id when one could be read, else None) if it is not
        a request."""
        try:
            message = json.loads(raw)
        except ValueError as exc:
            raise _bad(None, "the message is not JSON: %s" % exc) from None
        if not isinstance(message, dict):
            raise _bad(None, "the message is not a JSON object")
        request_id = message.get("id")
        method = message.get("method")
        params = message.get("params", {})
        if not isinstance(method, str):
            raise _bad(request_id, "Invalid request type: 'method' must be a string "
                                   "naming an endpoint, not %s" % json.dumps(method))
        if not isinstance(params, dict):
            raise _bad(request_id, "Invalid request type: 'params' must be an object")
        return cls(request_id, method, params)

    def get(self, name, default=RequestError, types=None):
        """Parameter ``name``; ``default`` when missing (RequestError when no
        default is given); ``types``: the Python types JSON may give it."""
        if name not in self.params:
            if default is RequestError:
                raise RequestError("Missing Argument [%s]" % name)
            return default
        value = self.params[name]
        if types is not None and type(value) not in types:
            raise RequestError("Invalid Argument Type [%s]" % name)
        return value

    def get_str(self, name, default=RequestError):
        return self.get(name, default, (str,))

    def get_dict(self, name, default=RequestError):
        return self.get(name, default, (dict,))


def _bad(request_id, text):
    error = RequestError(text)
    error.id = request_id
    return error
