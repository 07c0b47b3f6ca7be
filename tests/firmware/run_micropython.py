"""Run firmware test modules under the MicroPython unix port.

    micropython run_micropython.py FIRMWARE_DIR MODULE [MODULE ...]

Prints ``PASS name`` or ``FAIL name: error`` per test and a closing
``N passed, N failed`` line; exits 1 on any failure.
"""
import sys


def main():
    firmware, modules = sys.argv[1], sys.argv[2:]
    here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
    sys.path[:0] = [firmware, here + "/fakes", here]
    passed = failed = 0
    for name in modules:
        module = __import__(name)
        for attr in sorted(dir(module)):
            if not attr.startswith("test_"):
                continue
            try:
                getattr(module, attr)()
                print("PASS %s.%s" % (name, attr))
                passed += 1
            except Exception as exc:
                print("FAIL %s.%s: %r" % (name, attr, exc))
                sys.print_exception(exc)
                failed += 1
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
