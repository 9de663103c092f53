"""Obsidian's link resolution rules, one case each, and one sync of real files."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from conftest import db_dump, fresh_dump, rows

from vaultsync.config import load_config
from vaultsync.mirror import Mirror
from vaultsync.resolve import Resolver
from vaultsync.sync import Syncer

FILES = [
    "index.md",
    "Note.md",
    "a/Note.md",
    "a/b/Note.md",
    "b/deep/longer/Note.md",
    "a/Other.md",
    "c/Other.md",
    "c/d/Other.md",
    "attachments/diagram.png",
    "x/y/space note.md",
]


def test_basename_match_is_case_insensitive_and_md_optional():
    r = Resolver(["folder/My Page.md"])
    assert r.resolve("my page", "index.md") == "folder/My Page.md"
    assert r.resolve("MY PAGE.md", "index.md") == "folder/My Page.md"


def test_path_with_slash_is_from_vault_root():
    r = Resolver(FILES)
    assert r.resolve("a/b/Note", "index.md") == "a/b/Note.md"
    assert r.resolve("A/B/NOTE.md", "c/x.md") == "a/b/Note.md"
    assert r.resolve("b/Note", "index.md") is None  # not a suffix match


def test_path_not_at_root_falls_back_to_the_linking_pages_folder():
    r = Resolver(FILES)
    assert r.resolve("d/Other.md", "c/page.md") == "c/d/Other.md"  # Obsidian's relative format
    assert r.resolve("a/Other", "c/page.md") == "a/Other.md"  # the root still wins


def test_case_twins_resolve_the_same_whatever_the_order():
    twins = ["c/alpha.md", "c/Alpha.md"]
    assert Resolver(twins).resolve("Alpha", "x.md") == Resolver(twins[::-1]).resolve(
        "Alpha", "x.md") == "c/Alpha.md"
    assert Resolver(twins).resolve("./alpha.md", "c/x.md", relative=True) == "c/alpha.md"


def test_tie_goes_to_exact_vault_path_first():
    r = Resolver(FILES)
    # Note.md at the root is the exact path "Note", even from inside a/.
    assert r.resolve("Note", "a/b/page.md") == "Note.md"


def test_tie_goes_to_linking_pages_folder_then_shortest_path():
    r = Resolver(FILES)
    assert r.resolve("Other", "c/d/page.md") == "c/d/Other.md"
    assert r.resolve("Other", "c/page.md") == "c/Other.md"
    assert r.resolve("Other", "z/page.md") == "a/Other.md"  # shortest, then alphabetical


def test_relative_paths_from_the_linking_page():
    r = Resolver(FILES)
    assert r.resolve("../Other.md", "c/d/page.md", relative=True) == "c/Other.md"
    assert r.resolve("./Other.md", "c/d/page.md", relative=True) == "c/d/Other.md"
    assert r.resolve("../../../outside.md", "c/page.md", relative=True) is None


def test_attachments_resolve_with_their_extension():
    r = Resolver(FILES)
    assert r.resolve("diagram.png", "index.md") == "attachments/diagram.png"
    assert r.resolve("diagram", "index.md") is None


def test_self_link_and_missing():
    r = Resolver(FILES)
    assert r.resolve("", "a/Note.md") == "a/Note.md"
    assert r.resolve("Nowhere", "index.md") is None
    assert r.resolve("https://example.com", "index.md") is None


def test_spaces_in_names():
    r = Resolver(FILES)
    assert r.resolve("space note", "index.md") == "x/y/space note.md"


def test_add_and_remove_change_the_winner():
    r = Resolver(["z/long/Topic.md"])
    assert r.resolve("Topic", "index.md") == "z/long/Topic.md"
    r.add("Topic.md")
    assert r.resolve("Topic", "index.md") == "Topic.md"
    r.remove("Topic.md")
    assert r.resolve("Topic", "index.md") == "z/long/Topic.md"
    r.remove("z/long/Topic.md")
    assert r.resolve("Topic", "index.md") is None


class CountedPath(str):
    """A path that counts how often it is compared: the work a lookup does."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountedPath.comparisons += 1
        return str.__eq__(self, other)

    def __lt__(self, other: str) -> bool:
        CountedPath.comparisons += 1
        return str.__lt__(self, other)

    __hash__ = str.__hash__


def comparisons_for(folders: int) -> int:
    """Index `folders` folders that each hold an `index.md` linking to `index`, as digital
    gardens do, resolve every link, and add one more page: the comparisons made."""
    CountedPath.comparisons = 0
    paths = [CountedPath(f"f{i}/index.md") for i in range(folders)]
    r = Resolver(paths)
    for path in paths:
        assert r.resolve("index", path) == path
    r.add(CountedPath("one/more/index.md"))
    assert r.resolve("index", "elsewhere/page.md") == "f0/index.md"
    return CountedPath.comparisons


def test_many_files_with_one_name_cost_linear_work():
    small, large = comparisons_for(500), comparisons_for(4000)
    assert large < 8 * max(small, 1)  # 8x the files: linear work is 8x, quadratic 64x


def test_names_match_whatever_their_unicode_normalisation():
    nfc, nfd = unicodedata.normalize("NFC", "Café"), unicodedata.normalize("NFD", "Café")
    assert nfc != nfd
    # A link typed in NFC finds a file macOS named in NFD, and the reverse; the answer
    # is the path as it is on disk.
    assert Resolver([f"notes/{nfd}.md"]).resolve(nfc, "index.md") == f"notes/{nfd}.md"
    assert Resolver([f"notes/{nfc}.md"]).resolve(nfd, "index.md") == f"notes/{nfc}.md"
    assert Resolver([f"{nfd}/Menu.md"]).resolve(f"{nfc}/menu", "index.md") == f"{nfd}/Menu.md"
    assert Resolver([f"a/{nfd}.md"]).resolve(f"./{nfc}.md", "a/x.md", relative=True) == \
        f"a/{nfd}.md"
    # And in any case: NFC first, then lower case.
    assert Resolver([f"{nfd.upper()}.md"]).resolve(nfc.lower(), "x.md") == f"{nfd.upper()}.md"


def test_the_name_spelled_as_written_wins_before_the_shortest_path():
    assert Resolver(["Note.md", "note.md"]).resolve("note", "x.md") == "note.md"
    assert Resolver(["note.md", "Note.md"]).resolve("Note", "x.md") == "Note.md"
    twins = ["a/Note.md", "b/note.md", "c/longer/note.md"]
    assert Resolver(twins).resolve("note", "x.md") == "b/note.md"
    assert Resolver(twins[::-1]).resolve("NOTE", "x.md") == "a/Note.md"  # none spelled so
    r = Resolver(twins)
    r.remove("b/note.md")
    assert r.resolve("note", "x.md") == "c/longer/note.md"
    r.add("d/note.md")
    assert r.resolve("note", "x.md") == "d/note.md"
    nfd = unicodedata.normalize("NFD", "Café")
    assert Resolver(["a/CAFÉ.md", f"bb/{nfd}.md"]).resolve("Café", "x.md") == f"bb/{nfd}.md"


def test_sync_resolves_across_normalisations_and_prefers_the_spelled_case(make_vault, tmp_path):
    nfc, nfd = unicodedata.normalize("NFC", "Café"), unicodedata.normalize("NFD", "Café")
    vault = make_vault({f"places/{nfd}.md": "# Café", "Note.md": "# Big",
                        "note.md": "# small", "index.md": f"[[{nfc}]] [[note]] [[Crème]]"})
    db = tmp_path / "m.db"
    with Mirror(db) as mirror:
        syncer = Syncer(load_config(vault, db), mirror, workers=1)
        syncer.sync()
        assert links(db) == {(nfc, f"places/{nfd}.md"), ("note", "note.md"),
                             ("Crème", None)}
        assert rows(db, "SELECT count(*) FROM wanted_pages") == [(1,)]
        # A file named in NFD appears later: the NFC link already written finds it.
        (vault / unicodedata.normalize("NFD", "Crème.md")).write_text("# Crème")
        syncer.sync([unicodedata.normalize("NFD", "Crème.md")])
        assert ("Crème", unicodedata.normalize("NFD", "Crème.md")) in links(db)
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def links(db: Path) -> set[tuple[str, str | None]]:
    return set(rows(db, "SELECT target, target_path FROM links"))
