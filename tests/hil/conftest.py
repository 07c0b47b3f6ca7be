"""Bench-rig tests: pytest-embedded's serial service opens the board's port.

Run them from the repository root (tests/hil/pytest.ini turns pytest-embedded
on, with ``--embedded-services serial``; the main suite runs with it off):

    pytest tests/hil                          # a simulated board on a pty
    pytest tests/hil --port /dev/ttyACM0      # a board flashed with `mendel flash`

Without ``--port`` a simulated board is started on a pty for the session.
"""
import pytest

from mendel.sim.board import SimBoard


@pytest.fixture(scope="session")
def _simulated_board():
    with SimBoard("sim") as sim:
        yield sim


@pytest.fixture
def port(request):
    """The board's serial port: ``--port``, else the simulated board's pty.
    (Overrides pytest-embedded's fixture of the same name.)"""
    given = request.config.getoption("port", None)
    return given or request.getfixturevalue("_simulated_board").port
