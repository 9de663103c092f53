"""The daemon: keep the mirror live while the vault is edited.

The watcher starts first, then a full reconcile (the same `Syncer.sync` as
`vaultsync sync`) runs while it collects events, so a file saved during the
reconcile is applied right after it. When there is no mirror yet, that reconcile
builds it aside and moves it into place whole, as `vaultsync sync` does
(sync.build_aside): a stop or a kill meanwhile leaves no mirror, never a part of one.
Each batch of events is a set of dirty paths; the syncer looks at the disk for each
(an event's kind is never trusted) and writes the batch in one transaction. Lost
events are covered by reconciles: at start, after any watcher error, after a burst,
and on a slow timer.

The daemon never stops on its own: a batch that fails (a full disk, a mirror
file deleted or replaced under it) is reported in the log and in `status`, and
retried with backoff until the mirror equals the vault again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config
from .lock import DaemonLock, DaemonRunning, read_lock_state
from .mirror import (
    WAL_SIZE_LIMIT,
    MetaKey,
    Mirror,
    MirrorError,
    is_damage,
    move_aside,
    remove_mirror,
    remove_stale_scratch,
    repair_mirror,
    unfinished_mirror,
)
from .read import building_status, daemon_status, open_mirror
from .scan import inode_at
from .sync import ProgressCallback, SyncCancelled, Syncer, SyncReport, build_aside
from .watcher import POLL_DELAY_MS, VaultWatcher, Watcher, WatcherFactory

if TYPE_CHECKING:
    from .graph import MetricsScheduler

log = logging.getLogger("vaultsync.watch")

# A batch this large is cheaper (and safer: events may have been dropped) as a full scan.
FULL_SCAN_BATCH = 1000
# After a burst of this many paths, reconcile once things settle.
SETTLE_AFTER = 200
# A standby daemon (`serve --watch` beside a running `vaultsync watch`) tries the lock
# this often.
STANDBY_CHECK = 1.0
# Retrying a failed batch: first after this many seconds, doubling up to the cap.
RETRY_FIRST, RETRY_CAP = 0.5, 30.0


class WatcherRestart(Exception):  # noqa: N818 - a signal, not an error
    """The vault folder was replaced or its symlinks changed: watch it anew."""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"


def describe(report: SyncReport, events: int) -> str:
    """The one log line per batch."""
    parts = [f"{n} {what}" for n, what in (
        (report.added, "added"), (report.updated, "updated"), (report.removed, "removed"),
        (report.renamed, "renamed"), (report.attachments_added, "attachments added"),
        (report.attachments_removed, "attachments removed"),
        (report.links_retargeted, "links re-resolved"), (report.skipped, "skipped"),
    ) if n]
    changed = ", ".join(parts) or "no change"
    return f"{changed} ({events} events) in {report.seconds * 1000:.0f} ms"


# How often a polled vault is reconciled (see _consume).
POLL_RECONCILE_EVERY = 10.0


class Daemon:
    """`vaultsync watch`: owns the mirror's writes until `stop` is set."""

    def __init__(
        self,
        config: Config,
        *,
        on_batch: Callable[[SyncReport], None] | None = None,
        metrics: bool = True,
        debounce_ms: int = 50,
        step_ms: int = 10,
        reconcile_every: float = 600.0,
        idle_wakeup_ms: int = 2000,
        progress: ProgressCallback | None = None,
        on_ready: Callable[[SyncReport | None], None] | None = None,
        watcher: WatcherFactory = VaultWatcher,
    ) -> None:
        self.config = config
        self.make_watcher = watcher
        self.on_batch = on_batch
        self.metrics = metrics
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.reconcile_every = reconcile_every
        self.idle_wakeup_ms = idle_wakeup_ms
        self.progress = progress  # told of the first reconcile's pages, then dropped
        self.on_ready = on_ready  # called once, with the first reconcile's report
        self.ready = threading.Event()  # set once the first reconcile is committed
        self._scheduler: MetricsScheduler | None = None
        self._started = _now()
        self._lock = DaemonLock(config.db)
        self._mirror: Mirror | None = None
        self._mirror_inode: tuple[int, int] | None = None
        self._syncer: Syncer | None = None
        self._failure: str | None = None  # why the last batch failed, until one succeeds
        self._failure_since: str | None = None
        self._retry_at = 0.0
        self._retry_delay = RETRY_FIRST
        self._polling: str | None = None  # why the vault is polled, not watched
        self._lock_state: dict[str, object] = {}
        self._polling_noted = False  # the meta says what _polling says

    @property
    def mirror(self) -> Mirror:
        assert self._mirror is not None, "the daemon is not running"
        return self._mirror

    @property
    def syncer(self) -> Syncer:
        assert self._syncer is not None, "the daemon is not running"
        return self._syncer

    # --- the loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Block until `stop` is set. Raises DaemonRunning or MirrorError at start only."""
        self._lock.acquire()
        try:
            # Checked once the lock is ours: a damaged file is moved aside, another
            # vault's mirror or a newer schema refused (MirrorError).
            aside = repair_mirror(self.config.db, self.config.vault, locked=True)
            if aside is not None:
                log.warning("the mirror %s was damaged; moved it to %s and rebuilding it "
                            "from the vault", self.config.db, aside)
            remove_stale_scratch(self.config.db)  # of a first build killed under this lock
            self._open_mirror()
            self._status(state="starting", pid=os.getpid(), host=socket.gethostname(),
                         started_at=self._started, error=None, error_since=None)
            self._watch_until(stop)
        finally:
            if self._scheduler is not None:
                self._scheduler.stop()
            self._status(state="stopped")  # the lock file's line even without a mirror
            if self._mirror is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._mirror.close()
            self._lock.release()

    def _open_mirror(self) -> None:
        """Open the mirror in place; when there is none yet, leave it to the next batch
        to build aside (_build). A file no sync completed is no mirror of the vault (a
        build killed in place by an older vaultsync): it goes, and is built anew."""
        db = self.config.db
        if unfinished_mirror(db):
            log.warning("the mirror %s was never completed; building it anew", db)
            remove_mirror(db)
        self._mirror = self._syncer = None
        self._mirror_inode = None
        if not db.exists():
            return
        self._mirror = Mirror(db)
        self._mirror_inode = inode_at(db)
        self._syncer = Syncer(self.config, self._mirror, workers=self._workers())

    def _workers(self) -> int | None:
        # Parsing processes are forked only while this process runs no other Python
        # thread (the first reconcile of `vaultsync watch`): forking beside the metrics'
        # threads could copy a lock one of them holds.
        alone = threading.active_count() == 1 and self._scheduler is None
        return None if alone else 1

    def _build(self, stop: threading.Event, progress: ProgressCallback | None
               ) -> tuple[SyncReport, bool]:
        """No mirror open: build it aside and move it into place whole (build_aside),
        then open it in place. A mirror made meanwhile by another process (a `vaultsync
        sync`) is opened and synced into instead. The report, and whether the mirror
        was built aside. A stop during the build (SyncCancelled) leaves no mirror."""
        db = self.config.db
        report = None
        self._open_mirror()
        if self._mirror is None:
            log.info("building the mirror %s aside; it appears there once complete", db)
            report = build_aside(self.config, workers=self._workers(), progress=progress,
                                 cancel=stop.is_set, origin="watch", replace_unfinished=True)
            self._open_mirror()
            if self._mirror is None:
                raise MirrorError(f"the mirror {db} was deleted as soon as it was made")
        # What the daemon said while there was no mirror went to the lock file only.
        self._status(**self._lock_state, pid=os.getpid(), host=socket.gethostname(),
                     started_at=self._started)
        self._write_polling()
        if self.ready.is_set() and self._scheduler is None:
            self._start_metrics()
        if report is None:
            return self.syncer.sync(None, origin="watch", cancel=stop.is_set,
                                    progress=progress), False
        return report, True

    def _watch_until(self, stop: threading.Event) -> None:
        vault = self.config.vault
        waiting_logged = False
        unwatched_reconcile = False
        while not stop.is_set():
            if not vault.is_dir():
                if not waiting_logged:
                    log.warning("vault folder %s is gone; waiting for it to come back", vault)
                    self._status(state="waiting for vault")
                    waiting_logged = True
                stop.wait(1.0)
                continue
            if waiting_logged:
                log.info("vault folder %s is back", vault)
                waiting_logged = False
            try:
                watcher = self.make_watcher(self._watch_paths(), self._followed_links())
            except (OSError, RuntimeError) as exc:
                log.warning("cannot watch %s (%s); trying again", vault, exc)
                if not unwatched_reconcile:  # the mirror is filled all the same
                    unwatched_reconcile = True
                    self._reconcile(stop)
                stop.wait(1.0)
                continue
            self._note_polling(watcher.polling)
            with contextlib.closing(watcher):
                root = inode_at(vault)
                first = self._reconcile(stop)
                if stop.is_set() and not self.ready.is_set():
                    return  # stopped before the first reconcile was committed: not ready
                if self._failure is None and watcher.links != self._followed_links():
                    continue  # the scan found other symlinks than the watcher follows
                if self._syncer is not None:
                    self._syncer.workers = 1  # threads start now (see _workers)
                if not self.ready.is_set():
                    if self._mirror is not None:  # else once it is built (_build)
                        self._start_metrics()
                    self.ready.set()
                    if self.on_ready is not None:
                        self.on_ready(first)
                try:
                    self._consume(watcher, root, stop)
                except WatcherRestart as why:
                    log.info("%s; watching it anew", why)
                except Exception as exc:  # the watcher died: watch again and reconcile
                    if stop.is_set():
                        break
                    log.warning("watcher error (%s: %s); reconciling", type(exc).__name__, exc)
                    stop.wait(0.2)

    def _note_polling(self, reason: str | None) -> None:
        """Say once, in the log, the mirror's meta and the lock file's state line
        (`status`, /api/status), that the vault is polled and how to fix it."""
        if reason == self._polling and self._polling_noted:
            return
        if reason is not None:
            log.warning("cannot watch %s with inotify: %s; polling it every %.0f s instead",
                        self.config.vault, reason, POLL_DELAY_MS / 1000)
        elif self._polling is not None:
            log.info("watching %s with inotify again", self.config.vault)
        self._polling, self._polling_noted = reason, True
        self._lock.write_state({**self._lock_state, "polling": reason})
        self._write_polling()

    def _write_polling(self) -> None:
        """The mirror's meta says why the vault is polled (no mirror yet: once built)."""
        reason = self._polling
        if self._mirror is None:
            return
        with contextlib.suppress(sqlite3.Error):
            with self.mirror.transaction():
                if reason is None:
                    self.mirror.conn.execute("DELETE FROM meta WHERE key = ?",
                                             (MetaKey.WATCH_POLLING.value,))
                else:
                    self.mirror.set_meta(MetaKey.WATCH_POLLING, reason)

    def _watch_paths(self) -> list[str]:
        """The vault, and the outside targets of followed symlinked files: the watcher
        follows the symlinked folders present when it is made, but cannot see a file
        beyond a link."""
        symlinks = self._syncer.symlinks if self._syncer is not None else None
        extra = sorted({info.target for info in (symlinks or {}).values()
                        if info.followed and not info.is_dir})
        return [str(self.config.vault), *extra]

    def _followed_links(self) -> frozenset[tuple[str, str]]:
        symlinks = self._syncer.symlinks if self._syncer is not None else None
        return frozenset((rel, info.target) for rel, info in (symlinks or {}).items()
                         if info.followed)

    def _consume(self, watcher: Watcher, root: tuple[int, int] | None,
                 stop: threading.Event) -> None:
        vault = self.config.vault
        vault_str = str(vault)
        # A polled vault misses a file written twice within a second (the poller compares
        # mtimes to the second); a reconcile every few seconds catches that, at little
        # more than the cost of polling itself.
        every = min(self.reconcile_every, POLL_RECONCILE_EVERY) if watcher.polling \
            else self.reconcile_every
        next_reconcile = time.monotonic() + every
        settle = False
        while not stop.is_set():
            timeout = self.idle_wakeup_ms
            if self._failure is not None:
                timeout = max(10, min(timeout, int((self._retry_at - time.monotonic()) * 1000)))
            changed = watcher.next(stop, debounce_ms=self.debounce_ms, step_ms=self.step_ms,
                                   timeout_ms=timeout)
            if stop.is_set():
                return
            if not vault.is_dir():
                return  # the outer loop waits for it
            if inode_at(vault) != root:
                raise WatcherRestart(f"the vault folder {vault} was replaced")
            if self._failure is not None:
                if time.monotonic() >= self._retry_at:
                    self._reconcile(stop)  # what changed meanwhile is in the full scan
                continue
            if changed is None:  # idle: the slow timer and the post-burst settle
                # A reader that held an old snapshot let the WAL grow; give it back
                # once no reader needs it (never waiting for one).
                if self._mirror is not None and self._mirror.wal_size() > WAL_SIZE_LIMIT:
                    self.mirror.checkpoint()
                if self._metrics_found_damage():
                    self._repair(self._scheduler.last_error)  # type: ignore[union-attr,arg-type]
                    settle = True
                if self._mirror_replaced() or settle or time.monotonic() >= next_reconcile:
                    self._reconcile(stop)
                    next_reconcile = time.monotonic() + every
                    settle = False
                continue
            if vault_str in changed:
                # The folder itself was deleted, moved or replaced (a new folder may even
                # get the old inode number): the watch on it is dead.
                raise WatcherRestart(f"the vault folder {vault} changed")
            if self._syncer is None:  # no mirror: the next batch builds it whole
                self._apply(None, events=len(changed), why="build", stop=stop)
                continue
            paths: set[str] = set()
            for path in changed:
                paths |= self.syncer.vault_paths(path)
            paths = {p for p in paths if p}
            if not paths or len(paths) >= FULL_SCAN_BATCH:
                self._apply(None, events=len(changed), why="burst", stop=stop)
            else:
                self._apply(sorted(paths), events=len(changed), why="batch", stop=stop)
            if len(changed) >= SETTLE_AFTER:
                settle = True
            if self._failure is None and watcher.links != self._followed_links():
                raise WatcherRestart("the vault's symlinks changed")
            if any(inode_at(path) != known for path, known in watcher.files.items()):
                raise WatcherRestart("a symlinked file outside the vault was replaced")

    def _reconcile(self, stop: threading.Event) -> SyncReport | None:
        report = self._apply(None, events=0, why="reconcile", stop=stop)
        if self._failure is None:
            self._status(state="watching")
        return report

    # --- one batch ----------------------------------------------------------------------

    def _mirror_replaced(self) -> bool:
        return inode_at(self.config.db) != self._mirror_inode

    def _reopen_mirror(self) -> None:
        """The mirror's file was deleted or replaced under the daemon: start on the file
        that is there now (a new one if none), and sync everything into it."""
        gone = not self.config.db.exists()
        log.warning("the mirror %s was %s; %s it and syncing the vault again", self.config.db,
                    "deleted" if gone else "replaced", "recreating" if gone else "reopening")
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        with contextlib.suppress(sqlite3.Error):
            self.mirror.close()
        self._mirror = self._syncer = None
        if not self._lock.still_ours():
            self._lock.release()
            self._lock = DaemonLock(self.config.db)
            self._lock.acquire()  # DaemonRunning if another daemon took the new file
        self._open_mirror()
        self._status(state="starting", pid=os.getpid(), host=socket.gethostname(),
                     started_at=self._started)
        if self.ready.is_set() and self._mirror is not None:  # else once built (_build)
            self._start_metrics()

    def _repair(self, exc: BaseException) -> None:
        """SQLite said the mirror is damaged: move it aside (kept) and start a new one,
        which the caller fills from the vault."""
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        with contextlib.suppress(Exception):
            self.mirror.close()
        self._mirror = self._syncer = None
        aside = move_aside(self.config.db)
        log.warning("the mirror %s is damaged (%s); moved it to %s and rebuilding it from "
                    "the vault", self.config.db, exc, aside)
        self._open_mirror()
        self._status(state="starting", pid=os.getpid(), host=socket.gethostname(),
                     started_at=self._started)
        if self.ready.is_set() and self._mirror is not None:  # else once built (_build)
            self._start_metrics()

    def _metrics_found_damage(self) -> bool:
        error = self._scheduler.last_error if self._scheduler is not None else None
        return error is not None and is_damage(error)

    def _apply(self, paths: list[str] | None, *, events: int, why: str,
               stop: threading.Event) -> SyncReport | None:
        delay = 0.05
        repaired = built = False
        while True:
            try:
                if self._mirror is not None and self._mirror_replaced():
                    self._reopen_mirror()
                    paths = None
                progress, self.progress = self.progress, None  # the first reconcile only
                if self._mirror is None:
                    report, built = self._build(stop, progress)
                else:
                    report = self.syncer.sync(paths, origin="watch", cancel=stop.is_set,
                                              progress=progress)
                break
            except SyncCancelled:
                return None  # stopping: the batch was rolled back, the next start redoes it
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    self._failed(exc)
                    return None
                log.warning("mirror is locked by another writer; retrying in %.1fs", delay)
            except FileNotFoundError:
                return None  # the vault vanished mid-batch: the loop waits for it
            except sqlite3.DatabaseError as exc:
                # A damaged scratch file is gone with the build (build_aside): retried.
                if repaired or not is_damage(exc) or self._mirror is None:
                    self._failed(exc)
                    return None
                self._repair(exc)
                repaired, paths = True, None
                continue
            except (DaemonRunning, Exception) as exc:  # never let one batch stop the daemon
                self._failed(exc)
                return None
            if stop.wait(delay):
                return None
            delay = min(delay * 2, 5.0)
        if self._failure is not None:
            log.warning("the mirror is written again (%s); it equals the vault", why)
            self._failure = self._failure_since = None
            self._retry_delay = RETRY_FIRST
            self._status(state="watching", error=None, error_since=None)
        if report.changed or why == "reconcile":
            level = logging.INFO if report.changed else logging.DEBUG
            log.log(level, "%s: %s", why, describe(report, events))
        if report.changed:
            self._status(last_batch_at=_now(), last_batch_ms=round(report.seconds * 1000, 2),
                         last_batch_changes=len(report.changed_paths) + len(report.removed_paths),
                         pages=report.pages, problems=report.problems)
            if self._scheduler is not None:
                self._scheduler.notify()
            if self.on_batch is not None:
                try:
                    self.on_batch(report)
                except Exception:
                    log.exception("on_batch callback failed")
        if built and not stop.is_set():
            # A page saved during the build aside may have been read before the save:
            # its event would bring it too, but a scan in place makes sure. (A mirror
            # another process made was synced in place just now: no second scan.)
            self._apply(None, events=0, why="reconcile", stop=stop)
        return report

    def _failed(self, exc: BaseException) -> None:
        """A batch failed: say why (once per distinct reason) and retry the whole vault
        later, with backoff: the events of the failed batch are gone with it."""
        with contextlib.suppress(Exception):
            if self._mirror is not None and self._mirror.conn.in_transaction:
                self._mirror.conn.execute("ROLLBACK")
        reason = f"{type(exc).__name__}: {exc}"
        if reason != self._failure:
            if isinstance(exc, sqlite3.Error | OSError | DaemonRunning):
                log.error("cannot write the mirror (%s); retrying", exc)
            else:
                log.exception("batch failed (%s); retrying", exc)
            self._failure_since = self._failure_since or _now()
        else:
            self._retry_delay = min(self._retry_delay * 2, RETRY_CAP)
        self._failure = reason
        self._retry_at = time.monotonic() + self._retry_delay
        self._status(state="retrying", error=reason, error_since=self._failure_since)
        with contextlib.suppress(Exception):
            if self._syncer is not None:
                self._syncer.reload()

    # --- status and metrics -------------------------------------------------------------

    def _status(self, **fields: object) -> None:
        """Write the daemon_status row (and the lock file's state line). A locked
        database is waited for briefly; any other failure is only logged: the status
        must never hold up a batch."""
        if "state" in fields:
            self._lock_state = {k: v for k, v in fields.items()
                                if k in ("state", "error", "error_since")}
            self._lock.write_state({**self._lock_state, "polling": self._polling})
        if self._mirror is None:
            return
        for attempt in range(5):
            try:
                with self._mirror.transaction():
                    self._mirror.write_status(**fields)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    log.debug("could not write daemon status: %s", exc)
                    return
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.Error as exc:
                log.debug("could not write daemon status: %s", exc)
                return
        log.warning("could not write daemon status")

    def _start_metrics(self) -> None:
        if not self.metrics:
            return
        from .graph import MetricsScheduler

        self._scheduler = MetricsScheduler(self.config.db)
        self._scheduler.notify()


def start_in_thread(config: Config, stop: threading.Event, say: Callable[[str], None],
                    on_error: Callable[[Exception], None] | None = None, *,
                    standby: bool = False,
                    on_ready: Callable[[], None] | None = None) -> threading.Thread:
    """The daemon in a thread of this process (`serve --watch`, `mcp --watch`) until `stop`
    is set. When it cannot start (an unreadable mirror, another daemon took the lock
    first), `say` gets one line and `on_error` the reason. With `standby`, another
    daemon holding the lock is waited for instead: when it stops (or dies), this one
    takes over within STANDBY_CHECK seconds. `on_ready` once the mirror is current."""

    def run() -> None:
        while not stop.is_set():
            try:
                Daemon(config, metrics=True,
                       on_ready=lambda _: on_ready() if on_ready is not None else None
                       ).run(stop)
                return
            except DaemonRunning as exc:
                if not standby:
                    if on_error is not None:
                        on_error(exc)
                    say(f"warning: --watch: the daemon did not start: {exc}")
                    return
                stop.wait(STANDBY_CHECK)
            except Exception as exc:
                if on_error is not None:
                    on_error(exc)
                say(f"warning: --watch: the daemon did not start: {exc}")
                return

    thread = threading.Thread(target=run, name="vaultsync-daemon", daemon=True)
    thread.start()
    return thread


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the database's write lock: waiting will do."""
    return "locked" in str(exc) or "busy" in str(exc)


def read_status(db: Path) -> dict[str, Any] | None:
    """The daemon_status row, with `alive` checked against the process table and the
    state a live daemon wrote in its lock file (read.daemon_status); with no mirror yet,
    the state of a daemon building it (read.building_status), else None."""
    if not db.exists():
        return building_status(read_lock_state(db))
    with open_mirror(db) as conn:
        return daemon_status(conn, read_lock_state(db))
