# Mendel host: the selftest report as JSON and as Markdown.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a selftest report (the dict of :func:`mendel.selftest.run.report`)
as ``NAME.json`` and its summary as ``NAME.md`` beside it, the page the
maturity table links to."""
import json
import os

STATUS = {True: "pass", False: "**FAIL**", None: "not run"}


def paths(path):
    """(json path, markdown path) for the report path the user gave: its
    extension is replaced (``sim`` or ``sim.json`` -> ``sim.json``, ``sim.md``)."""
    stem = os.path.splitext(path)[0] if path.endswith((".json", ".md")) else path
    return stem + ".json", stem + ".md"


def write(report, path):
    """Write both files; returns their paths. OSError if the folder is not writable."""
    json_path, md_path = paths(path)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(markdown(report))
    return json_path, md_path


def markdown(report):
    """The report as a Markdown page: the board, then one row per check."""
    board = report["board"]
    verdict = "every check passed" if report["passed"] else "some checks FAILED"
    lines = [
        "# Selftest: %s" % board["id"], "",
        "`mendel selftest` on %s, %s: **%s**." % (
            "the simulated board" if board["simulated"] else "a board on " + board["port"],
            report["date"], verdict), "",
        "| | |", "|---|---|",
        "| board | `%s` (%s) |" % (board["id"], board["mcu"]),
        "| firmware | %s, %d Hz clock |" % (board["firmware"], board["clock_freq"]),
        "| host | Mendel %s, Python %s on %s %s |" % (
            report["mendel"], report["host"]["python"], report["host"]["system"],
            report["host"]["machine"]),
    ]
    if report.get("tester"):
        lines.append("| tested by | %s%s |" % (report["tester"], ", who printed with it"
                                               if report.get("printed") else ""))
    lines += ["", "| check | result | what was seen |", "|---|---|---|"]
    for check in report["checks"]:
        lines.append("| %s | %s | %s |" % (check["title"], STATUS[check["passed"]],
                                           check["summary"].replace("|", "\\|")))
    lines += ["", "The figures of each check are in the JSON report beside this page."]
    return "\n".join(lines) + "\n"
