"""Tasks, blocks, fields and anchors in the mirror: written with their page, kept live
by partial syncs, anchors checked against their target's headings and blocks, skipped
pages named by links, and a version-1 mirror migrated and filled."""

from __future__ import annotations

from pathlib import Path

from conftest import copy_fixture_mirror, db_dump, fresh_dump, rows

from vaultsync.config import load_config
from vaultsync.mirror import SCHEMA_VERSION, Mirror
from vaultsync.sync import Syncer, sync_vault

DATA = Path(__file__).resolve().parent / "data"


def sync(vault: Path, db: Path):
    return sync_vault(load_config(vault, db), workers=1)


def test_tasks_blocks_and_fields_are_rows_of_their_page(make_vault, tmp_path):
    vault = make_vault({"todo.md": (
        "---\nstatus: draft\n---\n# Todo\n\n"
        "- [ ] write the intro ^intro\n"
        "  - [x] find sources\n"
        "> [!note]\n> - [-] dropped idea\n"
        "```\n- [ ] not a task\n```\n\n"
        "A paragraph that closes with an id. ^para\n\n"
        "status:: reviewing\n"
        "Due [due:: 2026-12-31] and (owner:: ada).\n")})
    db = tmp_path / "m.db"
    sync(vault, db)
    assert rows(db, "SELECT line, status, done, text, block_id FROM tasks ORDER BY line") == [
        (6, " ", 0, "write the intro", "intro"), (7, "x", 1, "find sources", None),
        (9, "-", 0, "dropped idea", None)]
    assert rows(db, "SELECT block_id, line FROM blocks ORDER BY line") == [
        ("intro", 6), ("para", 14)]
    assert rows(db, "SELECT key, value, line FROM fields ORDER BY line, key") == [
        ("status", "reviewing", 16), ("due", "2026-12-31", 17), ("owner", "ada", 17)]
    assert rows(db, "SELECT count(*) FROM fields WHERE key = 'STATUS'") == [(1,)]


def test_anchors_are_checked_against_the_target(make_vault, tmp_path):
    vault = make_vault({
        "a.md": ("# A\n[[b#Intro]] [[b#intro]] [[b#Missing]] [[b#^blk]] [[b#^nope]]\n"
                 "[[b#Top#Inner]] [[b#Inner#Top]] [[#Local]] [[img.png#x]] [[nowhere#x]]\n"
                 "## Local\n"),
        "b.md": "# Top\n## Intro\n### Inner\nText ^blk\n",
        "img.png": b"png",
    })
    db = tmp_path / "m.db"
    sync(vault, db)
    checked = dict(rows(db, "SELECT target || '#' || anchor, anchor_ok FROM links"))
    assert checked == {
        "b#Intro": 1, "b#intro": 1, "b#Missing": 0, "b#^blk": 1, "b#^nope": 0,
        "b#Top#Inner": 1, "b#Inner#Top": 0, "#Local": 1, "img.png#x": None, "nowhere#x": None}
    assert sorted(rows(db, "SELECT source_path, line, target, anchor, target_path "
                           "FROM broken_anchors")) == [
        ("a.md", 2, "b", "Missing", "b.md"), ("a.md", 2, "b", "^nope", "b.md"),
        ("a.md", 3, "b", "Inner#Top", "b.md")]


def test_anchors_follow_edits_renames_and_deletes(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[b#Intro]] [[b#^blk]]", "b.md": "## Intro\nx ^blk\n"})
    db = tmp_path / "m.db"
    with Mirror(db) as mirror:
        syncer = Syncer(load_config(vault, db), mirror, workers=1)
        syncer.sync()

        def anchors() -> list[tuple[str, int | None]]:
            return sorted(mirror.conn.execute("SELECT anchor, anchor_ok FROM links"))

        assert anchors() == [("Intro", 1), ("^blk", 1)]
        (vault / "b.md").write_text("## Outro\nx\n")  # the target's headings change
        syncer.sync(["b.md"])
        assert anchors() == [("Intro", 0), ("^blk", 0)]
        (vault / "b.md").rename(vault / "c.md")  # the target vanishes: nothing to check
        syncer.sync(["b.md", "c.md"])
        assert anchors() == [("Intro", None), ("^blk", None)]
        (vault / "sub").mkdir()
        (vault / "sub" / "b.md").write_text("## Intro\ny ^blk\n")  # another b appears
        syncer.sync(["sub/b.md"])
        assert anchors() == [("Intro", 1), ("^blk", 1)]
        (vault / "sub" / "b.md").unlink()
        syncer.sync(["sub/b.md"])
        assert anchors() == [("Intro", None), ("^blk", None)]
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_tasks_and_fields_follow_partial_syncs(make_vault, tmp_path):
    vault = make_vault({"t.md": "- [ ] one\nkey:: v1\n"})
    db = tmp_path / "m.db"
    with Mirror(db) as mirror:
        syncer = Syncer(load_config(vault, db), mirror, workers=1)
        syncer.sync()
        (vault / "t.md").write_text("- [x] one\n- [ ] two\nkey:: v2\n")
        syncer.sync(["t.md"])
        assert sorted(mirror.conn.execute("SELECT text, done FROM tasks")) == [
            ("one", 1), ("two", 0)]
        assert list(mirror.conn.execute("SELECT value FROM fields")) == [("v2",)]
        (vault / "t.md").unlink()
        syncer.sync(["t.md"])
        assert list(mirror.conn.execute("SELECT count(*) FROM tasks")) == [(0,)]
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_a_link_to_a_skipped_page_names_it(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[bin]] [[huge]]", "bin.md": b"\x00\x01binary"})
    (vault / "huge.md").write_text("x" * 5000)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("max_page_bytes = 4096\n")
    db = tmp_path / "m.db"
    config = load_config(vault, db, cfg)
    with Mirror(db) as mirror:
        syncer = Syncer(config, mirror, workers=1)
        syncer.sync()
        assert sorted(mirror.conn.execute("SELECT target_path, target_id FROM links")) == [
            ("bin.md", None), ("huge.md", None)]
        assert list(mirror.conn.execute("SELECT count(*) FROM wanted_pages")) == [(0,)]
        assert sorted(p for (p,) in mirror.conn.execute("SELECT path FROM problems")) == [
            "bin.md", "huge.md"]
        (vault / "bin.md").write_text("# Bin now text")  # readable again: a page
        syncer.sync(["bin.md"])
        assert list(mirror.conn.execute(
            "SELECT l.target_path, p.path FROM links l JOIN pages p ON p.id = l.target_id")
        ) == [("bin.md", "bin.md")]
        (vault / "bin.md").write_bytes(b"\x00again")  # and binary once more
        syncer.sync(["bin.md"])
        (vault / "huge.md").unlink()  # gone: the link is wanted
        syncer.sync(["huge.md"])
        assert list(mirror.conn.execute(
            "SELECT target_path, target_id FROM links ORDER BY target")) == [
            ("bin.md", None), (None, None)]
        assert list(mirror.conn.execute("SELECT target FROM wanted_pages")) == [("huge",)]
    sync_vault(load_config(vault, tmp_path / "fresh.db", cfg), workers=1)  # same settings
    assert db_dump(db) == db_dump(tmp_path / "fresh.db")


def test_a_version_1_mirror_is_migrated_and_filled(tmp_path):
    """A mirror made by vaultsync 0.1 (schema 1, tests/data/v1/mirror-v1.db, of the vault
    beside it) opens, migrates, and after one sync holds the new tables."""
    vault, db = copy_fixture_mirror(1, tmp_path)
    assert rows(db, "PRAGMA user_version") == [(1,)]
    before = dict(rows(db, "SELECT path, id FROM pages"))
    report = sync(vault, db)
    assert rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)]
    assert dict(rows(db, "SELECT path, id FROM pages")) == before  # ids kept
    assert report.updated == len(before)  # parsed again by the new parser
    assert rows(db, "SELECT text FROM tasks") == [("a task written before tasks were mirrored",)]
    assert rows(db, "SELECT key, value FROM fields") == [("status", "read")]
    assert sorted(rows(db, "SELECT anchor, anchor_ok FROM links WHERE anchor IS NOT NULL")
                  ) == [("Definition", 1), ("Nowhere", 0)]
    assert db_dump(db) == fresh_dump(vault, tmp_path)
