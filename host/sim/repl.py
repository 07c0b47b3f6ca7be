# Mendel host: a MicroPython REPL on a pseudo-terminal.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MicroPython unix port at its REPL, attached to a pty: a stand-in for a
freshly flashed board that ``mpremote`` (and ``mendel flash --board sim``) can
reach at :attr:`SimRepl.port`, with :attr:`SimRepl.folder` as its filesystem.

    with SimRepl(folder) as repl:
        mendel flash --board sim --port <repl.port>
"""
import os
import subprocess
import tty

from mendel.sim.board import find_micropython


class SimRepl:
    """A ``micropython`` REPL process on a pty master, working in ``folder``;
    use as a context manager. ``port`` is the slave path (``/dev/pts/N``)."""

    def __init__(self, folder):
        self.folder = folder
        self.port = None
        self.process = None
        self._slave = None

    def start(self):
        master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        # The REPL also keeps the slave open, so that it never sees a hang-up
        # between two mpremote sessions.
        self.process = subprocess.Popen([find_micropython()], stdin=master, stdout=master,
                                        stderr=subprocess.DEVNULL, cwd=self.folder,
                                        pass_fds=(self._slave,), start_new_session=True)
        os.close(master)
        os.close(self._slave)
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
