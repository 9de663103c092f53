"""What changed since a cursor or a time (`Vault.changes`, read.changes, the `changes`
MCP tool, GET /api/changes): real syncs of real files, the answers worked out by hand."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from conftest import copy_fixture_mirror, rows

from vaultsync import Vault, read
from vaultsync.mirror import Mirror

FILES = {
    "alpha.md": "# Alpha\n\nLinks to [[beta]].\n",
    "beta.md": "# Beta\n\nBack to [[alpha]].\n",
    "gamma.md": "---\ntitle: Gamma\n---\nA page to move.\n",
    "delta.md": "# Delta\n\nA page to delete.\n",
    "notes/epsilon.md": "# Epsilon\n\nEdited then deleted.\n",
}


@pytest.fixture
def vault(synced_vault) -> Vault:
    return synced_vault(FILES)


def names(pages: list[read.ChangedPage]) -> list[str]:
    return [p["path"] for p in pages]


def test_changes_since_a_cursor_are_exactly_the_pages_changed(vault: Vault) -> None:
    start = vault.changes()["cursor"]
    root = vault.path
    (root / "alpha.md").write_text("# Alpha\n\nLinks to [[beta]], edited.\n")
    (root / "zeta.md").write_text("# Zeta\n\nNew.\n")
    (root / "archive").mkdir()
    (root / "gamma.md").rename(root / "archive/gamma.md")  # moved to another folder
    (root / "delta.md").unlink()
    vault.sync(workers=1)
    answer = vault.changes(cursor=start)
    assert answer["complete"] and answer["exact"], answer["notes"]
    assert answer["added"] == [{"path": "zeta.md", "title": "Zeta"}]
    assert answer["edited"] == [{"path": "alpha.md", "title": "Alpha"}]
    assert answer["renamed"] == [{"path": "archive/gamma.md", "title": "Gamma",
                                  "old_path": "gamma.md"}]
    assert answer["removed"] == [{"path": "delta.md", "title": "delta"}]
    assert answer["cursor"] > start
    # Nothing since the new cursor.
    again = vault.changes(cursor=answer["cursor"])
    assert (again["batches"], again["added"], again["edited"], again["renamed"],
            again["removed"]) == (0, [], [], [], [])
    assert again["cursor"] == answer["cursor"]


def test_changes_over_several_batches_are_net(vault: Vault) -> None:
    start = vault.changes()["cursor"]
    root = vault.path
    (root / "new.md").write_text("# New\n\nFirst words.\n")
    vault.sync(workers=1)
    (root / "new.md").write_text("# New\n\nMore words.\n")  # added, then edited: added
    (root / "notes/epsilon.md").write_text("# Epsilon\n\nEdited.\n")
    vault.sync(workers=1)
    (root / "short.md").write_text("# Short\n\nLived briefly.\n")
    vault.sync(workers=1)
    (root / "notes/epsilon.md").unlink()  # edited, then removed: removed
    (root / "short.md").unlink()  # added, then removed: not there at all
    vault.sync(workers=1)
    (root / "gamma.md").rename(root / "g2.md")
    vault.sync(workers=1)
    (root / "g2.md").rename(root / "g3.md")  # renamed twice: one rename
    vault.sync(workers=1)
    answer = vault.changes(cursor=start)
    assert answer["batches"] == 6
    assert names(answer["added"]) == ["new.md"]
    assert answer["edited"] == []
    assert answer["renamed"] == [{"path": "g3.md", "title": "Gamma", "old_path": "gamma.md"}]
    assert names(answer["removed"]) == ["notes/epsilon.md"]
    assert answer["exact"]
    # From a later cursor, only the later batches count.
    later = vault.changes(cursor=start + 5)
    assert later["batches"] == 1
    assert later["renamed"] == [{"path": "g3.md", "title": "Gamma", "old_path": "g2.md"}]


def test_changes_since_a_time(vault: Vault) -> None:
    everything = vault.changes(since="2000-01-01T00:00:00Z")
    assert sorted(names(everything["added"])) == sorted(FILES)
    future = vault.changes(since="2999-01-01T00:00:00Z")
    assert future["batches"] == 0 and future["complete"]
    # A time in another zone is the same moment in UTC; a date alone is its midnight.
    assert vault.changes(since="2000-01-01T02:00:00+02:00")["batches"] == \
        everything["batches"] == vault.changes(since="2000-01-01")["batches"]


def test_a_cursor_older_than_the_log_says_so(vault: Vault) -> None:
    # The log keeps the last 1,000 batches; these come from the mirror's own writer,
    # told to keep two.
    with Mirror(vault.db_path) as mirror, mirror.transaction():
        for _ in range(3):
            mirror.log_batch("watch", 0, 1, 0, 0, ["alpha.md"], [], 0.0, keep=2,
                             added_paths=[], renamed_from={})
    answer = vault.changes(cursor=0)
    assert not answer["complete"]
    assert "older than the log's horizon" in answer["notes"][0]
    assert answer["oldest_cursor"] == answer["cursor"] - 2
    assert vault.changes(cursor=answer["oldest_cursor"])["complete"]
    ahead = vault.changes(cursor=answer["cursor"] + 50)
    assert not ahead["complete"] and "another mirror" in ahead["notes"][0]


def test_mixed_batches_are_worked_out_and_flagged(vault: Vault) -> None:
    start = vault.changes()["cursor"]
    root = vault.path
    # One batch: two renames and one delete, two edits and one add.
    (root / "old").mkdir()
    (root / "gamma.md").rename(root / "old/gamma.md")
    (root / "notes/epsilon.md").rename(root / "epsilon.md")
    (root / "delta.md").unlink()
    (root / "alpha.md").write_text("# Alpha\n\nEdited.\n")
    (root / "beta.md").write_text("# Beta\n\nEdited.\n")
    (root / "new.md").write_text("# New\n")
    vault.sync(workers=1)
    answer = vault.changes(cursor=start)
    assert names(answer["added"]) == ["new.md"]
    assert sorted(names(answer["edited"])) == ["alpha.md", "beta.md"]
    # Renames keep the file name here, so they pair by it.
    assert sorted((r["old_path"], r["path"]) for r in answer["renamed"]) == [
        ("gamma.md", "old/gamma.md"), ("notes/epsilon.md", "epsilon.md")]
    assert answer["exact"]
    assert names(answer["removed"]) == ["delta.md"]


@pytest.mark.parametrize(("args", "message"), [
    ({"cursor": 1, "since": "2026-01-01"}, "not both"),
    ({"since": "yesterday"}, "UTC time"),
    ({"since": "2026-13-40"}, "UTC time"),
    ({"cursor": -1}, "0 or more"),
])
def test_changes_refuses_bad_arguments(vault: Vault, args: dict[str, object],
                                       message: str) -> None:
    with pytest.raises(read.BadRequest, match=message):
        vault.changes(**args)  # type: ignore[arg-type]


def test_a_batch_of_every_kind_is_answered_exactly(vault: Vault) -> None:
    # One batch adds, edits, renames (to a name unlike the old one, beside a delete)
    # and deletes: its counts alone cannot say which path was which, its row does.
    start = vault.changes()["cursor"]
    root = vault.path
    (root / "zeta.md").write_text("# Zeta\n\nNew.\n")
    (root / "alpha.md").write_text("# Alpha\n\nEdited.\n")
    (root / "archive").mkdir()
    (root / "gamma.md").rename(root / "archive/other-name.md")
    (root / "delta.md").unlink()
    vault.sync(workers=1)
    assert rows(vault.db_path, "SELECT added, updated, removed, renamed, added_paths, "
                               "renamed_from FROM sync_log WHERE id > ?", start) == [
        (1, 1, 1, 1, '["zeta.md"]', '{"archive/other-name.md": "gamma.md"}')]
    answer = vault.changes(cursor=start)
    assert answer["exact"] and answer["notes"] == []
    assert answer["added"] == [{"path": "zeta.md", "title": "Zeta"}]
    assert answer["edited"] == [{"path": "alpha.md", "title": "Alpha"}]
    assert answer["renamed"] == [{"path": "archive/other-name.md", "title": "Gamma",
                                  "old_path": "gamma.md"}]
    assert answer["removed"] == [{"path": "delta.md", "title": "delta"}]


def test_a_batch_logged_before_schema_3_is_worked_out_and_flagged(vault: Vault) -> None:
    # The same kind of batch, its row as a mirror before schema 3 wrote it (no
    # added_paths, no renamed_from): the log says one rename, one delete, one edit
    # among these paths, not which is which, and the answer says it is not exact.
    start = vault.changes()["cursor"]
    root = vault.path
    (root / "gamma.md").rename(root / "other-name.md")
    (root / "delta.md").unlink()
    (root / "alpha.md").write_text("# Alpha\n\nEdited.\n")
    vault.sync(workers=1)
    with contextlib.closing(sqlite3.connect(vault.db_path)) as conn, conn:
        conn.execute("UPDATE sync_log SET added_paths = NULL, renamed_from = NULL "
                     "WHERE id > ?", (start,))
    answer = vault.changes(cursor=start)
    assert not answer["exact"]
    assert "worked out" in answer["notes"][-1]
    listed = {p["path"] for key in ("added", "edited", "renamed") for p in answer[key]}
    assert listed == {"alpha.md", "other-name.md"}


def test_a_version_2_mirror_keeps_its_log_and_records_kinds_from_then_on(
        tmp_path: Path) -> None:
    # tests/data/v2: a mirror made by vaultsync 0.1.0, whose one batch added 3 pages.
    vault_dir, db = copy_fixture_mirror(2, tmp_path)
    old_rows = rows(db, "SELECT * FROM sync_log")
    assert len(old_rows) == 1
    with Mirror(db):  # opening it migrates it
        pass
    assert rows(db, "SELECT * FROM sync_log") == [(*old_rows[0], None, None)]
    vault = Vault(vault_dir, db=db)
    assert vault.changes(cursor=0)["exact"]  # a batch of one kind: its counts say it
    (vault_dir / "new.md").write_text("# New\n")
    vault.sync(workers=1)  # also parses the old pages again: edits
    (_, added_paths, renamed_from), = rows(
        db, "SELECT id, added_paths, renamed_from FROM sync_log WHERE id > 1")
    assert (added_paths, renamed_from) == ('["new.md"]', "{}")
    answer = vault.changes(cursor=0)
    assert answer["exact"] and answer["batches"] == 2
    assert names(answer["added"]) == sorted([*(p for p, in rows(
        db, "SELECT path FROM pages WHERE path != 'new.md'")), "new.md"])
    assert answer["edited"] == answer["renamed"] == answer["removed"] == []
    since_migration = vault.changes(cursor=1)
    assert names(since_migration["added"]) == ["new.md"]
    assert len(since_migration["edited"]) == 3 and since_migration["exact"]


def test_changes_over_http_and_mcp_answer_as_the_vault_does(vault: Vault) -> None:
    import anyio
    import httpx
    from conftest import serving
    from mcp import Client

    from vaultsync.graph import MetricsOnDemand
    from vaultsync.mcp import Vault as ToolVault
    from vaultsync.mcp import build_server

    start = vault.changes()["cursor"]
    (vault.path / "zeta.md").write_text("# Zeta\n")
    vault.sync(workers=1)
    expected = vault.changes(cursor=start)
    with serving(vault.config) as (_, base, token):
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        assert api.get("/api/changes", params={"cursor": start}).json() == expected
        bad = api.get("/api/changes", params={"cursor": start, "since": "2026-01-01"})
        assert bad.status_code == 400 and "not both" in bad.json()["error"]

    async def over_mcp() -> tuple[dict, str]:
        server = build_server(ToolVault(vault.config, MetricsOnDemand(vault.db_path)))
        async with Client(server) as client:
            ok = await client.call_tool("changes", {"cursor": start})
            bad = await client.call_tool("changes", {"since": "soon"})
            assert bad.is_error
            return dict(ok.structured_content or {}), bad.content[0].text  # type: ignore[union-attr]

    answer, error = anyio.run(over_mcp)
    assert answer["added"] == expected["added"] == [{"path": "zeta.md", "title": "Zeta"}]
    assert answer["cursor"] == expected["cursor"] and answer["truncated"] == []
    assert "UTC time" in error
