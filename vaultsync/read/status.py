"""How fresh the mirror is: its bookkeeping (`meta`), whether the graph metrics and the
stored layout describe the graph as it is, the daemon's status, the headline counts.

`metrics_state` is the one rule for "are the metrics current": the daemon's scheduler,
`vaultsync report`, the HTTP API and the MCP tools all ask it.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Mapping
from typing import Any, NamedTuple

from typing_extensions import TypedDict  # pydantic reads it for the OpenAPI schemas

from .. import platform
from ..mirror import MetaKey
from .base import rows


class Meta:
    """The `meta` table, read once: typed values for the keys the mirror keeps."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def get(self, key: MetaKey) -> str | None:
        return self.values.get(key.value)

    def number(self, key: MetaKey) -> float | None:
        """A numeric value; None when missing or not a number."""
        try:
            value = self.values.get(key.value)
            return float(value) if value not in (None, "") else None
        except ValueError:
            return None

    def integer(self, key: MetaKey) -> int | None:
        value = self.number(key)
        return None if value is None else int(value)

    @property
    def graph_version(self) -> str:
        """Bumped by every batch that changes files; "0" before the first."""
        return self.values.get(MetaKey.GRAPH_VERSION.value) or "0"


def meta(conn: sqlite3.Connection) -> Meta:
    return Meta(dict(conn.execute("SELECT key, value FROM meta")))


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


class MetricsState(NamedTuple):
    """Whether each kind of graph figure describes the graph as it is now. An empty
    vault has nothing to compute: everything is current."""

    graph_version: str
    metrics_graph_version: str | None  # the graph version the core metrics describe
    core_current: bool  # degrees, PageRank, components, citation counts
    heavy_current: bool  # betweenness and communities (of the core metrics' graph)
    layout_current: bool  # the graph view's stored positions (of the same graph)
    computed_at: str | None
    heavy_computed_at: str | None
    layout_computed_at: str | None
    layout_method: str | None
    layout_graph_hash: str | None

    def as_json(self) -> dict[str, Any]:
        """The API's `metrics` object (`fresh`, `heavy_fresh` and when)."""
        return {"computed_at": self.computed_at, "heavy_computed_at": self.heavy_computed_at,
                "graph_version": self.graph_version,
                "metrics_graph_version": self.metrics_graph_version,
                "fresh": self.core_current, "heavy_fresh": self.heavy_current}

    def layout_json(self) -> dict[str, Any]:
        """The API's `layout` object."""
        return {"fresh": self.layout_current, "computed_at": self.layout_computed_at,
                "method": self.layout_method, "graph_hash": self.layout_graph_hash}


def metrics_state(conn: sqlite3.Connection) -> MetricsState:
    """The core metrics are current when made for the graph version there is now; the
    heavy ones and the layout when made for the graph structure the core metrics
    describe (an edit that moves no link leaves them current)."""
    m = meta(conn)
    empty = not conn.execute("SELECT EXISTS (SELECT 1 FROM pages)").fetchone()[0]
    structure = m.get(MetaKey.METRICS_GRAPH_HASH)
    core = m.get(MetaKey.METRICS_GRAPH_VERSION) == m.graph_version
    heavy = core and m.get(MetaKey.HEAVY_GRAPH_HASH) == structure
    layout = core and has_table(conn, "page_layout") and \
        m.get(MetaKey.LAYOUT_GRAPH_HASH) == structure
    return MetricsState(
        graph_version=m.graph_version,
        metrics_graph_version=m.get(MetaKey.METRICS_GRAPH_VERSION),
        core_current=core or empty, heavy_current=heavy or empty,
        layout_current=layout or empty,
        computed_at=m.get(MetaKey.METRICS_COMPUTED_AT),
        heavy_computed_at=m.get(MetaKey.HEAVY_COMPUTED_AT),
        layout_computed_at=m.get(MetaKey.LAYOUT_COMPUTED_AT),
        layout_method=m.get(MetaKey.LAYOUT_METHOD),
        layout_graph_hash=m.get(MetaKey.LAYOUT_GRAPH_HASH))


class Counts(TypedDict):
    """The headline counts, named the same by every front end (`sync`, `status`, the
    `summary` report, the HTTP API's status, the MCP `status` tool)."""

    pages: int  # Markdown pages
    sources: int  # of them, source pages
    attachments: int  # other files of the vault
    links: int  # every link written in a page: to pages, to files, unresolved
    links_between_pages: int  # of them, resolved from one page to another
    edges: int  # distinct (linking page, linked page) pairs: the graph's edges
    unresolved: int  # links whose target no page or file answers
    problems: int  # rows of `problems`


COUNT_MEANINGS: dict[str, str] = {
    "pages": "Markdown pages",
    "sources": "source pages among them",
    "attachments": "other files of the vault",
    "links": "every link written in a page: to pages, to files, unresolved",
    "links_between_pages": "links resolved from one page to another",
    "edges": "distinct (linking page, linked page) pairs: the graph's edges",
    "unresolved": "links whose target no page or file answers",
    "problems": "pages or files indexed with a problem",
}


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """The cheap headline counts a sync reports (every batch of the daemon reads them)."""
    q = conn.execute
    return {
        "pages": q("SELECT count(*) FROM pages").fetchone()[0],
        "attachments": q("SELECT count(*) FROM attachments").fetchone()[0],
        "links": q("SELECT count(*) FROM links").fetchone()[0],
        "unresolved": q(f"SELECT count(*) FROM links WHERE {UNRESOLVED}").fetchone()[0],
        "problems": q("SELECT count(*) FROM problems").fetchone()[0],
    }


# A link to a heading of its own page (`[[#Heading]]`) has an empty target: not unresolved.
UNRESOLVED = "target_path IS NULL AND target != ''"


def headline_counts(conn: sqlite3.Connection) -> Counts:
    """Every headline count (see Counts)."""
    q = conn.execute
    cheap = counts(conn)
    return Counts(
        pages=cheap["pages"],
        sources=q("SELECT count(*) FROM pages WHERE is_source = 1").fetchone()[0],
        attachments=cheap["attachments"], links=cheap["links"],
        links_between_pages=q("SELECT count(*) FROM links WHERE target_id IS NOT NULL "
                              "AND target_id != source_id").fetchone()[0],
        edges=q("SELECT count(*) FROM page_edges").fetchone()[0],
        unresolved=cheap["unresolved"], problems=cheap["problems"])


def all_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """The headline counts, and the distinct tags and citation pairs (for `status`)."""
    return {**headline_counts(conn),
            "tags": conn.execute("SELECT count(DISTINCT tag) FROM tags").fetchone()[0],
            "citations": conn.execute("SELECT count(*) FROM citations").fetchone()[0]}


def pid_alive(pid: int) -> bool:
    return platform.pid_alive(pid)


def daemon_status(conn: sqlite3.Connection,
                  lock_state: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The daemon_status row, with `alive`: its pid runs on this host and it has not stopped.

    `lock_state` is what a live daemon last wrote in its lock file (lock.read_lock_state):
    its state and error win over the row's, as the lock file can be written on a full disk.
    """
    found = rows(conn, "SELECT * FROM daemon_status WHERE id = 1")
    if not found:
        return None
    status = found[0]
    status.pop("id", None)
    pid = status.get("pid")
    status["alive"] = bool(pid) and status.get("state") != "stopped" and \
        status.get("host") == socket.gethostname() and pid_alive(int(pid or 0))
    # `polling`: why a live daemon polls the vault rather than watching it (inotify's
    # limits), with the fix; None while it watches.
    status["polling"] = meta(conn).get(MetaKey.WATCH_POLLING) if status["alive"] else None
    if lock_state is not None and status["alive"] and lock_state.get("pid") == pid:
        status.update((k, lock_state[k]) for k in ("state", "error", "error_since",
                                                    "polling") if k in lock_state)
    return status


def building_status(lock_state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The status of a daemon building the first mirror, before there is a mirror file
    to hold its row: the state line of its lock file (lock.read_lock_state), with
    `alive` and `building` true; None when no live daemon wrote it."""
    if lock_state is None:
        return None
    pid = lock_state.get("pid")
    if type(pid) is not int or lock_state.get("state") == "stopped" or not pid_alive(pid):
        return None
    status: dict[str, Any] = {"pid": pid, "alive": True, "building": True}
    status.update((k, lock_state.get(k)) for k in ("state", "error", "error_since", "polling"))
    return status


def last_batch(conn: sqlite3.Connection) -> dict[str, Any] | None:
    found = rows(conn, "SELECT * FROM sync_log ORDER BY id DESC LIMIT 1")
    if not found:
        return None
    batch = found[0]
    batch["changed_paths"] = json.loads(batch["changed_paths"])
    batch["removed_paths"] = json.loads(batch["removed_paths"])
    for key in ("added_paths", "renamed_from"):  # NULL in rows from before schema 3
        if batch.get(key) is not None:
            batch[key] = json.loads(batch[key])
    return batch


class MirrorStatus(TypedDict):
    mirror: dict[str, Any]  # schema_version, graph_version, last_sync_at
    daemon: dict[str, Any] | None  # the daemon_status row, with `alive`
    alive: bool  # a daemon keeps the mirror live
    last_batch: dict[str, Any] | None  # the last sync_log row
    counts: dict[str, int]  # headline_counts(), and the distinct tags and citation pairs
    metrics: dict[str, Any]  # MetricsState.as_json()


def mirror_status(conn: sqlite3.Connection,
                  lock_state: Mapping[str, Any] | None = None) -> MirrorStatus:
    """How fresh the mirror is; `lock_state` as for daemon_status."""
    m = meta(conn)
    daemon = daemon_status(conn, lock_state)
    return {
        "mirror": {"schema_version": conn.execute("PRAGMA user_version").fetchone()[0],
                   "graph_version": m.get(MetaKey.GRAPH_VERSION),
                   "last_sync_at": m.get(MetaKey.LAST_SYNC_AT)},
        "daemon": daemon,
        "alive": bool(daemon and daemon["alive"]),
        "last_batch": last_batch(conn),
        "counts": all_counts(conn),
        "metrics": metrics_state(conn).as_json(),
    }


def dump(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The mirror's content keyed by paths, not row ids: two mirrors of the same files
    dump equal however they got there (the convergence property's yardstick)."""
    q = conn.execute
    out: dict[str, list[tuple[Any, ...]]] = {}
    out["pages"] = sorted(q(
        "SELECT path, title, kind, is_source, folder, frontmatter, body, size, hash FROM pages"
    ))
    out["attachments"] = sorted(q("SELECT path, size FROM attachments"))
    out["links"] = sorted(q(
        "SELECT p.path, l.target, l.anchor, l.display, l.embed, l.line, l.form, l.target_path, "
        "t.path, l.target_key, l.relative, l.anchor_ok FROM links l "
        "JOIN pages p ON p.id = l.source_id LEFT JOIN pages t ON t.id = l.target_id"
    ), key=repr)
    for table, cols in (("external_links", "url, display, line"), ("tags", "tag"),
                        ("aliases", "alias"), ("headings", "level, text, line"),
                        ("tasks", "line, status, done, text, block_id"),
                        ("blocks", "block_id, line"), ("fields", "key, value, line")):
        out[table] = sorted(q(
            f"SELECT p.path, {cols} FROM {table} x JOIN pages p ON p.id = x.page_id"
        ), key=repr)
    out["citations"] = sorted(q(
        "SELECT p.path, s.path FROM citations c JOIN pages p ON p.id = c.page_id "
        "JOIN pages s ON s.id = c.source_page_id"
    ))
    out["problems"] = sorted(q("SELECT path, line, message, severity FROM problems"), key=repr)
    out["canvases"] = sorted(q("SELECT path, title, nodes, edges FROM canvases"))
    for table, cols in (("canvas_nodes", "node_id, type, x, y, width, height, color, label, "
                                         "text, file, subpath, url"),
                        ("canvas_edges", "edge_id, from_node, from_side, from_end, to_node, "
                                         "to_side, to_end, color, label")):
        out[table] = sorted(q(
            f"SELECT c.path, {cols} FROM {table} x JOIN canvases c ON c.id = x.canvas_id"
        ), key=repr)
    out["canvas_links"] = sorted(q(
        "SELECT c.path, x.node_id, x.target, x.anchor, x.display, x.embed, x.form, "
        "x.target_path, t.path, x.relative FROM canvas_links x "
        "JOIN canvases c ON c.id = x.canvas_id LEFT JOIN pages t ON t.id = x.target_id"
    ), key=repr)
    return out
