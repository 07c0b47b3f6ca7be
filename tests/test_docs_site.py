"""The documentation site (mkdocs.yml, docs/): it builds strictly in both languages,
no page is left out of the nav, every guide has its Spanish page, and the command
blocks of a page and its translation are the same.

The checks are functions of a site root, tried first on small trees of our own that
break each rule, then on the repository's docs.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if os.environ.get("CI") == "true":
    import mkdocs  # noqa: F401  (CI installs '.[test]', which has it)
else:
    pytest.importorskip("mkdocs", reason="pip install '.[test]' for mkdocs")

from mkdocs.utils import yaml_load  # noqa: E402  (after the skip above)
from pathspec.gitignore import GitIgnoreSpec  # noqa: E402  (a dependency of mkdocs)

# English pages that must have a Spanish `.es.md` beside them: the guides and these.
TRANSLATED = ("index.md", "architecture.md", "maturity.md")
TRANSLATED_DIRS = ("guides",)
# Fenced blocks that hold commands: these languages, or any block with a `$ ` line.
COMMAND_LANGS = {"sh", "shell", "bash", "console"}
SPANISH = ".es.md"
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


def load_config(root):
    """mkdocs.yml of ``root`` as a dict (Python tags such as Mermaid's fence allowed)."""
    with open(root / "mkdocs.yml", encoding="utf-8") as f:
        return yaml_load(f)


def nav_pages(nav):
    """Every page path (relative to docs_dir) named in an mkdocs ``nav`` list."""
    pages = []
    for item in nav:
        value = item if isinstance(item, str) else next(iter(item.values()))
        if isinstance(value, list):
            pages += nav_pages(value)
        elif not re.match(r"\w+://", value):
            pages.append(value)
    return pages


def english_name(rel):
    """The English page a docs path stands for: ``a/b.es.md`` -> ``a/b.md``."""
    return rel[:-len(SPANISH)] + ".md" if rel.endswith(SPANISH) else rel


def orphan_pages(root):
    """Pages under docs/ neither in the nav nor matched by ``not_in_nav``, and nav
    entries with no page: a list of messages, empty when the site is whole."""
    config = load_config(root)
    docs = root / config.get("docs_dir", "docs")
    in_nav = set(nav_pages(config["nav"]))
    spec = GitIgnoreSpec.from_lines(config.get("not_in_nav", "").splitlines())
    problems = []
    for path in sorted(docs.rglob("*.md")):
        rel = path.relative_to(docs).as_posix()
        if english_name(rel) not in in_nav and not spec.match_file(rel):
            problems.append("%s is in neither the nav nor not_in_nav of mkdocs.yml" % rel)
    for rel in sorted(in_nav):
        if not (docs / rel).is_file():
            problems.append("mkdocs.yml's nav names %s, which is not in %s" % (rel, docs))
    return problems


def translated_pages(docs):
    """English pages that must have a Spanish page, relative paths."""
    pages = [name for name in TRANSLATED if (docs / name).is_file()]
    for folder in TRANSLATED_DIRS:
        pages += [p.relative_to(docs).as_posix() for p in sorted((docs / folder).rglob("*.md"))
                  if not p.name.endswith(SPANISH)]
    return pages


def missing_translations(docs):
    """Messages for each English page of :func:`translated_pages` without its ``.es.md``."""
    return ["%s has no Spanish page %s" % (rel, rel[:-3] + SPANISH)
            for rel in translated_pages(docs) if not (docs / (rel[:-3] + SPANISH)).is_file()]


def fenced_blocks(text):
    """``[(language, line of the opening fence, body)]`` of the fenced blocks of Markdown ``text``,
    bodies without the opening fence's indentation."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.groups()
        body = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                      and not lines[i].strip().strip(fence[0])):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        blocks.append((lang, i - len(body), "\n".join(body)))
        i += 1
    return blocks


def command_blocks(text):
    """The fenced command blocks of ``text``: ``[(line, language, body)]``."""
    return [(line, lang, body) for lang, line, body in fenced_blocks(text)
            if lang in COMMAND_LANGS or any(l.startswith("$ ") for l in body.splitlines())]


def differing_command_blocks(docs):
    """Messages for each translated page whose command blocks differ from the English."""
    problems = []
    for rel in translated_pages(docs):
        spanish = docs / (rel[:-3] + SPANISH)
        if not spanish.is_file():
            continue
        en = command_blocks((docs / rel).read_text(encoding="utf-8"))
        es = command_blocks(spanish.read_text(encoding="utf-8"))
        if len(en) != len(es):
            problems.append("%s has %d command blocks, %s has %d"
                            % (rel, len(en), spanish.name, len(es)))
        for (en_line, en_lang, en_body), (es_line, es_lang, es_body) in zip(en, es):
            if (en_lang, en_body) != (es_lang, es_body):
                problems.append("%s line %d and %s line %d: command blocks differ"
                                % (rel, en_line, spanish.name, es_line))
    return problems


def build(root, site_dir):
    """``mkdocs build --strict`` of ``root`` into ``site_dir``: the finished process."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(root / "mkdocs.yml"), "--site-dir", str(site_dir)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


# -- the rules, on small trees that break them ---------------------------------

MINI_CONFIG = """site_name: t
docs_dir: docs
nav:
  - Home: index.md
  - Guides:
      - One: guides/one.md
not_in_nav: |
  /reports/*.md
"""


def mini_site(tmp_path, pages):
    (tmp_path / "mkdocs.yml").write_text(MINI_CONFIG)
    for rel, text in pages.items():
        path = tmp_path / "docs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_orphan_page_and_missing_nav_page_are_found(tmp_path):
    root = mini_site(tmp_path, {"index.md": "# A\n", "index.es.md": "# A\n",
                                "reports/sim.md": "# R\n", "extra.md": "# E\n",
                                "extra.es.md": "# E\n"})
    assert orphan_pages(root) == [
        "extra.es.md is in neither the nav nor not_in_nav of mkdocs.yml",
        "extra.md is in neither the nav nor not_in_nav of mkdocs.yml",
        "mkdocs.yml's nav names guides/one.md, which is not in %s" % (root / "docs")]


def test_missing_translation_is_found(tmp_path):
    root = mini_site(tmp_path, {"index.md": "# A\n", "index.es.md": "# A\n",
                                "guides/one.md": "# One\n", "boards.md": "# B\n"})
    assert missing_translations(root / "docs") == [
        "guides/one.md has no Spanish page guides/one.es.md"]


def test_differing_command_blocks_are_found(tmp_path):
    en = ("# One\n\nRun:\n\n```sh\n$ mendel check a.gcode\nok\n```\n\n"
          "```mermaid\ngraph LR\n a-->b\n```\n")
    es = ("# Uno\n\nEjecuta:\n\n```sh\n$ mendel check b.gcode\nok\n```\n\n"
          "```mermaid\ngraph LR\n x-->y\n```\n")
    same = es.replace("b.gcode", "a.gcode")
    root = mini_site(tmp_path, {"index.md": en, "index.es.md": es,
                                "guides/one.md": en, "guides/one.es.md": same})
    assert differing_command_blocks(root / "docs") == [
        "index.md line 5 and index.es.md line 5: command blocks differ"]


def test_not_run_text_block_with_commands_counts_as_a_command_block():
    text = ("<!-- not run: needs a board -->\n```text\n$ mendel flash --board x\n```\n"
            "    ```ini\n    [printer]\n    ```\n")
    assert command_blocks(text) == [(2, "text", "$ mendel flash --board x")]


# -- the repository's site -----------------------------------------------------

def test_every_page_is_in_the_nav_or_listed_as_not_in_nav():
    assert orphan_pages(ROOT) == []


def test_guides_and_main_pages_have_spanish_pages():
    pages = translated_pages(ROOT / "docs")
    assert {"index.md", "architecture.md", "maturity.md", "guides/first-print.md"} <= set(pages)
    assert missing_translations(ROOT / "docs") == []


def test_command_blocks_of_each_translation_are_the_english_ones():
    assert differing_command_blocks(ROOT / "docs") == []


def test_architecture_draws_three_diagrams_of_existing_modules():
    for name in ("architecture.md", "architecture.es.md"):
        blocks = [body for lang, _, body in fenced_blocks((ROOT / "docs" / name).read_text("utf-8"))
                  if lang == "mermaid"]
        assert len(blocks) == 3, name
        paths = set(re.findall(r"\b(?:host|firmware)/[\w/.]*\w", "\n".join(blocks)))
        assert len(paths) > 15, name
        assert [p for p in sorted(paths) if not (ROOT / p).exists()] == [], name


def test_architecture_example_frames_are_the_codec_s():
    from mendel.mcu import codec
    ack = codec.build_frame(5, b"").hex(" ")
    step = codec.build_frame(6, codec.encode_message(9, "iiii", [2, 1200, 40, -3])).hex(" ")
    for name in ("architecture.md", "architecture.es.md"):
        text = (ROOT / "docs" / name).read_text("utf-8")
        assert "`%s`" % ack in text and "`%s`" % step in text, name


def test_site_builds_strictly_in_both_languages(tmp_path):
    done = build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    for lang in ("", "es/"):
        page = (tmp_path / "site" / lang / "architecture" / "index.html").read_text("utf-8")
        assert page.count('class="mermaid"') == 3, lang
        assert 'hreflang="es"' in page
    spanish = (tmp_path / "site" / "es" / "index.html").read_text("utf-8")
    assert "Inicio rápido" in spanish
    # boards.md and protocol.md have no Spanish page: the Spanish site shows the English one.
    protocol = (tmp_path / "site" / "es" / "protocol" / "index.html").read_text("utf-8")
    assert "Mendel wire protocol" in protocol


def test_strict_build_of_our_config_fails_on_an_orphan_page_and_a_broken_link(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", root / "docs")
    shutil.copy(ROOT / "mkdocs.yml", root)
    (root / "docs" / "stray.md").write_text("# Stray\n\n[gone](nowhere.md)\n")
    done = build(root, tmp_path / "site")
    assert done.returncode != 0
    assert "- stray.md" in done.stderr and "nowhere.md" in done.stderr
