"""The command line as a user meets it: mistyped options, Ctrl-C with --json,
`mendel plot` without matplotlib, and the run logs the default folder keeps."""
import json
import os
import select
import signal
import subprocess
import sys
import time
import types

import pytest

from paths import EXAMPLE
from mendel import cli
from mendel.errors import MendelError
from mendel.ux import plot_cli, runlog
from mendel.ux.session import RunSession


def _mendel(capsys, *argv):
    """Exit status and stderr of ``mendel argv`` run in this process."""
    with pytest.raises(SystemExit) as stop:
        cli.main(list(argv))
    return stop.value.code, capsys.readouterr().err


# -- a mistyped option -------------------------------------------------------
def test_mistyped_option_is_named_with_the_near_one_and_its_value_is_not_the_file(
        capsys, tmp_path):
    gcode = tmp_path / "part.gcode"
    gcode.write_text("G28\n")
    code, err = _mendel(capsys, "check", "--confg", "x.cfg", str(gcode))
    assert code == 2
    assert err.splitlines()[-1] == ("mendel check: error: unknown option --confg; "
                                    "did you mean --config?")
    assert "usage: mendel check" in err


def test_option_with_nothing_near_and_one_before_the_command(capsys):
    code, err = _mendel(capsys, "print", "--zzz", "part.gcode")
    assert code == 2
    assert err.splitlines()[-1] == ("mendel print: error: unknown option --zzz "
                                    "(mendel print --help lists the options)")
    code, err = _mendel(capsys, "--confg", "x.cfg", "check", "part.gcode")
    assert code == 2
    assert "mendel: error: unknown option --confg (options of a command go after it" in err


def test_abbreviations_equals_and_negative_values_still_parse(tmp_path):
    parser = cli._parser()
    args = parser.parse_args(["check", "--conf=x.cfg", "--arc-tolerance", "-1", "f.gcode"])
    assert (args.config, args.arc_tolerance, args.file) == ("x.cfg", -1.0, "f.gcode")
    args = parser.parse_args(["check", "--", "--odd-name.gcode"])
    assert args.file == "--odd-name.gcode"


# -- Ctrl-C with --json --------------------------------------------------------
@pytest.mark.parametrize("signum, status, words", [
    (signal.SIGINT, cli.EXIT_INTERRUPTED, "interrupted"),
    (signal.SIGTERM, 128 + signal.SIGTERM, "stopped by SIGTERM")])
def test_print_json_interrupted_prints_an_error_object(tmp_path, signum, status, words):
    # Ctrl-C, and SIGTERM as systemd and CI timeouts send it.
    log = tmp_path / "run.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mendel", "print", "--json", "--sim-realtime", "--progress",
         "--log", str(log), EXAMPLE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=tmp_path,
        # Ctrl-C as in a terminal, also when the tests run as a background job
        # (a shell starts those with SIGINT ignored, and Python keeps that).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # Wait for the progress bar: the print is under way.
        seen, deadline = b"", time.monotonic() + 60
        while b"%|" not in seen and time.monotonic() < deadline and proc.poll() is None:
            if select.select([proc.stderr], [], [], 0.5)[0]:
                seen += os.read(proc.stderr.fileno(), 4096)
        assert b"%|" in seen, seen
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, err
    report = json.loads(out)
    assert report == {"error": words + "; heaters off, board stopped", "log": str(log)}
    assert runlog.read(str(log))[-1]["status"] == "interrupted"


# -- mendel plot without matplotlib ------------------------------------------------
def test_plot_without_matplotlib_says_what_installs_from_the_clone(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import fails
    args = types.SimpleNamespace(what=None, file=EXAMPLE, log=None, out=None, layers=None)
    with pytest.raises(MendelError) as error:
        plot_cli.run(args, None, None)
    text = str(error.value)
    assert "mendel[plot]" not in text                       # Mendel is not on PyPI
    assert "pip install matplotlib" in text and "pip install '.[plot]'" in text


# -- run logs kept -------------------------------------------------------------------
def _old_logs(folder, count):
    folder.mkdir(exist_ok=True)
    names = ["202601%02d-120000-part.jsonl" % day for day in range(1, count + 1)]
    for name in names:
        (folder / name).write_text("{}\n")
    return names


def _session(log=None, keep=None):
    args = types.SimpleNamespace(log=log, no_log=False, keep_logs=keep)
    return RunSession(args, "print", "part.gcode")


def test_default_folder_keeps_the_newest_logs_this_one_included(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(runlog.KEEP_ENV, raising=False)
    folder = tmp_path / runlog.DEFAULT_FOLDER
    names = _old_logs(folder, 5)
    (folder / "notes.txt").write_text("mine")
    with _session(keep=3) as run:
        pass
    kept = sorted(os.listdir(folder))
    assert kept == sorted(names[-2:] + ["notes.txt", os.path.basename(run.log_path)])
    assert "keeps the newest 3" in run.log_where()
    monkeypatch.setenv(runlog.KEEP_ENV, "1")
    with _session() as run:
        pass
    assert sorted(os.listdir(folder)) == sorted(["notes.txt", os.path.basename(run.log_path)])


def test_runs_in_the_same_second_keep_the_newest_and_never_reuse_a_name(tmp_path,
                                                                        monkeypatch):
    # Two runs in one second are ...-part.jsonl then ...-part-2.jsonl; by name
    # alone "-2" sorted first, so it was deleted as the oldest and its name
    # handed to the next run.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(runlog.KEEP_ENV, raising=False)
    folder = tmp_path / runlog.DEFAULT_FOLDER
    folder.mkdir()
    first, second = folder / "20261205-051832-part.jsonl", folder / "20261205-051832-part-2.jsonl"
    for age, path in ((20, first), (10, second)):
        path.write_text("{}\n")
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    assert runlog.prune(str(folder), 1) == [str(first)]
    with _session(keep=2) as run:
        pass
    assert os.path.exists(second) and os.path.basename(run.log_path) != second.name
    assert sorted(os.listdir(folder)) == sorted([second.name, os.path.basename(run.log_path)])


def test_default_keep_zero_keeps_all_and_an_explicit_log_prunes_nothing(tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(runlog.KEEP_ENV, raising=False)
    folder = tmp_path / runlog.DEFAULT_FOLDER
    _old_logs(folder, runlog.DEFAULT_KEEP + 3)
    with _session(log=str(tmp_path / "mine.jsonl"), keep=1) as run:
        assert run.log_where() == str(tmp_path / "mine.jsonl")
    assert len(os.listdir(folder)) == runlog.DEFAULT_KEEP + 3
    with _session(keep=0):
        pass
    assert len(os.listdir(folder)) == runlog.DEFAULT_KEEP + 4
    with _session():
        pass
    assert len(os.listdir(folder)) == runlog.DEFAULT_KEEP


def test_a_bad_keep_count_is_an_error_naming_it(monkeypatch):
    monkeypatch.setenv(runlog.KEEP_ENV, "lots")
    with pytest.raises(MendelError, match="MENDEL_KEEP_LOGS=lots: not a number"):
        runlog.keep_count()
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["print", "--keep-logs", "-2", "f.gcode"])
