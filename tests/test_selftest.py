"""`mendel selftest` and the board maturity table: a report for the simulated
board with every check passing, checks that fail when the board is faulty
(the simulated board's fault hooks), and the committed table and report up
to date with what the generator builds now."""
import json
import os
import time
import types

import pytest

from paths import ROOT
from mendel import cli
from mendel.errors import MendelError
from mendel.selftest import checks, report as st_report, table

REPORTS = os.path.join(ROOT, "docs", "reports")
ORDER = ["identity", "thermistors", "endstops", "clock", "steps", "heaters", "link"]


def _selftest(tmp_path, *options):
    """(exit status, report dict) of ``mendel selftest`` on the simulated board."""
    path = str(tmp_path / "board")
    status = cli.main(["selftest", "--report", path, *options])
    with open(path + ".json") as f:
        return status, json.load(f)


def _checks(report):
    return {c["name"]: c for c in report["checks"]}


def test_simulated_board_passes_every_check_and_the_report_says_what_it_saw(tmp_path):
    start = time.monotonic()
    status, report = _selftest(tmp_path)
    assert time.monotonic() - start < 20
    assert status == 0 and report["passed"]
    assert [c["name"] for c in report["checks"]] == ORDER
    got = _checks(report)
    assert all(c["passed"] is True for c in got.values()), got
    assert report["board"] == {"id": "sim", "mcu": "sim", "firmware": "mendel 0.2.0",
                               "clock_freq": 12000000, "simulated": True,
                               "port": "simulated"}
    steps = got["steps"]["figures"]
    # The step log replayed adds up to the board's counters, which are the host's.
    assert steps["logged_steps"] == steps["counters_steps"]
    assert steps["board_steps"] == steps["host_steps"]
    assert steps["steps_logged"] > 1000
    assert abs(steps["step_span_s"] - steps["planned_motion_s"]) < 0.03
    assert got["endstops"]["figures"]["states"] == {"x": "open", "y": "open", "z": "open",
                                                    "probe": "open"}
    for name in ("extruder", "heater_bed"):
        heat = got["heaters"]["figures"][name]
        assert heat["reached_s"] and heat["peak_c"] >= heat["target_c"] - 1
        assert heat["target_c"] == pytest.approx(heat["start_c"] + 10, abs=0.1)
        assert heat["duty_after_off"] == 0
    assert got["link"]["figures"]["resends"] == 0 and got["link"]["figures"]["frames_bad"] == 0
    assert got["clock"]["figures"]["virtual"] is True
    page = (tmp_path / "board.md").read_text()
    assert "**every check passed**" in page
    for title in ("Identity", "Clock rate", "Step timing", "Endstop reads",
                  "Thermistor plausibility", "Heater response", "Link under load"):
        assert "| %s | pass |" % title in page


def test_a_heater_that_does_not_heat_fails_its_check_and_stops_the_rest(tmp_path):
    status, report = _selftest(tmp_path, "--sim-fault", "heater_failed:heater_bed@0")
    got = _checks(report)
    assert status == 1 and not report["passed"]
    assert all(got[name]["passed"] for name in ORDER[:5])
    assert got["heaters"]["passed"] is False
    assert "Heating failed on heater_bed" in got["heaters"]["summary"]
    assert got["link"]["passed"] is None and "not run" in got["link"]["summary"]
    assert "| Heater response | **FAIL** |" in (tmp_path / "board.md").read_text()


def test_an_open_thermistor_fails_the_thermistor_check_before_anything_moves(tmp_path):
    status, report = _selftest(tmp_path, "--sim-fault", "thermistor_open@0")
    got = _checks(report)
    assert status == 1
    assert got["identity"]["passed"] is True
    assert got["thermistors"]["passed"] is False
    assert "Thermistor open on extruder" in got["thermistors"]["summary"]
    assert [got[name]["passed"] for name in ORDER[2:]] == [None] * 5


def test_a_clock_off_by_2000_ppm_fails_the_clock_check(monkeypatch):
    monkeypatch.setattr(checks, "CLOCK_WINDOW_S", 0.2)
    freq = 12_000_000

    def query(name, args, response):
        assert name == "get_clock"
        return (int(time.monotonic() * freq * 1.002) % (1 << 32),)
    mcu = types.SimpleNamespace(virtual=False, clock_freq=freq, query=query)
    result = checks.clock(types.SimpleNamespace(mcu=mcu))
    assert result.passed is False
    assert result.figures["error_ppm"] == pytest.approx(2000, abs=300)
    monkeypatch.setattr(mcu, "query", lambda *a: (int(time.monotonic() * freq) % (1 << 32),))
    assert checks.clock(types.SimpleNamespace(mcu=mcu)).passed is True


def test_selftest_refuses_a_board_name_without_a_port_and_a_missing_report_folder(tmp_path):
    with pytest.raises(MendelError, match="--board fysetc-e4 needs --port"):
        cli.cmd_selftest(cli._parser().parse_args(
            ["selftest", "--board", "fysetc-e4", "--report", str(tmp_path / "r")]))
    with pytest.raises(MendelError, match="cannot write the report into"):
        cli.cmd_selftest(cli._parser().parse_args(
            ["selftest", "--report", str(tmp_path / "no" / "r")]))


def test_committed_sim_report_is_a_passing_report_of_the_simulated_board():
    with open(os.path.join(REPORTS, "sim.json")) as f:
        report = json.load(f)
    assert report["passed"] and report["board"]["id"] == "sim"
    assert [c["name"] for c in report["checks"]] == ORDER
    with open(os.path.join(REPORTS, "sim.md")) as f:
        assert f.read() == st_report.markdown(report)


def test_committed_maturity_table_is_what_the_generator_builds_now():
    built = table.evidence(REPORTS)
    for lang, name in (("en", "maturity.md"), ("es", "maturity.es.md")):
        with open(os.path.join(ROOT, "docs", name), encoding="utf-8") as f:
            assert f.read() == table.markdown(built, lang), (
                "docs/%s is stale: python -m mendel.selftest.table docs/reports" % name)


def test_each_test_evidence_file_exists_and_names_its_board():
    for board, level, path in table.TEST_EVIDENCE:
        assert level in table.LEVELS and board in table.board_ids()
        full = os.path.join(ROOT, path)
        text = open(full, encoding="utf-8").read()
        if level == "emulated":      # the emulated tests' board is their conftest's
            text += open(os.path.join(os.path.dirname(full), "conftest.py")).read()
        assert board in text, "%s does not name %s" % (path, board)


def test_table_counts_bench_rig_reports_and_the_people_who_printed(tmp_path):
    def write(name, board, passed, tester=None, printed=False, simulated=False):
        (tmp_path / (name + ".json")).write_text(json.dumps({
            "board": {"id": board, "simulated": simulated}, "passed": passed,
            "tester": tester, "printed": printed, "checks": []}))
    write("skr-ana", "btt-skr-pico-v1.0", True, "Ana", printed=True)
    write("skr-ana-2", "btt-skr-pico-v1.0", True, "Ana", printed=True)
    write("skr-li", "btt-skr-pico-v1.0", True, "Li", printed=True)
    write("e4-bad", "fysetc-e4", False, "Bo", printed=True)
    page = table.markdown(table.evidence(str(tmp_path)), "en")
    row = next(line for line in page.splitlines() if line.startswith("| `btt-skr-pico"))
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    # In file-name order ("skr-ana-2.json" sorts before "skr-ana.json").
    assert cells[3] == ("[skr-ana-2](reports/skr-ana-2.md), [skr-ana](reports/skr-ana.md), "
                        "[skr-li](reports/skr-li.md)")
    assert cells[4] == "2: [Ana](reports/skr-ana-2.md), [Li](reports/skr-li.md)"
    e4 = next(line for line in page.splitlines() if line.startswith("| `fysetc-e4"))
    assert [c.strip() for c in e4.split("|")[4:6]] == ["not yet", "not yet"]   # it failed
    (tmp_path / "junk.json").write_text("[1]")
    with pytest.raises(ValueError, match="junk.json: not a selftest report"):
        table.evidence(str(tmp_path))


def test_table_command_writes_both_languages(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    assert table.main([str(reports)]) == 0
    assert (tmp_path / "maturity.md").read_text().startswith("# Board maturity")
    assert (tmp_path / "maturity.es.md").read_text().startswith("# Madurez de las placas")
    assert table.main([str(tmp_path / "missing")]) == 2
