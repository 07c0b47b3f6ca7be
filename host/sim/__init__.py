"""The simulated board: real firmware on the MicroPython unix port behind a pty."""
