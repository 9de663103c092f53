"""Every parsing rule, each with its own small case (the parser is pure: text in, records out)."""

from __future__ import annotations

import pytest

from vaultsync.parse import ParseOptions, decode_page, parse_page


def links(text: str, path: str = "notes/page.md") -> list[tuple]:
    return [(ln.target, ln.anchor, ln.display, ln.embed, ln.line, ln.form)
            for ln in parse_page(path, text).links]


def targets(text: str) -> list[str]:
    return [ln.target for ln in parse_page("page.md", text).links]


# --- frontmatter, title, kind ---------------------------------------------------

def test_frontmatter_fields_and_dates_become_json():
    page = parse_page("concepts/x.md", "---\ntitle: X\ncreated: 2026-01-13\nn: 3\n---\nbody\n")
    assert page.frontmatter == {"title": "X", "created": "2026-01-13", "n": 3}
    assert page.title == "X"
    assert page.body == "body\n"


def test_title_falls_back_to_the_file_name():  # the rule in full: tests/test_titles.py
    assert parse_page("a/x.md", "intro\n## two\n# One\n").title == "x"
    assert parse_page("a/one.md", "intro\n## two\n# One\n").title == "One"
    assert parse_page("a/my note.md", "no heading\n").title == "my note"


def test_kind_from_type_else_top_folder():
    assert parse_page("concepts/x.md", "").kind == "concept"
    assert parse_page("systems/db/x.md", "").kind == "system"
    assert parse_page("concepts/x.md", "---\ntype: source\n---\n").kind == "source"
    assert parse_page("x.md", "").kind is None


def test_kind_folder_mapping_is_configurable():
    opts = ParseOptions(folder_kinds=(("people", "person"),))
    assert parse_page("people/ada.md", "", opts).kind == "person"


def test_source_page_by_type_or_folder():
    assert parse_page("sources/s.md", "").is_source
    assert parse_page("x.md", "---\ntype: Source\n---\n").is_source
    assert not parse_page("concepts/c.md", "").is_source
    opts = ParseOptions(source_folders=("refs",))
    assert parse_page("refs/r.md", "", opts).is_source
    assert not parse_page("sources/s.md", "", opts).is_source


def test_aliases_list_or_string():
    assert parse_page("x.md", "---\naliases: [A, B]\n---\n").aliases == ["A", "B"]
    assert parse_page("x.md", "---\naliases: Solo\n---\n").aliases == ["Solo"]


def test_tags_from_frontmatter_and_body():
    page = parse_page("x.md", "---\ntags: [Streaming, '#ai']\n---\n#nested/tag and #ai again\n")
    assert page.tags == ["Streaming", "ai", "nested/tag"]
    assert parse_page("x.md", "---\ntags: one, two\n---\n").tags == ["one", "two"]


def test_numeric_hashtags_and_headings_are_not_tags():
    page = parse_page("x.md", "# Heading\nissue #1984 and #2026/01 but #y2k\n")
    assert page.tags == ["y2k"]


def test_tags_in_code_and_urls_are_not_tags():
    page = parse_page("x.md", "`#code` https://x.org/#frag\n```\n#fenced\n```\n")
    assert page.tags == []


def test_malformed_yaml_keeps_page_and_records_line():
    text = "---\ntitle: ok\nbad: [unclosed\n---\n# Heading\nsee [[Other]]\n"
    page = parse_page("x.md", text)
    assert [ln.target for ln in page.links] == ["Other"]
    assert page.links[0].line == 6
    # Read key by key: the key PyYAML could read is kept, the other as its text.
    assert page.frontmatter == {"title": "ok", "bad": "[unclosed"}
    assert page.title == "ok" and page.body == "# Heading\nsee [[Other]]\n"
    (problem,) = page.problems
    assert problem.line in (3, 4) and "not valid YAML" in problem.message


def test_unreadable_yaml_with_no_key_is_kept_as_body():
    text = "---\n[unclosed\n---\n# Heading\nsee [[Other]]\n"
    page = parse_page("x.md", text)
    assert page.frontmatter == {} and page.title == "x"
    assert [(ln.target, ln.line) for ln in page.links] == [("Other", 5)]
    (problem,) = page.problems
    assert "not valid YAML" in problem.message and "kept as body" in problem.message


def test_horizontal_rule_opening_is_not_frontmatter():
    # A basic-memory user lost text between two rules this way: keep it as body.
    text = "---\nJust a thought with [[Link]].\n---\nmore\n"
    page = parse_page("x.md", text)
    assert page.frontmatter == {}
    assert "Just a thought" in page.body
    assert [(ln.target, ln.line) for ln in page.links] == [("Link", 2)]
    assert page.problems and "not a mapping" in page.problems[0].message


def test_empty_frontmatter_block():
    page = parse_page("x.md", "---\n---\n[[A]]\n")
    assert page.frontmatter == {} and page.links[0].line == 3 and not page.problems


def test_headings_with_levels_and_lines():
    page = parse_page("x.md", "---\na: 1\n---\n# One\ntext\n### Three ###\n```\n# not\n```\n")
    assert [(h.level, h.text, h.line) for h in page.headings] == [(1, "One", 4), (3, "Three", 6)]


# --- links ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[T]]", ("T", None, None, False)),
        ("[[T.md]]", ("T.md", None, None, False)),
        ("[[T|shown]]", ("T", None, "shown", False)),
        ("[[T#Heading]]", ("T", "Heading", None, False)),
        ("[[T#H1#H2]]", ("T", "H1#H2", None, False)),
        ("[[T#^block-id]]", ("T", "^block-id", None, False)),
        ("[[#Heading]]", ("", "Heading", None, False)),
        ("![[embed]]", ("embed", None, None, True)),
        ("![[img.png|200x100]]", ("img.png", None, None, True)),
        ("![[img.png|200]]", ("img.png", None, None, True)),
        ("![[note|caption]]", ("note", None, "caption", True)),
        ("[[T#H|shown]]", ("T", "H", "shown", False)),
        ("[[folder/T]]", ("folder/T", None, None, False)),
        ("[[https://example.com]]", ("https://example.com", None, None, False)),
    ],
)
def test_wikilink_forms(text, expected):
    (link,) = links(text)
    assert link[:4] == expected
    assert link[5] == "wikilink"


def test_escaped_pipe_in_table():
    text = "| a | b |\n|---|---|\n| [[T\\|shown]] | x |\n"
    assert links(text) == [("T", None, "shown", False, 3, "wikilink")]


@pytest.mark.parametrize(
    ("text", "target", "anchor", "display", "embed"),
    [
        ("[text](path.md)", "path.md", None, "text", False),
        ("[t](my%20note.md)", "my note.md", None, "t", False),
        ("[t](<path with spaces.md>)", "path with spaces.md", None, "t", False),
        ("[t](./sib.md)", "./sib.md", None, "t", False),
        ("[t](../up/x.md#Sec%20One)", "../up/x.md", "Sec One", "t", False),
        ("[t](#local)", "", "local", "t", False),
        ("![alt](img.png)", "img.png", None, "alt", True),
        ('[t](x.md "title")', "x.md", None, "t", False),
    ],
)
def test_markdown_link_forms(text, target, anchor, display, embed):
    (link,) = parse_page("a/page.md", text).links
    assert (link.target, link.anchor, link.display, link.embed, link.form) == (
        target, anchor, display, embed, "markdown")


def test_relative_markdown_links_are_flagged():
    page = parse_page("a/page.md", "[t](./x.md) [u](../y.md) [v](z.md)")
    assert [ln.relative for ln in page.links] == [True, True, False]


def test_link_lines_are_counted_in_the_raw_file():
    text = "---\ntitle: t\nrelated: \"[[Fm]]\"\n---\n\nfirst [[A]]\n\nthen\n[b](b.md)\n"
    assert [(ln.target, ln.line, ln.form) for ln in parse_page("x.md", text).links] == [
        ("Fm", 3, "frontmatter"), ("A", 6, "wikilink"), ("b.md", 9, "markdown")]


def test_frontmatter_links_in_lists_and_nested_values():
    text = "---\nrelated:\n  - \"[[One]]\"\n  - \"[[Two|2]]\"\nnote: plain\n---\n"
    assert [(ln.target, ln.display, ln.line) for ln in parse_page("x.md", text).links] == [
        ("One", None, 3), ("Two", "2", 4)]


def test_external_urls_go_to_their_own_list():
    text = "[docs](https://kafka.apache.org/) <https://example.org> mailto:[m](mailto:a@b.c)\n" \
           "bare https://bare.example/path.\n"
    page = parse_page("x.md", text)
    assert page.links == []
    assert [(e.url, e.line) for e in page.external_links] == [
        ("https://kafka.apache.org/", 1), ("https://example.org", 1), ("mailto:a@b.c", 1),
        ("https://bare.example/path", 2)]


# --- what is never a link ------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "```\n[[fenced]]\n```\n",
        "~~~python\n[[tilde]]\n~~~\n",
        "````\n```\n[[nested fence]]\n```\n````\n",
        "para\n\n    [[indented code]]\n",
        "\t[[tab indented]]\n",
        "`[[inline code]]`",
        "``code with ` and [[x]]``",
        "<!-- [[comment]] -->",
        "<!--\nmulti\n[[line comment]]\n-->",
        "%% [[obsidian comment]] %%",
        "$[[math]]$",
        "$$\n[[block math]]\n$$",
        "$$ [[inline display]] $$",
        "\\[\\[escaped\\]\\]",
        "```\nunclosed fence runs to the end\n[[x]]\n",
    ],
)
def test_not_links(text):
    assert targets(text) == []


def test_indented_list_continuation_is_not_code():
    text = "- item\n\n    [[continued]]\n"
    assert targets(text) == ["continued"]


def test_dollar_amounts_are_not_math():
    assert targets("costs $5 and $10 for [[Pricing]]") == ["Pricing"]


def test_text_after_code_still_links():
    text = "```\n[[no]]\n```\n[[yes]] `x` [[also]]\n"
    assert [(ln.target, ln.line) for ln in parse_page("x.md", text).links] == [
        ("yes", 4), ("also", 4)]


def test_decode_replaces_invalid_utf8_and_reports_line():
    text, problem = decode_page(b"ok\nbad \xff byte\n")
    assert "\ufffd" in text and problem is not None and problem.line == 2


def test_bom_is_ignored():
    page = parse_page("x.md", "\ufeff---\ntitle: T\n---\n[[A]]\n")
    assert page.title == "T" and page.links[0].line == 4


# --- read as CommonMark reads it (each of these was wrong with the old line masker) ----

def test_stray_backtick_in_one_item_hides_nothing_in_the_next():
    text = "- one ` tick [[A]]\n- two `code` [[B]]\n"
    assert targets(text) == ["A", "B"]


def test_escaped_bracket_does_not_close_link_text():
    assert targets("[a\\](b.md)") == []
    assert targets("[a\\]](b.md)") == ["b.md"]


@pytest.mark.parametrize("text", [
    "> ~~~\n> [[A]]\n> ~~~\n",
    "> ```\n> [[A]]\n\nafter\n",
    ">     [[A]]\n",
    "> [!note] Callout\n> ~~~\n> [[A]]\n> ~~~\n",
    "> [!tip]\n> ```js\n> [[A]]\n",
    "> - item\n>\n>         [[A]]\n",
])
def test_code_inside_blockquotes_and_callouts_holds_no_links(text):
    assert targets(text) == []


def test_escaped_backslash_before_a_wikilink():
    assert targets("\\\\[[C]] and \\[[D]]") == ["C"]


def test_template_placeholders_in_frontmatter_keep_the_other_keys():
    text = ("---\ntitle: Daily\ncreated: {{date}}\ntags: [journal, '#daily']\n"
            "related: \"[[Weekly]]\"\nmood: {{mood}} [[Feelings]]\n---\n# Body [[A]]\n")
    page = parse_page("x.md", text)
    assert page.frontmatter == {"title": "Daily", "created": "{{date}}",
                                "tags": ["journal", "#daily"], "related": "[[Weekly]]",
                                "mood": "{{mood}} [[Feelings]]"}
    assert page.title == "Daily" and page.tags == ["journal", "daily"]
    assert [(ln.target, ln.line, ln.form) for ln in page.links] == [
        ("Weekly", 5, "frontmatter"), ("Feelings", 6, "frontmatter"), ("A", 8, "wikilink")]
    (problem,) = page.problems
    assert problem.severity == "error" and "not valid YAML" in problem.message
    assert "3 of 5 keys" in problem.message and page.body == "# Body [[A]]\n"


def test_frontmatter_values_that_are_not_json_become_null():
    import json
    import sqlite3

    page = parse_page("x.md", "---\nx: .nan\ny: -.inf\nz: [.inf, 1.5]\n---\n")
    assert page.frontmatter == {"x": None, "y": None, "z": [None, 1.5]}
    stored = json.dumps(page.frontmatter)
    assert sqlite3.connect(":memory:").execute("select json_valid(?)", [stored]).fetchone() == (1,)


ALIAS_BOMB = "---\nkeep: yes\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
) + "---\n[[Body]]\n"


def test_alias_bomb_is_refused_and_the_page_kept():
    page = parse_page("x.md", ALIAS_BOMB)
    assert [ln.target for ln in page.links] == ["Body"]
    assert page.frontmatter["keep"] is True and page.frontmatter["a"] == ["lol"] * 9
    assert len(str(page.frontmatter)) < 10_000  # the aliases are not expanded
    assert any("aliases expand past" in p.message for p in page.problems)


def test_recursive_alias_is_refused():
    page = parse_page("x.md", "---\nx: &a [*a]\ny: 1\n---\n")
    assert page.frontmatter["y"] == 1 and isinstance(page.frontmatter["x"], str)
    assert any("contains it" in p.message for p in page.problems)


def test_frontmatter_link_lines_for_repeated_and_many_links():
    keys = "".join(f"k{i}: '[[L{i % 3}]]'\n" for i in range(6))
    page = parse_page("x.md", f"---\n{keys}---\n")
    assert [(ln.target, ln.line) for ln in page.links] == [
        ("L0", 2), ("L1", 3), ("L2", 4), ("L0", 5), ("L1", 6), ("L2", 7)]


def test_lone_surrogates_in_frontmatter_and_body_are_read_around():
    # Never from a file (bytes are decoded with replacement), but parse_page takes any str.
    page = parse_page("x.md", "---\ntitle: a\ud800b\n---\n[[x]] `\ud800` \ud800 [[y]]\n")
    assert page.title == "a?b"
    assert [link.target for link in page.links] == ["x", "y"]
