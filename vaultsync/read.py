"""Reading the mirror: plain typed functions over a `sqlite3.Connection`.

`mirror.py` writes the mirror; this module reads it. The HTTP API, the reports and
the MCP server answer the same question through the same function here, so they
answer it the same way. Connections come from `mirror.connect(db, readonly=True)`.
"""

from __future__ import annotations

import json
import posixpath
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, TypedDict

from . import mirror
from .parse import parse_page
from .resolve import Resolver, is_page_path, name_key

Direction = Literal["in", "out", "both"]
DIRECTIONS: tuple[Direction, ...] = ("in", "out", "both")


class BadRequest(ValueError):
    """A parameter the caller got wrong; the message says what to change."""


class NotFound(LookupError):
    """No such page (or other named thing); the message says what was looked for."""


def chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """`items` in slices small enough for one `IN (?, ?, …)` list."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


def _rows(conn: sqlite3.Connection, sql: str, *params: object) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur]


# --- pages ----------------------------------------------------------------------------

def page_id(conn: sqlite3.Connection, path: str) -> tuple[int, str]:
    """(id, path) of the page at `path`; `.md` may be left off. NotFound otherwise."""
    for candidate in (path, path + ".md") if not path.lower().endswith(".md") else (path,):
        row = conn.execute("SELECT id, path FROM pages WHERE path = ?", (candidate,)).fetchone()
        if row:
            return int(row[0]), str(row[1])
    raise NotFound(f"no page at {path!r}")


class FoundPage(TypedDict):
    id: int
    path: str
    link: str | None  # the link target the page was resolved from; None for a path


def link_target(text: str) -> str | None:
    """The target of one link as it would be written in a page (`[[Name]]`,
    `![[Name#Heading|shown]]`, `[text](Name%20x.md)`), read by the page parser itself;
    None when `text` is not a single link."""
    links = parse_page("_.md", text.strip()).links
    if len(links) != 1:
        return None
    return links[0].target


def find_page(conn: sqlite3.Connection, ref: str) -> FoundPage:
    """The page `ref` names: a vault path (`.md` optional), else a link as written
    (`[[Name]]` or a bare `Name`), resolved by Obsidian's rules as if written in a page
    at the vault root (the sync engine's Resolver). NotFound says why, and names pages
    whose title or alias is `ref` (aliases never resolve a link, as in Obsidian)."""
    ref = ref.strip()
    if not ref:
        raise BadRequest("a page path or link is required")
    target = link_target(ref)
    if target is None:
        try:
            pid, path = page_id(conn, ref)
            return {"id": pid, "path": path, "link": None}
        except NotFound:
            target = ref
    if target == "":
        raise BadRequest(f"{ref!r} links to the page it is written in; name a page")
    # A link is matched by the file name it ends in: only files of that name can win.
    names = {name_key(target), name_key(posixpath.normpath(target.lstrip("/")))}
    resolver = Resolver(path for (path,) in conn.execute(
        "SELECT path FROM pages UNION ALL SELECT path FROM attachments")
        if name_key(path) in names)
    found = resolver.resolve(target, "")
    if found is not None and is_page_path(found):
        pid, path = page_id(conn, found)
        return {"id": pid, "path": path, "link": target}
    if found is not None:
        raise NotFound(f"{ref!r} names the attachment {found!r}, not a page")
    named = pages_named(conn, target)
    hint = ("; pages with that title or alias: " + ", ".join(named)) if named else ""
    raise NotFound(f"no page at {ref!r}, and no page that a link to {target!r} "
                   f"resolves to{hint}")


class PageSource(TypedDict):
    path: str
    frontmatter: dict[str, Any]
    body: str  # the text after the frontmatter block


def page_source(conn: sqlite3.Connection, path: str) -> PageSource:
    """The frontmatter and body of the page at `path` (`.md` optional)."""
    pid, real_path = page_id(conn, path)
    frontmatter, body = conn.execute("SELECT frontmatter, body FROM pages WHERE id = ?",
                                     (pid,)).fetchone()
    return {"path": real_path, "frontmatter": json.loads(frontmatter or "{}"), "body": body}


def pages_named(conn: sqlite3.Connection, name: str, limit: int = 5) -> list[str]:
    """Paths of pages whose title or an alias is `name`, case-insensitively."""
    return [p for (p,) in conn.execute(
        "SELECT DISTINCT p.path FROM pages p LEFT JOIN aliases a ON a.page_id = p.id "
        "WHERE lower(p.title) = lower(:n) OR lower(a.alias) = lower(:n) "
        "ORDER BY length(p.path), p.path LIMIT :limit", {"n": name.strip(), "limit": limit})]


# --- the local graph ------------------------------------------------------------------

def neighbourhood(conn: sqlite3.Connection, center: int, *, depth: int,
                  direction: str = "both") -> dict[int, int]:
    """Page id → its distance in links from `center` (0), for every page at most `depth`
    links away, following links out of pages, into them, or both (Obsidian's local
    graph)."""
    if direction not in DIRECTIONS:
        raise BadRequest(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    distance = {center: 0}
    frontier = [center]
    for level in range(1, depth + 1):
        found: set[int] = set()
        for chunk in chunks(frontier):
            marks = _marks(chunk)
            if direction in ("out", "both"):
                found.update(r[0] for r in conn.execute(
                    f"SELECT DISTINCT target_id FROM links WHERE source_id IN ({marks}) "
                    "AND target_id IS NOT NULL", chunk))
            if direction in ("in", "both"):
                found.update(r[0] for r in conn.execute(
                    f"SELECT DISTINCT source_id FROM links WHERE target_id IN ({marks})",
                    chunk))
        frontier = [i for i in found if i not in distance]
        for i in frontier:
            distance[i] = level
        if not frontier:
            break
    return distance


def edges(conn: sqlite3.Connection, ids: set[int] | None) -> list[tuple[int, int, int]]:
    """(source id, target id, weight) of the graph's edges (see the `page_edges` view):
    all of them, or those between pages in `ids`."""
    if ids is None:
        return [(s, t, w) for s, t, w in conn.execute(
            "SELECT source_id, target_id, weight FROM page_edges")]
    out = []
    for chunk in chunks(sorted(ids)):
        for s, t, w in conn.execute(
                "SELECT source_id, target_id, count(*) FROM links "
                f"WHERE source_id IN ({_marks(chunk)}) AND target_id IS NOT NULL "
                "AND target_id != source_id GROUP BY source_id, target_id", chunk):
            if t in ids:
                out.append((s, t, w))
    return out


class Neighbours(TypedDict):
    center: str
    ids: list[int]  # the pages kept: the center, then nearest first, most central first
    distance: dict[int, int]  # of the pages kept
    edges: list[tuple[int, int, int]]  # between the pages kept
    reached: int  # pages within `depth`, the center included


def neighbours(conn: sqlite3.Connection, path: str, *, depth: int, direction: str,
               limit: int) -> Neighbours:
    """The local graph of the page at `path`, cut to `limit` pages: nearest first, and
    among pages equally near, highest PageRank first (then by path)."""
    center, center_path = page_id(conn, path)
    distance = neighbourhood(conn, center, depth=depth, direction=direction)
    pagerank = _pageranks(conn, list(distance))
    ordered = sorted(distance, key=lambda i: (distance[i], -pagerank.get(i, 0.0), i != center,
                                              i))
    kept = ordered[:max(1, limit)]
    return {"center": center_path, "ids": kept,
            "distance": {i: distance[i] for i in kept},
            "edges": edges(conn, set(kept)), "reached": len(distance)}


def _pageranks(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for chunk in chunks(ids):
        out.update((i, pr) for i, pr in conn.execute(
            f"SELECT page_id, pagerank FROM page_metrics WHERE page_id IN ({_marks(chunk)}) "
            "AND pagerank IS NOT NULL", chunk))
    return out


# --- status ---------------------------------------------------------------------------

def meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {k: v for k, v in conn.execute("SELECT key, value FROM meta")}


def metrics_state(conn: sqlite3.Connection) -> dict[str, Any]:
    """When metrics were computed and whether they match the graph as it is now: `fresh`
    for the core ones (PageRank, components), `heavy_fresh` for communities and
    betweenness (the same tests as graph.metrics_stale and graph.heavy_stale)."""
    m = meta(conn)
    graph_version = m.get("graph_version")
    has_pages = conn.execute("SELECT EXISTS (SELECT 1 FROM pages)").fetchone()[0]
    fresh = m.get("metrics_graph_version") == (graph_version or "0")
    heavy_fresh = fresh and m.get("heavy_graph_hash") == m.get("metrics_graph_hash")
    return {"computed_at": m.get("metrics_computed_at"),
            "heavy_computed_at": m.get("heavy_computed_at"),
            "graph_version": graph_version,
            "metrics_graph_version": m.get("metrics_graph_version"),
            "fresh": bool(fresh or not has_pages),
            "heavy_fresh": bool(heavy_fresh or not has_pages)}


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        **mirror.counts(conn),
        "tags": conn.execute("SELECT count(DISTINCT tag) FROM tags").fetchone()[0],
        "citations": conn.execute("SELECT count(*) FROM citations").fetchone()[0],
    }


def daemon_status(conn: sqlite3.Connection) -> dict[str, Any] | None:
    return mirror.daemon_status(conn)


def last_batch(conn: sqlite3.Connection) -> dict[str, Any] | None:
    rows = _rows(conn, "SELECT * FROM sync_log ORDER BY id DESC LIMIT 1")
    if not rows:
        return None
    batch = rows[0]
    batch["changed_paths"] = json.loads(batch["changed_paths"])
    batch["removed_paths"] = json.loads(batch["removed_paths"])
    return batch


class MirrorStatus(TypedDict):
    mirror: dict[str, Any]  # schema_version, graph_version, last_sync_at
    daemon: dict[str, Any] | None  # the daemon_status row, with `alive`
    alive: bool  # a daemon keeps the mirror live
    last_batch: dict[str, Any] | None  # the last sync_log row
    counts: dict[str, int]
    metrics: dict[str, Any]  # metrics_state


def mirror_status(conn: sqlite3.Connection,
                  lock_state: Mapping[str, Any] | None = None) -> MirrorStatus:
    """How fresh the mirror is. `lock_state` is what a live daemon last wrote in its lock
    file (watch.read_lock_state): it wins over the row, as it can be written on a full
    disk."""
    m = meta(conn)
    daemon = daemon_status(conn)
    if daemon is not None and lock_state is not None and daemon.get("alive") and \
            lock_state.get("pid") == daemon.get("pid"):
        daemon.update((k, lock_state[k]) for k in ("state", "error", "error_since")
                      if k in lock_state)
    return {
        "mirror": {"schema_version": conn.execute("PRAGMA user_version").fetchone()[0],
                   "graph_version": m.get("graph_version"),
                   "last_sync_at": m.get("last_sync_at")},
        "daemon": daemon,
        "alive": bool(daemon and daemon["alive"]),
        "last_batch": last_batch(conn),
        "counts": counts(conn),
        "metrics": metrics_state(conn),
    }


# --- the schema -----------------------------------------------------------------------

# Not public API (README: "Columns not listed here are internal").
INTERNAL_TABLES = frozenset({"skipped_files"})
INTERNAL_COLUMNS = frozenset({(table, column) for table in ("pages", "attachments")
                              for column in ("mtime_ns", "ctime_ns", "inode")}
                             | {("links", "target_key")})

# One line per public table and view: what a row is (README has the whole story).
TABLE_NOTES = {
    "pages": "one row per Markdown page; path is vault-relative with .md; frontmatter is "
             "JSON (json_extract(frontmatter, '$.key')); kind from frontmatter type or top "
             "folder; is_source 0/1",
    "pages_fts": "FTS5 index over pages.title and pages.body; join pages on pages.id = "
                 "pages_fts.rowid, WHERE pages_fts MATCH 'words'",
    "links": "one row per link written in a page (source_id); target as written; "
             "target_path/target_id when it resolves (target_id only for pages); form "
             "wikilink/markdown/frontmatter; line is 1-based; anchor_ok 0 when the "
             "target page lacks the #heading or #^block",
    "attachments": "every non-Markdown file of the vault",
    "external_links": "URLs in pages",
    "tags": "distinct tags per page, without #, COLLATE NOCASE; nested tags keep their /",
    "aliases": "frontmatter aliases per page",
    "headings": "ATX headings per page: level 1-6, text, line",
    "tasks": "task list items per page: status (the character in the brackets), done 0/1, "
             "text, line, block_id",
    "blocks": "block ids (^id, stored without ^) per page, with their line",
    "fields": "Dataview inline fields (key:: value) per page; key COLLATE NOCASE",
    "citations": "distinct (non-source page, source page) pairs joined by a resolved link "
                 "either way",
    "problems": "why a file could not be read or parsed cleanly",
    "sync_log": "one row per committed batch (the last 1,000)",
    "daemon_status": "one row (id 1): is vaultsync watch alive, and what did it last do",
    "meta": "key/value bookkeeping: schema_version, vault, last_sync_at, graph_version, "
            "metrics state",
    "page_metrics": "graph figures per page: in_degree, out_degree, orphan, dead_end, "
                    "isolated, citation_count, pagerank (sums to 1), component (0 = "
                    "largest), betweenness, community (Louvain, 0 = largest)",
    "page_layout": "the graph view's stored position (x, y) of each page, computed per "
                   "graph structure",
    "page_edges": "the graph's edges: source_id, target_id, weight (number of links); no "
                  "self-links, attachments or unresolved links",
    "backlinks": "every resolved page link with both ends' paths and titles",
    "central_pages": "non-source pages with their metrics, by pagerank descending",
    "orphan_pages": "pages no other page links to",
    "dead_end_pages": "pages that link to no other page",
    "isolated_pages": "pages with no links in or out",
    "single_source_pages": "non-source pages with exactly one citation, and its source",
    "unsourced_pages": "non-source pages with no citation",
    "wanted_pages": "unresolved link targets, most referenced first",
    "broken_anchors": "links whose #heading or #^block the target page does not have",
}


class SchemaColumn(TypedDict):
    name: str
    type: str


class SchemaTable(TypedDict):
    name: str
    type: Literal["table", "view"]
    columns: list[SchemaColumn]
    note: str


def schema(conn: sqlite3.Connection) -> list[SchemaTable]:
    """The mirror's public tables and views with their columns (internal ones and the
    FTS index's shadow tables left out), tables first."""
    objects = conn.execute(
        "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall()
    virtual = [n for n, _, sql in objects if (sql or "").upper().startswith("CREATE VIRTUAL")]
    out: list[SchemaTable] = []
    for name, kind, _ in objects:
        if name in INTERNAL_TABLES or any(name.startswith(v + "_") for v in virtual):
            continue
        columns: list[SchemaColumn] = [
            {"name": col, "type": ctype or ""}
            for _, col, ctype, *_ in conn.execute(f'PRAGMA table_info("{name}")')
            if (name, col) not in INTERNAL_COLUMNS]
        out.append({"name": name, "type": "view" if kind == "view" else "table",
                    "columns": columns, "note": TABLE_NOTES.get(name, "")})
    return out


# --- read-only SQL --------------------------------------------------------------------

class QueryRefused(BadRequest):
    """SQL that would do more than read the mirror, or take too long."""


# sqlite3 authorizer action codes that only read.
_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                           sqlite3.SQLITE_RECURSIVE})
# PRAGMAs that describe the schema or read a value; any value given to one of the second
# kind would set it.
_SCHEMA_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "index_list",
                             "index_info", "index_xinfo", "foreign_key_list"})
_VALUE_PRAGMAS = frozenset({"user_version", "schema_version", "data_version", "page_count",
                            "page_size", "freelist_count", "encoding", "foreign_keys",
                            "collation_list", "function_list", "module_list", "pragma_list",
                            "compile_options"})
# Names of the authorizer's action codes, for the refusal message.
_ACTION_NAMES = {getattr(sqlite3, f"SQLITE_{name.replace(' ', '_')}"): name for name in (
    "CREATE INDEX", "CREATE TABLE", "CREATE TEMP INDEX", "CREATE TEMP TABLE",
    "CREATE TEMP TRIGGER", "CREATE TEMP VIEW", "CREATE TRIGGER", "CREATE VIEW", "DELETE",
    "DROP INDEX", "DROP TABLE", "DROP TEMP INDEX", "DROP TEMP TABLE", "DROP TEMP TRIGGER",
    "DROP TEMP VIEW", "DROP TRIGGER", "DROP VIEW", "INSERT", "TRANSACTION", "UPDATE",
    "ATTACH", "DETACH", "ALTER TABLE", "REINDEX", "ANALYZE", "CREATE VTABLE", "DROP VTABLE",
    "SAVEPOINT")}


class QueryResult(TypedDict):
    columns: list[str]
    rows: list[dict[str, Any]]
    more_rows: int  # rows after the last one returned (counted within the time limit)
    more_rows_exact: bool  # False when counting them ran out of time
    cut_cells: int  # text values cut to max_cell_chars


def run_query(conn: sqlite3.Connection, sql: str, *, limit: int, time_limit: float = 2.0,
              max_cell_chars: int = 1000) -> QueryResult:
    """Run one SQL statement that only reads, on `conn` (open it read-only: `mode=ro`).

    An authorizer allows reading tables and views, functions, and the PRAGMAs that
    describe the schema; it refuses everything else (INSERT, UPDATE, DELETE, DDL,
    ATTACH, transactions, a PRAGMA that sets a value) before the statement runs. More
    than one statement is refused, and a statement still running after `time_limit`
    seconds is interrupted. Rows come back as objects (a repeated column name gets a
    `_2` suffix), at most `limit` of them; long text is cut to `max_cell_chars` and a
    BLOB is described by its size."""
    sql = sql.strip()
    if not sql:
        raise QueryRefused("sql is required")
    if not sqlite3.complete_statement(sql):
        sql += ";"  # let SQLite report what is wrong with it
    refused: list[str] = []

    def authorize(action: int, arg1: str | None, arg2: str | None, db: str | None,
                  trigger: str | None) -> int:
        if action in _READ_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master" and db == "main":
            # SQLite asks this while it declares a virtual table's columns (FTS5, the
            # pragma_* functions) on first use. The statement never runs: SQLite refuses
            # any change to sqlite_master without writable_schema, which is refused here.
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and arg1 is not None:
            name = arg1.lower()
            if name in _SCHEMA_PRAGMAS or (name in _VALUE_PRAGMAS and arg2 is None):
                return sqlite3.SQLITE_OK
            refused.append(f"PRAGMA {arg1}" + (f" = {arg2}" if arg2 is not None else ""))
        else:
            what = _ACTION_NAMES.get(action, f"operation {action}")
            if action == sqlite3.SQLITE_ALTER_TABLE:  # (database, table)
                refused.append(f"{what} {arg2}")
            elif arg1 in ("sqlite_master", "sqlite_temp_master"):  # CREATE, DROP
                refused.append(f"a schema change ({what} {arg1})")
            else:
                refused.append(what + (f" {arg1}" if arg1 else ""))
        return sqlite3.SQLITE_DENY

    deadline = time.monotonic() + time_limit
    timed_out = False

    def progress() -> int:
        nonlocal timed_out
        if time.monotonic() > deadline:
            timed_out = True
            return 1
        return 0

    conn.execute("PRAGMA query_only = 1")  # a second lock on the same door
    conn.set_authorizer(authorize)
    conn.set_progress_handler(progress, 1000)
    try:
        try:
            cur = conn.execute(sql)
            batch = cur.fetchmany(limit)
        except sqlite3.ProgrammingError as exc:
            if "one statement at a time" in str(exc):
                raise QueryRefused("one statement at a time: run each on its own") from None
            raise QueryRefused(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            if refused:
                raise QueryRefused(f"read-only: {refused[0]} is not allowed; only SELECT "
                                   "(and PRAGMAs that describe the schema) may run") from None
            if timed_out:
                raise QueryRefused(f"the query ran longer than {time_limit:g} s and was "
                                   "stopped; add a LIMIT or narrow it") from None
            raise QueryRefused(f"SQL error: {exc}") from None
        names = [d[0] for d in cur.description or ()]
        columns: list[str] = []
        for name in names:
            unique, n = name, 2
            while unique in columns:
                unique, n = f"{name}_{n}", n + 1
            columns.append(unique)
        more, exact = 0, True
        try:
            while chunk := cur.fetchmany(500):
                more += len(chunk)
        except sqlite3.DatabaseError:
            exact = False  # out of time: `more` is a lower bound
    finally:
        conn.set_progress_handler(None, 0)
        conn.set_authorizer(None)
    cut = 0
    rows: list[dict[str, Any]] = []
    for values in batch:
        row: dict[str, Any] = {}
        for column, value in zip(columns, values, strict=True):
            if isinstance(value, bytes):
                value = f"<BLOB, {len(value):,} bytes>"
            elif isinstance(value, str) and len(value) > max_cell_chars:
                left = len(value) - max_cell_chars
                value = value[:max_cell_chars] + f"… [{left:,} more characters]"
                cut += 1
            row[column] = value
        rows.append(row)
    return {"columns": columns, "rows": rows, "more_rows": more, "more_rows_exact": exact,
            "cut_cells": cut}
