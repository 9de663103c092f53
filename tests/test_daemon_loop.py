"""The daemon's loop with a fake watcher (as watchfiles' own tests fake its Rust
watcher): which batches it applies, when it reconciles, when it makes a new watcher,
how it retries a failed batch and when it falls back to polling. The files, the
mirror and the syncer are real; only the events are told, so each rule is seen on its
own, fast. tests/test_watch.py and tests/test_faults.py run the real watcher."""

from __future__ import annotations

import queue
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import RunningDaemon, rows, wait_for

from vaultsync.mirror import MetaKey
from vaultsync.read import meta
from vaultsync.watch import SETTLE_AFTER
from vaultsync.watcher import Notify, VaultWatcher, rust_notify

Batch = set[str] | Exception


class FakeWatcher:
    """Hands the daemon the batches a test puts in `batches` (an exception is raised
    from `next`, as a dying watcher would); idle until then."""

    def __init__(self, paths: list[str], links: frozenset[tuple[str, str]]) -> None:
        self.paths = paths
        self.links = links
        self.files: dict[str, tuple[int, int] | None] = {}
        self.polling: str | None = None
        self.batches: queue.Queue[Batch] = queue.Queue()
        self.closed = False

    def next(self, stop: threading.Event, *, debounce_ms: int, step_ms: int,
             timeout_ms: int) -> set[str] | None:
        try:
            batch = self.batches.get(timeout=timeout_ms / 1000)
        except queue.Empty:
            return None
        if isinstance(batch, Exception):
            raise batch
        return batch

    def close(self) -> None:
        self.closed = True


class Watchers:
    """The watcher factory: keeps every watcher the daemon made."""

    def __init__(self) -> None:
        self.made: list[FakeWatcher] = []

    def __call__(self, paths: list[str], links: frozenset[tuple[str, str]]) -> FakeWatcher:
        watcher = FakeWatcher(paths, links)
        self.made.append(watcher)
        return watcher

    @property
    def current(self) -> FakeWatcher:
        return self.made[-1]


def page_paths(db: Path) -> list[str]:
    return [path for (path,) in rows(db, "SELECT path FROM pages ORDER BY path")]


def daemon(vault: Path, tmp_path: Path, watchers: Watchers) -> RunningDaemon:
    # Idle wake-ups every 50 ms: the loop's timers are seen quickly.
    return RunningDaemon(vault, tmp_path / "m.db", watcher=watchers, idle_wakeup_ms=50)


def test_the_daemon_applies_what_the_watcher_reports_and_only_that(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    watchers = Watchers()
    with daemon(vault, tmp_path, watchers) as running:
        db = running.config.db
        assert watchers.made[0].paths == [str(vault)]
        assert page_paths(db) == ["a.md"]  # the first reconcile
        (vault / "b.md").write_text("# B")
        (vault / "c.md").write_text("# C")  # written, never reported
        watchers.current.batches.put({str(vault / "b.md")})
        wait_for(lambda: page_paths(db) == ["a.md", "b.md"], what="b.md")
        # No reconcile came between: c.md waits for one (the slow timer).
        watchers.current.batches.put({str(vault / "b.md")})
        wait_for(lambda: watchers.current.batches.empty(), what="the batch taken")
        assert "c.md" not in page_paths(db)
    assert watchers.current.closed


def test_a_watcher_that_dies_is_made_again_and_a_reconcile_covers_its_losses(
        make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    watchers = Watchers()
    with daemon(vault, tmp_path, watchers) as running:
        db = running.config.db
        (vault / "lost.md").write_text("# Lost")  # its event died with the watcher
        first = watchers.current
        first.batches.put(RuntimeError("the watcher died"))
        wait_for(lambda: len(watchers.made) == 2, what="a second watcher")
        assert first.closed
        wait_for(lambda: "lost.md" in page_paths(db), what="the reconcile after the error")


def test_a_burst_is_followed_by_a_reconcile_once_things_settle(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    watchers = Watchers()
    with daemon(vault, tmp_path, watchers) as running:
        db = running.config.db
        (vault / "unreported.md").write_text("# U")
        # A burst: events may have been dropped, so the daemon reconciles once idle.
        burst = {str(vault / f"gone{i}.md") for i in range(SETTLE_AFTER)}
        watchers.current.batches.put(burst)
        wait_for(lambda: "unreported.md" in page_paths(db), what="the reconcile after a burst")
        assert len(watchers.made) == 1  # a reconcile, not a new watcher


def test_a_small_batch_brings_no_reconcile(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    watchers = Watchers()
    with daemon(vault, tmp_path, watchers) as running:
        db = running.config.db
        (vault / "unreported.md").write_text("# U")
        watchers.current.batches.put({str(vault / f"gone{i}.md") for i in range(3)})
        watchers.current.batches.put({str(vault / "a.md")})
        wait_for(lambda: watchers.current.batches.empty(), what="the batches taken")
        running.stop.set()
        running.thread.join()
        assert "unreported.md" not in page_paths(db)


def test_an_event_on_the_vault_folder_itself_makes_a_new_watcher(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    watchers = Watchers()
    with daemon(vault, tmp_path, watchers) as running:
        db = running.config.db
        (vault / "b.md").write_text("# B")
        watchers.current.batches.put({str(vault)})
        wait_for(lambda: len(watchers.made) == 2, what="a new watcher")
        assert watchers.made[0].closed
        wait_for(lambda: "b.md" in page_paths(db), what="the reconcile with the new watcher")


@pytest.mark.parametrize("change", ["symlinks", "outside file"])
def test_a_watcher_made_for_other_symlinks_or_files_is_made_again(make_vault, tmp_path,
                                                                    change):
    vault = make_vault({"a.md": "# A"})
    watchers = Watchers()
    with daemon(vault, tmp_path, watchers):
        first = watchers.current
        # What the daemon finds after a batch differs from what the watcher was made
        # for: a symlink made or removed, or a followed file outside the vault replaced.
        if change == "symlinks":
            first.links = frozenset({("link.md", str(tmp_path / "elsewhere.md"))})
        else:
            first.files = {str(tmp_path / "outside.md"): (0, 0)}
        first.batches.put({str(vault / "a.md")})
        wait_for(lambda: len(watchers.made) == 2, what="a new watcher")
        assert first.closed and watchers.current.links == frozenset()


def test_a_failed_batch_is_retried_until_the_mirror_takes_it(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    watchers = Watchers()
    with daemon(vault, tmp_path, watchers) as running:
        db = running.config.db
        # A real refusal from SQLite (not a lock, not damage): every new page is refused.
        conn = sqlite3.connect(db)
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON pages "
                     "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        conn.commit()
        (vault / "b.md").write_text("# B")
        watchers.current.batches.put({str(vault / "b.md")})
        status = wait_for(lambda: rows(db, "SELECT state, error FROM daemon_status"
                                           " WHERE state = 'retrying'"),
                          what="the daemon retrying")
        assert "refused by the test" in status[0][1]
        (vault / "c.md").write_text("# C")  # not reported: the retry is a full reconcile
        conn.execute("DROP TRIGGER refuse")
        conn.commit()
        conn.close()
        wait_for(lambda: page_paths(db) == ["a.md", "b.md", "c.md"], what="the retry")
        wait_for(lambda: rows(db, "SELECT state, error FROM daemon_status")
                 == [("watching", None)], what="the error cleared")
        assert len(watchers.made) == 1


def short_of_inotify(paths: list[str], *, force_polling: bool,
                     ignore_permission_denied: bool) -> Notify:
    """watchfiles' Rust watcher on a machine whose inotify watches are used up."""
    if not force_polling:
        raise OSError("OS file watch limit reached. about [\"/vault\"]")
    return rust_notify(paths, force_polling=True,
                       ignore_permission_denied=ignore_permission_denied)


def test_a_watcher_short_of_inotify_polls_and_the_daemon_says_so(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    made: list[VaultWatcher] = []

    def polled(paths: list[str], links: frozenset[tuple[str, str]]) -> VaultWatcher:
        made.append(VaultWatcher(paths, links, notify=short_of_inotify))
        return made[-1]

    with RunningDaemon(vault, tmp_path / "m.db", watcher=polled) as running:
        assert made[0].polling is not None
        assert "fs.inotify.max_user_watches" in made[0].polling
        with sqlite3.connect(running.config.db) as conn:
            assert meta(conn).get(MetaKey.WATCH_POLLING) == made[0].polling
        (vault / "b.md").write_text("# B")  # the poller sees it
        wait_for(lambda: "b.md" in page_paths(running.config.db), what="b.md, polled")


def test_other_watcher_errors_are_not_taken_for_a_shortage(tmp_path):
    def broken(paths: list[str], *, force_polling: bool,
               ignore_permission_denied: bool) -> Notify:
        raise OSError("No such file or directory")

    with pytest.raises(OSError, match="No such file"):
        VaultWatcher([str(tmp_path / "nowhere")], frozenset(), notify=broken)
