"""Faults the mirror survives: saves during start-up, a watcher that dies, kill -9 at
several points, a full disk, a mirror file deleted or replaced, a vault folder
replaced, symlinks made under a running daemon, names that are not UTF-8, and the
mirror's files readable by their owner only. Each test ends with the convergence
check: the mirror equals a fresh sync of the same files."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import (
    TIMEOUT,
    RunningDaemon,
    process_log,
    rows,
    start_process,
    wait_converged,
    wait_for,
    wait_watching,
)

from vaultsync.cli import cli
from vaultsync.watch import read_status


def page_count(db: Path, like: str = "%") -> int:
    return int(rows(db, "SELECT count(*) FROM pages WHERE path LIKE ?", like)[0][0])


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def open_files(pid: int) -> set[str]:
    """The files a process has open, from /proc (empty once it is gone)."""
    found = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
    except OSError:
        pass
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- start-up and the watcher ---------------------------------------------------------

def test_saves_during_the_first_reconcile_are_applied_after_it(make_vault, tmp_path):
    vault = make_vault({f"old/p{i}.md": f"# P{i}\n[[p{i + 1}]]\n" + "words " * 300
                        for i in range(1500)})
    running = RunningDaemon(vault, tmp_path / "m.db")  # no slow timer to hide a loss
    written: list[int] = []
    ready_at: list[int] = []
    stop_writing = threading.Event()  # the daemon failed to start: the test is over

    def write() -> None:
        # Until the daemon is ready, and 50 pages past that moment.
        while not stop_writing.is_set() and (not ready_at or len(written) < ready_at[0] + 50):
            n = len(written)
            (vault / f"new-{n}.md").write_text(f"# New {n}\n[[p{n}]]")
            written.append(n)
            if running.daemon.ready.is_set() and not ready_at:
                ready_at.append(len(written))

    writer = threading.Thread(target=write, daemon=True)
    running.start()
    writer.start()
    try:
        with running:
            writer.join(TIMEOUT)
            assert not writer.is_alive(), "the writer never saw the daemon ready"
            db = running.config.db
            wait_for(lambda: page_count(db, "new-%") == len(written), what="every new page")
            wait_converged(vault, db, tmp_path)
    finally:
        stop_writing.set()


def test_a_watcher_error_loses_nothing(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    with RunningDaemon(vault, tmp_path / "m.db") as running:
        db = running.config.db
        # An event on a name that is not UTF-8 stops watchfiles' watcher; the daemon
        # watches again, then reconciles, while pages keep arriving.
        Path(os.path.join(vault, os.fsdecode(b"bad\xff.md"))).write_text("# bad")
        for i in range(300):
            (vault / f"n{i}.md").write_text(f"# N{i}")
        wait_for(lambda: page_count(db, "n%") == 300, what="pages after the watcher error")
        wait_for(lambda: rows(db, "SELECT path FROM problems") == [("bad\\xff.md",)],
                 what="the bad name as a problem")
        wait_converged(vault, db, tmp_path)


def test_a_replaced_vault_folder_is_watched_again(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    with RunningDaemon(vault, tmp_path / "m.db", idle_wakeup_ms=200) as running:
        db = running.config.db
        shutil.rmtree(vault)
        vault.mkdir()
        (vault / "b.md").write_text("# B")
        wait_for(lambda: rows(db, "SELECT path FROM pages") == [("b.md",)], what="b.md")
        (vault / "c.md").write_text("# C")  # and later changes too
        wait_for(lambda: page_count(db) == 2, what="c.md")
        wait_converged(vault, db, tmp_path)


def test_a_symlinked_folder_made_under_the_daemon_is_followed(make_vault, tmp_path):
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "s.md").write_text("# S")
    vault = make_vault({"a.md": "# A\n[[s]] [[t]]"})
    with RunningDaemon(vault, tmp_path / "m.db") as running:
        db = running.config.db
        os.symlink(outside, vault / "ext")
        wait_for(lambda: page_count(db, "ext/%") == 1, what="the linked folder's page")
        (outside / "t.md").write_text("# T")  # an edit inside the followed folder
        wait_for(lambda: page_count(db, "ext/%") == 2, what="a page made inside it")
        (outside / "s.md").write_text("---\ntitle: S two\n---\n")
        wait_for(lambda: ("S two",) in rows(db, "SELECT title FROM pages"), what="edit")
        wait_converged(vault, db, tmp_path)


def test_a_symlinked_file_outside_the_vault_is_followed_through_edits(make_vault, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "shared.md").write_text("---\ntitle: Shared\n---\n[[a]]")
    vault = make_vault({"a.md": "# A"})
    os.symlink(outside / "shared.md", vault / "shared.md")
    with RunningDaemon(vault, tmp_path / "m.db") as running:
        db = running.config.db
        assert ("Shared",) in rows(db, "SELECT title FROM pages")
        (outside / "shared.md").write_text("---\ntitle: Shared two\n---\n[[a]]")  # edited in place
        wait_for(lambda: ("Shared two",) in rows(db, "SELECT title FROM pages"), what="edit")
        replacement = outside / "shared.md.tmp"
        replacement.write_text("---\ntitle: Shared three\n---\n[[a]]")
        os.replace(replacement, outside / "shared.md")  # an atomic save of the target
        wait_for(lambda: ("Shared three",) in rows(db, "SELECT title FROM pages"),
                 what="atomic save")
        # and the next edit
        (outside / "shared.md").write_text("---\ntitle: Shared four\n---\n[[a]]")
        wait_for(lambda: ("Shared four",) in rows(db, "SELECT title FROM pages"),
                 what="edit after the atomic save")
        wait_converged(vault, db, tmp_path)


def test_names_that_are_not_utf8_do_not_stop_the_daemon(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    with RunningDaemon(vault, tmp_path / "m.db") as running:
        db = running.config.db
        Path(os.path.join(vault, os.fsdecode(b"img\xfe.png"))).write_bytes(b"png")
        Path(os.path.join(vault, os.fsdecode(b"bad\xff.md"))).write_text("# bad")
        wait_for(lambda: len(rows(db, "SELECT * FROM problems")) == 2, what="problems")
        (vault / "after.md").write_text("# After")
        wait_for(lambda: page_count(db, "after.md") == 1, what="still alive")
        wait_converged(vault, db, tmp_path)


# --- kill -9 ----------------------------------------------------------------------------

def test_kill_9_during_the_parallel_first_reconcile_leaves_nothing_behind(make_vault,
                                                                          tmp_path):
    vault = make_vault({f"p{i}.md": f"# P{i}\n[[p{i + 1}]]\n" + "words " * 400
                        for i in range(3000)})
    db = tmp_path / "m.db"
    proc = start_process(vault, db)
    try:
        def parsing() -> list[int] | None:
            assert proc.poll() is None, process_log(db)
            found = descendants(proc.pid)
            return found if len(found) >= 2 else None

        helpers = wait_for(parsing, what="parsing processes")
        lock = str(db) + ".lock"
        assert not [pid for pid in helpers if lock in open_files(pid)], "a helper holds the lock"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    finally:
        proc.kill()
    # The parsing processes die with it and hold no lock: a new daemon starts at once.
    wait_for(lambda: not any(alive(pid) for pid in helpers), what="helpers gone")
    proc = start_process(vault, db)
    try:
        wait_watching(db, proc)
        wait_converged(vault, db, tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=TIMEOUT)
    assert "Traceback" not in process_log(db)


@pytest.mark.parametrize("point", ["watching", "mid-batch", "after-batch"])
def test_kill_9_at_any_point_then_restart_converges(make_vault, tmp_path, point):
    vault = make_vault({f"p{i}.md": f"# P{i}\n[[p{i + 1}]]" for i in range(300)})
    db = tmp_path / "m.db"
    proc = start_process(vault, db)
    try:
        wait_watching(db, proc)
        if point != "watching":
            for i in range(300, 700):
                (vault / f"p{i}.md").write_text(f"# P{i}\n[[p{i - 300}]]")
            target = 301 if point == "mid-batch" else 700
            wait_for(lambda: page_count(db) >= target, what=point)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    finally:
        proc.kill()
    (vault / "p1.md").write_text("# Changed\n")
    (vault / "p2.md").rename(vault / "moved.md")
    (vault / "p3.md").unlink()
    proc = start_process(vault, db)
    try:
        wait_watching(db, proc)
        wait_converged(vault, db, tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0


# --- pathological pages ----------------------------------------------------------------

def test_sigterm_is_answered_while_pathological_pages_are_parsed(make_vault, tmp_path):
    # A megabyte heading of spaces took the old parser hours (it was quadratic) and the
    # daemon ignored SIGTERM meanwhile; with linear parsing and a cancel check between
    # pages, a stop request ends even a first reconcile promptly.
    heading = "# x" + " " * 1_000_000 + "y\n"
    files = {f"big{i}.md": heading for i in range(3)}
    files.update({f"p{i}.md": f"# P{i}\n[[p{i + 1}]]" for i in range(500)})
    vault = make_vault(files)
    db = tmp_path / "m.db"
    proc = start_process(vault, db)
    try:
        wait_for(lambda: (read_status(db) or {}).get("pid") == proc.pid or
                 proc.poll() is not None, what="the daemon started")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        proc.kill()
    assert "Traceback" not in process_log(db)
    proc = start_process(vault, db)  # and the next start indexes them all
    try:
        wait_watching(db, proc)
        assert page_count(db, "big%") == 3
        wait_converged(vault, db, tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=TIMEOUT)


# --- the mirror's file --------------------------------------------------------------------

def test_a_deleted_mirror_is_recreated_and_filled(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A\n[[b]]", "b.md": "# B"})
    with RunningDaemon(vault, tmp_path / "m.db", idle_wakeup_ms=200) as running:
        db = running.config.db
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        wait_for(lambda: db.exists() and page_count(db) == 2, what="mirror recreated")
        (vault / "c.md").write_text("# C")
        wait_for(lambda: page_count(db) == 3, what="a later edit")
        wait_converged(vault, db, tmp_path)
        assert (read_status(db) or {}).get("alive")


def test_a_replaced_mirror_is_brought_up_to_date(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    stale = tmp_path / "stale.db"
    with RunningDaemon(vault, tmp_path / "m.db", idle_wakeup_ms=200) as running:
        db = running.config.db
        source = sqlite3.connect(db)
        target = sqlite3.connect(stale)
        source.backup(target)  # a copy of the mirror as it is now
        source.close()
        target.close()
        (vault / "b.md").write_text("# B")
        wait_for(lambda: page_count(db) == 2, what="b.md")
        os.replace(stale, db)  # a backup restored over the live mirror
        (vault / "c.md").write_text("# C")
        wait_for(lambda: page_count(db) == 3, what="the restored mirror caught up")
        wait_converged(vault, db, tmp_path)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_reported_and_retried_until_space_frees(make_vault, tmp_path, tmpfs):
    small_disk = tmpfs("6m")
    vault = make_vault({"a.md": "# A"})
    db = small_disk / "m.db"
    with RunningDaemon(vault, db) as running:
        filler = fill(small_disk)
        for i in range(40):
            (vault / f"big{i}.md").write_text(f"# Big {i}\n" + "text " * 20000)
        wait_for(lambda: "full" in str((read_status(db) or {}).get("error")),
                 what="the error in status")
        assert running.thread.is_alive()
        shown = CliRunner().invoke(cli, ["status", str(vault), "--db", str(db)])
        assert "cannot write the mirror" in shown.output and "full" in shown.output
        filler.unlink()
        wait_for(lambda: page_count(db) == 41, what="recovery once space frees")
        wait_for(lambda: (read_status(db) or {}).get("error") is None, what="error cleared")
        wait_converged(vault, db, tmp_path)


def test_the_mirror_is_readable_by_its_owner_only(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    db = tmp_path / "private" / "m.db"
    with RunningDaemon(vault, db):
        (vault / "b.md").write_text("# B")
        wait_for(lambda: page_count(db) == 2, what="b.md")
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}.lock")]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files if p.exists()}
        assert len(modes) == 4
        assert all(mode == 0o600 for mode in modes.values()), modes
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
