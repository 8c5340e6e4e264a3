"""The documentation's examples run, and the documentation site builds.

Every ```python block of README.md and of each docs/*.md page runs, a page's blocks in order in
one fresh namespace, so a later block may use what an earlier one defined. A block preceded by
a line ``<!-- skip -->`` is left out. One test per page.

A ```text block right after a python block (blank lines between at most) is what that block
prints: the test compares them, ``...`` standing for any text (times, addresses), spaces and
line breaks alike.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import batchkit
from batchkit import executors

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP_MARK = "<!-- skip -->"
OPENING = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*$")


def fenced_blocks(text: str) -> list[tuple[int, str, str, bool]]:
    """Every fenced block of a Markdown text: (line number, language, body, follows a block).

    "Follows a block": only blank lines stand between it and the previous block's closing
    fence. A python block preceded by ``<!-- skip -->`` has the language "skip". A fence may be
    indented (inside an admonition, say): its lines lose that indentation.
    """
    lines = text.splitlines()
    blocks = []
    previous = ""  # the last non-blank line before the current one
    i = 0
    while i < len(lines):
        opening = OPENING.match(lines[i])
        if opening is None:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        indent, start = opening["indent"], i + 1
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        lang = "skip" if opening["lang"] == "python" and previous == SKIP_MARK else opening["lang"]
        blocks.append((start, lang, "\n".join(body) + "\n", previous == "```"))
        previous = "```"
        i += 1  # past the closing fence
    return blocks


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown text, as (line number, source), skipped ones left out."""
    return [(start, body) for start, lang, body, _ in fenced_blocks(text) if lang == "python"]


def examples(text: str) -> list[tuple[int, str, str | None]]:
    """The python blocks as (line number, source, the output shown right after it, or None)."""
    blocks = fenced_blocks(text)
    found = []
    for k, (start, lang, body, _) in enumerate(blocks):
        if lang != "python":
            continue
        shown = None
        if k + 1 < len(blocks) and blocks[k + 1][1] == "text" and blocks[k + 1][3]:
            shown = blocks[k + 1][2]
        found.append((start, body, shown))
    return found


def matches_shown(printed: str, shown: str) -> bool:
    """Whether ``printed`` is the output ``shown``, ``...`` in it standing for any text.

    Runs of spaces and line breaks compare equal, so that a long printed line may be shown
    wrapped (no sideways scrolling) and a table's columns padded differently.
    """

    def tidy(text):
        return " ".join(text.split())

    pattern = ".*?".join(re.escape(piece) for piece in tidy(shown).split("..."))
    return re.fullmatch(pattern, tidy(printed), re.DOTALL) is not None


def test_shown_output_may_leave_out_what_varies():
    """``...`` stands for any text in a shown output; everything else must be printed as shown."""
    assert matches_shown("took 2.08 ms (3 items)\n", "took ... ms (3 items)")
    assert matches_shown("a\nb  \n", "a\nb\n")
    assert matches_shown("one long line\n", "one long\nline")
    assert not matches_shown("took 2.08 ms (4 items)\n", "took ... ms (3 items)")
    assert not matches_shown("a\nb\nc\n", "a\nb\n")


def test_block_parser_respects_skip_marks_and_languages():
    """Only ```python blocks are collected, and a block after <!-- skip --> is left out."""
    text = "\n".join(
        [
            "```python",
            "a = 1",
            "```",
            "<!-- skip -->",
            "```python",
            "raise SystemExit",
            "```",
            "```bash",
            "ls",
            "```",
            "!!! note",
            "    ```python",
            "    b = 2",
            "    ```",
        ]
    )
    assert python_blocks(text) == [(1, "a = 1\n"), (12, "b = 2\n")]


@pytest.fixture
def restored_targets():
    """Put the target registry back as it was: a page may register (or replace) targets.

    The executors of targets the page added or replaced are closed; those of the targets that
    were there before stay running, for the next test to reuse.
    """
    factories = dict(executors._FACTORIES)
    yield
    for name, factory in list(executors._FACTORIES.items()):
        if factories.get(name) is not factory:
            executor = executors._INSTANCES.pop(name, None)
            if executor is not None:
                executor.close()
    executors._FACTORIES.clear()
    executors._FACTORIES.update(factories)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_examples_run(page: Path, restored_targets):
    """Every python example of the page runs, in order, in one namespace, and prints what is shown."""
    # A module name that cannot be imported: cloudpickle then sends the functions and classes
    # the examples define to worker processes by value, as it does for a script's __main__.
    namespace = {"__name__": f"__docs_{page.stem}__"}
    wrong = []
    for line, source, shown in examples(page.read_text(encoding="utf-8")):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(source, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
        if shown is not None and not matches_shown(printed.getvalue(), shown):
            wrong.append(f"line {line} printed:\n{printed.getvalue()}shown:\n{shown}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.timeout(300)
def test_site_builds_strictly(tmp_path: Path):
    """``mkdocs build --strict`` succeeds, and the API page documents every public name."""
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            pytest.skip(f"{module} is not installed")
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    missing = [name for name in batchkit.__all__ if not re.search(rf'id="batchkit(\.\w+)*\.{name}"', api)]
    assert not missing, f"the API reference does not document {missing}"


#: the widest code line a docs page shows without a sideways scroll bar (mkdocs-material, desktop)
WIDEST_CODE_LINE = 90


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_example_line_needs_a_sideways_scroll(page: Path):
    """Every line of the page's Python examples fits the page's code width."""
    too_wide = [
        f"line {start + k}: {len(line)} characters"
        for start, source in python_blocks(page.read_text())
        for k, line in enumerate(source.splitlines())
        if len(line) > WIDEST_CODE_LINE
    ]
    assert too_wide == []
