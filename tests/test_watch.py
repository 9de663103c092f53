"""`vaultsync watch`: the real daemon on a temporary vault, with real file operations.

Every test waits on the mirror's state with a bounded poll, and ends by checking the
convergence property: the mirror equals a fresh sync of the same files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import (
    TIMEOUT,
    RunningDaemon,
    in_user_namespace,
    interrupt,
    process_log,
    rows,
    start_process,
    wait_converged,
    wait_for,
    wait_watching,
)

from vaultsync.cli import cli
from vaultsync.config import load_config
from vaultsync.watch import Daemon, DaemonRunning, read_status


def page_rows(db: Path) -> dict[str, str]:
    return dict(rows(db, "SELECT path, title FROM pages"))


@pytest.fixture
def watched(make_vault, tmp_path) -> Iterator[Callable[..., RunningDaemon]]:
    started: list[RunningDaemon] = []

    def start(files: dict[str, str]) -> RunningDaemon:
        vault = make_vault(files)
        running = RunningDaemon(vault, tmp_path / "mirror.db").__enter__()
        started.append(running)
        return running

    yield start
    for running in started:
        running.__exit__()


def test_create_edit_delete(watched, tmp_path):
    d = watched({"a.md": "# A\n[[b]]"})
    vault, db = d.config.vault, d.config.db
    assert page_rows(db) == {"a.md": "A"}
    (vault / "b.md").write_text("# Bee\n")
    wait_for(lambda: rows(db, "SELECT target_path FROM links") == [("b.md",)], what="resolved")
    (vault / "b.md").write_text("---\ntitle: Bee two\n---\n")
    wait_for(lambda: page_rows(db).get("b.md") == "Bee two", what="edit")
    (vault / "b.md").unlink()
    wait_for(lambda: "b.md" not in page_rows(db), what="delete")
    assert rows(db, "SELECT target_path FROM links") == [(None,)]
    wait_converged(vault, db, tmp_path)


def test_atomic_save_and_editor_temp_files(watched, tmp_path):
    d = watched({"note.md": "# Old\n"})
    vault, db = d.config.vault, d.config.db
    # vim: probe file 4913, backup note.md~, swap .note.md.swp; then write a temp and rename.
    (vault / "4913").write_text("")
    (vault / "note.md~").write_text("# Old\n")
    (vault / ".note.md.swp").write_bytes(b"\0swap")
    tmp = vault / "note.md.tmp"
    tmp.write_text("---\ntitle: New title\n---\n[[other]]\n")
    os.replace(tmp, vault / "note.md")
    (vault / "4913").unlink()
    wait_for(lambda: page_rows(db) == {"note.md": "New title"}, what="atomic save")
    assert rows(db, "SELECT path FROM attachments") == []
    wait_converged(vault, db, tmp_path)


def test_rename_page_keeps_identity(watched, tmp_path):
    d = watched({"a.md": "[[b]]", "b.md": "# B\nunique body"})
    vault, db = d.config.vault, d.config.db
    (old_id,) = rows(db, "SELECT id FROM pages WHERE path = 'b.md'")[0]
    (vault / "b.md").rename(vault / "c.md")
    wait_for(lambda: "c.md" in page_rows(db), what="rename")
    assert rows(db, "SELECT id FROM pages WHERE path = 'c.md'") == [(old_id,)]
    wait_converged(vault, db, tmp_path)


def test_rename_folder(watched, tmp_path):
    files = {f"old/p{i}.md": f"# P{i}\n[[p{i + 1}]]" for i in range(30)}
    files["index.md"] = "[[old/p1]]"
    d = watched(files)
    vault, db = d.config.vault, d.config.db
    (vault / "old").rename(vault / "new")
    wait_for(lambda: sum(p.startswith("new/") for p in page_rows(db)) == 30, what="folder")
    assert not any(p.startswith("old/") for p in page_rows(db))
    assert rows(db, "SELECT target_path FROM links l JOIN pages p ON p.id = l.source_id "
                    "WHERE p.path = 'index.md'") == [(None,)]
    wait_converged(vault, db, tmp_path)


def test_burst_of_2000_files_in_new_folders(watched, tmp_path):
    d = watched({"hub.md": "# Hub"})
    vault, db = d.config.vault, d.config.db
    for folder in range(20):
        sub = vault / f"burst{folder}" / "deeper"
        sub.mkdir(parents=True)
        for i in range(100):
            (sub / f"n{folder}-{i}.md").write_text(f"# N{folder}-{i}\n[[hub]] [[n{folder}-{i+1}]]")
    wait_for(lambda: rows(db, "SELECT count(*) FROM pages") == [(2001,)], what="2000 pages")
    wait_converged(vault, db, tmp_path)


def test_reader_sees_whole_batches_during_writes(watched, tmp_path):
    d = watched({"hub.md": "# Hub"})
    vault, db = d.config.vault, d.config.db
    torn: list[tuple] = []
    done = threading.Event()

    def read() -> int:
        conn = sqlite3.connect(db)
        reads = 0
        while not done.is_set():
            conn.execute("BEGIN")
            pages, links = conn.execute(
                # A page read between its creation and its first write is empty, for a
                # batch or two: it has no link yet, and that is not a torn read.
                "SELECT (SELECT count(*) FROM pages WHERE size > 0), "
                "(SELECT count(*) FROM links)").fetchone()
            conn.execute("COMMIT")
            if links != pages - 1:  # every written page but the hub has exactly one link
                torn.append((pages, links))
            reads += 1
        return reads

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(500):
        (vault / f"p{i}.md").write_text(f"[[hub]] number {i}")
    wait_for(lambda: rows(db, "SELECT count(*) FROM pages") == [(501,)], what="500 pages")
    done.set()
    reader.join()
    assert torn == []
    wait_converged(vault, db, tmp_path)


def test_bad_page_does_not_stop_the_daemon(watched, tmp_path):
    d = watched({"a.md": "# A"})
    vault, db = d.config.vault, d.config.db
    (vault / "bad.md").write_bytes(b"---\ntitle: [oops\n---\n\xff\xfe [[a]]")
    (vault / "bin.md").write_bytes(b"\0\0\0")
    wait_for(lambda: len(rows(db, "SELECT * FROM problems")) == 3, what="problems")
    (vault / "after.md").write_text("# After")
    wait_for(lambda: "after.md" in page_rows(db), what="still alive")
    assert rows(db, "SELECT target_path FROM links l JOIN pages p ON p.id = l.source_id "
                    "WHERE p.path = 'bad.md'") == [("a.md",)]
    wait_converged(vault, db, tmp_path)


def test_locked_database_is_retried(watched, tmp_path):
    d = watched({"a.md": "# A"})
    vault, db = d.config.vault, d.config.db
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    (vault / "b.md").write_text("# B")
    # The daemon's busy timeout (5 s) lets it wait; hold the lock past one retry at least.
    time.sleep(0.5)  # holding the lock, not synchronising: the poll below waits
    assert "b.md" not in page_rows(db)
    blocker.execute("COMMIT")
    blocker.close()
    wait_for(lambda: "b.md" in page_rows(db), what="write after the lock")
    wait_converged(vault, db, tmp_path)


def test_vault_folder_disappears_and_returns(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    with RunningDaemon(vault, tmp_path / "m.db") as d:
        moved = tmp_path / "elsewhere"
        vault.rename(moved)
        wait_for(lambda: (read_status(d.config.db) or {}).get("state") == "waiting for vault",
                 what="waiting state")
        (moved / "b.md").write_text("# B")
        moved.rename(vault)
        wait_for(lambda: "b.md" in page_rows(d.config.db), what="caught up")
        wait_converged(vault, d.config.db, tmp_path)


def test_second_daemon_on_the_same_db_is_refused(watched):
    d = watched({"a.md": "x"})
    with pytest.raises(DaemonRunning, match=f"pid {os.getpid()}"):
        Daemon(d.config, metrics=False).run(threading.Event())


def test_status_row_shows_the_daemon_alive(watched):
    d = watched({"a.md": "x"})
    (d.config.vault / "b.md").write_text("y")
    status = wait_for(lambda: (s := read_status(d.config.db)) and s.get("pages") == 2 and s,
                      what="status")
    assert status["alive"] and status["pid"] == os.getpid() and status["state"] == "watching"
    assert status["last_batch_at"]


# --- as a real process ---------------------------------------------------------------

def test_sigterm_and_sigint_stop_cleanly(make_vault, tmp_path):
    vault = make_vault({"a.md": "x"})
    db = tmp_path / "m.db"
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = start_process(vault, db)
        wait_watching(db, proc)
        proc.send_signal(sig)
        assert proc.wait(timeout=TIMEOUT) == 0
        assert read_status(db)["state"] == "stopped"
        assert "Traceback" not in process_log(db)


def test_second_daemon_process_exits_with_a_clear_line(make_vault, tmp_path):
    vault = make_vault({"a.md": "x"})
    db = tmp_path / "m.db"
    first = start_process(vault, db)
    try:
        wait_watching(db, first)
        second = start_process(vault, db)
        second.wait(timeout=TIMEOUT)
        err = process_log(db)
        assert second.returncode == 2
        assert f"pid {first.pid}" in err and "Traceback" not in err
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=TIMEOUT)


def test_graph_metrics_follow_batches(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[b]]", "b.md": "# B"})
    config = load_config(vault, tmp_path / "m.db")
    daemon = Daemon(config, metrics=True, reconcile_every=3600)
    stop = threading.Event()
    thread = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
    thread.start()
    try:
        db = config.db
        wait_for(lambda: rows(db, "SELECT count(*) FROM page_metrics") == [(2,)], what="metrics")
        (vault / "c.md").write_text("[[b]] [[a]]")
        wait_for(lambda: rows(db, "SELECT m.in_degree FROM page_metrics m JOIN pages p "
                                  "ON p.id = m.page_id WHERE p.path = 'b.md'") == [(2,)],
                 what="metrics after the batch")
        wait_for(lambda: rows(db, "SELECT count(*) FROM page_metrics WHERE community IS NOT "
                                  "NULL") == [(3,)], what="heavy metrics in the background")
    finally:
        stop.set()
        thread.join(timeout=TIMEOUT)
    assert not thread.is_alive()


# --- inotify's limits ---------------------------------------------------------------------

def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="vaultsync")


@pytest.mark.parametrize(("limit", "value", "fix"), [
    ("max_inotify_instances", 0, "fs.inotify.max_user_instances"),
    ("max_inotify_watches", 2, "fs.inotify.max_user_watches"),
])
def test_inotify_limits_make_the_daemon_poll_and_say_so(make_vault, tmp_path, limit, value,
                                                          fix):
    vault = make_vault({"a.md": "[[b]]", "b.md": "x", "one/two/c.md": "c",
                        "three/d.md": "d"})
    db = tmp_path / "m.db"
    prefix = in_user_namespace(limit, value)
    if prefix is None:
        pytest.skip("no user namespaces here: cannot lower inotify limits for one process")
    log = open(str(db) + ".log", "a", encoding="utf-8")  # noqa: SIM115 - the child's
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "vaultsync", "watch", str(vault),
                             "--db", str(db), "--no-metrics"],
                            stdout=subprocess.DEVNULL, stderr=log, text=True)
    log.close()
    try:
        wait_for(lambda: proc.poll() is None and len(rows(db, "SELECT 1 FROM pages")) == 4,
                 what=lambda: f"the first reconcile:\n{process_log(db)}")
        (vault / "one" / "two" / "c.md").write_text("c [[a]]")
        wait_for(lambda: rows(db, "SELECT 1 FROM links l JOIN pages p ON p.id = l.source_id "
                                  "WHERE p.path = 'one/two/c.md'"),
                 what=lambda: f"the edit, by polling:\n{process_log(db)}")
        status = run("status", str(vault), "--db", str(db))
        assert "polling the vault, not watching it" in status.output, status.output
        assert fix in status.output
        data = json.loads(run("status", str(vault), "--db", str(db), "--json").output)
        assert fix in data["daemon"]["polling"]
    finally:
        interrupt(proc)
    text = process_log(db)
    assert text.count("cannot watch") == 1 and fix in text, text
    assert "trying again" not in text
