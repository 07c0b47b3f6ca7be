# Mendel host: `mendel serve`, the virtual serial port around one printer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put a Marlin-speaking pty, Klipper's API socket, or both in front of a
printer on a connected board."""
import signal
import sys
import threading

from mendel import api
from mendel import config as config_mod
from mendel.mcu.mcu import Mcu
from mendel.serve.port import VirtualSerialPort, serve
from mendel.serve.session import ServedPrinter, Session


STOP_POLL_S = 0.2        # API only: how often the main thread looks for Ctrl-C/SIGTERM


def run(config, mcu, link=None, settings=None, out=sys.stdout, log=None,
        api_socket=None, api_mode=api.DEFAULT_MODE, serial_port=True):
    """Serve until Ctrl-C or SIGTERM; heaters off and motors released at the end.

    ``mcu``: a connected Mcu; ``link``: path of a symlink to the pty (e.g.
    /tmp/printer). ``api_socket``: also serve Klipper's API on this Unix
    socket path (file mode ``api_mode``); ``serial_port`` False: no pty, the
    API alone. Each path served is printed to ``out`` once it is ready, so a
    script can wait for it. Returns 0. Raises ApiSocketError if the socket
    cannot be made.
    """
    log = log or (lambda text: print("mendel serve: " + text, file=sys.stderr, flush=True))
    boards = [mcu]

    configs = [config]

    def connect(clear_shutdown, reload=False):
        if reload:                  # RESTART, FIRMWARE_RESTART: printer.cfg read anew
            configs[0] = config_mod.load(configs[0].path)
        if clear_shutdown:          # M999 after a shutdown: a new session on the same port
            boards[0] = Mcu(boards[0].link.port)
            boards[0].connect(clear_shutdown=True)
        return ServedPrinter(configs[0], boards[0], settings)

    port = VirtualSerialPort(link) if serial_port else None
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    session = Session(connect, port.write_line if port else _no_serial_client, settings,
                      log=log)
    api_server = None
    try:
        session.start()
        if api_socket:
            api_server = api.start(session, api_socket, config_file=config.path,
                                   mode=api_mode, log=log)
            print("serving Klipper's API on %s" % api_server.path, file=out, flush=True)
        if port is None:
            while not stop.wait(STOP_POLL_S):
                pass
            return 0
        print("serving a Marlin-compatible serial port on %s%s"
              % (port.path, " (link %s)" % link if link else ""), file=out, flush=True)
        serve(port, session, stop, log=log)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if api_server is not None:
            api_server.stop()
        session.stop()
        if port is not None:
            port.close()
    return 0


def _no_serial_client(_line):
    """The session's replies when no serial port is served: nobody reads them
    (API clients get the console through gcode/subscribe_output)."""
