"""`mendel flash` end to end on the simulated board: a MicroPython REPL on a pty
takes the compiled firmware through mpremote, and the uploaded firmware then
runs a print. The RP2040 and ESP32 image steps against a fake boot drive, a
pty with no ESP32 behind it, and --dry-run."""
import hashlib
import json
import os
import struct
import subprocess
import sys
import tty

import pytest
import serial

from mendel import boards
from mendel.flash import Flash, FlashError, device, image, ports, upload
from mendel.sim.board import SimBoard, find_micropython, firmware_dir
from mendel.sim.repl import SimRepl


def mendel(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "mendel", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def repl(tmp_path):
    folder = tmp_path / "board-fs"
    folder.mkdir()
    with SimRepl(str(folder)) as sim:
        yield sim


def uf2_file(path, family=image.UF2_FAMILY_RP2040, blocks=3):
    """A UF2 file as the uf2 spec lays it out: 512-byte blocks, 256 payload bytes."""
    data = bytearray()
    for n in range(blocks):
        head = struct.pack("<IIIIIIII", *image.UF2_MAGIC, 0x2000, 0x10000000 + 256 * n,
                           256, n, blocks, family)
        data += head + bytes([n]) * 256 + bytes(476 - 256) + struct.pack("<I", 0x0AB16F30)
    path.write_bytes(bytes(data))
    return str(path)


def boot_drive(folder):
    folder.mkdir()
    (folder / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\n"
                                         "Board-ID: RPI-RP2\n")
    return str(folder)


def start_uploaded_firmware(folder):
    """Run the uploaded main.py (with the uploaded .mpy modules) as a board on a pty."""
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    os.set_blocking(master, False)        # as mendel.sim.board.SimBoard starts it
    process = subprocess.Popen([find_micropython(), "main.py", "--board", "board.json"],
                               stdin=master, stdout=master, cwd=folder, start_new_session=True)
    os.close(master)
    os.close(slave)
    return port, process


def test_flash_uploads_the_firmware_and_the_uploaded_firmware_prints(repl, tmp_path):
    stale = os.path.join(repl.folder, "mcu.py")           # an older source copy
    with open(stale, "w") as f:
        f.write("raise ImportError('stale source imported')\n")
    result = mendel("flash", "--board", "sim", "--port", repl.port)
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stdout and "upload: 100%" in result.stderr
    sources = ports.firmware_files(firmware_dir(), "sim")
    expected = {rel if rel == "main.py" else rel[:-3] + ".mpy" for rel in sources}
    found = {os.path.relpath(os.path.join(d, f), repl.folder)
             for d, _dirs, files in os.walk(repl.folder) for f in files}
    assert found == expected | {"board.json"}                 # stale mcu.py removed
    with open(os.path.join(firmware_dir(), "main.py"), "rb") as f:
        assert open(os.path.join(repl.folder, "main.py"), "rb").read() == f.read()
    for rel in expected - {"main.py"}:
        with open(os.path.join(repl.folder, rel), "rb") as f:
            assert f.read(2) == b"M\x06"                      # .mpy header, version 6
    with open(os.path.join(repl.folder, "board.json")) as f:
        uploaded = json.load(f)
    expected = {k: v for k, v in boards.load_board("sim").items() if k not in upload.DOC_KEYS}
    assert uploaded == expected and "source" not in uploaded    # notes for people stay home
    repl.stop()
    gcode = tmp_path / "short.gcode"
    # The uploaded board file places no switches: nothing is wired to its
    # endstop inputs, so the position is set rather than homed.
    gcode.write_text("SET_KINEMATIC_POSITION X=0 Y=0 Z=0\nM109 S200\nG1 Z0.3 F600\nG1 X50 Y20 E5 F3000\nG1 X10 Y40 E8\n")
    port, board = start_uploaded_firmware(repl.folder)
    try:
        printed = mendel("print", str(gcode), "--port", port, "--json", timeout=60)
    finally:
        board.terminate()
        board.wait()
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["position_steps"] == {"x": 800, "y": 3200, "z": 120,
                                                            "e": 744}


def test_uploaded_files_match_by_hash_through_mpremote(repl):
    job = Flash("sim", repl.port, quiet=True, out=lambda _line: None)
    job.run()
    for local_rel in ("main.py", "board.json", "hal/sim.mpy"):
        listing = subprocess.run([sys.executable, "-m", "mpremote", "connect", repl.port,
                                  "resume", "fs", "sha256sum", ":" + local_rel],
                                 capture_output=True, text=True, timeout=30)
        with open(os.path.join(repl.folder, local_rel), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() in listing.stdout, listing


def test_flash_into_a_folder_on_the_board(repl):
    Flash("sim", repl.port, remote_dir="apps/mendel", quiet=True, out=lambda _l: None).run()
    folder = os.path.join(repl.folder, "apps", "mendel")
    assert sorted(os.listdir(folder)) == sorted(
        {"main.py", "board.json"} | {rel.split("/")[0].replace(".py", ".mpy") for rel in
                                     ports.firmware_files(firmware_dir(), "sim")
                                     if rel != "main.py"})
    assert os.listdir(repl.folder) == ["apps"]


def test_a_second_flash_over_the_first_verifies_again(repl):
    for _ in range(2):
        summary = Flash("sim", repl.port, quiet=True, out=lambda _line: None).run()
        assert summary["bytes"] > 10000 and summary["march"] == "x64"


def test_wrong_board_is_refused_before_anything_is_written(repl):
    result = mendel("flash", "--board", "btt-skr-pico-v1.0", "--port", repl.port)
    assert result.returncode == 2
    assert "wrong board: %s runs MicroPython on 'linux'" % repl.port in result.stderr
    assert "needs an RP2040 running MicroPython" in result.stderr
    assert os.listdir(repl.folder) == []


def test_a_board_running_mendel_asks_for_a_reset_then_gives_up():
    lines = []
    with SimBoard("sim") as sim:
        job = Flash("sim", sim.port, quiet=True, out=lines.append, reset_wait_s=1.0)
        with pytest.raises(FlashError, match="the Mendel firmware on %s kept running" % sim.port):
            job.run()
    assert any("runs on %s and keeps the REPL closed: press the board's reset button"
               % sim.port in line for line in lines), lines


def test_a_simulated_board_running_mendel_is_not_a_repl():
    with SimBoard("sim") as sim:
        result = mendel("flash", "--board", "sim", "--port", sim.port)
    assert result.returncode == 2
    assert "%s runs the Mendel firmware, not a MicroPython REPL" % sim.port in result.stderr


def test_missing_port_and_unknown_board_are_clear_errors(tmp_path):
    result = mendel("flash", "--board", "sim", "--port", str(tmp_path / "ttyACM9"))
    assert result.returncode == 2 and "no serial port" in result.stderr
    assert "is the board plugged in?" in result.stderr
    # Checked once, said once: no step that called the port present first.
    assert result.stdout == ""
    # A folder (or any file that is not a character device) is no port.
    result = mendel("flash", "--board", "sim", "--port", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert "%s is not a serial port (not a character device)" % tmp_path in result.stderr
    result = mendel("flash", "--board", "skr-mini-e3", "--port", "/dev/ttyACM0")
    assert result.returncode == 2
    assert "no board 'skr-mini-e3'; known boards: btt-skr-pico-v1.0" in result.stderr


def test_busy_port_names_the_program_holding_it(repl):
    with serial.Serial(repl.port, 115200):
        result = mendel("flash", "--board", "sim", "--port", repl.port)
    assert result.returncode == 2
    assert "port %s is busy: python" % repl.port in result.stderr
    assert "(pid %d)" % os.getpid() in result.stderr
    assert os.listdir(repl.folder) == []


def test_uf2_is_copied_to_the_boot_drive_then_the_board_is_checked(repl, tmp_path):
    uf2 = uf2_file(tmp_path / "micropython-rp2.uf2")
    drive = boot_drive(tmp_path / "RPI-RP2")
    lines = []
    job = Flash("btt-skr-pico-v1.0", repl.port, image=uf2, boot_drive=drive, quiet=True,
                out=lines.append)
    with pytest.raises(FlashError, match="wrong board"):
        job.run()                        # the pty is the unix port, not an RP2040
    with open(uf2, "rb") as f:
        assert open(os.path.join(drive, "micropython-rp2.uf2"), "rb").read() == f.read()
    assert lines[0].startswith("[1/8] copy %s (2 KB) to the RP2040 boot drive %s"
                               % (uf2, drive))


def test_boot_drive_is_found_among_the_mounts(tmp_path, monkeypatch):
    (tmp_path / "media").mkdir()
    drive = boot_drive(tmp_path / "media" / "RPI-RP2")
    monkeypatch.setattr(image, "_mount_points", lambda: ["/", str(tmp_path), drive])
    assert image.find_boot_drive() == drive
    monkeypatch.setattr(image, "_mount_points", lambda: ["/", str(tmp_path)])
    with pytest.raises(FlashError, match="hold BOOTSEL while plugging the board in"):
        image.find_boot_drive()
    with pytest.raises(FlashError, match="is not an RP2040 boot drive"):
        image.find_boot_drive(str(tmp_path))


def test_images_are_checked_before_anything_runs(tmp_path):
    other = uf2_file(tmp_path / "rp2350.uf2", family=0xE48BFF59)
    with pytest.raises(FlashError, match="UF2 file for another chip"):
        Flash("rpi-pico-bench", "/dev/ttyACM0", image=other)
    text = tmp_path / "notes.uf2"
    text.write_text("hello")
    with pytest.raises(FlashError, match="is not a UF2 file"):
        Flash("rpi-pico-bench", "/dev/ttyACM0", image=str(text))
    with pytest.raises(FlashError, match="is not an ESP32 firmware image"):
        Flash("fysetc-e4", "/dev/ttyUSB0", image=str(text))
    with pytest.raises(FlashError, match="takes no --firmware-image"):
        Flash("sim", "/dev/pts/0", image=str(text))
    with pytest.raises(FlashError, match="no such firmware image"):
        Flash("fysetc-e4", "/dev/ttyUSB0", image=str(tmp_path / "none.bin"))


def test_esptool_failure_is_reported_in_its_own_words(repl, tmp_path):
    bin_file = tmp_path / "micropython-esp32.bin"
    bin_file.write_bytes(bytes([image.ESP_IMAGE_MAGIC]) + bytes(4095))
    job = Flash("fysetc-e4", repl.port, image=str(bin_file), quiet=True,
                out=lambda _line: None)
    with pytest.raises(FlashError, match="esptool could not write .* Failed to connect"):
        job.run()
    assert os.listdir(repl.folder) == []


@pytest.mark.parametrize("board_id, first", [
    ("btt-skr-pico-v1.0", "copy {image} (2 KB) to the RP2040 boot drive {drive}"),
    ("rpi-pico-bench", "copy {image} (2 KB) to the RP2040 boot drive {drive}"),
    ("fysetc-e4", "%s -m esptool --chip esp32 --port /dev/ttyACM7 --baud 460800 "
                  "write-flash -z 0x1000 {image}" % sys.executable),
])
def test_dry_run_prints_every_step_and_touches_nothing(board_id, first, tmp_path):
    drive = boot_drive(tmp_path / "RPI-RP2")
    if board_id == "fysetc-e4":
        path = tmp_path / "micropython.bin"
        path.write_bytes(bytes([image.ESP_IMAGE_MAGIC]) + bytes(2047))
        fw = str(path)
    else:
        fw = uf2_file(tmp_path / "micropython.uf2", blocks=4)
    result = mendel("flash", "--board", board_id, "--port", "/dev/ttyACM7", "--dry-run",
                    "--firmware-image", fw, "--boot-drive", drive)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    if board_id == "fysetc-e4":          # its port must be there before the first step
        # /dev/ttyACM7 is not on this machine: the dry run says what the
        # check would find now (it used to call the missing port present).
        assert lines.pop(0) == ("would check /dev/ttyACM7: it would stop here now: no "
                                "serial port /dev/ttyACM7: is the board plugged in? "
                                "(ls /dev/ttyACM* /dev/ttyUSB*)")
    assert lines[0] == "would run [1/%s] " % lines[-1].split("/")[1].split("]")[0] + \
        first.format(image=fw, drive=drive)
    march = ports.port(boards.load_board(board_id)["mcu"])["march"]
    assert "mpy-cross -march=%s" % march in result.stdout
    assert "    mpremote connect /dev/ttyACM7 resume fs cp build/mcu.mpy :mcu.mpy" in lines
    assert "    mpremote connect /dev/ttyACM7 resume fs cp firmware/main.py :main.py" in lines
    assert lines[-1].endswith("restart the board (machine.reset()): main.py starts the firmware")
    if board_id == "fysetc-e4":
        assert "-m esptool --chip esp32 --port /dev/ttyACM7 --baud 460800 write-flash -z " \
               "0x1000 %s" % fw in result.stdout
    assert os.listdir(drive) == ["INFO_UF2.TXT"]


def test_each_port_uploads_its_own_hal_only(tmp_path):
    for rel in ("main.py", "__init__.py", "mcu.py", "hal/__init__.py", "hal/sim.py",
                "hal/simplant.py", "hal/rp2.py", "hal/rp2_pio.py", "hal/esp32.py",
                "hal/__pycache__/sim.py", "thermal/sensor.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    shared = ["hal/__init__.py", "main.py", "mcu.py", "thermal/sensor.py"]
    assert ports.firmware_files(str(tmp_path), "sim") == sorted(
        shared + ["hal/sim.py", "hal/simplant.py"])
    assert ports.firmware_files(str(tmp_path), "rp2040") == sorted(
        shared + ["hal/rp2.py", "hal/rp2_pio.py"])
    assert ports.firmware_files(str(tmp_path), "esp32") == sorted(shared + ["hal/esp32.py"])


# sys.implementation._mpy: .mpy version 6 in bits 0-7, sub-version in 8-9, native
# architecture from bit 10 (4 armv6m, 10 xtensawin).
RP2040_MPY = 4 << 10 | 3 << 8 | 6
ESP32_MPY = 10 << 10 | 3 << 8 | 6


@pytest.mark.parametrize("family, remote, accepted", [
    ("rp2040", ("rp2", "Raspberry Pi Pico with RP2040", RP2040_MPY), True),
    ("rp2040", ("rp2", "Raspberry Pi Pico 2 with RP2350", RP2040_MPY), False),
    ("esp32", ("esp32", "Generic ESP32 module with ESP32", ESP32_MPY), True),
    ("esp32", ("esp32", "Generic ESP32S3 module with ESP32S3", ESP32_MPY), False),
    ("esp32", ("rp2", "Raspberry Pi Pico with RP2040", RP2040_MPY), False),
])
def test_the_remote_port_must_be_the_boards_family(family, remote, accepted):
    board = {"id": "x"}
    if accepted:
        assert device.check_remote(board, ports.port(family), remote, "/dev/ttyACM0") == \
            ports.port(family)["march"]
    else:
        with pytest.raises(FlashError, match="wrong board: /dev/ttyACM0 runs MicroPython on"):
            device.check_remote(board, ports.port(family), remote, "/dev/ttyACM0")


def test_an_old_micropython_is_refused_for_its_mpy_version():
    with pytest.raises(FlashError, match="reads .mpy version 5, mpy-cross writes 6"):
        device.check_remote({"id": "x"}, ports.port("rp2040"),
                            ("rp2", "Raspberry Pi Pico with RP2040", 4 << 10 | 5), "/dev/ttyACM0")
