"""Paths the tests share (import this, not conftest: there are two conftests)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
EXAMPLE = os.path.join(ROOT, "examples", "mendel-test-block.gcode")
