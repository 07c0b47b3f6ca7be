# Mendel host: Klipper's API server (the Unix socket Moonraker talks to).
# SPDX-License-Identifier: GPL-3.0-or-later
"""``mendel serve --api-socket PATH``: Klipper's API server (``klippy.py -a``)
in front of a serving session, so Moonraker -- and through it Mainsail,
Fluidd, KlipperScreen -- drive Mendel unchanged.

:mod:`.protocol` is the message layer (JSON + 0x03, requests, errors),
:mod:`.server` the Unix socket and its clients, :mod:`.endpoints` the
methods, :mod:`.subscriptions` what is pushed to subscribers. The printer
objects come from :mod:`mendel.status`.
"""
from mendel.api.endpoints import Endpoints
from mendel.api.server import DEFAULT_MODE, ApiServer, ApiSocketError


def start(session, path, config_file=None, log_file=None, mode=DEFAULT_MODE, log=None):
    """Serve Klipper's API for ``session`` on Unix socket ``path``; returns
    the running :class:`ApiServer` (stop it with ``.stop()``). Raises
    ApiSocketError if the socket cannot be made."""
    endpoints = Endpoints(session, config_file=config_file, log_file=log_file, log=log)
    server = ApiServer(path, endpoints.dispatch, tick=endpoints.tick,
                       closed=endpoints.closed, mode=mode, log=log)
    server.endpoints = endpoints
    return server.start()


__all__ = ["ApiServer", "ApiSocketError", "Endpoints", "start"]
