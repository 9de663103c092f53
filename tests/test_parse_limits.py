"""Pathological pages parse in time linear in their size, within budgets.

Each page is parsed in a child process with a generous timeout, so that a parser that
went quadratic (or expanded a YAML alias bomb) fails the test instead of hanging the
suite. No time is asserted beyond that bound.

Two kinds of page. Those of REGRESSIONS blew up an earlier parser of this project, the
regex line masker, which this one must never become again; each fails this test there
(measured with its parse.py, commit 91b90b4): a heading of spaces takes hours, a ladder
of backtick runs of distinct lengths ~4 minutes (each opener searched the rest of the
paragraph for its closer), 3 MB of frontmatter keys holding links ~5 minutes (each
link's line was searched from the top), and the alias bomb expands to 39 MB of JSON.
The masker read the others in well under a second; they are the ones the pulldown-cmark
parser must bound (nesting, brackets, dense markup, frontmatter and fields), and each
must end with the budget's `problems` row that bounds it.

The budgets that keep a page's parse to a few tens of milliseconds (scripts/fuzz_parse.py
measures them) are checked by what they do: past each one the page is still read, the
rest as its budget says, and a `problems` row says so.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vaultsync.parse import parse_page
from vaultsync.parse.fields import MAX_FIELD_CHARS, MAX_FIELD_LINES
from vaultsync.parse.frontmatter import LENIENT_YAML_KEYS, MAX_FRONTMATTER
from vaultsync.parse.markdown import MAX_COMMENT_MARKS, MAX_EVENTS, MAX_MARKUP
from vaultsync.parse.tokens import MAX_TOKENS

MB = 1_000_000
BOMB_LINES = "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)


def distinct_backtick_runs(size: int) -> str:
    """`a ``a ```a …: no run has a closer, so each opener reads to the paragraph's end."""
    runs, length, total = [], 1, 0
    while total < size:
        runs.append("`" * length + "a ")
        total += length + 2
        length += 1
    return "".join(runs)


REGRESSIONS = {
    "heading-of-spaces": f"# x{' ' * MB}y\n[[After]]\n",
    "backtick-runs": distinct_backtick_runs(4 * MB) + "\n\n[[After]]\n",
    "frontmatter-keys-with-links": "---\n" + "".join(
        f"key{i}: '[[Link {i}]]'\n" for i in range(3 * MB // 24)) + "---\n[[After]]\n",
    "alias-bomb-depth-7": "---\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                          + BOMB_LINES + "---\n[[After]]\n",
}
BOUNDED: dict[str, tuple[str, str | None]] = {  # page, the words of the problem bounding it
    "bracket-runs": ("[" * MB + "\n\n[[After]]\n", "too dense"),
    "wikilink-openers": ("[[" * (MB // 2) + "\n\n[[After]]\n", "too dense"),
    "link-openers": ("[a](" * (MB // 4) + "\n\n[[After]]\n", "too dense"),
    "nested-quotes": (">" * MB + "\n\n[[After]]\n", "too dense"),
    "quoted-lists": ("> - " * (MB // 4) + "\n\n[[After]]\n", "too dense"),
    "nested-lists": ("".join("  " * (i % 400) + "- [ ] [[x]] ^b\n"
                             for i in range(MB // 400)) + "[[After]]\n", None),  # linear
    "invalid-frontmatter-keys": ("---\n" + "".join(
        f"key{i}: {{{{date}}}} [[Link {i}]]\n" for i in range(MB // 30)) + "---\n[[After]]\n",
        "frontmatter is"),
    "field-openers": (("[k:: (" * 5000 + "\n") * (MB // 30_000) + "\n[[After]]\n",
                      "inline fields"),
}
PAGES = {**REGRESSIONS, **{name: page for name, (page, _) in BOUNDED.items()}}
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
    words = BOUNDED[name][1] if name in BOUNDED else None
    if words is not None:
        assert any(words in p for p in result["problems"]), result["problems"]


# --- budgets --------------------------------------------------------------------------

def problem(page, words: str):
    found = [p for p in page.problems if words in p.message]
    assert len(found) == 1, page.problems
    return found[0]


def test_structure_past_the_event_budget_is_plain_text():
    rows = MAX_EVENTS // 4  # an item of a loose list: Start/End of Item and Paragraph, Text
    text = "".join(f"- item {i}\n\n" for i in range(rows)) + "# Late\n\n`[[InCode]]`\n"
    page = parse_page("x.md", text)
    cut = problem(page, "too dense to read in full")
    assert 1 < cut.line < 2 * rows
    assert page.headings == []  # after the cut: no structure
    assert [link.target for link in page.links] == ["InCode"]  # nor code


def test_markup_past_its_budget_is_not_given_to_the_markdown_parser():
    text = "[" * (MAX_MARKUP + 10) + "\n\n# Late\n\n`[[InCode]]`\n"  # few elements
    page = parse_page("x.md", text)
    cut = problem(page, "too dense to read in full")
    assert cut.line == 1
    assert page.headings == [] and [link.target for link in page.links] == ["InCode"]


def test_a_prose_page_of_a_megabyte_is_read_in_full():
    paragraph = ("The consumer lag checkpoints the request queue and orders the shared segment "
                 "during training; see [[Some page]] for the details. Teams report 4x when the "
                 "stale tree partitions the shared watermark at ingest, as `fsync` is slow.\n\n")
    section = "## Section\n\n- one item\n- another\n\n" + paragraph * 8
    text = section * (1_000_000 // len(section)) + "# Last\n"
    page = parse_page("x.md", text)
    assert page.problems == []
    assert page.headings[-1].text == "Last"


def test_comment_marks_past_their_budget_are_text():
    text = "%%c%% " * (MAX_COMMENT_MARKS // 2) + "\n\n%% [[Hidden]] %%\n"
    page = parse_page("x.md", text)
    cut = problem(page, "%% comment marks")
    assert cut.line == 3
    assert [link.target for link in page.links] == ["Hidden"]
    assert parse_page("x.md", "%%c%% " * 10 + "%% [[Hidden]] %%\n").links == []


def test_tokens_past_their_budget_are_not_read():
    text = "[[a]] " * MAX_TOKENS + "\n#tag [[After]]\n"
    page = parse_page("x.md", text)
    cut = problem(page, "links, URLs and tags")
    assert cut.line == 2
    assert len(page.links) == MAX_TOKENS and page.tags == []


def test_fields_past_their_budget_are_not_read():
    page = parse_page("x.md", "k:: v\n" * (MAX_FIELD_LINES + 10))
    assert len(page.fields) == MAX_FIELD_LINES
    assert problem(page, "inline fields").line == MAX_FIELD_LINES + 1
    long_line = "[k:: v] " * 1000 + "\n"
    page = parse_page("x.md", long_line * (MAX_FIELD_CHARS // len(long_line) + 2))
    assert len(page.fields) == 1000 * (MAX_FIELD_CHARS // len(long_line))
    problem(page, "inline fields")


def test_frontmatter_past_its_size_is_read_up_to_a_key():
    keys = MAX_FRONTMATTER // 20 + 100
    text = ("---\ntitle: Big\n" + "".join(f"key{i:05}: '[[L{i}]]'\n" for i in range(keys))
            + "---\n[[After]]\n")
    page = parse_page("x.md", text)
    cut = problem(page, f"over the {MAX_FRONTMATTER:,} read as YAML")
    assert page.title == "Big"
    read = len(page.frontmatter) - 1
    assert 0 < read < keys and f"key{read - 1:05}" in page.frontmatter
    assert cut.line == read + 3  # the first key not read
    assert [link.target for link in page.links] == [f"L{i}" for i in range(read)] + ["After"]


def test_rejected_frontmatter_reads_a_budget_of_keys_as_yaml():
    text = "---\n" + "".join(f"k{i}: {{{{date}}}} [[L{i}]]\n" for i in range(300)) + "---\n"
    page = parse_page("x.md", text)
    assert "0 of 300 keys as YAML, 300 as plain text" in page.problems[0].message
    assert page.frontmatter["k299"] == "{{date}} [[L299]]"
    text = "---\n" + "".join(f"k{i}: [{i}]\n" for i in range(300)) + "bad: {{x}}\n---\n"
    page = parse_page("x.md", text)
    assert f"{LENIENT_YAML_KEYS} of 301 keys as YAML" in page.problems[0].message
    assert page.frontmatter["k0"] == [0] and page.frontmatter["k299"] == "[299]"
