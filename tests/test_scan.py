"""Which files belong to the vault and how a change is noticed: file identity, names
that are not UTF-8, symlinks, FIFOs and old Mac line endings. Each case is synced
for real and checked against a fresh sync of the same files."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import db_dump, fresh_dump, rows

from vaultsync.config import load_config
from vaultsync.mirror import Mirror
from vaultsync.read import dump
from vaultsync.sync import Syncer, sync_vault

BAD = os.fsdecode(b"bad\xff.md")


def sync(vault: Path, db: Path):
    return sync_vault(load_config(vault, db), workers=1)


def links(db: Path) -> set[tuple[str, str]]:
    return set(rows(db, "SELECT p.path, l.target FROM links l JOIN pages p ON p.id = l.source_id"))


def problems(db: Path) -> dict[str, str]:
    return dict(rows(db, "SELECT path, message FROM problems"))


def test_a_file_replaced_by_one_of_the_same_size_and_mtime_is_noticed(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A\n[[alpha]]\n", "b.md": "# B\n[[bravo]]\n"})
    for name in ("a.md", "b.md"):
        os.utime(vault / name, ns=(1_704_067_200_000_000_000,) * 2)  # 2024-01-01
    db = tmp_path / "m.db"
    sync(vault, db)
    (vault / "b.md").rename(vault / "a.md")  # same size, same mtime, another inode
    sync(vault, db)
    assert links(db) == {("a.md", "bravo")}
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_an_edit_that_keeps_size_and_sets_the_mtime_back_is_noticed(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A\n[[alpha]]\n"})
    page = vault / "a.md"
    os.utime(page, ns=(1_704_067_200_000_000_000,) * 2)
    db = tmp_path / "m.db"
    with Mirror(db) as mirror:
        syncer = Syncer(load_config(vault, db), mirror, workers=1)
        syncer.sync()
        # An archive tool writes new bytes and restores the old mtime: only the ctime
        # (which nobody can set back) and the bytes differ.
        page.write_text("# A\n[[omega]]\n")
        os.utime(page, ns=(1_704_067_200_000_000_000,) * 2)
        syncer.sync()
        syncer.sync()  # a second pass that believes the stat must not undo it
    assert links(db) == {("a.md", "omega")}


def test_a_mirror_of_schema_1_hashes_each_page_once_and_parses_none(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[b]]", "b.md": "x"})
    db = tmp_path / "m.db"
    sync(vault, db)
    with Mirror(db) as mirror:  # forget the identities, as a version-1 mirror has none
        with mirror.transaction():
            mirror.conn.execute("UPDATE pages SET ctime_ns = NULL, inode = NULL")
    report = sync(vault, db)
    assert report.updated == 0 and report.unchanged == 2
    assert rows(db, "SELECT count(*) FROM pages WHERE inode IS NULL") == [(0,)]


def test_a_name_that_is_not_utf8_is_one_problem_and_the_rest_syncs(make_vault, tmp_path):
    vault = make_vault({"ok.md": "# ok\n[[other]]", "other.md": "# other"})
    Path(os.path.join(vault, BAD)).write_text("# bad")
    Path(os.path.join(vault, os.fsdecode(b"img\xfe.png"))).write_bytes(b"png")
    folder = Path(os.path.join(vault, os.fsdecode(b"dir\xfd")))
    folder.mkdir()
    (folder / "inside.md").write_text("# inside")
    db = tmp_path / "m.db"
    report = sync(vault, db)
    assert report.pages == 2
    found = problems(db)
    assert set(found) == {"bad\\xff.md", "img\\xfe.png", "dir\\xfd"}
    assert all("not valid UTF-8" in message for message in found.values())
    assert db_dump(db) == fresh_dump(vault, tmp_path)
    assert not sync(vault, db).changed  # the same bad names again: nothing to write
    os.rename(os.path.join(vault, BAD), vault / "good.md")
    sync(vault, db)
    assert "good.md" in dict(rows(db, "SELECT path, title FROM pages"))
    assert "bad\\xff.md" not in problems(db)
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_fifos_and_dangling_symlinks_are_problems(make_vault, tmp_path):
    vault = make_vault({"ok.md": "# ok"})
    os.mkfifo(vault / "pipe.md")
    os.symlink("nowhere.md", vault / "dangling.md")
    db = tmp_path / "m.db"
    sync(vault, db)
    found = problems(db)
    assert set(found) == {"pipe.md", "dangling.md"}
    assert "not a regular file" in found["pipe.md"] and "broken symlink" in found["dangling.md"]
    (vault / "pipe.md").unlink()
    (vault / "dangling.md").unlink()
    sync(vault, db)
    assert problems(db) == {}


def test_lone_cr_line_endings_are_line_breaks(make_vault, tmp_path):
    vault = make_vault({"mac.md": b"# Old Mac\r\rSee [[other]]\r"})
    db = tmp_path / "m.db"
    sync(vault, db)
    assert rows(db, "SELECT text, line FROM headings") == [("Old Mac", 1)]
    assert rows(db, "SELECT target, line FROM links") == [("other", 3)]


def test_symlink_loops_are_not_followed(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A", "sub/b.md": "# B"})
    os.symlink(".", vault / "l1")
    os.symlink(".", vault / "l2")
    os.symlink("..", vault / "sub" / "up")
    db = tmp_path / "m.db"
    report = sync(vault, db)
    assert report.pages == 2
    assert set(problems(db)) == {"l1", "l2", "sub/up"}
    assert all("not followed" in m for m in problems(db).values())
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_a_symlinked_folder_outside_the_vault_is_followed_once(make_vault, tmp_path):
    outside = tmp_path / "shared"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "s.md").write_text("# Shared\n[[a]]")
    os.symlink(str(outside), outside / "deep" / "loop")  # a loop outside the vault
    vault = make_vault({"a.md": "# A\n[[s]]", "notes/n.md": "# N"})
    os.symlink(str(outside), vault / "ext")
    os.symlink(str(outside), vault / "ext2")  # the same folder a second time
    os.symlink("notes", vault / "inside")  # a folder the vault holds already
    db = tmp_path / "m.db"
    sync(vault, db)
    pages = {p for (p,) in rows(db, "SELECT path FROM pages")}
    assert pages == {"a.md", "notes/n.md", "ext/deep/s.md"}
    assert set(problems(db)) == {"ext2", "inside", "ext/deep/loop"}
    assert rows(db, "SELECT target_path FROM links l JOIN pages p ON p.id = l.source_id "
                    "WHERE p.path = 'a.md'") == [("ext/deep/s.md",)]
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_partial_syncs_agree_with_the_full_walk_on_symlinks(make_vault, tmp_path):
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "s.md").write_text("# S")
    vault = make_vault({"a.md": "# A", "notes/n.md": "# N"})
    db = tmp_path / "m.db"
    with Mirror(db) as mirror:
        syncer = Syncer(load_config(vault, db), mirror, workers=1)
        syncer.sync()
        os.symlink(str(outside), vault / "ext")
        syncer.sync(["ext"])  # a new link: only a full walk may judge it
        assert dump(mirror.conn) == fresh_dump(vault, tmp_path)
        (outside / "t.md").write_text("# T")
        syncer.sync(["ext/t.md"])
        os.symlink("notes", vault / "dup")
        syncer.sync(["dup/n.md", "dup"])  # a path through a link that is not followed
        assert dump(mirror.conn) == fresh_dump(vault, tmp_path)
        (vault / "ext").unlink()
        syncer.sync(["ext"])
        assert dump(mirror.conn) == fresh_dump(vault, tmp_path)


def test_ignored_names_are_neither_pages_nor_attachments(make_vault, tmp_path):
    vault = make_vault({
        "note.md": "# Note\n",
        "note.md~": "backup",
        "draft.md.tmp": "# temp\n",
        "4913": "",
        "#note.md#": "emacs",
        "kept.md.tmp.md": "# Kept\n",  # only the whole name is matched
        ".hidden.md": "# Hidden\n",
    })
    settings = tmp_path / "vaultsync.toml"
    settings.write_text('ignore = ["*.md~", "*.tmp"]\n')
    db = tmp_path / "m.db"
    sync_vault(load_config(vault, db, settings), workers=1)
    assert set(rows(db, "SELECT path FROM pages")) == {("note.md",), ("kept.md.tmp.md",)}
    # "4913" and "#note.md#" are ignored only by the default list this file replaced
    assert set(rows(db, "SELECT path FROM attachments")) == {("4913",), ("#note.md#",)}
