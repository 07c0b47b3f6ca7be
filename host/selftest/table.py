# Mendel host: the board maturity table, built from reports and tests.
# SPDX-License-Identifier: GPL-3.0-or-later
"""``python -m mendel.selftest.table docs/reports``: write ``docs/maturity.md``
and ``docs/maturity.es.md`` (beside the reports' folder) from the board files,
the selftest reports in the folder and the test suite's evidence.

Levels, one column each, every cell linking its evidence:

* **simulated**: the board's firmware runs under test with no hardware
  (:data:`TEST_EVIDENCE`), or its selftest report on the simulated board;
* **emulated**: the board's firmware runs on an emulated MCU (tests/emulated);
* **bench-rig verified**: a report of ``mendel selftest --port`` on that
  board with every check passed;
* **printed by N people**: distinct testers whose report says ``printed``.

Test files are linked to the evidence list under the table, which says
what each shows and where it is in the repository (the site cannot link
files outside ``docs/``); reports by their page.
"""
import glob
import json
import os
import sys

from mendel.boards import __file__ as _boards_init

BOARDS_DIR = os.path.dirname(os.path.abspath(_boards_init))
# (board id, level, test file from the repository root): what the test suite
# shows of each board. tests/test_selftest.py checks each file exists and
# names the board (or, under tests/emulated, its conftest does).
TEST_EVIDENCE = (
    ("sim", "simulated", "tests/test_end_to_end.py"),
    ("btt-skr-pico-v1.0", "simulated", "tests/firmware/test_fw_board_files.py"),
    ("fysetc-e4", "simulated", "tests/firmware/test_fw_board_files.py"),
    ("rpi-pico-bench", "simulated", "tests/firmware/test_fw_board_files.py"),
    ("rpi-pico-bench", "emulated", "tests/emulated/test_print_steps.py"),
)
# What each test file shows, for the evidence list under the table (the
# table's cells link there: the site cannot link files outside docs/).
EVIDENCE_TEXT = {
    "tests/test_end_to_end.py": {
        "en": "real slicer files print end to end on the firmware under MicroPython's unix "
              "port (the simulated board), to the exact step",
        "es": "archivos reales de laminadores se imprimen de principio a fin en el firmware "
              "sobre el puerto unix de MicroPython (la placa simulada), al paso exacto"},
    "tests/firmware/test_fw_board_files.py": {
        "en": "the board file starts its real HAL backend (through fakes of the MCU's "
              "modules, under CPython and MicroPython): every pin it names is one the "
              "backend can open",
        "es": "el archivo de la placa arranca su backend HAL real (con imitaciones de los "
              "módulos del MCU, con CPython y MicroPython): cada pin que nombra es uno que "
              "el backend puede abrir"},
    "tests/emulated/test_print_steps.py": {
        "en": "prints stream to MicroPython's rp2 port in an emulated RP2040, and the step "
              "pulses on its pins land on their commanded times",
        "es": "las impresiones llegan al puerto rp2 de MicroPython en un RP2040 emulado, y "
              "los pulsos de paso en sus pines caen en sus tiempos ordenados"},
}
LEVELS = ("simulated", "emulated", "bench", "printed")
TEXT = {
    "en": {"title": "Board maturity", "board": "board", "evidence": "Test evidence",
           "where": "in the repository:",
           "simulated": "simulated", "emulated": "emulated", "bench": "bench-rig verified",
           "printed": "printed by N people", "none": "not yet", "test": "test", "people": "%d",
           "intro": "How far each board has been proven, from the evidence in this "
                    "repository: tests that run its firmware with no hardware (simulated) "
                    "or on an emulated MCU (emulated), and reports of `mendel selftest` "
                    "published in `docs/reports/` (bench-rig verified; printed by N people "
                    "counts the testers who printed with it). Built by "
                    "`python -m mendel.selftest.table docs/reports`; do not edit by hand.",
           "add": "To add your board's evidence, follow "
                  "[Test a board on a bench rig](guides/bench-rig.md)."},
    "es": {"title": "Madurez de las placas", "board": "placa",
           "evidence": "Evidencia de las pruebas", "where": "en el repositorio:",
           "simulated": "simulada", "emulated": "emulada", "bench": "verificada en banco",
           "printed": "impresa por N personas", "none": "aún no", "test": "prueba",
           "people": "%d",
           "intro": "Hasta dónde se ha probado cada placa, según la evidencia de este "
                    "repositorio: pruebas que ejecutan su firmware sin hardware (simulada) "
                    "o en un MCU emulado (emulada), e informes de `mendel selftest` "
                    "publicados en `docs/reports/` (verificada en banco; impresa por N "
                    "personas cuenta quienes imprimieron con ella). Generada con "
                    "`python -m mendel.selftest.table docs/reports`; no la edites a mano.",
           "add": "Para añadir la evidencia de tu placa, sigue "
                  "[Probar una placa en un banco de pruebas](guides/bench-rig.md)."},
}


def board_ids():
    """Ids of the board files (boards/*.json), sorted, the simulated board first."""
    ids = [os.path.basename(p)[:-5] for p in glob.glob(os.path.join(BOARDS_DIR, "*.json"))]
    return sorted(ids, key=lambda b: (b != "sim", b))


def read_reports(folder):
    """Every report ``folder/*.json``: a list of (page name, report dict),
    sorted by name. ValueError naming the file for one that is not a report."""
    found = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        with open(path, encoding="utf-8") as f:
            try:
                report = json.load(f)
            except ValueError as exc:
                raise ValueError("%s: not JSON: %s" % (path, exc)) from None
        if not isinstance(report, dict) or "board" not in report or "checks" not in report:
            raise ValueError("%s: not a selftest report (no board or checks)" % path)
        found.append((os.path.basename(path)[:-5] + ".md", report))
    return found


def evidence(folder):
    """{board id: {level: [(label, link)]}}; for ``printed`` the links of
    the testers' reports (one per tester)."""
    table = {board: {level: [] for level in LEVELS} for board in board_ids()}
    for board, level, path in TEST_EVIDENCE:
        table.setdefault(board, {lv: [] for lv in LEVELS})[level].append(
            (os.path.basename(path), "#" + _anchor(path)))
    testers = {}
    for page, report in read_reports(folder):
        board = report["board"]["id"]
        row = table.setdefault(board, {lv: [] for lv in LEVELS})
        link = "reports/" + page
        if report["board"]["simulated"]:
            if report["passed"]:
                row["simulated"].append(("selftest", link))
            continue
        if not report["passed"]:
            continue                        # a failing report verifies nothing
        row["bench"].append((page[:-3], link))
        if report.get("printed") and report.get("tester"):
            testers.setdefault(board, {}).setdefault(report["tester"], link)
    for board, people in testers.items():
        table[board]["printed"] = sorted(people.items())
    return table


def markdown(table, lang):
    """The table page in ``lang`` ("en" or "es")."""
    t = TEXT[lang]
    lines = ["# " + t["title"], "", t["intro"], "",
             "| %s | %s |" % (t["board"], " | ".join(t[level] for level in LEVELS)),
             "|---|" + "---|" * len(LEVELS)]
    for board, row in table.items():
        cells = []
        for level in LEVELS:
            items = row[level]
            if not items:
                cells.append(t["none"])
            elif level == "printed":
                cells.append("%d: " % len(items) + ", ".join(
                    "[%s](%s)" % item for item in items))
            else:
                cells.append(", ".join("[%s](%s)" % item for item in items))
        lines.append("| `%s` | %s |" % (board, " | ".join(cells)))
    lines += ["", t["add"], "", "## " + t["evidence"], ""]
    for path in sorted({path for _board, _level, path in TEST_EVIDENCE}):
        lines.append('- <a id="%s"></a>`%s`: %s (%s `%s`)'
                     % (_anchor(path), os.path.basename(path), EVIDENCE_TEXT[path][lang],
                        t["where"], path))
    return "\n".join(lines) + "\n"


def _anchor(path):
    """The evidence list's anchor of test file ``path``."""
    return "evidence-" + os.path.splitext(os.path.basename(path))[0].replace("_", "-")


def build(reports_folder):
    """Write maturity.md and maturity.es.md into the reports folder's parent;
    returns their paths."""
    table = evidence(reports_folder)
    docs = os.path.dirname(os.path.abspath(reports_folder))
    written = []
    for lang, name in (("en", "maturity.md"), ("es", "maturity.es.md")):
        path = os.path.join(docs, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(markdown(table, lang))
        written.append(path)
    return written


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not os.path.isdir(argv[0]):
        print("usage: python -m mendel.selftest.table REPORTS_FOLDER (docs/reports)",
              file=sys.stderr)
        return 2
    for path in build(argv[0]):
        print("wrote " + path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
