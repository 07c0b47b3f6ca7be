"""The guides' commands run, so the docs cannot drift from the code.

A guide (docs/guides/*.md) shows commands in ```sh fences: a line that starts
with `$ ` is a command, the lines after it are what it prints. Each command
runs in bash, in order, in a temporary folder holding a copy of what a clone
has (examples/, boards/, host/configs/, docs/reports/), with `mendel` and `python` on PATH
meaning this Python (`sys.executable -m mendel`). It must exit 0, and every
expected line that has no `…` must appear in what it printed (stdout and
stderr together, surrounding spaces ignored).

Markers, an HTML comment on the line(s) before a fence:
- `<!-- not run: REASON -->`: not run (a ```text fence: it needs a board, ...);
- `<!-- file: NAME -->`: the fence's text is written to NAME before the
  commands after it run (a printer.cfg or a G-code file the guide shows);
- `<!-- exit status: N -->`: the block's commands must exit N instead of 0
  (a check that is shown refusing a file).

The Spanish page (x.es.md) must have the same blocks, markers included.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from paths import ROOT

GUIDES = os.path.join(ROOT, "docs", "guides")
COPIED = ("examples", "boards", os.path.join("host", "configs"),   # what a clone has
          os.path.join("docs", "reports"))
ELLIPSIS = "\u2026"
COMMAND_TIMEOUT_S = 120
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*(not run|file|exit status):?\s*(.*?)\s*-->\s*$")


def english_guides():
    return sorted(name for name in os.listdir(GUIDES)
                  if name.endswith(".md") and not name.endswith(".es.md"))


def parse_blocks(text, where):
    """The fenced blocks of a Markdown text, in order: dicts with `lang`,
    `lines` (the fence's text, a list of str), `line` (1-based line of the
    opening fence) and `markers` ({kind: value} of the comments just before
    it, blank lines between allowed). Raises ValueError naming `where` and the
    line for a fence left open."""
    blocks, markers, lines = [], {}, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = _MARKER.match(line.strip())
        fence = _FENCE.match(line)
        if marker:
            markers[marker.group(1)] = marker.group(2)
        elif fence:
            end = i + 1
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            if end == len(lines):
                raise ValueError("%s:%d: ``` fence never closed" % (where, i + 1))
            blocks.append({"lang": fence.group(1), "lines": lines[i + 1:end],
                           "line": i + 1, "markers": markers})
            markers, i = {}, end
        elif line.strip():
            markers = {}
        i += 1
    return blocks


def commands_of(block):
    """[(command, [expected output lines])] of a ```sh block."""
    steps = []
    for line in block["lines"]:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def missing_lines(expected, output):
    """The expected lines (those without `…`, stripped, not blank) that are
    not in `output`."""
    return [line for line in expected
            if ELLIPSIS not in line and line.strip() and line.strip() not in output]


def make_workdir(tmp_path):
    """A folder with what a clone has, and a bin/ with `mendel` and `python`
    for this interpreter. Returns (cwd, environment)."""
    cwd = tmp_path / "clone"
    for part in COPIED:
        shutil.copytree(os.path.join(ROOT, part), str(cwd / part),
                        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mendel").write_text('#!/bin/sh\nexec "%s" -m mendel "$@"\n' % sys.executable)
    (bindir / "mendel").chmod(0o755)
    # A script, not a symlink: a venv's python found through a symlink in
    # another folder does not find its pyvenv.cfg, nor Mendel.
    (bindir / "python").write_text('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
    (bindir / "python").chmod(0o755)
    env = dict(os.environ, PATH="%s%s%s" % (bindir, os.pathsep, os.environ.get("PATH", "")),
               COLUMNS="100")
    env.pop("MENDEL_KEEP_LOGS", None)
    return cwd, env


def run_block(block, cwd, env, where):
    """Run a ```sh block's commands; return a list of failures (str)."""
    want = int(block["markers"].get("exit status", "0"))
    failures = []
    for command, expected in commands_of(block):
        done = subprocess.run(["bash", "-c", command], cwd=str(cwd), env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT_S,
                              universal_newlines=True)
        gone = missing_lines(expected, done.stdout)
        if done.returncode != want or gone:
            failures.append("%s:%d: $ %s\n  exit status %d (want %d); missing lines: %r\n"
                            "  output:\n%s" % (where, block["line"], command, done.returncode,
                                               want, gone, done.stdout))
    return failures


def run_guide(path, tmp_path):
    """Run every runnable block of a guide in order; return the failures."""
    where = os.path.relpath(path, ROOT)
    with open(path, encoding="utf-8") as f:
        blocks = parse_blocks(f.read(), where)
    cwd, env = make_workdir(tmp_path)
    failures = []
    for block in blocks:
        if "not run" in block["markers"]:
            continue
        if "file" in block["markers"]:
            target = cwd / block["markers"]["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("\n".join(block["lines"]) + "\n")
        elif block["lang"] == "sh":
            failures += run_block(block, cwd, env, where)
    return failures


@pytest.mark.parametrize("name", english_guides())
def test_guide_commands_run(name, tmp_path):
    failures = run_guide(os.path.join(GUIDES, name), tmp_path)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", english_guides())
def test_guide_blocks_are_marked(name):
    """Every ```sh block has commands and runs; a ```text block with `$ `
    commands says why it is not run; every not-run block is ```text."""
    path = os.path.join(GUIDES, name)
    with open(path, encoding="utf-8") as f:
        blocks = parse_blocks(f.read(), name)
    assert any(b["lang"] == "sh" and "not run" not in b["markers"] for b in blocks), \
        "%s runs no command" % name
    for block in blocks:
        where = "%s:%d" % (name, block["line"])
        if block["lang"] == "sh":
            assert "not run" not in block["markers"], "%s: a not-run block is ```text" % where
            assert commands_of(block), "%s: a ```sh block without `$ ` commands" % where
        elif any(line.startswith("$ ") for line in block["lines"]) and "file" not in block["markers"]:
            assert block["markers"].get("not run"), \
                "%s: ```%s block with commands needs <!-- not run: REASON -->" % (where, block["lang"])


@pytest.mark.parametrize("name", english_guides())
def test_spanish_guide_has_the_same_blocks(name):
    """x.es.md exists and its commands, files and markers equal x.md's
    (the text between them is translated, the blocks are not)."""
    english = os.path.join(GUIDES, name)
    spanish = english[:-len(".md")] + ".es.md"
    assert os.path.exists(spanish), "%s has no Spanish page %s" % (name, os.path.basename(spanish))
    runnable = lambda path: [(b["lang"], b["lines"], sorted(b["markers"].items()))
                             for b in parse_blocks(open(path, encoding="utf-8").read(), path)
                             if b["lang"] in ("sh", "text") or b["markers"]]
    assert runnable(spanish) == runnable(english)


def test_runner_catches_a_wrong_expected_line_and_exit_status(tmp_path):
    """The checker itself: a missing expected line and an unexpected exit
    status are failures; `…` lines and a matching exit status are not."""
    guide = tmp_path / "g.md"
    guide.write_text(
        "Step\n\n```sh\n$ mendel --version\nmendel 0.0.0-not-this\n```\n\n"
        "<!-- exit status: 1 -->\n```sh\n$ mendel config check nothing.cfg\n"
        "nothing.cfg: … error(s)\n```\n\n"
        "```sh\n$ mendel config check nothing.cfg\n```\n\n"
        "<!-- not run: needs a board -->\n```text\n$ false\n```\n")
    failures = run_guide(str(guide), tmp_path / "run")
    assert len(failures) == 2, failures
    assert "mendel --version" in failures[0] and "0.0.0-not-this" in failures[0]
    assert "exit status 1 (want 0)" in failures[1]


def test_parser_markers_and_open_fence():
    blocks = parse_blocks("<!-- file: a.cfg -->\n\n```ini\n[x]\n```\ntext\n```sh\n$ ls\nout\n```\n", "t")
    assert blocks[0]["markers"] == {"file": "a.cfg"} and blocks[0]["lines"] == ["[x]"]
    assert blocks[1]["markers"] == {} and commands_of(blocks[1]) == [("ls", ["out"])]
    with pytest.raises(ValueError, match="t:1: ``` fence never closed"):
        parse_blocks("```sh\n$ ls\n", "t")
