"""Firmware tests under CPython: the firmware tree and the fakes on sys.path."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIRMWARE = os.path.join(HERE, "..", "..", "firmware")
for path in (os.path.join(HERE, "fakes"), HERE, FIRMWARE):
    if path not in sys.path:
        sys.path.insert(0, os.path.abspath(path))

try:  # viper pointer casts: plain indexing under CPython (see motion/pulses.py)
    import builtins
    for _name in ("ptr8", "ptr16", "ptr32"):
        if not hasattr(builtins, _name):
            setattr(builtins, _name, lambda obj: obj)
    if not hasattr(builtins, "uint"):          # viper's unsigned int annotation
        builtins.uint = int
except ImportError:
    pass
