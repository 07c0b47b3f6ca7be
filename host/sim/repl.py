# Mendel host: a MicroPython REPL on a pseudo-terminal.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MicroPython unix port at its REPL, attached to a pty: a stand-in for a
freshly flashed board that ``mpremote`` (and ``mendel flash --board sim``) can
reach at :attr:`SimRepl.port`, with :attr:`SimRepl.folder` as its filesystem.

    python -m mendel.sim.repl FOLDER      # prints the port; Ctrl-C ends it
    mendel flash --board sim --port /dev/pts/N
"""
import os
import subprocess
import tty

from mendel.sim.board import end_process, find_micropython


class SimRepl:
    """A ``micropython`` REPL process on a pty master, working in ``folder``;
    use as a context manager. ``port`` is the slave path (``/dev/pts/N``)."""

    def __init__(self, folder):
        self.folder = folder
        self.port = None
        self.process = None

    def start(self):
        master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        # The REPL also keeps the slave open, so that it never sees a hang-up
        # between two mpremote sessions.
        self.process = subprocess.Popen([find_micropython()], stdin=master, stdout=master,
                                        stderr=subprocess.DEVNULL, cwd=self.folder,
                                        pass_fds=(slave,), start_new_session=True)
        os.close(master)
        os.close(slave)
        return self

    def stop(self):
        """End the REPL process."""
        end_process(self.process)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    """``python -m mendel.sim.repl [FOLDER]``: run a REPL until Ctrl-C."""
    import signal
    import sys
    import time
    folder = (argv if argv is not None else sys.argv[1:] or ["."])[0]

    def terminate(_signum, _frame):
        raise KeyboardInterrupt
    # SIGTERM ends the REPL process too (as Ctrl-C does), leaving no orphan.
    signal.signal(signal.SIGTERM, terminate)
    with SimRepl(os.path.abspath(folder)) as repl:
        print("MicroPython REPL on %s, files in %s (Ctrl-C ends it)" % (repl.port, repl.folder),
              flush=True)
        try:
            while repl.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
