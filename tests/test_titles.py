"""Titles as a reader of the vault sees them, the `title` setting, and Excalidraw drawings."""

from __future__ import annotations

import pytest
from conftest import rows

from vaultsync.config import ConfigError, load_config
from vaultsync.parse import ParseOptions, parse_page
from vaultsync.sync import sync_vault

# --- the title rule -------------------------------------------------------------------


@pytest.mark.parametrize(("path", "text", "title"), [
    # the first H1 is the file name better written: the same words, ignoring case and
    # punctuation
    ("concepts/frontier-model-batch-training-boundary.md",
     "# Frontier-model batch-training boundary\n", "Frontier-model batch-training boundary"),
    ("kv_cache.md", "# KV cache\n", "KV cache"),
    ("Obsidian settings.md", "intro\n\n# Obsidian: Settings!\n", "Obsidian: Settings!"),
    # a section heading is not a title
    ("Equivalence Oracle.md", "# Definition\n\ntext\n", "Equivalence Oracle"),
    ("Order.md", "# Definition\n# Order\n", "Order"),  # only the first H1 is asked
    ("templates/Daily.md", "# {{title}}\n", "Daily"),
    ("Obsidian Settings for Contributors.md", "# Where is the .obsidian directory?\n",
     "Obsidian Settings for Contributors"),
    ("notes/plain.md", "no heading\n", "plain"),
    ("notes/sub.md", "## Sub\n", "sub"),
    # frontmatter title wins
    ("x.md", "---\ntitle: Chosen\n---\n# x\n", "Chosen"),
])
def test_title_is_the_file_name_or_its_better_written_heading(path, text, title):
    assert parse_page(path, text).title == title


@pytest.mark.parametrize(("rule", "titles"), [
    ("name-or-heading", ["Equivalence Oracle", "KV cache", "T"]),
    ("name", ["Equivalence Oracle", "kv_cache", "T"]),
    ("heading", ["Definition", "KV cache", "T"]),
])
def test_title_setting(rule, titles):
    options = ParseOptions(title=rule)
    pages = [("Equivalence Oracle.md", "# Definition\n"), ("kv_cache.md", "# KV cache\n"),
             ("fm.md", "---\ntitle: T\n---\n# Heading\n")]
    assert [parse_page(p, t, options).title for p, t in pages] == titles


def test_title_setting_is_read_checked_and_reparses(tmp_path, make_vault):
    vault = make_vault({"Equivalence Oracle.md": "# Definition\n"})
    db = tmp_path / "m.db"
    sync_vault(load_config(vault, db), workers=1)
    assert rows(db, "SELECT title FROM pages") == [("Equivalence Oracle",)]
    cfg = tmp_path / "vaultsync.toml"
    cfg.write_text('title = "heading"\n')
    sync_vault(load_config(vault, db, cfg), workers=1)  # a new setting: parsed again
    assert rows(db, "SELECT title FROM pages") == [("Definition",)]
    cfg.write_text('title = "first-line"\n')
    with pytest.raises(ConfigError, match='title .* must be one of "name-or-heading", "name"'):
        load_config(vault, db, cfg)


# --- drawings -------------------------------------------------------------------------

DRAWING = """---
excalidraw-plugin: parsed
tags: [excalidraw]
---
==⚠  Switch to EXCALIDRAW VIEW in the MORE OPTIONS menu of this document. ⚠==

%%
# Excalidraw Data

## Text Elements
A box about [[Functions]] ^abc123

Another about [[Types#Sum]] ^def456

%%
## Drawing
```json
{"type": "excalidraw", "elements": [{"type": "text", "text": "[[Hidden]] ## Not"}]}
```
%%
"""

OLD_DRAWING = """---
excalidraw-plugin: parsed
---
==⚠  Switch to EXCALIDRAW VIEW in the MORE OPTIONS menu of this document. ⚠==


# Text Elements
See [[Functions]] ^t1

%%
# Drawing
```compressed-json
N4KAkARALgngDgUwgLgAQQQDwMYEMA2AlgCYBOuA7hADTgQBuCpAzoQPYB2KqATLZMzYBXUtiRoIACyhQ4zZAHoFAc0JRJQgEYA6bGwC2CgF7N6hbEcK4OCtptbErHALRY8RMpWdx8Q1TdIEfARcZgRmBShcZQUebQBGAHYaOiCEfQQOKGZuAG1wMFAwMogSbggASQBGAGkAdXCAVTBl+gAl+tpOAMAVQGbw1qYNlfQlSQAFHkAMdSj2...
```
%%
"""


def test_a_drawing_is_its_own_kind_titled_by_its_file_name():
    page = parse_page("concepts/Sketch.excalidraw.md", DRAWING)
    assert (page.kind, page.title) == ("drawing", "Sketch")
    # the text elements' links count, even in the plugin's %% comment; the data's do not
    assert [(link.target, link.anchor, link.line) for link in page.links] == [
        ("Functions", None, 11), ("Types", "Sum", 13)]
    assert [b.block_id for b in page.blocks] == ["abc123", "def456"]
    assert "## Drawing" not in page.body and '"elements"' not in page.body
    assert "A box about [[Functions]]" in page.body
    assert "Not" not in [h.text for h in page.headings]


def test_an_older_drawing_and_one_known_by_its_frontmatter():
    page = parse_page("Board.md", OLD_DRAWING)  # no .excalidraw: the frontmatter says so
    assert (page.kind, page.title) == ("drawing", "Board")  # not "Text Elements"
    assert [link.target for link in page.links] == ["Functions"]
    assert "N4KAkAR" not in page.body
    assert parse_page("Plain.excalidraw.md", "# Plain\n[[A]]\n").kind == "drawing"


def test_drawings_in_the_mirror(tmp_path, make_vault):
    vault = make_vault({"Sketch.excalidraw.md": DRAWING, "Functions.md": "# Functions\n",
                        "Types.md": "## Sum\n"})
    db = tmp_path / "m.db"
    sync_vault(load_config(vault, db), workers=1)
    assert rows(db, "SELECT title, kind FROM pages WHERE path LIKE 'Sketch%'") == [
        ("Sketch", "drawing")]
    assert rows(db, "SELECT target_path, anchor_ok FROM links ORDER BY line") == [
        ("Functions.md", None), ("Types.md", 1)]
    assert rows(db, "SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'Hidden'") == [(0,)]
