"""`/api/events`: server-sent events from the mirror itself.

Every committed sync batch writes a `sync_log` row, and a metrics run changes meta
`metrics_computed_at` (core) or `heavy_computed_at` (communities, betweenness),
whichever process did it (`serve --watch`, `vaultsync watch`, `vaultsync sync`). So
each stream tails those on its own read-only connection: every
`interval` seconds it asks `PRAGMA data_version` (a counter in shared memory that moves
only when another connection commits) and reads the tables only when it moved. Reads
in WAL mode never block the writer.

Events:
    event: hello    data {last_id, metrics_computed_at, heavy_computed_at, live}   on connect
    event: live     data {live}   when that changes: a daemon keeps the mirror live (its
                                  lock held, its process running), or none does
    event: batch    data {id, at, origin, changed: [paths], removed: [paths], counts}
    event: metrics  data {computed_at, heavy_computed_at, graph_version, heavy_graph_version,
                          layout_computed_at, layout_graph_hash}   (the stored layout too)
Each batch carries `id:` (the sync_log id), so a reconnecting EventSource resumes after
the last batch it saw (Last-Event-ID). Comment lines every `heartbeat` seconds keep
proxies and dead-peer detection honest.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio

from .. import read
from ..lock import read_lock_state
from ..mirror import MetaKey, connect

POLL_INTERVAL = 0.15
HEARTBEAT = 15.0
LIVE_EVERY = 1.0  # seconds between checks that a daemon still keeps the mirror live


def format_event(event: str | None, data: Any, event_id: int | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in json.dumps(data).splitlines() or [""])
    return "\n".join(lines) + "\n\n"


def _metrics_at(conn: sqlite3.Connection) -> dict[str, str | None]:
    """When the core and the heavy metrics (communities, betweenness) and the layout last
    changed, and for which graph: the timestamps have one-second resolution, so two runs
    in one second are told apart by the version they describe."""
    m = read.meta(conn)
    return {"computed_at": m.get(MetaKey.METRICS_COMPUTED_AT),
            "heavy_computed_at": m.get(MetaKey.HEAVY_COMPUTED_AT),
            "graph_version": m.get(MetaKey.METRICS_GRAPH_VERSION),
            "heavy_graph_version": m.get(MetaKey.HEAVY_GRAPH_VERSION),
            "layout_computed_at": m.get(MetaKey.LAYOUT_COMPUTED_AT),
            "layout_graph_hash": m.get(MetaKey.LAYOUT_GRAPH_HASH)}


def _batches(conn: sqlite3.Connection, after: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, at, origin, added, updated, removed, renamed, changed_paths, removed_paths "
        "FROM sync_log WHERE id > ? ORDER BY id LIMIT 200", (after,)).fetchall()
    return [{"id": r[0], "at": r[1], "origin": r[2], "changed": json.loads(r[7]),
             "removed": json.loads(r[8]),
             "counts": {"added": r[3], "updated": r[4], "removed": r[5], "renamed": r[6]}}
            for r in rows]


class _Tail:
    """One client's view of the mirror: what it has been sent. Its reads run in a worker
    thread (SQLite calls block), never on the event loop."""

    def __init__(self, db: Path, last_id: int | None) -> None:
        self.conn = connect(db, readonly=True)
        if last_id is None:
            last_id = self.conn.execute(
                "SELECT coalesce(max(id), 0) FROM sync_log").fetchone()[0]
        self.last_id: int = last_id
        self.metrics_at = _metrics_at(self.conn)
        self.version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        self.pending = True  # a batch may have landed between the client's last event and now
        self.db = db
        self.live = self.is_live()
        self.live_checked = time.monotonic()

    def is_live(self) -> bool:
        """A daemon (`vaultsync watch`, or one in `serve --watch`) keeps the mirror."""
        status = read.daemon_status(self.conn, read_lock_state(self.db))
        return bool(status and status["alive"])

    def poll(self) -> list[str]:
        """The events since the last poll (nothing when no other connection committed)."""
        events: list[str] = []
        if time.monotonic() - self.live_checked >= LIVE_EVERY:
            # A daemon that stops or is killed commits nothing: asked on a timer.
            self.live_checked = time.monotonic()
            live = self.is_live()
            if live != self.live:
                self.live = live
                events.append(format_event("live", {"live": live}))
        now_version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if now_version == self.version and not self.pending:
            return events
        self.version, self.pending = now_version, False
        while True:
            batches = _batches(self.conn, self.last_id)
            for batch in batches:
                self.last_id = batch["id"]
                events.append(format_event("batch", batch, batch["id"]))
            if len(batches) < 200:
                break
        current = _metrics_at(self.conn)
        if current != self.metrics_at:
            self.metrics_at = current
            events.append(format_event("metrics", current))
        return events

    def close(self) -> None:
        self.conn.close()


async def event_stream(db: Path, *, last_id: int | None, stopping: threading.Event,
                       interval: float = POLL_INTERVAL, heartbeat: float = HEARTBEAT
                       ) -> AsyncIterator[str]:
    """SSE text for one client, until it goes away or the server stops."""
    tail = await anyio.to_thread.run_sync(_Tail, db, last_id)
    try:
        yield "retry: 2000\n\n"
        yield format_event("hello", {"last_id": tail.last_id,
                                     "metrics_computed_at": tail.metrics_at["computed_at"],
                                     "heavy_computed_at": tail.metrics_at["heavy_computed_at"],
                                     "live": tail.live})
        quiet_since = time.monotonic()
        while not stopping.is_set():
            events = await anyio.to_thread.run_sync(tail.poll)
            for event in events:
                yield event
            if events:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= heartbeat:
                quiet_since = time.monotonic()
                yield ": ping\n\n"
            await anyio.sleep(interval)
    finally:
        await anyio.to_thread.run_sync(tail.close)
