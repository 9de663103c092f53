"""`sync`: the full reconcile, re-resolution, citations and bad input."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from conftest import db_dump, fresh_dump, rows

from vaultsync.config import load_config
from vaultsync.mirror import Mirror
from vaultsync.sync import Syncer, sync_vault


def sync(config):
    return sync_vault(config, workers=1)


def link_targets(db: Path) -> dict[tuple[str, str], str | None]:
    return {(src, target): tp for src, target, tp in rows(
        db, "SELECT p.path, l.target, l.target_path FROM links l "
            "JOIN pages p ON p.id = l.source_id")}


def test_sync_mirrors_pages_links_tags_and_attachments(make_vault, config_for):
    vault = make_vault({
        "concepts/a.md": "---\ntitle: Alpha\ntags: [x]\naliases: [A1]\n---\n# Alpha\n"
                         "[[b]] ![[diagram.png|20x10]] [[missing]] #body-tag\n",
        "concepts/b.md": "# Bee\nback to [[Alpha]] and [[a]]\n",
        "attachments/diagram.png": b"\x89PNG\r\n\x1a\n",
        ".obsidian/app.json": "{}",
        ".trash/old.md": "[[a]]",
    })
    config = config_for(vault)
    report = sync(config)
    assert (report.added, report.pages, report.links, report.unresolved) == (2, 2, 5, 2)
    db = config.db
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]  # after its first load in rollback mode
    assert rows(db, "SELECT path, title, kind FROM pages ORDER BY path") == [
        ("concepts/a.md", "Alpha", "concept"), ("concepts/b.md", "b", "concept")]
    assert rows(db, "SELECT path FROM attachments") == [("attachments/diagram.png",)]
    targets = link_targets(db)
    assert targets[("concepts/a.md", "diagram.png")] == "attachments/diagram.png"
    assert targets[("concepts/b.md", "a")] == "concepts/a.md"
    # Aliases never resolve a link, titles neither: only file names do.
    assert targets[("concepts/b.md", "Alpha")] is None
    assert rows(db, "SELECT tag FROM tags ORDER BY tag") == [("body-tag",), ("x",)]
    assert rows(db, "SELECT count(*) FROM tags WHERE tag = 'X'") == [(1,)]  # case-insensitive
    embed = rows(db, "SELECT embed, display, target_id FROM links WHERE target = 'diagram.png'")
    assert embed == [(1, None, None)]


def test_second_sync_parses_nothing_and_writes_nothing(make_vault, config_for):
    vault = make_vault({f"p{i}.md": f"[[p{i + 1}]]" for i in range(20)})
    config = config_for(vault)
    sync(config)
    watcher = sqlite3.connect(config.db)
    before = watcher.execute("PRAGMA data_version").fetchone()[0]
    report = sync(config)
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 20)
    assert not report.changed
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == before  # no commit at all


def test_page_rewritten_within_one_mtime_tick_is_caught(make_vault, config_for):
    # Same size, same mtime, other bytes: the stat alone would hide the edit.
    vault = make_vault({"a.md": "[[b]]", "b.md": "x", "c.md": "y"})
    config = config_for(vault)
    sync(config)
    st = (vault / "a.md").stat()
    (vault / "a.md").write_text("[[c]]")
    os.utime(vault / "a.md", ns=(st.st_atime_ns, st.st_mtime_ns))
    sync(config)
    assert link_targets(config.db) == {("a.md", "c"): "c.md"}


def test_touched_file_is_not_reparsed(make_vault, config_for):
    vault = make_vault({"a.md": "[[b]]", "b.md": "x"})
    config = config_for(vault)
    sync(config)
    os.utime(vault / "a.md", ns=(1_000_000_000, 1_000_000_000))
    report = sync(config)
    assert report.updated == 0 and report.unchanged == 2
    # The new mtime is noted; its ctime is recent, so the identity stays untrusted
    # (mtime_ns -1) and the next sync hashes it again rather than believe the stat.
    assert rows(config.db, "SELECT mtime, mtime_ns FROM pages WHERE path='a.md'") == [(1.0, -1)]
    report = sync(config)
    assert report.unchanged == 2 and not report.changed


def test_new_page_resolves_links_elsewhere(make_vault, config_for):
    vault = make_vault({"a.md": "[[New Page]] and [[new page#Sec]]"})
    config = config_for(vault)
    sync(config)
    assert set(link_targets(config.db).values()) == {None}
    (vault / "sub").mkdir()
    (vault / "sub/New Page.md").write_text("hello")
    report = sync(config)
    assert report.links_retargeted == 2
    assert set(link_targets(config.db).values()) == {"sub/New Page.md"}
    assert rows(config.db, "SELECT DISTINCT t.path FROM links l JOIN pages t "
                           "ON t.id = l.target_id") == [("sub/New Page.md",)]


def test_deleted_page_unresolves_links_elsewhere(make_vault, config_for, tmp_path):
    vault = make_vault({"a.md": "[[b]]", "b.md": "[[a]]"})
    config = config_for(vault)
    sync(config)
    (vault / "b.md").unlink()
    report = sync(config)
    assert report.removed == 1
    assert link_targets(config.db) == {("a.md", "b"): None}
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


def test_renamed_page_keeps_its_id_and_links_follow(make_vault, config_for, tmp_path):
    vault = make_vault({"a.md": "[[b]]", "b.md": "I am b, linking [[a]]"})
    config = config_for(vault)
    sync(config)
    (old_id,) = rows(config.db, "SELECT id FROM pages WHERE path = 'b.md'")[0]
    (vault / "b.md").rename(vault / "c.md")
    report = sync(config)
    assert report.renamed == 1 and report.removed == 0
    assert rows(config.db, "SELECT id FROM pages WHERE path = 'c.md'") == [(old_id,)]
    assert link_targets(config.db)[("a.md", "b")] is None
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


def test_second_file_with_same_basename_can_change_the_winner(make_vault, config_for, tmp_path):
    vault = make_vault({"x/page.md": "[[Topic]]", "deep/er/Topic.md": "t"})
    config = config_for(vault)
    sync(config)
    assert link_targets(config.db)[("x/page.md", "Topic")] == "deep/er/Topic.md"
    (vault / "x/Topic.md").write_text("closer")
    sync(config)
    assert link_targets(config.db)[("x/page.md", "Topic")] == "x/Topic.md"
    (vault / "x/Topic.md").unlink()
    sync(config)
    assert link_targets(config.db)[("x/page.md", "Topic")] == "deep/er/Topic.md"
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


def test_attachment_added_later_resolves(make_vault, config_for):
    vault = make_vault({"a.md": "![[pic.png]]"})
    config = config_for(vault)
    sync(config)
    (vault / "pic.png").write_bytes(b"png")
    sync(config)
    assert link_targets(config.db)[("a.md", "pic.png")] == "pic.png"


def test_citations_join_source_pages_in_either_direction(make_vault, config_for):
    vault = make_vault({
        "concepts/one.md": "[[s1]] [[s1]] [[s2]]",  # counted once per source
        "concepts/two.md": "no links out",
        "sources/s1.md": "discusses [[two]]",  # a link from the source counts too
        "sources/s2.md": "[[s1]]",  # source to source is not a citation
        "notes/typed.md": "---\ntype: source\n---\n[[one]]",
    })
    config = config_for(vault)
    sync(config)
    cites = rows(config.db, "SELECT p.path, s.path FROM citations c JOIN pages p "
                            "ON p.id = c.page_id JOIN pages s ON s.id = c.source_page_id "
                            "ORDER BY 1, 2")
    assert cites == [("concepts/one.md", "notes/typed.md"), ("concepts/one.md", "sources/s1.md"),
                     ("concepts/one.md", "sources/s2.md"), ("concepts/two.md", "sources/s1.md")]


def test_citations_follow_a_page_becoming_a_source(make_vault, config_for, tmp_path):
    vault = make_vault({"c.md": "[[n]]", "n.md": "plain"})
    config = config_for(vault)
    sync(config)
    assert rows(config.db, "SELECT count(*) FROM citations") == [(0,)]
    (vault / "n.md").write_text("---\ntype: source\n---\nnow a source")
    sync(config)
    assert rows(config.db, "SELECT count(*) FROM citations") == [(1,)]
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


def test_fts_finds_body_text(make_vault, config_for):
    vault = make_vault({"a.md": "# Alpha\nthe backpressure signal", "b.md": "other"})
    config = config_for(vault)
    sync(config)
    (vault / "b.md").write_text("now about backpressure too")
    sync(config)
    hits = rows(config.db, "SELECT p.path FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid "
                           "WHERE pages_fts MATCH 'backpressure' ORDER BY p.path")
    assert hits == [("a.md",), ("b.md",)]
    conn = sqlite3.connect(config.db)
    conn.execute("INSERT INTO pages_fts(pages_fts) VALUES ('integrity-check')")


def test_vault_is_never_written(make_vault, config_for):
    vault = make_vault({"a.md": "---\ntitle: x\n---\n[[b]]", "b.md": "---\nbad: [\n---\n"})

    def snapshot():
        return sorted((str(p), p.stat().st_mtime_ns, p.read_bytes())
                      for p in vault.rglob("*") if p.is_file())

    before = snapshot()
    config = config_for(vault)
    sync(config)
    (vault / "c.md").write_text("new")
    before = snapshot()
    sync(config)
    assert snapshot() == before
    assert not any(p.suffix in (".db", ".db-wal") for p in vault.rglob("*"))


# --- bad input -------------------------------------------------------------------

def test_bad_pages_are_indexed_as_far_as_possible(make_vault, config_for):
    vault = make_vault({
        "yaml.md": "---\ntitle: [broken\n---\n# Still here\n[[good]]\n",
        "latin1.md": "caf\xe9 [[good]]".encode("latin-1"),
        "good.md": "fine",
    })
    config = config_for(vault)
    report = sync(config)
    assert report.pages == 3 and report.problems == 2
    probs = rows(config.db, "SELECT path, line, message FROM problems ORDER BY path")
    assert [(p, ln) for p, ln, _ in probs] == [("latin1.md", 1), ("yaml.md", 2)]
    assert "UTF-8" in probs[0][2] and "YAML" in probs[1][2]
    assert link_targets(config.db) == {("yaml.md", "good"): "good.md",
                                       ("latin1.md", "good"): "good.md"}


def test_binary_huge_and_unreadable_pages_are_skipped_with_a_problem(make_vault, tmp_path):
    vault = make_vault({
        "bin.md": b"\x00\x01\x02binary",
        "huge.md": "x" * 5000,
        "ok.md": "[[bin]]",
    })
    os.symlink("loop.md", vault / "loop.md")
    (tmp_path / "cfg.toml").write_text("max_page_bytes = 4096\n")
    config = load_config(vault, tmp_path / "m.db", tmp_path / "cfg.toml")
    report = sync_vault(config, workers=1)
    assert report.pages == 1
    probs = dict(rows(config.db, "SELECT path, message FROM problems"))
    assert set(probs) == {"bin.md", "huge.md", "loop.md"}
    assert "binary" in probs["bin.md"] and "4096" in probs["huge.md"]
    assert "cannot read" in probs["loop.md"]
    # Unchanged skipped files are not read again: the second sync is a no-op.
    assert not sync_vault(config, workers=1).changed
    # Fixing a page clears its problem.
    (vault / "bin.md").write_text("text now")
    sync_vault(config, workers=1)
    assert set(dict(rows(config.db, "SELECT path, message FROM problems"))) == {
        "huge.md", "loop.md"}
    assert link_targets(config.db)[("ok.md", "bin")] == "bin.md"


def test_fixing_a_page_clears_its_problem(make_vault, config_for):
    vault = make_vault({"a.md": "---\nbad: [\n---\n"})
    config = config_for(vault)
    sync(config)
    assert rows(config.db, "SELECT count(*) FROM problems") == [(1,)]
    (vault / "a.md").write_text("---\nbad: []\n---\n")
    sync(config)
    assert rows(config.db, "SELECT count(*) FROM problems") == [(0,)]


def test_changing_source_folders_reparses_everything(make_vault, tmp_path):
    vault = make_vault({"refs/r.md": "[[c]]", "c.md": "x"})
    db = tmp_path / "m.db"
    sync_vault(load_config(vault, db), workers=1)
    assert rows(db, "SELECT is_source FROM pages WHERE path='refs/r.md'") == [(0,)]
    (tmp_path / "cfg.toml").write_text('source_folders = ["refs"]\n')
    sync_vault(load_config(vault, db, tmp_path / "cfg.toml"), workers=1)
    assert rows(db, "SELECT is_source FROM pages WHERE path='refs/r.md'") == [(1,)]
    assert rows(db, "SELECT count(*) FROM citations") == [(1,)]


def test_parallel_parse_gives_the_same_mirror(make_vault, tmp_path):
    files = {f"f{i % 7}/p{i}.md": f"---\ntitle: P{i}\n---\n[[p{(i * 7) % 500}]] #t{i % 5}"
             for i in range(500)}
    vault = make_vault(files)
    config = load_config(vault, tmp_path / "par.db")
    with Mirror(config.db) as mirror:
        Syncer(config, mirror, workers=2).sync()
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


@pytest.mark.parametrize("mirror", ["existing", "scratch"])
def test_parallel_parse_with_pages_skipped_while_streaming(make_vault, tmp_path, mirror):
    # Pages are registered before they are read; one that turns out binary exists all
    # the same (links name it) but has no row, however early the links to it were
    # written (a scratch mirror takes each batch's links at once): no link may carry an
    # id for it.
    files: dict[str, str | bytes] = {f"p{i}.md": f"[[bin]] [[p{i + 1}]]" for i in range(600)}
    files["bin.md"] = b"\x00binary"
    files["sub/bin.md"] = "the other bin"
    vault = make_vault(files)
    config = load_config(vault, tmp_path / "stream.db")
    if mirror == "scratch":
        report = sync_vault(config, workers=2)
    else:
        with Mirror(config.db) as opened:
            report = Syncer(config, opened, workers=2).sync()
    assert report.skipped == 1 and report.added == 601
    assert rows(config.db, "SELECT DISTINCT target_path, target_id FROM links "
                           "WHERE target = 'bin'") == [("bin.md", None)]
    assert rows(config.db, "PRAGMA foreign_key_check") == []
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


@pytest.mark.parametrize("mirror", ["existing", "scratch"])
def test_a_page_gone_while_pages_are_read_leaves_its_links_to_the_next_answer(
        make_vault, tmp_path, mirror):
    # zz-gone.md is scanned, so links to it resolve there; it vanishes before it is read
    # (the first page read deletes it), so it gets no row and its links go to the
    # file that answers now, however early they were written.
    files = {f"p{i}.md": f"[[zz-gone]] [[p{i + 1}]]" for i in range(30)}
    files["sub/zz-gone.md"] = "the other one"
    files["zz-gone.md"] = "gone before it is read"
    vault = make_vault(files)
    config = load_config(vault, tmp_path / "gone.db")

    def delete_once(done: int, total: int) -> None:
        (vault / "zz-gone.md").unlink(missing_ok=True)

    if mirror == "scratch":
        sync_vault(config, workers=1, progress=delete_once)
    else:
        with Mirror(config.db) as opened:
            Syncer(config, opened, workers=1).sync(progress=delete_once)
    assert rows(config.db, "SELECT DISTINCT l.target_path, p.path FROM links l LEFT JOIN "
                           "pages p ON p.id = l.target_id WHERE target = 'zz-gone'") == [
        ("sub/zz-gone.md", "sub/zz-gone.md")]
    assert rows(config.db, "PRAGMA foreign_key_check") == []
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)
