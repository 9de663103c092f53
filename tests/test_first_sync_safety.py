"""A first sync builds the mirror aside and moves it into place whole: `vaultsync sync`
killed with SIGKILL at any moment leaves no mirror or the complete one, never a part
of one that a reader (Datasette, the API) would take for the vault; the next sync
cleans up and finishes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import db_dump, fresh_dump, wait_for
from differential import REPO

from scripts import gen_vault
from vaultsync.config import load_config
from vaultsync.mirror import Mirror, publish_scratch, scratch_path
from vaultsync.sync import sync_vault

PAGES = 1500


@pytest.fixture(scope="module")
def large_vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    vault = tmp_path_factory.mktemp("large") / "vault"
    gen_vault.generate(vault, pages=PAGES, seed=3)
    return vault


def scratch_files(db: Path) -> list[str]:
    return sorted(n for n in os.listdir(db.parent) if n.startswith(f".{db.name}."))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX's")
@pytest.mark.parametrize("when", ["scratch made", "scratch half written"])
def test_kill_9_during_a_first_sync_leaves_no_half_mirror(large_vault, tmp_path, when):
    db = tmp_path / "mirror.db"
    proc = subprocess.Popen([sys.executable, "-m", "vaultsync", "sync", str(large_vault),
                             "--db", str(db)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        def scratch_size() -> int | None:
            names = [n for n in scratch_files(db) if n.endswith(".new")]
            if db.exists() or proc.poll() is not None:
                return -1  # finished before the moment came: still a valid outcome
            try:
                size = os.path.getsize(db.parent / names[0]) if names else 0
            except FileNotFoundError:
                return None
            if names and (when == "scratch made" or size > 2_000_000):
                return size
            return None

        wait_for(scratch_size)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
        proc.wait()
    # No mirror, or the whole one: never a half-built file at the mirror's path.
    if db.exists():
        assert db_dump(db) == fresh_dump(large_vault, tmp_path)
    else:
        assert scratch_files(db)  # what the killed sync left, cleaned up below
    sync_vault(load_config(large_vault, db), workers=2)
    assert scratch_files(db) == []
    assert db_dump(db) == fresh_dump(large_vault, tmp_path)


def test_a_first_sync_leaves_only_the_mirror(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[b]]", "b.md": "# B"})
    db = tmp_path / "m" / "mirror.db"
    sync_vault(load_config(vault, db))
    assert sorted(os.listdir(db.parent)) == ["mirror.db"]
    assert os.stat(db).st_mode & 0o777 == 0o600
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 2
    finally:
        conn.close()


def test_a_mirror_made_meanwhile_is_never_overwritten(tmp_path):
    db = tmp_path / "mirror.db"
    scratch = scratch_path(db)
    with Mirror(scratch, scratch=True):
        pass
    db.write_bytes(b"made meanwhile")
    assert not publish_scratch(scratch, db)
    assert db.read_bytes() == b"made meanwhile"
    assert scratch.exists()
