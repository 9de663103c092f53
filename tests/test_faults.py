"""Faults the mirror survives: saves during start-up, a watcher that dies, kill -9 at
several points, a full disk, a mirror file deleted or replaced, a vault folder
replaced, symlinks made under a running daemon (out of the vault too), hard links
edited through one name, names that are not UTF-8, and the
mirror's files readable by their owner only. Each test ends with the convergence
check: the mirror equals a fresh sync of the same files. Round two: a mirror damaged
under a killed daemon, another vault's sync beside the daemon, and a daemon short of
inotify (instances or watches; lowered in a user namespace of its own, so no other
process on the machine is touched) that must poll."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import (
    TIMEOUT,
    RunningDaemon,
    in_user_namespace,
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


def allow_outside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, folder: Path) -> None:
    """Settings that let the vault's symlinks lead into `folder`, for every config loaded
    from now on (the daemon's and the fresh sync's)."""
    settings = tmp_path / "vaultsync.toml"
    settings.write_text(f'follow_symlinks_outside = ["{folder}"]\n')
    monkeypatch.setenv("VAULTSYNC_CONFIG", str(settings))


def test_a_symlinked_folder_made_under_the_daemon_is_followed(make_vault, tmp_path,
                                                              monkeypatch):
    allow_outside(monkeypatch, tmp_path, tmp_path / "shared")
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


def test_a_symlinked_file_outside_the_vault_is_followed_through_edits(make_vault, tmp_path,
                                                                     monkeypatch):
    allow_outside(monkeypatch, tmp_path, tmp_path / "elsewhere")
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


def test_symlinks_out_of_the_vault_made_under_the_daemon_are_problems(make_vault, tmp_path):
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "creds.txt").write_text("password: hunter2\n")
    (outside / "notes").mkdir()
    (outside / "notes" / "n.md").write_text("# N")
    vault = make_vault({"a.md": "# A"})
    os.symlink(outside / "creds.txt", vault / "old-creds.md")  # met by the first reconcile
    with RunningDaemon(vault, tmp_path / "m.db") as running:
        db = running.config.db
        assert rows(db, "SELECT path FROM problems") == [("old-creds.md",)]
        os.symlink(outside / "creds.txt", vault / "creds.md")  # and these by events
        os.symlink(outside / "notes", vault / "notes")
        os.symlink("/proc", vault / "x")
        wait_for(lambda: {p for (p,) in rows(db, "SELECT path FROM problems")} ==
                 {"old-creds.md", "creds.md", "notes", "x"}, what="four problem rows")
        (outside / "notes" / "m.md").write_text("# M")  # nothing of it enters either
        (outside / "creds.txt").write_text("password: changed\n")
        (vault / "after.md").write_text("# After")
        wait_for(lambda: page_count(db, "after.md") == 1, what="a later page")
        assert {p for (p,) in rows(db, "SELECT path FROM pages")} == {"a.md", "after.md"}
        assert rows(db, "SELECT count(*) FROM attachments") == [(0,)]
        wait_converged(vault, db, tmp_path)


def test_an_edit_through_one_hard_link_reaches_the_other_names(make_vault, tmp_path):
    vault = make_vault({"hard-a.md": "# One\n", "a.md": "# A\n[[hard-b]]"})
    os.link(vault / "hard-a.md", vault / "hard-b.md")
    (vault / "sub").mkdir()
    os.link(vault / "hard-a.md", vault / "sub" / "hard-c.md")
    with RunningDaemon(vault, tmp_path / "m.db") as running:
        db = running.config.db

        def titles() -> set[str]:
            return {t for (t,) in rows(db, "SELECT title FROM pages WHERE path LIKE '%hard%'")}

        for n, name in enumerate(["hard-a.md", "hard-b.md", "sub/hard-c.md"]):
            # Written in place: the watcher reports the name written, and only that one.
            with open(vault / name, "r+", encoding="utf-8") as fh:
                fh.truncate(0)
                fh.write(f"---\ntitle: Edit {n} through {name}\n---\n")
            wait_for(lambda n=n, name=name: titles() == {f"Edit {n} through {name}"},
                     what=f"every name to hold the edit through {name}")
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
    # Under spawn (VAULTSYNC_START_METHOD), a parsing process still starting when its
    # owner was killed says so in the shared log (multiprocessing's own EOFError) and exits.
    log = re.sub(r"Traceback \(most recent call last\):\n(?:  .*\n)*?EOFError: Ran out of "
                 r"input\n", "", process_log(db))
    assert "Traceback" not in log


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
        # 143 (128 + SIGTERM): stopped during the first reconcile, which it says.
        assert proc.wait(timeout=TIMEOUT) in (0, 128 + signal.SIGTERM)
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


# --- round two: a damaged mirror, another vault's sync, inotify's limits ----------------

def test_a_mirror_damaged_under_a_killed_daemon_is_rebuilt_on_restart(make_vault, tmp_path):
    vault = make_vault({f"p{i:03}.md": f"# {i}\n[[p{(i + 1) % 80:03}]] {'text ' * 60}"
                        for i in range(80)})
    db = tmp_path / "m.db"
    proc = start_process(vault, db)
    wait_watching(db, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(TIMEOUT)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with open(db, "r+b") as fh:  # a bad disk block in the middle of the file
        fh.seek((size // 2) // 4096 * 4096)
        fh.write(os.urandom(4096))
    (vault / "p001.md").write_text("# 1 edited while the daemon was down")
    proc = start_process(vault, db)
    try:
        wait_for(lambda: "moved it to" in process_log(db), what="the damaged mirror moved")
        wait_watching(db, proc)
        wait_converged(vault, db, tmp_path)
        (vault / "p002.md").write_text("# 2 edited after")
        wait_converged(vault, db, tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(TIMEOUT)
    assert "damaged" in process_log(db)
    assert [p for p in tmp_path.glob("m.db.damaged-*") if not p.name.endswith("-wal")]


def test_another_vaults_sync_beside_the_daemon_is_refused(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A\n[[b]]", "b.md": "# B"})
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.md").write_text("# X")
    db = tmp_path / "m.db"
    proc = start_process(vault, db)
    try:
        wait_watching(db, proc)
        result = CliRunner().invoke(cli, ["sync", str(other), "--db", str(db)])
        assert result.exit_code == 2 and "another vault" in result.output, result.output
        (vault / "c.md").write_text("# C [[a]]")
        wait_converged(vault, db, tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(TIMEOUT)


@pytest.mark.parametrize(("limit", "value"), [("max_inotify_instances", 0),
                                              ("max_inotify_watches", 3)])
def test_a_daemon_short_of_inotify_polls_and_converges(make_vault, tmp_path, limit, value):
    prefix = in_user_namespace(limit, value)
    if prefix is None:
        pytest.skip("no user namespaces here: cannot lower inotify limits for one process")
    vault = make_vault({f"f{i}/sub/p{i}.md": f"# {i}" for i in range(6)})
    db = tmp_path / "m.db"
    log = open(str(db) + ".log", "a", encoding="utf-8")  # noqa: SIM115 - the child's
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "vaultsync", "watch", str(vault),
                             "--db", str(db), "--no-metrics"],
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    try:
        wait_watching(db, proc)
        (vault / "f5" / "sub" / "p5.md").write_text("# 5 [[p0]]")
        (vault / "f0" / "sub" / "p0.md").rename(vault / "f0" / "moved.md")
        shutil.rmtree(vault / "f3")
        (vault / "f9").mkdir()
        (vault / "f9" / "new.md").write_text("# new [[p5]]")
        wait_converged(vault, db, tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(TIMEOUT)
    assert "polling it every" in process_log(db)
