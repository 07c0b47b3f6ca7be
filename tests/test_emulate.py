"""The emulated RP2040's parts that need no UF2: its filesystem image and its errors."""
import subprocess
import sys

from littlefs import LittleFS

from mendel.boards import checked_board
from mendel.emulate import image


def test_firmware_image_holds_the_compiled_firmware_board_and_main(tmp_path):
    """The littlefs image mounts with the rp2 port's geometry (4 KiB blocks over
    1408 KiB) and holds main.py, board.json and every other module as .mpy."""
    path, names = image.firmware_image(checked_board("rpi-pico-bench"), str(tmp_path))
    data = open(path, "rb").read()
    assert len(data) == image.FS_BYTES and image.FS_OFFSET == 0xA0000
    fs = LittleFS(block_size=image.BLOCK_BYTES, block_count=image.FS_BYTES // image.BLOCK_BYTES,
                  mount=False)
    fs.context.buffer[:] = data
    fs.mount()
    assert "main.py" in fs.listdir("/") and "board.json" in fs.listdir("/")
    assert "rp2.mpy" in fs.listdir("/hal") and "sim.mpy" not in fs.listdir("/hal")
    assert all(n.endswith(".mpy") for n in names if n not in ("main.py", "board.json"))
    with fs.open("board.json", "r") as f:
        assert '"rpi-pico-bench"' in f.read()


def test_emulate_without_a_uf2_says_where_to_get_one(monkeypatch):
    """`mendel emulate` with no UF2 fails at once, naming micropython.org's RPI_PICO page."""
    monkeypatch.delenv("MENDEL_RP2_UF2", raising=False)
    result = subprocess.run([sys.executable, "-m", "mendel", "emulate"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "micropython.org/download/RPI_PICO" in result.stderr
