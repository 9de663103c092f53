"""`vaultsync.Vault`: the library's front door. The CLI, the HTTP API, the MCP server and
the Datasette launcher are doors onto it: they parse arguments and present answers; the
rules live here (or in the read layer it calls).

    >>> vault = vaultsync.Vault("vault")
    >>> vault.sync()                      # the mirror in line with the files
    >>> vault.report("central", limit=5).to_markdown()

Freshness is decided in one place: `prepare` (a first sync, then whether a daemon keeps
the mirror live) and `current_metrics` (reports and pages show current graph figures,
computed here when no daemon computes them).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from . import read
from .config import Config, load_config
from .mirror import MetaKey, MirrorError
from .read.answers import Graph, LocalGraph, Page, SearchResult, Status
from .read.reports import REPORTS, Report

if TYPE_CHECKING:
    import sqlite_utils

    from .graph import MetricsOnDemand
    from .sync import ProgressCallback, SyncReport

# Seconds to wait for a live daemon's core, then heavy metrics, once per graph version.
DAEMON_METRICS_WAIT = (3.0, 2.0)
_POLL = 0.05  # the daemon is another process: its commits are seen by polling meta


@dataclass(frozen=True)
class Liveness:
    """Who keeps the mirror in line with the vault, said once for every door."""

    live: bool  # a daemon applies every change
    pid: int | None  # that daemon's process, when one runs elsewhere
    in_process: bool  # the daemon runs in this process (`--watch`)
    standby: bool  # `--watch` beside a running daemon: this process takes over if it stops
    first_sync: SyncReport | None  # the sync made now because there was no mirror
    # Where a damaged mirror was moved before the first sync rebuilt it (said in
    # first_sync.warnings too).
    moved_aside: Path | None = None

    @property
    def description(self) -> str:
        if self.standby:
            return (f"live: kept by the running vaultsync watch, pid {self.pid}; "
                    "kept here if it stops")
        if self.live and not self.in_process:
            return f"live while the running vaultsync watch (pid {self.pid}) runs"
        if self.live:
            return "live: watching the vault"
        return "not live: add --watch, or run `vaultsync watch`, for live updates"


class Vault:
    """One vault and its mirror. `path` is the vault folder (default $VAULTSYNC_VAULT,
    else ./vault); `db` the mirror (default: one per vault in the user data dir);
    `config` a Config or a TOML settings file. Every answer reads the mirror read-only;
    `sync()` is the one call that writes it."""

    def __init__(self, path: str | Path | None = None, *, db: str | Path | None = None,
                 config: Config | str | Path | None = None,
                 metrics: MetricsOnDemand | None = None) -> None:
        if isinstance(config, Config):
            self.config = config
        else:
            self.config = load_config(path, db, config)
        # Long-running doors (serve, mcp) compute stale metrics in the background with a
        # bounded wait; a script or the CLI computes them before answering.
        self.metrics_on_demand = metrics
        self._waited_for: str | None = None  # graph version a live daemon was waited for
        self._checked: tuple[int, int, int] | None = None  # the mirror file found usable
        self._moved_aside: Path | None = None  # a damaged mirror moved, not yet rebuilt

    def __repr__(self) -> str:
        return f"Vault({str(self.config.vault)!r}, db={str(self.config.db)!r})"

    @property
    def path(self) -> Path:
        return self.config.vault

    @property
    def db_path(self) -> Path:
        return self.config.db

    # --- writing: the one call that does --------------------------------------------

    def sync(self, *, workers: int | None = None, progress: ProgressCallback | None = None,
             metrics: bool = False) -> SyncReport:
        """Bring the mirror in line with the vault, once. The mirror is checked first
        (`check_mirror`): another vault's or a newer schema is refused, a damaged file
        moved aside and rebuilt (said in the report's `warnings`). The graph metrics are
        made current when an answer needs them (a report, a page, `db`); `metrics=True`
        computes the core ones now."""
        self.check_mirror()
        return self._sync(workers=workers, progress=progress, metrics=metrics)

    def _sync(self, *, workers: int | None, progress: ProgressCallback | None,
              metrics: bool) -> SyncReport:
        from .sync import sync_vault

        report = sync_vault(self.config, workers=workers, progress=progress)
        aside, self._moved_aside = self._moved_aside, None
        self._checked = _file_key(self.db_path)  # SQLite just wrote it without complaint
        if aside is not None:
            report.warnings.insert(0, moved_aside_line(self.db_path, aside))
        if metrics:
            self._compute_metrics(heavy=False)
        return report

    @contextlib.contextmanager
    def rebuilding(self) -> Iterator[None]:
        """Discard the mirror, even another vault's, for the syncs inside to make it this
        vault's anew. The daemon lock is held throughout, so no daemon starts on the
        file half made; DaemonRunning when a daemon keeps the mirror."""
        from .lock import DaemonLock
        from .mirror import remove_mirror

        lock = DaemonLock(self.db_path)
        lock.acquire(quiet=True)
        try:
            remove_mirror(self.db_path)
            self._checked = self._moved_aside = None
            yield
        finally:
            lock.release()

    def check_mirror(self, *, repair: bool = True) -> Path | None:
        """Refuse (MirrorError, one line) a mirror this vault cannot use: another
        vault's, a newer schema, a damaged file. With `repair` a damaged file is moved
        aside instead (kept, as `<db>.damaged-<time>`), for the next sync to rebuild it
        from the vault: where it went, or None. `sync` and `prepare` call it; so does
        every door before it reads."""
        from .mirror import check_mirror, repair_mirror

        # The check reads the whole file: a door that checked before binding its port
        # does not pay for it again in `prepare`, unless the file changed meanwhile.
        if self._checked is not None and self._checked == _file_key(self.db_path):
            return None
        if repair:
            aside = repair_mirror(self.db_path, self.path)
            self._moved_aside = aside or self._moved_aside  # said by the next sync
        else:
            check_mirror(self.db_path, self.path)
            aside = None
        self._checked = _file_key(self.db_path)
        return aside

    @property
    def synced(self) -> bool:
        """The mirror exists and a sync has filled it."""
        if not self.db_path.exists():
            return False
        with read.open_mirror(self.db_path) as conn:
            return read.meta(conn).get(MetaKey.LAST_SYNC_AT) is not None

    def prepare(self, *, watch: bool = False, workers: int | None = None,
                progress: ProgressCallback | None = None) -> Liveness:
        """What every long-running door does first: check the mirror (`check_mirror`),
        sync when it was never synced, then ask whether a daemon already keeps it live.
        With `watch`, the caller runs a daemon in its own process unless one runs
        already (`Liveness.in_process`)."""
        self.check_mirror()
        aside = self._moved_aside
        # A first sync computes the core metrics too: every door shows them at once.
        first = None if self.synced else self._sync(workers=workers, progress=progress,
                                                    metrics=True)
        with read.open_mirror(self.db_path) as conn:
            daemon = read.daemon_status(conn) or {}
        running = bool(daemon.get("alive"))
        return Liveness(live=running or watch, pid=daemon.get("pid") if running else None,
                        in_process=watch and not running, standby=watch and running,
                        first_sync=first, moved_aside=aside)

    # --- reading ---------------------------------------------------------------------

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A short read-only connection to the mirror (MirrorMissing when there is none)."""
        with read.open_mirror(self.db_path) as conn:
            yield conn

    @property
    def db(self) -> sqlite_utils.Database:
        """The mirror as a read-only sqlite-utils Database, its core graph metrics
        (page_metrics, central_pages) current first: SQL sees the figures of the graph
        as it is."""
        import sqlite_utils

        from .mirror import connect

        if not self.db_path.exists():
            raise read.MirrorMissing(f"no mirror of {self.path} at {self.db_path} yet: "
                                     f"run `vaultsync sync {self.path}` first")
        try:
            with self.connection() as conn:
                self.current_metrics(conn, heavy=False)
        except (OSError, sqlite3.Error, MirrorError) as exc:
            # A mirror this process may not write is still read, as it is.
            warnings.warn(f"graph metrics not updated: {exc}", stacklevel=2)
        return sqlite_utils.Database(connect(self.db_path, readonly=True),
                                     recursive_triggers=False)

    def current_metrics(self, conn: sqlite3.Connection, *, heavy: bool = True,
                        wait_for_daemon: bool = True) -> None:
        """Before an answer that shows graph metrics: make them current. A live daemon
        recomputes them a moment after each batch, so wait briefly for it (once per
        graph version; `wait_for_daemon` False leaves that to the event stream);
        otherwise compute them: in the background with a bounded wait for a server,
        before answering for a script or the CLI."""
        state = read.metrics_state(conn)
        # A server also keeps the graph view's stored layout current.
        layout = self.metrics_on_demand is None or state.layout_current
        if state.core_current and (state.heavy_current or not heavy) and layout:
            return
        daemon = read.daemon_status(conn)
        if daemon and daemon["alive"]:
            if wait_for_daemon and state.graph_version != self._waited_for:
                self._wait_for_daemon(conn, heavy)
            return
        if self.metrics_on_demand is not None:
            self.metrics_on_demand.ensure(conn)
        else:
            self._compute_metrics(heavy=heavy)

    def _wait_for_daemon(self, conn: sqlite3.Connection, heavy: bool) -> None:
        fields = ("core_current", "heavy_current") if heavy else ("core_current",)
        version = read.metrics_state(conn).graph_version
        for name, seconds in zip(fields, DAEMON_METRICS_WAIT, strict=False):
            deadline = time.monotonic() + seconds
            while not getattr(read.metrics_state(conn), name) and \
                    time.monotonic() < deadline:
                time.sleep(_POLL)
        if not read.metrics_state(conn).heavy_current:
            self._waited_for = version  # a daemon with --no-metrics: wait once only

    def _migrate(self) -> None:
        """A mirror of an older schema is migrated before a report reads it (a report
        may write the metrics anyway); the read-only answers read it as it is."""
        from .mirror import SCHEMA_VERSION, Mirror

        with self.connection() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            Mirror(self.db_path).close()

    def _compute_metrics(self, *, heavy: bool) -> None:
        from .graph import ensure_metrics
        from .mirror import Mirror

        with Mirror(self.db_path) as mirror:
            ensure_metrics(mirror, heavy=heavy)

    def status(self) -> Status:
        """Is a daemon keeping the mirror live, what does it hold, are the metrics
        current."""
        from .lock import read_lock_state

        with self.connection() as conn:
            state = read.mirror_status(conn, read_lock_state(self.db_path))
        return cast(Status, {"vault": str(self.path), "db": str(self.db_path), **state})

    def page(self, ref: str, *, body: bool = False) -> Page:
        """One page, found by a path, a title, an alias or a link as written
        (`[[Name#Heading|shown]]`), by the vault's link rules; NotFound (naming the
        candidates when two fit equally) otherwise."""
        with self.connection() as conn:
            found = find_page(conn, ref)
            self.current_metrics(conn, heavy=False)
            data = read.page(conn, found["path"], body=body)
        data["resolved_from"] = found["link"]
        return data

    def report(self, name: str, kind: str | None = None, limit: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> Report:
        """Report `name` (see read.REPORTS) with current metrics; `kind` keeps pages of
        one kind; `limit` cuts the rows (summary: the top entries per section).
        `progress(done, total)` hears of a report that reads every page
        (unlinked-mentions)."""
        if name not in REPORTS:
            raise read.BadRequest(f"no report named {name!r}; choose from "
                                  f"{', '.join(REPORTS)}")
        self._migrate()
        with self.connection() as conn:
            self.current_metrics(conn, heavy=REPORTS[name].heavy)
            return read.run_report(conn, name, kind=kind, limit=limit, progress=progress)

    def stale_pages(self, name: str) -> int:
        """How many pages' graph metrics `report(name)` computes before answering: 0
        when they are current (a door shows a spinner otherwise)."""
        with self.connection() as conn:
            state = read.metrics_state(conn)
            heavy = name in REPORTS and REPORTS[name].heavy
            if state.core_current and (state.heavy_current or not heavy):
                return 0
            return read.counts(conn)["pages"]

    def search(self, query: str, *, limit: int = 20) -> SearchResult:
        """Pages ranked as a person would: titles and aliases, full-text relevance
        (FTS5 bm25) and the graph (PageRank, citations), each hit saying why."""
        with self.connection() as conn:
            self.current_metrics(conn, heavy=False)
            return read.search(conn, query, limit=limit)

    def changes(self, *, cursor: int | None = None, since: str | None = None
                ) -> read.Changes:
        """What changed since batch `cursor` (an earlier answer's `cursor`) or since
        time `since` (UTC, ISO 8601): pages added, edited, renamed and removed, from
        the mirror's sync_log (its last 1,000 batches: `complete` is False, with a
        note, when the cursor or time is older than that)."""
        with self.connection() as conn:
            return read.changes(conn, cursor=cursor, since=since)

    def unlinked_mentions(self, ref: str, *, limit: int = 50) -> read.UnlinkedMentions:
        """Pages that name this page (its title or an alias: whole words, any case,
        outside code, math, comments and links) without linking to it, as Obsidian's
        backlinks pane lists them: each mention's page, line and a snippet (the mention
        between ⟦ and ⟧). `ref` is what a person types (see `page`)."""
        with self.connection() as conn:
            found = find_page(conn, ref)
            return read.unlinked_mentions(conn, found["path"], limit=limit)

    def related(self, ref: str, *, limit: int = 10) -> read.RelatedPages:
        """Pages likely to deserve a link from or to this one, by the graph: not
        linked either way, but cited by the same sources or linked with the same pages
        (Adamic–Adar), best first, each with the reason in words."""
        with self.connection() as conn:
            found = find_page(conn, ref)
            return read.related(conn, found["path"], limit=limit)

    def neighbors(self, ref: str, *, depth: int = 1, direction: str = "both",
                  include: tuple[str, ...] = ()) -> LocalGraph:
        """The local graph around a page (as Obsidian's local graph): nodes and links."""
        with self.connection() as conn:
            found = find_page(conn, ref)
            self.current_metrics(conn, heavy=False)
            return cast(LocalGraph, read.local_graph(
                conn, found["path"], depth=depth, direction=direction, include=include))

    def graph(self, *, kinds: list[str] | None = None, tags: list[str] | None = None,
              min_pagerank: float | None = None, include: tuple[str, ...] = (),
              limit: int | None = None) -> Graph:
        """The whole graph as node-link data (the graph view's), with current metrics."""
        with self.connection() as conn:
            self.current_metrics(conn)
            return cast(Graph, read.graph(conn, kinds=kinds or [], tags=tags or [],
                                          min_pagerank=min_pagerank, include=include,
                                          limit=limit))


def _file_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def moved_aside_line(db: Path, aside: Path) -> str:
    return (f"vaultsync: the mirror {db} was damaged; moved it to {aside} and rebuilt it "
            "from the vault")


def open(path: str | Path | None = None, *, db: str | Path | None = None,  # noqa: A001
         config: Config | str | Path | None = None) -> Vault:
    """`Vault(path, db=..., config=...)`."""
    return Vault(path, db=db, config=config)


def find_page(conn: sqlite3.Connection, ref: str) -> read.FoundPage:
    """The page `ref` names: a path or a link by the vault's link rules
    (read.find_page); failing those, the one page whose title or alias it is. When two
    pages have that title or alias, NotFound names them."""
    try:
        return read.find_page(conn, ref)
    except read.NotFound:
        name = read.link_target(ref)
        named = read.pages_named(conn, ref.strip() if name is None else name)
        if len(named) != 1:
            raise
    pid, path = read.page_id(conn, named[0])
    return {"id": pid, "path": path, "link": name}
