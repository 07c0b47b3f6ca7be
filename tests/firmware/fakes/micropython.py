"""CPython stand-in for MicroPython's ``micropython`` module (tests only)."""


def const(value):
    return value


def native(func):
    return func


viper = native


def kbd_intr(_char):
    pass
