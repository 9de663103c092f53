"""Tasks, block ids, Dataview fields, headings and anchors: the page model beyond links."""

from __future__ import annotations

import pytest

from vaultsync.parse import (
    Block,
    Field,
    Task,
    anchor_exists,
    anchor_parts,
    heading_key,
    parse_page,
    read_structure,
)


def tasks(text: str) -> list[Task]:
    return parse_page("x.md", text).tasks


# --- tasks ----------------------------------------------------------------------------

def test_task_forms_and_status():
    text = ("- [ ] open\n- [x] done\n- [X] done too\n- [-] cancelled\n* [ ] star\n"
            "+ [/] plus\n1. [ ] numbered\n2) [>] paren\n")
    assert [(t.line, t.status, t.done, t.text) for t in tasks(text)] == [
        (1, " ", False, "open"), (2, "x", True, "done"), (3, "X", True, "done too"),
        (4, "-", False, "cancelled"), (5, " ", False, "star"), (6, "/", False, "plus"),
        (7, " ", False, "numbered"), (8, ">", False, "paren")]


def test_nested_tasks_keep_their_own_line():
    text = "- [ ] parent\n  - [x] child\n    - [ ] grandchild\n- plain item\n"
    assert [(t.line, t.text) for t in tasks(text)] == [
        (1, "parent"), (2, "child"), (3, "grandchild")]


@pytest.mark.parametrize(("text", "expected"), [
    ("- [ ] top\n\t- [ ] nested\n", [(1, "top"), (2, "nested")]),  # Obsidian's tab indent
    ("- [ ] top\n\t- [x] nested\n\t\t- [ ] deeper\n", [(1, "top"), (2, "nested"), (3, "deeper")]),
    ("- [ ] top\n    - [ ] four\n", [(1, "top"), (2, "four")]),  # past the content indent
    (" - [ ] one\n", [(1, "one")]),  # one leading space
    ("1. [ ] top\n\t- [ ] nested\n", [(1, "top"), (2, "nested")]),
    ("> - [ ] quoted\n>\t- [ ] nested\n", [(1, "quoted"), (2, "nested")]),
])
def test_nested_tasks_however_indented(text, expected):
    assert [(t.line, t.text) for t in tasks(text)] == expected


def test_block_id_of_a_tab_nested_task():
    page = parse_page("x.md", "- [ ] top\n\t- [ ] nested ^n1\n")
    assert page.tasks[1] == Task(2, " ", False, "nested", "n1")
    assert page.blocks == [Block("n1", 2)]


def test_tasks_in_callouts_count_and_in_code_do_not():
    text = ("> [!todo] Next\n> - [ ] in callout\n\n```\n- [ ] in code\n```\n\n"
            "    - [ ] indented code\n\n- [ ] after\n")
    assert [(t.line, t.text) for t in tasks(text)] == [(2, "in callout"), (10, "after")]


def test_not_tasks():
    assert tasks("- [] empty brackets\n- [ab] two\n-[ ] no space\n[ ] not an item\n") == []


def test_task_block_id_is_split_from_its_text():
    (task,) = tasks("- [ ] write it ^todo-1\n")
    assert (task.text, task.block_id) == ("write it", "todo-1")


# --- block ids ------------------------------------------------------------------------

def blocks(text: str) -> list[tuple[str, int]]:
    return [(b.block_id, b.line) for b in parse_page("x.md", text).blocks]


def test_block_ids_end_paragraphs_and_items():
    text = ("A paragraph\nover two lines ^para-1\n\n- item ^item1\n  - nested ^Nested\n\n"
            "> quote\n\n^quote-id\n\n| a |\n|---|\n| b |\n\n^table\n")
    assert blocks(text) == [("para-1", 2), ("item1", 4), ("Nested", 5), ("quote-id", 9),
                            ("table", 15)]


@pytest.mark.parametrize("text", [
    "mid ^id paragraph\n",  # not at the end
    "no space^id\n",
    "bad ^id_with_underscore\n",
    "`code ^id`\n",
    "```\ntext ^id\n```\n",
    "%% hidden ^id %%\n",
    "# Heading ^id\n",
])
def test_not_block_ids(text):
    assert blocks(text) == []


# --- Dataview fields -----------------------------------------------------------------

def fields(text: str) -> list[tuple[str, str, int]]:
    return [(f.key, f.value, f.line) for f in parse_page("x.md", text).fields]


def test_whole_line_fields():
    text = "Status:: active\n**Rating**:: 5\nSome Key:: with [[Link]]\n> quoted:: yes\n"
    assert fields(text) == [("Status", "active", 1), ("Rating", "5", 2),
                            ("Some Key", "with [[Link]]", 3), ("quoted", "yes", 4)]


def test_field_whose_value_is_inline_code_keeps_it_with_its_backticks():
    text = "existsSince:: `= date(now) - this.file.ctime`\nmixed:: a `b`\n[q:: `c`]\n"
    assert parse_page("x.md", text).fields == [
        Field("existsSince", "`= date(now) - this.file.ctime`", 1), Field("mixed", "a `b`", 2),
        Field("q", "`c`", 3)]


def test_bracketed_fields_inside_text():
    text = "I rate it [rating:: 9] and (hidden:: yes), [nested:: a [b] c].\n"
    assert fields(text) == [("rating", "9", 1), ("hidden", "yes", 1), ("nested", "a [b] c", 1)]


def test_fields_in_list_items_and_tasks():
    text = "- due:: tomorrow\n- [ ] task:: not a field\n- [ ] pay [due:: 2024-05-01]\n"
    assert fields(text) == [("due", "tomorrow", 1), ("due", "2024-05-01", 3)]


@pytest.mark.parametrize("text", [
    "`key:: value`\n",
    "```\nkey:: value\n```\n",
    "%% key:: value %%\n",
    "a.b:: dots are not key characters\n",
    "[[Page]]:: links are not keys\n",
    "see [k:: unclosed\n",
    "::no key\n",
])
def test_not_fields(text):
    assert fields(text) == []


def test_frontmatter_keys_are_not_fields():
    assert fields("---\nstatus: draft\n---\nbody\n") == []


def test_field_keys_are_compared_case_insensitively_by_readers():
    page = parse_page("x.md", "Status:: a\nstatus:: b\n")
    assert {f.key.casefold() for f in page.fields} == {"status"}
    assert page.fields == [Field("Status", "a", 1), Field("status", "b", 2)]


# --- headings ------------------------------------------------------------------------

def test_setext_headings_and_headings_in_containers():
    text = "Title\n=====\n\n> # In a quote\n\n- # In a list\n\nSub\n---\n# ATX #\n"
    page = parse_page("title.md", text)  # a setext H1 can title its page
    assert [(h.level, h.text, h.line) for h in page.headings] == [
        (1, "Title", 1), (2, "Sub", 8), (1, "ATX", 10)]
    assert page.title == "Title"


def test_headings_inside_comments_are_not_headings():
    page = parse_page("x.md", "%%\n## In comment\n%%\n# Real\n%% # inline %%\n%%\n# unclosed\n")
    assert [(h.text, h.line) for h in page.headings] == [("Real", 4)]
    assert anchor_exists("In comment", [(h.level, h.text) for h in page.headings], ()) is False


def test_heading_of_spaces_and_closing_hashes():
    page = parse_page("x.md", "#   \n## a # b ##\n### c\\#\n#### #\n")
    assert [h.text for h in page.headings] == ["", "a # b", "c\\#", ""]


# --- offsets: pulldown-cmark's ranges are UTF-8 bytes ------------------------------------

def test_ranges_are_turned_into_character_offsets():
    text = "é 😀 `[[no]]` ü [[yes]]\n\n# Ünï `x`\n\n- [ ] ñ ^blk\n"
    s = read_structure(text)
    assert s.masked == text.replace("`[[no]]`", " " * 8).replace("`x`", "   ")
    assert [(h.text, h.offset) for h in s.headings] == [("Ünï `x`", text.index("# Ünï"))]
    page = parse_page("x.md", text)
    assert [ln.target for ln in page.links] == ["yes"]
    assert page.tasks == [Task(5, " ", False, "ñ", "blk")] and page.blocks == [Block("blk", 5)]


def test_crlf_line_ends():
    text = ("---\r\ntitle: T\r\n---\r\n# Head\r\n\r\n```\r\n[[no]]\r\n```\r\n"
            "- [x] t ^b1\r\n\r\nk:: v\r\n")
    page = parse_page("x.md", text)
    assert [(h.text, h.line) for h in page.headings] == [("Head", 4)]
    assert page.links == [] and page.tasks == [Task(9, "x", True, "t", "b1")]
    assert page.blocks == [Block("b1", 9)] and page.fields == [Field("k", "v", 11)]


# --- anchors -------------------------------------------------------------------------

def test_heading_key_strips_what_obsidian_strips_and_ignores_case():
    assert heading_key("Step 1: Do [[It]] | now ^x") == "step 1 do it now x"
    assert heading_key("  A   b ") == heading_key("a B")
    assert anchor_parts("H1#H2##H3") == ["h1", "h2", "h3"]


HEADINGS = [(1, "Guide"), (2, "Install: Linux"), (3, "Notes"), (2, "Usage"), (1, "Other"),
            (2, "Notes")]


@pytest.mark.parametrize(("anchor", "exists"), [
    ("Guide", True), ("guide", True), ("Install Linux", True), ("install: linux", True),
    ("Missing", False), ("Guide#Install Linux", True), ("Guide#Notes", True),
    ("Install Linux#Notes", True), ("Usage#Notes", False),  # the later Notes is not deeper
    ("Notes#Guide", False), ("Other#Guide", False), ("Guide#Install Linux#Notes", True),
    ("^blk-1", True), ("^BLK-1", True), ("^nope", False),
])
def test_anchor_exists(anchor, exists):
    assert anchor_exists(anchor, HEADINGS, {"blk-1"}) is exists


@pytest.mark.parametrize(("anchor", "heading", "exists"), [
    # Obsidian drops ASCII punctuation but - _ ' on both sides (its stripHeading)
    ("hasTag", "`hasTag()`", True),
    ("How large can each remote vault be", "How large can each remote vault be?", True),
    ("D D WOTC", "D&D WOTC", True),
    ("Setup Vault Consistency", "Setup & Vault Consistency", True),
    ("wifi 2 4 vs 5 0", "wifi 2.4 vs 5.0", True),
    ("wifi 2.4 vs 5.0", "wifi 2.4 vs 5.0", True),  # as written matches too
    ("TCP IP Model", "TCP/IP Model", True),
    ("CI CD DevOps", "CI/CD && DevOps", True),
    ("Bold and code", "**Bold** and `code`", True),
    ("Étoile été", "Étoile : Été", True),  # non-ASCII letters are kept, case ignored
    ("snake_case-name's", "snake_case-name's", True),
    ("snake case name s", "snake_case-name's", False),  # - _ ' are not punctuation here
    # truly broken stay broken
    ("Community Plugins", "Community Plugins and Scripts", False),
    ("None", "Something else", False),
])
def test_anchors_match_headings_as_obsidian_strips_them(anchor, heading, exists):
    assert anchor_exists(anchor, [(2, heading)], ()) is exists


def test_nothing_to_check():
    assert anchor_exists(None, HEADINGS, set()) is None
    assert anchor_exists("#", HEADINGS, set()) is None
