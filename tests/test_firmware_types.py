"""The firmware type-checks (mypy) against the MicroPython stubs of each port it
runs on, one stubs environment per port: their files overlap (machine.pyi,
time.pyi ... differ per port). Which files belong to a port and which stubs
package describes it: mendel.flash.ports.PORTS."""
import os
import re
import subprocess
import sys

import pytest

from paths import FIRMWARE, ROOT
from mendel.flash import ports

STUBS_DIR = os.environ.get("MENDEL_STUBS_DIR", os.path.join(ROOT, ".stubs"))
TYPED_PORTS = sorted(name for name, entry in ports.PORTS.items() if entry["stubs"])


def stubs_for(family):
    """Folder with the port's stubs package (and micropython-stdlib-stubs it
    needs), installed from PyPI with pip --target on first use."""
    package = ports.port(family)["stubs"]
    target = os.path.join(STUBS_DIR, family)
    marker = os.path.join(target, ".installed-" + package)
    if not os.path.exists(marker):
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                                 "--disable-pip-version-check", "--upgrade", "--target",
                                 target, package], capture_output=True, text=True)
        if result.returncode != 0:
            message = "cannot install %s: %s" % (package, result.stderr[-500:])
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        open(marker, "w").close()
    return target


def mypy(stubs, files, cwd, cache):
    """mypy's report on ``files`` with ``stubs`` as both typeshed and MYPYPATH."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--custom-typeshed-dir", stubs, "--no-site-packages",
         "--explicit-package-bases", "--cache-dir", cache, *files],
        cwd=cwd, env=dict(os.environ, MYPYPATH=stubs), capture_output=True, text=True,
        timeout=300).stdout


@pytest.mark.parametrize("family", TYPED_PORTS)
def test_firmware_type_checks_against_its_ports_stubs(family, tmp_path):
    stubs = stubs_for(family)
    files = ports.firmware_files(FIRMWARE, family)
    report = mypy(stubs, files, FIRMWARE, str(tmp_path / "cache"))
    # Errors inside the stubs packages themselves are theirs, not the firmware's.
    ours = [line for line in report.splitlines()
            if line.split(":", 1)[0] in files and ": error:" in line]
    assert ours == [], "\n".join(ours)
    checked = re.search(r"(?:checked|no issues found in) (\d+) source files", report)
    assert checked and int(checked.group(1)) == len(files), report[-2000:]
    assert "hal/__init__.py" in files and not [f for f in files if f.startswith("hal/sim")]


def test_type_check_sees_a_wrong_call(tmp_path):
    """The check is live: a call the rp2 stubs refuse is reported in the firmware file."""
    stubs = stubs_for("rp2040")
    bad = tmp_path / "bad.py"
    bad.write_text("import machine\nmachine.Pin('gpio2', machine.Pin.OUT).value('on', 2)\n")
    report = mypy(stubs, ["bad.py"], str(tmp_path), str(tmp_path / "cache"))
    assert any(line.startswith("bad.py:2: error:") for line in report.splitlines()), report
