"""A mirror a command cannot use: another vault's, a damaged or foreign file, a newer
schema. Each gets one line and exit 2; the commands that write a mirror move a damaged
one aside (kept) and rebuild it from the vault."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import RunningDaemon, db_dump, fresh_dump, rows, wait_converged, wait_for, write_files

from vaultsync.cli import cli
from vaultsync.config import load_config
from vaultsync.mirror import Mirror, MirrorError, WrongVault
from vaultsync.sync import sync_vault


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="vaultsync")


def two_vaults(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    write_files(a, {f"a{i}.md": f"# A {i}\n[[a{(i + 1) % 5}]]\n" for i in range(5)})
    write_files(b, {f"b{i}.md": f"# B {i}\n" for i in range(3)})
    return a, b


def moved_aside(db: Path) -> list[Path]:
    """The damaged files kept beside the mirror (their WALs apart)."""
    return [p for p in db.parent.glob(f"{db.name}.damaged-*") if not p.name.endswith("-wal")]


def one_line_refusal(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]


# --- another vault's mirror -----------------------------------------------------------

@pytest.mark.parametrize("command", ["sync", "status", "report", "watch", "serve", "mcp",
                                     "datasette"])
def test_another_vaults_mirror_is_refused_by_every_command(tmp_path, command):
    a, b = two_vaults(tmp_path)
    db = tmp_path / "a.db"
    sync_vault(load_config(a, db), workers=1)
    before = db_dump(db)
    args = [command, str(b), "--db", str(db)]
    if command == "report":
        args.insert(1, "central")
    result = run(*args)
    one_line_refusal(result, "another vault", str(a), "--rebuild")
    assert db_dump(db) == before


def test_a_second_vaults_sync_beside_the_daemon_changes_nothing(tmp_path):
    a, b = two_vaults(tmp_path)
    db = tmp_path / "a.db"
    with RunningDaemon(a, db):
        result = run("sync", str(b), "--db", str(db))
        one_line_refusal(result, "another vault")
        (a / "a0.md").write_text("# A 0 edited\n", encoding="utf-8")
        wait_converged(a, db, tmp_path)
    assert rows(db, "SELECT value FROM meta WHERE key = 'vault'") == [(str(a),)]


def test_rebuild_makes_it_the_other_vaults_mirror_on_purpose(tmp_path):
    a, b = two_vaults(tmp_path)
    db = tmp_path / "a.db"
    sync_vault(load_config(a, db), workers=1)
    result = run("sync", str(b), "--db", str(db), "--rebuild")
    assert result.exit_code == 0, result.output
    assert db_dump(db) == fresh_dump(b, tmp_path)
    assert run("status", str(b), "--db", str(db)).exit_code == 0


def test_rebuild_is_refused_while_a_daemon_keeps_the_mirror(tmp_path):
    a, b = two_vaults(tmp_path)
    db = tmp_path / "a.db"
    with RunningDaemon(a, db):
        result = run("sync", str(b), "--db", str(db), "--rebuild")
        one_line_refusal(result, "not rebuilding")
    assert db_dump(db) == fresh_dump(a, tmp_path)


def test_a_vault_moved_on_its_file_system_keeps_its_mirror(tmp_path):
    a, _ = two_vaults(tmp_path)
    db = tmp_path / "a.db"
    sync_vault(load_config(a, db), workers=1)
    moved = tmp_path / "moved"
    a.rename(moved)
    result = run("sync", str(moved), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert rows(db, "SELECT value FROM meta WHERE key = 'vault'") == [(str(moved),)]
    # Once the old path holds a folder again, that folder is another vault.
    a.mkdir()
    with pytest.raises(WrongVault):
        sync_vault(load_config(a, db), workers=1)


def test_a_vault_reached_through_a_symlink_is_the_same_vault(tmp_path):
    a, _ = two_vaults(tmp_path)
    db = tmp_path / "a.db"
    sync_vault(load_config(a, db), workers=1)
    link = tmp_path / "link"
    link.symlink_to(a)
    assert run("sync", str(link), "--db", str(db)).exit_code == 0


# --- damaged, foreign and newer files -------------------------------------------------

def damage_mid_file(db: Path) -> None:
    """4 KiB of garbage in the middle of the file, as a bad disk block would leave."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        fh.seek((size // 2) // 4096 * 4096)
        fh.write(os.urandom(4096))


@pytest.fixture
def synced(tmp_path) -> tuple[Path, Path]:
    vault = tmp_path / "vault"
    write_files(vault, {f"p{i:03}.md": f"# Page {i}\n[[p{(i * 7) % 120:03}]] {'words ' * 80}\n"
                        for i in range(120)})
    db = tmp_path / "mirror.db"
    sync_vault(load_config(vault, db), workers=1)
    return vault, db


def test_status_reports_a_damaged_mirror_in_one_line(synced):
    vault, db = synced
    damage_mid_file(db)
    one_line_refusal(run("status", str(vault), "--db", str(db)), "damaged", "vaultsync sync")


@pytest.mark.parametrize("command", ["sync", "report"])
def test_a_damaged_mirror_is_moved_aside_and_rebuilt(synced, tmp_path, command):
    vault, db = synced
    damage_mid_file(db)
    damaged = db.read_bytes()
    args = [command, str(vault), "--db", str(db)]
    if command == "report":
        args.insert(1, "central")
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "damaged" in result.output and "moved it to" in result.output
    aside = moved_aside(db)
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_the_daemon_checks_the_mirror_when_it_starts(synced, tmp_path):
    vault, db = synced
    damage_mid_file(db)
    with RunningDaemon(vault, db):
        assert len(moved_aside(db)) == 1
        wait_converged(vault, db, tmp_path)


def test_the_daemon_rebuilds_when_sqlite_reports_damage_under_it(synced, tmp_path):
    vault, db = synced
    with RunningDaemon(vault, db, metrics=True) as running:
        mirror = running.daemon.mirror
        mirror.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # Every page of the file but the first: no batch can miss the damage.
        with open(db, "r+b") as fh:
            size = db.stat().st_size
            fh.seek(4096)
            fh.write(os.urandom(size - 4096))
        # What a damaged disk does to a long-running process: its cached pages go, and
        # the next read meets the garbage.
        mirror.conn.execute("PRAGMA shrink_memory")
        (vault / "p001.md").write_text("# Page 1 edited\n", encoding="utf-8")
        wait_for(lambda: moved_aside(db), what="the damaged mirror moved aside")
        wait_converged(vault, db, tmp_path)
        assert len(moved_aside(db)) == 1


@pytest.mark.parametrize("content", [b"SQLite format 3\0" + b"\0" * 50,
                                     b"hello, this is a text file\n" * 200, b"SQLite"])
def test_a_truncated_or_foreign_file_is_one_line_or_rebuilt(tmp_path, content):
    vault = tmp_path / "vault"
    write_files(vault, {"a.md": "# A\n"})
    db = tmp_path / "mirror.db"
    db.write_bytes(content)
    one_line_refusal(run("status", str(vault), "--db", str(db)), "damaged")
    result = run("sync", str(vault), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert [p.read_bytes() for p in moved_aside(db)] == [content]
    assert db_dump(db) == fresh_dump(vault, tmp_path)


@pytest.mark.parametrize("command", ["sync", "status", "report", "watch", "serve", "mcp",
                                     "datasette"])
def test_every_command_refuses_a_newer_schema(synced, command):
    vault, db = synced
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    args = [command, str(vault), "--db", str(db)]
    if command == "report":
        args.insert(1, "central")
    one_line_refusal(run(*args), "schema version 99")


def test_the_library_refuses_another_vaults_mirror(tmp_path):
    a, b = two_vaults(tmp_path)
    db = tmp_path / "a.db"
    sync_vault(load_config(a, db), workers=1)
    with pytest.raises(MirrorError, match="another vault"), Mirror(db) as mirror:
        from vaultsync.sync import Syncer
        Syncer(load_config(b, db), mirror, workers=1)


def test_watch_refuses_another_vaults_mirror_as_a_process(tmp_path):
    a, b = two_vaults(tmp_path)
    db = tmp_path / "a.db"
    sync_vault(load_config(a, db), workers=1)
    proc = subprocess.run([sys.executable, "-m", "vaultsync", "watch", str(b), "--db", str(db)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "another vault" in proc.stderr and "Traceback" not in proc.stderr


def test_another_vaults_damaged_mirror_is_not_rebuilt_for_this_one(tmp_path):
    a, b = two_vaults(tmp_path)
    db = tmp_path / "a.db"
    write_files(a, {f"more{i}.md": "words " * 300 for i in range(60)})
    sync_vault(load_config(a, db), workers=1)
    damage_mid_file(db)
    one_line_refusal(run("sync", str(b), "--db", str(db)), "another vault")
    assert not moved_aside(db)
