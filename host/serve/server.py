# Mendel host: `mendel serve`, the virtual serial port around one printer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put a Marlin-speaking pty in front of a printer on a connected board."""
import signal
import sys
import threading

from mendel import config as config_mod
from mendel.mcu.mcu import Mcu
from mendel.serve.port import VirtualSerialPort, serve
from mendel.serve.session import ServedPrinter, Session


def run(config, mcu, link=None, settings=None, out=sys.stdout, log=None):
    """Serve until Ctrl-C or SIGTERM; heaters off and motors released at the end.

    ``mcu``: a connected Mcu; ``link``: path of a symlink to the pty (e.g.
    /tmp/printer). The pty's path is printed to ``out`` first, so a script
    can wait for it. Returns 0.
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

    port = VirtualSerialPort(link)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    session = Session(connect, port.write_line, settings, log=log)
    try:
        session.start()
        print("serving a Marlin-compatible serial port on %s%s"
              % (port.path, " (link %s)" % link if link else ""), file=out, flush=True)
        serve(port, session, stop, log=log)
    finally:
        signal.signal(signal.SIGTERM, previous)
        session.stop()
        port.close()
    return 0
