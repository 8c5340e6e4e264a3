"""Every row of the bad-inputs table in docs/errors.md: its example raises that error with that text.

The table is read from the page itself, so a row added there is tested without a change here,
and a row whose message drifted from the code fails.
"""

import re
from pathlib import Path

import pytest
from test_docs import python_blocks

import batchkit

PAGE = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
HEADING = "## Bad inputs and what you get"
CODE = re.compile(r"`([^`]+)`")


def _table_and_setup():
    text = PAGE.read_text()
    rest = text.partition(HEADING)[2]
    section = rest.split("\n## ", 1)[0]
    setup = [source for _, source in python_blocks(section)][:1]  # the definitions the rows use
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[1].startswith("`"):
            continue
        mistake, example, error, message = cells
        rows.append(
            pytest.param(
                CODE.fullmatch(example)[1], CODE.fullmatch(error)[1], CODE.findall(message), id=mistake
            )
        )
    return setup, rows


SETUP, ROWS = _table_and_setup()


@pytest.fixture(scope="module")
def namespace():
    names = {}
    for source in SETUP:
        exec(compile(source, str(PAGE), "exec"), names)
    return names


def test_the_table_has_rows():
    """The table was found and parsed (a renamed heading must not silently test nothing)."""
    assert len(ROWS) >= 15 and len(SETUP) == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("example", "error", "fragments"), ROWS)
def test_the_example_raises_the_documented_error(namespace, example, error, fragments):
    """The row's example raises the row's error, and its message holds the row's text, in order."""
    expected = getattr(batchkit, error, None) or getattr(__import__("builtins"), error)
    with pytest.raises(expected) as info:
        exec(example, dict(namespace))
    message = str(info.value)
    position = 0
    for fragment in fragments:
        found = message.find(fragment, position)
        assert found >= 0, f"{fragment!r} not in {message!r} (after position {position})"
        position = found + len(fragment)
