"""What an edit costs the mirror: writes proportional to what changed, and a WAL that
returns to a bounded size once readers let go of it."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from conftest import RunningDaemon, wait_for, write_files

from vaultsync.config import load_config
from vaultsync.graph import ensure_metrics
from vaultsync.mirror import WAL_SIZE_LIMIT, Mirror
from vaultsync.sync import BULK_THRESHOLD, Syncer, sync_vault

PAGES = 300


def linked_vault(root: Path) -> Path:
    """PAGES pages of some text, each linking to 20 others."""
    rnd = random.Random(7)
    files = {}
    for i in range(PAGES):
        links = " ".join(f"[[p{rnd.randrange(PAGES):03}]]" for _ in range(20))
        files[f"notes/p{i:03}.md"] = f"---\ntags: [t{i % 9}]\n---\n# Page {i}\n\n{links}\n" + \
            "Some words about it. " * 20 + "\n"
    write_files(root, files)
    return root


def frames(pages: int) -> int:
    """The WAL bytes of `pages` pages of the mirror written (4 KiB each, 24-byte header)."""
    return pages * (4096 + 24)


def wal_bytes(db: Path) -> int:
    wal = Path(str(db) + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def edit_costs(tmp_path: Path, edit) -> list[int]:
    """WAL bytes written by each of 8 one-page edits, synced and their metrics and
    layout recomputed as the daemon does, while a reader holds a snapshot (so that no
    frame of the WAL is reused and its growth is what was written)."""
    vault = linked_vault(tmp_path / "vault")
    config = load_config(vault, tmp_path / "mirror.db")
    rnd = random.Random(3)
    costs = []
    with Mirror(config.db) as mirror:
        syncer = Syncer(config, mirror, workers=1)
        syncer.sync()
        ensure_metrics(mirror, heavy=True, layout=True)
        mirror.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        reader = sqlite3.connect(config.db, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM pages").fetchone()
        try:
            for n in range(8):
                rel = f"notes/p{rnd.randrange(PAGES):03}.md"
                path = vault / rel
                path.write_text(edit(path.read_text(encoding="utf-8"), n), encoding="utf-8")
                before = wal_bytes(config.db)
                syncer.sync([rel])
                ensure_metrics(mirror, heavy=True, layout=True)
                costs.append(wal_bytes(config.db) - before)
        finally:
            reader.close()
    return costs


def test_an_edit_that_moves_no_link_writes_a_few_pages_of_the_mirror(tmp_path):
    # The page's row, its text index, its changed line: its 20 links, tags and the
    # graph figures stay as they are (rewriting them all took about 30 pages of 4 KiB).
    costs = edit_costs(tmp_path, lambda text, n: text + f"\nOne more line, {n}.\n")
    assert max(costs) <= frames(32), costs  # rewriting the page's rows: 60 to 75


def test_a_new_link_writes_the_links_and_figures_that_changed(tmp_path):
    # One link added: that link's index entries, and the graph figures that moved
    # (PageRank moves for most pages); never the other links, tags or layout rows.
    costs = edit_costs(tmp_path, lambda text, n: text + f"\nSee [[p{n:03}]].\n")
    assert max(costs) <= frames(56), costs  # rewriting the page's rows: 80 to 100


def test_the_wal_returns_below_its_limit_once_a_reader_lets_go(tmp_path):
    vault = tmp_path / "vault"
    write_files(vault, {f"p{i}.md": f"# {i}\n" for i in range(20)})
    db = tmp_path / "mirror.db"
    with RunningDaemon(vault, db, idle_wakeup_ms=100):
        reader = sqlite3.connect(db, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM pages").fetchone()
        big = "a long line of text that makes the page large\n" * 6000
        n = 0
        while wal_bytes(db) <= 2 * WAL_SIZE_LIMIT:
            (vault / "big.md").write_text(f"{big}{n}\n", encoding="utf-8")
            n += 1
            wait_for(lambda n=n: sqlite3.connect(db).execute(
                "SELECT 1 FROM pages_fts WHERE pages_fts MATCH ?", (f'"{n - 1}"',)
            ).fetchone() or wal_bytes(db) > 2 * WAL_SIZE_LIMIT, what="the edit synced")
        reader.close()
        wait_for(lambda: wal_bytes(db) <= WAL_SIZE_LIMIT, what="the WAL cut back")


def schema_of(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("SELECT type, name, sql FROM sqlite_master "
                                   "WHERE sql IS NOT NULL"))



def test_a_bulk_load_leaves_the_schema_as_it_found_it(tmp_path: Path) -> None:
    # A load of many pages drops indexes and the search trigger and makes them again:
    # after it, into an existing mirror or a new one built aside, the schema is the
    # one a small sync leaves.
    small = tmp_path / "small"
    write_files(small, {"a.md": "[[b]] #t", "b.md": "# B"})
    sync_vault(load_config(small, tmp_path / "small.db"), workers=1)
    expected = schema_of(tmp_path / "small.db")
    vault = linked_vault(tmp_path / "vault")
    config = load_config(vault, tmp_path / "existing.db")
    assert PAGES < BULK_THRESHOLD
    with Mirror(config.db) as mirror:
        Syncer(config, mirror, workers=1).sync()  # row by row
    write_files(vault, {f"more/m{i}.md": f"# More {i}\n[[p{i % PAGES:03}]] #m"
                        for i in range(BULK_THRESHOLD)})
    with Mirror(config.db) as mirror:
        assert Syncer(config, mirror).sync().added == BULK_THRESHOLD  # in bulk
    assert schema_of(config.db) == expected
    sync_vault(load_config(vault, tmp_path / "new.db"))  # a first sync: aside, in bulk
    assert schema_of(tmp_path / "new.db") == expected
