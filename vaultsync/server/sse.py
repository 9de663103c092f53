"""`/api/events`: server-sent events from the mirror itself.

Every committed sync batch writes a `sync_log` row, and a metrics run changes meta
`metrics_computed_at` (core) or `heavy_computed_at` (communities, betweenness),
whichever process did it (`serve --watch`, `vaultsync watch`, `vaultsync sync`). So
each stream tails those on its own read-only connection: every
`interval` seconds it asks `PRAGMA data_version` (a counter in shared memory that moves
only when another connection commits) and reads the tables only when it moved. Reads
in WAL mode never block the writer.

Events:
    event: hello    data {last_id, metrics_computed_at, heavy_computed_at}   on connect
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

from ..mirror import connect

POLL_INTERVAL = 0.15
HEARTBEAT = 15.0


def format_event(event: str | None, data: Any, event_id: int | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in json.dumps(data).splitlines() or [""])
    return "\n".join(lines) + "\n\n"


_METRICS_KEYS = ("metrics_computed_at", "metrics_graph_version", "heavy_computed_at",
                 "heavy_graph_version", "layout_computed_at", "layout_graph_hash")


def _metrics_at(conn: sqlite3.Connection) -> dict[str, str | None]:
    """When the core and the heavy metrics (communities, betweenness) last changed, and
    for which graph version: the timestamps have one-second resolution, so two runs in
    one second are told apart by the version they describe."""
    marks = ",".join("?" * len(_METRICS_KEYS))
    found = dict(conn.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})",
                              _METRICS_KEYS))
    return {"computed_at": found.get("metrics_computed_at"),
            "heavy_computed_at": found.get("heavy_computed_at"),
            "graph_version": found.get("metrics_graph_version"),
            "heavy_graph_version": found.get("heavy_graph_version"),
            "layout_computed_at": found.get("layout_computed_at"),
            "layout_graph_hash": found.get("layout_graph_hash")}


def _batches(conn: sqlite3.Connection, after: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, at, origin, added, updated, removed, renamed, changed_paths, removed_paths "
        "FROM sync_log WHERE id > ? ORDER BY id LIMIT 200", (after,)).fetchall()
    return [{"id": r[0], "at": r[1], "origin": r[2], "changed": json.loads(r[7]),
             "removed": json.loads(r[8]),
             "counts": {"added": r[3], "updated": r[4], "removed": r[5], "renamed": r[6]}}
            for r in rows]


async def event_stream(db: Path, *, last_id: int | None, stopping: threading.Event,
                       interval: float = POLL_INTERVAL, heartbeat: float = HEARTBEAT
                       ) -> AsyncIterator[str]:
    """SSE text for one client, until it goes away or the server stops."""
    conn = connect(db, readonly=True)
    try:
        if last_id is None:
            last_id = conn.execute("SELECT coalesce(max(id), 0) FROM sync_log").fetchone()[0]
        metrics_at = _metrics_at(conn)
        yield "retry: 2000\n\n"
        yield format_event("hello", {"last_id": last_id,
                                     "metrics_computed_at": metrics_at["computed_at"],
                                     "heavy_computed_at": metrics_at["heavy_computed_at"]})
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        # A batch may have landed between the client's last event and now.
        pending = True
        quiet_since = time.monotonic()
        while not stopping.is_set():
            now_version = conn.execute("PRAGMA data_version").fetchone()[0]
            if now_version != version or pending:
                version, pending = now_version, False
                while True:
                    batches = _batches(conn, last_id)
                    for batch in batches:
                        last_id = batch["id"]
                        yield format_event("batch", batch, batch["id"])
                    if len(batches) < 200:
                        break
                current = _metrics_at(conn)
                if current != metrics_at:
                    metrics_at = current
                    yield format_event("metrics", current)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= heartbeat:
                quiet_since = time.monotonic()
                yield ": ping\n\n"
            await anyio.sleep(interval)
    finally:
        conn.close()
