"""The daemon: keep the mirror live while the vault is edited.

A full reconcile first (the same `Syncer.sync` as `vaultsync sync`), then
watchfiles on the vault. Each batch of events is a set of dirty paths; the
syncer looks at the disk for each (an event's kind is never trusted) and
writes the batch in one transaction. Lost events are covered by reconciles:
at start, after any watcher error, after a burst, and on a slow timer.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import watchfiles

from .config import Config
from .mirror import Mirror
from .sync import Syncer, SyncReport

log = logging.getLogger("vaultsync.watch")

# A batch this large is cheaper (and safer: events may have been dropped) as a full scan.
FULL_SCAN_BATCH = 1000
# After a burst of this many paths, reconcile once things settle.
SETTLE_AFTER = 200


class DaemonRunning(Exception):
    """Another daemon already keeps this mirror."""


class DaemonLock:
    """One daemon per database: an flock on `<db>.lock`, beside the mirror, outside the vault.
    The kernel drops the lock when the process dies, even by SIGKILL."""

    def __init__(self, db: Path) -> None:
        self.path = Path(str(db) + ".lock")
        self._fh: Any = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held for the daemon's life
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise DaemonRunning(
                f"another vaultsync watch is already keeping {self.path.with_suffix('')} "
                f"({holder}); stop it first"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}, started "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


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
    ) -> None:
        self.config = config
        self.on_batch = on_batch
        self.metrics = metrics
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.reconcile_every = reconcile_every
        self.idle_wakeup_ms = idle_wakeup_ms
        self.ready = threading.Event()  # set once the first reconcile is committed
        self._scheduler: Any = None
        self._started = _now()

    # --- the loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Block until `stop` is set. Raises DaemonRunning or MirrorError at start only."""
        lock = DaemonLock(self.config.db)
        lock.acquire()
        mirror = None
        try:
            mirror = Mirror(self.config.db)
            self.mirror = mirror
            # Parsing processes are forked only while this process has one thread (the
            # first reconcile of `vaultsync watch`): forking beside the watcher's and the
            # metrics' threads could copy a lock some thread holds.
            alone = threading.active_count() == 1
            self.syncer = Syncer(self.config, mirror, workers=None if alone else 1)
            self._status(state="starting", pid=os.getpid(), host=socket.gethostname(),
                         started_at=self._started)
            self._watch_until(stop)
        finally:
            if self._scheduler is not None:
                self._scheduler.stop()
            if mirror is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._status(state="stopped")
                mirror.close()
            lock.release()

    def _watch_until(self, stop: threading.Event) -> None:
        vault = self.config.vault
        waiting_logged = False
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
            self._apply(None, events=0, why="reconcile", stop=stop)
            self.syncer.workers = 1
            if not self.ready.is_set():
                self._start_metrics()
            self.ready.set()
            self._status(state="watching")
            try:
                self._consume(stop)
            except Exception as exc:  # the watcher died: reconcile and watch again
                if stop.is_set():
                    break
                log.warning("watcher error (%s: %s); reconciling", type(exc).__name__, exc)
                stop.wait(0.5)

    def _consume(self, stop: threading.Event) -> None:
        vault = self.config.vault
        prefix = str(vault) + os.sep
        next_reconcile = time.monotonic() + self.reconcile_every
        settle = False

        def keep(change: watchfiles.Change, path: str) -> bool:
            # Folder events must pass (a renamed folder reports nothing for its files),
            # so filter by name only, never by extension.
            rel = path[len(prefix):] if path.startswith(prefix) else ""
            return not any(self.config.is_ignored_name(part) for part in rel.split(os.sep))

        for changes in watchfiles.watch(
            vault, watch_filter=keep, debounce=self.debounce_ms, step=self.step_ms,
            stop_event=stop, rust_timeout=self.idle_wakeup_ms, yield_on_timeout=True,
            raise_interrupt=False,
        ):
            if stop.is_set():
                return
            if not vault.is_dir():
                return  # the outer loop waits for it
            if not changes:  # idle wake-up: the slow timer and the post-burst settle
                if settle or time.monotonic() >= next_reconcile:
                    self._apply(None, events=0, why="reconcile", stop=stop)
                    next_reconcile = time.monotonic() + self.reconcile_every
                    settle = False
                continue
            paths = {p[len(prefix):].replace(os.sep, "/") for _, p in changes
                     if p.startswith(prefix)}
            if str(vault) in {p for _, p in changes}:
                paths = set()  # the root itself changed: scan everything
            if not paths or len(paths) >= FULL_SCAN_BATCH:
                self._apply(None, events=len(changes), why="burst", stop=stop)
            else:
                self._apply(sorted(paths), events=len(changes), why="batch", stop=stop)
            if len(changes) >= SETTLE_AFTER:
                settle = True

    # --- one batch ----------------------------------------------------------------------

    def _apply(self, paths: list[str] | None, *, events: int, why: str,
               stop: threading.Event) -> SyncReport | None:
        delay = 0.05
        while True:
            try:
                report = self.syncer.sync(paths, origin="watch")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    log.error("mirror error: %s; will reconcile", exc)
                    return self._recover(stop)
                log.warning("mirror is locked by another writer; retrying in %.1fs", delay)
            except FileNotFoundError:
                return None  # the vault vanished mid-batch: the loop waits for it
            except Exception as exc:  # never let one batch stop the daemon
                log.exception("batch failed (%s); will reconcile", exc)
                return self._recover(stop)
            if stop.wait(delay):
                return None
            delay = min(delay * 2, 5.0)
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
        return report

    def _recover(self, stop: threading.Event) -> None:
        """After an unexpected failure: re-read the mirror and reconcile, once."""
        with contextlib.suppress(Exception):
            self.mirror.conn.execute("ROLLBACK")
        try:
            self.syncer.reload()
            self.syncer.sync(None, origin="watch")
        except Exception as exc:
            log.error("reconcile after failure also failed: %s", exc)
        return None

    # --- status and metrics -------------------------------------------------------------

    def _status(self, **fields: object) -> None:
        for attempt in range(20):
            try:
                with self.mirror.transaction():
                    self.mirror.write_status(**fields)
                return
            except sqlite3.OperationalError:
                time.sleep(0.05 * (attempt + 1))
        log.warning("could not write daemon status")

    def _start_metrics(self) -> None:
        if not self.metrics:
            return
        try:
            from .graph import MetricsScheduler
        except ImportError:  # the graph module is optional at run time
            return
        self._scheduler = MetricsScheduler(self.config.db)
        self._scheduler.notify()


def read_status(db: Path) -> dict[str, Any] | None:
    """The daemon_status row, with `alive` checked against the process table."""
    from .mirror import connect, daemon_status

    if not db.exists():
        return None
    conn = connect(db, readonly=True)
    try:
        return daemon_status(conn)
    finally:
        conn.close()
