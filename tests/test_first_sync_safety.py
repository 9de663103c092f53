"""A first sync builds the mirror aside and moves it into place whole: `vaultsync sync`
or the daemon's first build (`vaultsync watch`), killed with SIGKILL or stopped at any
moment, leaves no mirror or the complete one, never a part of one that a reader
(Datasette, the API) would take for the vault; the next sync or daemon cleans up and
finishes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import (
    TIMEOUT,
    ProcessOutput,
    RunningDaemon,
    db_dump,
    fresh_dump,
    interrupt,
    process_log,
    rows,
    start_process,
    wait_converged,
    wait_for,
    wait_watching,
)
from differential import REPO

from scripts import gen_vault
from vaultsync.cli import cli
from vaultsync.config import load_config
from vaultsync.mirror import Mirror, publish_scratch, scratch_path
from vaultsync.sync import sync_vault
from vaultsync.watch import read_status

PAGES = 1500


@pytest.fixture(scope="module")
def large_vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    vault = tmp_path_factory.mktemp("large") / "vault"
    gen_vault.generate(vault, pages=PAGES, seed=3)
    return vault


def scratch_files(db: Path) -> list[str]:
    return sorted(n for n in os.listdir(db.parent) if n.startswith(f".{db.name}."))


def scratch_reached(db: Path, proc: subprocess.Popen[bytes] | subprocess.Popen[str],
                    when: str) -> bool:
    """The moment to kill a first sync: its scratch file made, or half written. True as
    well once the mirror is at its place or the process has ended: the moment passed."""
    names = [n for n in scratch_files(db) if n.endswith(".new")]
    if db.exists() or proc.poll() is not None:
        return True
    try:
        size = os.path.getsize(db.parent / names[0]) if names else 0
    except FileNotFoundError:
        return False
    return bool(names) and (when == "scratch made" or size > 2_000_000)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX's")
@pytest.mark.parametrize("when", ["scratch made", "scratch half written"])
def test_kill_9_during_a_first_sync_leaves_no_half_mirror(large_vault, tmp_path, when):
    db = tmp_path / "mirror.db"
    proc = subprocess.Popen([sys.executable, "-m", "vaultsync", "sync", str(large_vault),
                             "--db", str(db)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: scratch_reached(db, proc, when))
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


# --- the daemon's first build ------------------------------------------------------------

@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX's")
@pytest.mark.parametrize("when", ["scratch made", "scratch half written"])
def test_kill_9_during_a_daemons_first_build_leaves_no_half_mirror(large_vault, tmp_path,
                                                                   when):
    db = tmp_path / "mirror.db"
    proc = start_process(large_vault, db)
    try:
        wait_for(lambda: scratch_reached(db, proc, when),
                 what=lambda: f"the moment ({when}):\n{process_log(db)}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(TIMEOUT)
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
    # No mirror, or the whole one: never a half-built file at the mirror's path.
    if db.exists():
        assert db_dump(db) == fresh_dump(large_vault, tmp_path)
    else:
        assert scratch_files(db)  # what the killed daemon left, cleaned up below
    proc = start_process(large_vault, db)  # the next daemon cleans up and builds it
    try:
        wait_watching(db, proc)
        assert scratch_files(db) == []
        wait_converged(large_vault, db, tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
    assert "Traceback" not in process_log(db)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX's")
def test_ctrl_c_during_a_daemons_first_build_leaves_no_mirror_and_says_so(large_vault,
                                                                          tmp_path):
    db = tmp_path / "mirror.db"
    proc = subprocess.Popen([sys.executable, "-m", "vaultsync", "watch", str(large_vault),
                             "--db", str(db), "--no-metrics"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = ProcessOutput(proc.stderr)
    try:
        wait_for(lambda: scratch_reached(db, proc, "scratch made"), what=lambda: err.text)
    finally:
        code = interrupt(proc, err)
    if db.exists():  # the build won the race: a whole mirror, and a clean stop
        assert code == 0, err.text
        assert db_dump(db) == fresh_dump(large_vault, tmp_path)
    else:
        assert code == 128 + signal.SIGINT, err.text
        assert "none was made" in err.text and "Traceback" not in err.text
        assert "watching " not in err.text
    assert scratch_files(db) == []


class HeldBuild:
    """A progress callback (the daemon's `progress`) that holds the first build at its
    first page until `release()`: the test acts while the build is under way."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.gate = threading.Event()

    def __call__(self, done: int, total: int) -> None:
        self.reached.set()
        self.gate.wait(TIMEOUT)

    def release(self) -> None:
        self.gate.set()


@contextlib.contextmanager
def held_in_its_first_build(vault: Path, db: Path) -> Iterator[tuple[HeldBuild, RunningDaemon]]:
    """A daemon in this process, held at the first page of its first build."""
    held = HeldBuild()
    running = RunningDaemon(vault, db, progress=held).start()
    try:
        wait_for(held.reached.is_set, what="the first build under way")
        yield held, running
    finally:
        held.release()
        running.__exit__()


def build_vault(make_vault) -> Path:
    return make_vault({f"p{i}.md": f"# P{i}\n[[p{i + 1}]]" for i in range(20)})


def test_during_a_daemons_first_build_there_is_no_mirror_but_status_says_so(
        make_vault, tmp_path):
    vault = build_vault(make_vault)
    db = tmp_path / "mirror.db"
    with held_in_its_first_build(vault, db) as (held, running):
        assert not db.exists()
        assert [n for n in scratch_files(db) if n.endswith(".new")]
        status = read_status(db)
        assert status is not None
        assert status["alive"] and status["building"] and status["pid"] == os.getpid()
        shown = CliRunner().invoke(cli, ["status", str(vault), "--db", str(db)])
        assert shown.exit_code == 0, shown.output
        assert "building" in shown.output and f"pid {os.getpid()}" in shown.output
        data = json.loads(CliRunner().invoke(
            cli, ["status", str(vault), "--db", str(db), "--json"]).output)
        assert data["daemon"]["building"] and data["last_sync_at"] is None
        (vault / "during.md").write_text("# Saved during the build\n[[p1]]")
        held.release()
        with running:  # ready: the mirror is in place, the page saved meanwhile in it
            wait_for(lambda: rows(db, "SELECT 1 FROM pages WHERE path = 'during.md'"),
                     what="the page saved during the build")
            wait_converged(vault, db, tmp_path)
            assert read_status(db)["state"] == "watching"
            assert "building" not in read_status(db)
            (vault / "after.md").write_text("# After")
            wait_for(lambda: rows(db, "SELECT 1 FROM pages WHERE path = 'after.md'"),
                     what="an edit after the build")
            wait_converged(vault, db, tmp_path)
        assert scratch_files(db) == []


def test_a_stop_during_a_daemons_first_build_leaves_no_mirror(make_vault, tmp_path):
    vault = build_vault(make_vault)
    db = tmp_path / "mirror.db"
    with held_in_its_first_build(vault, db) as (held, running):
        running.stop.set()
    assert running.error is None
    assert not running.daemon.ready.is_set()
    assert not db.exists() and scratch_files(db) == []
    assert read_status(db) is None  # the lock file says it stopped
    with RunningDaemon(vault, db):  # the next start builds it
        wait_converged(vault, db, tmp_path)


def test_a_mirror_no_sync_completed_is_built_anew_by_the_daemon(make_vault, tmp_path):
    # What a daemon killed during a first build in place (before builds went aside)
    # left: a mirror file claimed for the vault and never completed.
    vault = build_vault(make_vault)
    db = tmp_path / "mirror.db"
    with Mirror(db):
        pass
    with held_in_its_first_build(vault, db) as (held, running):
        assert not db.exists()  # gone, not filled in place: it appears whole
        held.release()
        with running:
            wait_converged(vault, db, tmp_path)
            assert rows(db, "SELECT value FROM meta WHERE key = 'last_sync_at'")


@pytest.mark.parametrize("made", ["by a sync", "by a reader"])
def test_a_file_made_during_a_daemons_first_build(make_vault, tmp_path, made):
    # A `vaultsync sync` that publishes its mirror first is kept and synced into; the
    # empty file a reader's SQLite makes by opening the path is replaced whole.
    vault = build_vault(make_vault)
    db = tmp_path / "mirror.db"
    with held_in_its_first_build(vault, db) as (held, running):
        if made == "by a sync":
            sync_vault(load_config(vault, db), workers=1)
        else:
            sqlite3.connect(db).close()
        (vault / "during.md").write_text("# Saved during the build")
        inode = db.stat().st_ino
        held.release()
        with running:
            wait_converged(vault, db, tmp_path)
            assert (db.stat().st_ino == inode) == (made == "by a sync")
        assert scratch_files(db) == []
