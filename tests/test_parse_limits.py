"""Pathological pages parse in time linear in their size, within budgets.

Each page (about a megabyte) is parsed in a child process with a generous timeout, so
that a parser that went quadratic (or expanded a YAML alias bomb) fails the test
instead of hanging the suite. The old line masker took from minutes to weeks on each
of these. No time is asserted beyond that bound.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

MB = 1_000_000
BOMB_LINES = "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)
PAGES = {
    "heading-of-spaces": f"# x{' ' * MB}y\n[[After]]\n",
    "backtick-runs": "".join("`" * (i % 9 + 1) + "a " for i in range(MB // 6)) + "\n\n[[After]]\n",
    "bracket-runs": "[" * MB + "\n\n[[After]]\n",
    "wikilink-openers": "[[" * (MB // 2) + "\n\n[[After]]\n",
    "link-openers": "[a](" * (MB // 4) + "\n\n[[After]]\n",
    "nested-quotes": ">" * MB + "\n\n[[After]]\n",
    "nested-lists": "".join("  " * (i % 400) + "- [[x]]\n"
                            for i in range(MB // 400)) + "[[After]]\n",
    "frontmatter-keys-with-links": "---\n" + "".join(
        f"key{i}: '[[Link {i}]]'\n" for i in range(MB // 24)) + "---\n[[After]]\n",
    "invalid-frontmatter-keys": "---\n" + "".join(
        f"key{i}: {{{{date}}}} [[Link {i}]]\n" for i in range(MB // 30)) + "---\n[[After]]\n",
    "alias-bomb-depth-7": "---\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                          + BOMB_LINES + "---\n[[After]]\n",
    "field-openers": "[k:: " * (MB // 5) + "\n\n[[After]]\n",
}
CHILD = """
import json, sys
from vaultsync.parse import parse_page
sys.path.insert(0, "tests")
from test_parse_limits import PAGES
page = parse_page("x.md", PAGES[sys.argv[1]])
print(json.dumps({"links": len(page.links), "last": page.links[-1].target,
                  "fm_json": len(json.dumps(page.frontmatter)),
                  "problems": [p.message for p in page.problems]}))
"""


@pytest.mark.parametrize("name", list(PAGES))
def test_pathological_page_parses_within_bounds(name):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, name], cwd=root, timeout=120,
                              capture_output=True, text=True, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: parsing a {len(PAGES[name]):,}-character page took over 120 s")
    result = json.loads(done.stdout)
    assert result["last"] == "After"
    assert result["fm_json"] < 4 * len(PAGES[name]) + 1000  # nothing expanded
    if name == "alias-bomb-depth-7":
        assert any("aliases expand past" in p for p in result["problems"])
