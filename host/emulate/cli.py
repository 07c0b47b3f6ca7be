# Mendel host: `mendel emulate`, a board's firmware on an emulated RP2040.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``mendel emulate --board rpi-pico-bench [--config printer.cfg]``: boot the
board's firmware on the emulated RP2040, print its port and how to use it,
serve until Ctrl-C. The heater plants follow the printer.cfg's sensors."""
import time

from mendel import config as config_mod
from mendel.emulate.emulator import Rp2040Emulator
from mendel.emulate.plant import describe

STATUS_EVERY_S = 10.0


def add_command(commands):
    """Register ``mendel emulate``; returns its parser."""
    sub = commands.add_parser("emulate", help="run a board's firmware on an emulated RP2040 "
                                              "and serve its USB serial port on a pty")
    sub.add_argument("--board", default="rpi-pico-bench",
                     help="board id (boards/) or board JSON file (default rpi-pico-bench)")
    sub.add_argument("--config", help="printer.cfg: its heater sensors shape the plants")
    sub.add_argument("--uf2", help="MicroPython UF2 for RPI_PICO (default $MENDEL_RP2_UF2)")
    sub.add_argument("--bootrom", help="RP2040 B1 boot ROM (default $MENDEL_RP2_BOOTROM)")
    sub.add_argument("--link", metavar="PATH", help="also make this symlink to the port")
    return sub


def run(args, out=print):
    """Serve until Ctrl-C (KeyboardInterrupt propagates after the emulator stops)."""
    cfg = config_mod.load(args.config) if args.config else None
    with Rp2040Emulator(args.board, uf2=args.uf2, bootrom=args.bootrom, config=cfg,
                        out=out) as emu:
        emu.wait_usb()
        port = emu.port
        if args.link:
            import os
            if os.path.islink(args.link):
                os.unlink(args.link)
            os.symlink(emu.port, args.link)
            port = args.link
        out("emulated RP2040 (%s) serving its USB serial port on %s" % (emu.board["id"], port))
        out("heaters:\n" + describe(emu.plants))
        out("print on it:  mendel print FILE --port %s%s" % (
            port, " --config " + args.config if args.config else " --config PRINTER.cfg"))
        out("Ctrl-C stops it")
        while True:
            time.sleep(STATUS_EVERY_S)
            stats = emu.stats()
            out("  emulated %.1f s (%.2fx real time), link in %d B / out %d B" % (
                stats["ns"] / 1e9, stats["ns"] / 1e9 / max(stats["wall_s"], 1e-9),
                stats["usb_in"], stats["usb_out"]))
