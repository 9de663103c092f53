"""The one scheduler that keeps a mirror's graph figures current: the watch daemon
notifies it after each batch, and `serve` and the MCP server ask it for figures on
demand when no daemon keeps the mirror.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..mirror import Mirror, connect, is_damage
from ..read import daemon_status, metrics_state
from .metrics import compute_core_metrics, compute_heavy_metrics, compute_layout

log = logging.getLogger("vaultsync.graph")


class MetricsScheduler:
    """Keeps a mirror's metrics current, in two worker threads.

    `notify()` after each committed batch. Once batches settle (no notify for
    `debounce` seconds) the core metrics are recomputed in one thread; then the heavy
    ones in a second thread, which never blocks syncing or the core metrics, and after
    them, in the same thread, the graph view's stored layout. A heavy run whose graph
    changed meanwhile (a later core run saw another structure) is abandoned and started
    again on the settled graph. At most one computation of each kind is in flight. Each
    thread opens its own Mirror(db_path). `on_done("core" | "heavy" | "layout")` is
    called from the worker threads after each write. `ensure()` asks for current
    figures now and waits for them a bounded time.
    """

    def __init__(self, db_path: Path, *, debounce: float = 0.3,
                 on_done: Callable[[str], None] | None = None, seed: int = 42,
                 heavy: bool = True) -> None:
        self.db_path = Path(db_path)
        self.debounce = debounce
        self.on_done = on_done
        self.seed = seed
        self.heavy = heavy
        self.last_error: BaseException | None = None
        self._cond = threading.Condition()
        self._pending = False
        self._last_notify = 0.0
        self._heavy_wanted = False
        self._stopping = False
        self._latest_hash: str | None = None  # structure the last core run saw
        self._busy = 0  # computations under way
        self._passes = {"core": 0, "heavy": 0}  # loop passes finished, for ensure()
        self._threads = [
            threading.Thread(target=self._core_loop, name="vaultsync-metrics-core", daemon=True)]
        if heavy:
            self._threads.append(threading.Thread(
                target=self._heavy_loop, name="vaultsync-metrics-heavy", daemon=True))
        for thread in self._threads:
            thread.start()

    def notify(self, *, now: bool = False) -> None:
        """A batch was committed: recompute once things settle (`now`: at once). Never
        blocks."""
        with self._cond:
            self._pending = True
            self._last_notify = float("-inf") if now else time.monotonic()
            self._cond.notify_all()

    def ensure(self, *, wait: float, heavy_wait: float) -> None:
        """Compute what is not current now: wait up to `wait` seconds for the core
        metrics, then up to `heavy_wait` more for the heavy ones and the layout (a small
        vault gets everything in the first answer; a big one gets communities later)."""
        with self._cond:
            core_before, heavy_before = self._passes["core"], self._passes["heavy"]
        conn = connect(self.db_path, readonly=True)
        try:
            state = metrics_state(conn)
        finally:
            conn.close()
        if state.core_current and state.heavy_current and state.layout_current:
            return
        self.notify(now=True)
        with self._cond:
            if not state.core_current:
                self._cond.wait_for(lambda: self._stopping or
                                    self._passes["core"] > core_before, wait)
            if self.heavy:
                self._cond.wait_for(lambda: self._stopping or self._passes["heavy"] >
                                    heavy_before or not (self._pending or self._heavy_wanted
                                                         or self._busy), heavy_wait)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop both threads (a heavy run is abandoned at its next step)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    @property
    def busy(self) -> bool:
        """A computation is pending or under way."""
        with self._cond:
            return bool(self._pending or self._heavy_wanted or self._busy)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is pending or under way; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._stopping or not (self._pending or self._heavy_wanted
                                               or self._busy), timeout)

    def _finished(self, kind: str) -> None:
        with self._cond:
            self._busy -= 1
            self._passes[kind] += 1
            self._cond.notify_all()

    def _done(self, kind: str) -> None:
        if self.on_done is not None:
            try:
                self.on_done(kind)
            except Exception:  # a callback's bug must not kill the scheduler
                log.exception("metrics on_done callback failed")

    def _wait_settled(self) -> bool:
        """Block until a notify has settled; False when stopping."""
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            while not self._stopping:
                remaining = self._last_notify + self.debounce - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._pending = False
            if self._stopping:
                return False
            self._busy += 1
            return True

    def _failed(self, what: str, exc: Exception, mirror: Mirror | None) -> None:
        """Log a failed computation and drop its connection: the next run reopens it."""
        self.last_error = exc
        if is_damage(exc):  # the daemon (or the next command) moves the file aside
            log.error("%s metrics failed: the mirror is damaged (%s)", what, exc)
        else:
            log.exception("%s metrics failed", what)
        if mirror is not None:
            mirror.close()

    def _core_loop(self) -> None:
        mirror: Mirror | None = None
        try:
            while self._wait_settled():
                try:
                    if mirror is None:
                        mirror = Mirror(self.db_path)
                    state = metrics_state(mirror.conn)
                    if not state.core_current:
                        summary = compute_core_metrics(mirror)
                        self._latest_hash = summary["graph_hash"]
                        self._done("core")
                        state = metrics_state(mirror.conn)
                    if self.heavy and not (state.heavy_current and state.layout_current):
                        with self._cond:
                            self._heavy_wanted = True
                            self._cond.notify_all()
                except Exception as exc:  # logged; the next notify tries again
                    self._failed("core", exc, mirror)
                    mirror = None
                finally:
                    self._finished("core")
        finally:
            if mirror is not None:
                mirror.close()

    def _heavy_loop(self) -> None:
        mirror: Mirror | None = None
        try:
            while True:
                with self._cond:
                    while not self._heavy_wanted and not self._stopping:
                        self._cond.wait()
                    if self._stopping:
                        return
                    self._heavy_wanted = False
                    self._busy += 1
                    seen_at_start = self._latest_hash

                def abandon(digest: str, seen: str | None = seen_at_start) -> bool:
                    latest = self._latest_hash
                    return self._stopping or (latest != seen and latest != digest)

                try:
                    if mirror is None:
                        mirror = Mirror(self.db_path)
                    if not metrics_state(mirror.conn).heavy_current:
                        result = compute_heavy_metrics(mirror, seed=self.seed, cancel=abandon)
                        if not result["written"]:
                            log.info("heavy metrics abandoned: the graph changed")
                            continue
                        self._done("heavy")
                    # The graph view's stored positions follow the same graph.
                    if not self._stopping and not metrics_state(mirror.conn).layout_current:
                        compute_layout(mirror)
                        self._done("layout")
                except Exception as exc:
                    self._failed("heavy", exc, mirror)
                    mirror = None
                finally:
                    self._finished("heavy")
        finally:
            if mirror is not None:
                mirror.close()


class MetricsOnDemand:
    """Figures for readers (`serve`, `vaultsync mcp`) when no daemon keeps the mirror:
    the same MetricsScheduler, started on first need and asked with `ensure`. A live
    daemon recomputes after its own batches, so then nothing is started here."""

    def __init__(self, db: Path, *, enabled: bool = True, wait: float = 10.0,
                 heavy_wait: float = 3.0) -> None:
        self.db = Path(db)
        self.enabled = enabled
        self.wait = wait
        self.heavy_wait = heavy_wait
        self._lock = threading.Lock()
        self._scheduler: MetricsScheduler | None = None

    def ensure(self, conn: sqlite3.Connection) -> None:
        """Called before answering with metrics; returns at once when they are current.
        Waits up to `wait` seconds for the core metrics and `heavy_wait` more for the
        heavy ones; a bigger vault gets those later (the event stream says when)."""
        if not self.enabled:
            return
        state = metrics_state(conn)
        if state.core_current and state.heavy_current and state.layout_current:
            return
        status = daemon_status(conn)
        if status and status["alive"]:
            return  # the daemon recomputes after its batches; don't fight it for the lock
        with self._lock:
            if self._scheduler is None:
                self._scheduler = MetricsScheduler(self.db, debounce=0.0)
            scheduler = self._scheduler
        scheduler.ensure(wait=self.wait, heavy_wait=self.heavy_wait)

    @property
    def computing(self) -> bool:
        return self._scheduler is not None and self._scheduler.busy

    @property
    def last_error(self) -> str | None:
        error = self._scheduler.last_error if self._scheduler is not None else None
        return None if error is None else f"{type(error).__name__}: {error}"

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()
