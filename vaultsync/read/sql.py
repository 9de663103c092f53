"""The mirror's public schema, described for people and assistants, and read-only SQL
over it: a read-only connection, an authorizer that allows reads only, one statement,
a size limit on every value and a wall-clock time limit."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypedDict

from .base import BadRequest, database

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
    "canvases": "one row per .canvas file (JSON Canvas): path, title, nodes, edges (counts)",
    "canvas_nodes": "a canvas's cards: node_id, type text/file/link/group, x, y, width, "
                    "height, color, label (group), text (text), file and subpath (file), "
                    "url (link)",
    "canvas_edges": "a canvas's arrows: from_node/to_node (node_ids), sides, ends, color, "
                    "label",
    "canvas_links": "a canvas's references to files: form file (a file node) or wikilink/"
                    "markdown (in a text node); target_path/target_id when it resolves",
    "citations": "distinct (non-source page, source page) pairs joined by a resolved link "
                 "either way",
    "problems": "why a file could not be read or parsed cleanly",
    "sync_log": "one row per committed batch (the last 1,000): counts added, updated, "
                "removed, renamed; JSON changed_paths, removed_paths, added_paths (new "
                "pages among changed_paths) and renamed_from ({new path: old path}); the "
                "rest of changed_paths are edits; id is the changes cursor",
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
    "page_degrees": "each page's in_degree and out_degree: distinct other pages linking "
                    "to it / linked from it (the edges of page_edges); always current",
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
    FTS index's shadow tables left out), tables first: sqlite-utils' introspection."""
    db = database(conn)
    fts = [*db.table_names(fts5=True), *db.table_names(fts4=True)]
    out: list[SchemaTable] = []
    for kind, names in (("table", db.table_names()), ("view", db.view_names())):
        for name in sorted(names):
            if name in INTERNAL_TABLES or name.startswith("sqlite_") or \
                    any(name.startswith(f + "_") for f in fts):
                continue
            columns: list[SchemaColumn] = [
                {"name": col.name, "type": col.type or ""} for col in db[name].columns
                if (name, col.name) not in INTERNAL_COLUMNS]
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


# The largest string or BLOB a read-only query may hold or make (SQLite's own
# SQLITE_LIMIT_LENGTH, enforced in C before the value is built): twice the largest page
# vaultsync reads by default (max_page_bytes), so every stored body fits.
MAX_VALUE_BYTES = 16 * 1024 * 1024


def value_limit(max_page_bytes: int) -> int:
    """The value-size limit for a mirror of pages up to `max_page_bytes`."""
    return max(MAX_VALUE_BYTES, 2 * max_page_bytes)


def limit_value_size(conn: sqlite3.Connection, max_bytes: int = MAX_VALUE_BYTES) -> int:
    """Make SQLite refuse any string or BLOB larger than `max_bytes` on `conn` ("string
    or blob too big"); returns the limit it had."""
    return conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_bytes)


@contextmanager
def interrupt_after(conn: sqlite3.Connection, seconds: float) -> Iterator[threading.Event]:
    """Interrupt whatever `conn` runs once `seconds` have passed, from a timer thread: a
    progress handler would never fire during one long step (a huge randomblob). The
    event yielded is set when it fired."""
    fired = threading.Event()
    lock = threading.Lock()
    done = False

    def stop() -> None:
        with lock:
            if not done:
                fired.set()
                conn.interrupt()

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        with lock:
            done = True
        timer.cancel()


class QueryResult(TypedDict):
    columns: list[str]
    rows: list[dict[str, Any]]
    more_rows: int  # rows after the last one returned (counted within the time limit)
    more_rows_exact: bool  # False when counting them ran out of time
    cut_cells: int  # text values cut to max_cell_chars


def run_query(conn: sqlite3.Connection, sql: str, *, limit: int, time_limit: float = 2.0,
              max_cell_chars: int = 1000, max_value_bytes: int = MAX_VALUE_BYTES
              ) -> QueryResult:
    """Run one SQL statement that only reads, on `conn` (open it read-only: `mode=ro`).

    An authorizer allows reading tables and views, functions, and the PRAGMAs that
    describe the schema; it refuses everything else (INSERT, UPDATE, DELETE, DDL,
    ATTACH, transactions, a PRAGMA that sets a value) before the statement runs. More
    than one statement is refused; SQLite refuses to make or read a string or BLOB
    larger than `max_value_bytes`, and the whole run (counting included) is interrupted
    after `time_limit` seconds of wall clock. Rows come back as objects (a repeated
    column name gets a `_2` suffix), at most `limit` of them, fetched one at a time and
    cut at once: long text to `max_cell_chars`, a BLOB described by its size. The rows
    after them are counted inside SQLite, never fetched."""
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

    conn.execute("PRAGMA query_only = 1")  # a second lock on the same door
    conn.set_authorizer(authorize)
    old_limit = limit_value_size(conn, max_value_bytes)
    cut = 0
    rows: list[dict[str, Any]] = []
    try:
        with interrupt_after(conn, time_limit) as timed_out:
            try:
                cur = conn.execute(sql)
                names = [d[0] for d in cur.description or ()]
                columns: list[str] = []
                for name in names:
                    unique, n = name, 2
                    while unique in columns:
                        unique, n = f"{name}_{n}", n + 1
                    columns.append(unique)
                while len(rows) < limit and (values := cur.fetchone()) is not None:
                    row, cut_here = _cut_row(columns, values, max_cell_chars)
                    rows.append(row)
                    cut += cut_here
                    del values
            except sqlite3.ProgrammingError as exc:
                if "one statement at a time" in str(exc):
                    raise QueryRefused("one statement at a time: run each on its own") \
                        from None
                raise QueryRefused(str(exc)) from None
            except sqlite3.DatabaseError as exc:
                raise _refusal(exc, refused, timed_out.is_set(), time_limit,
                               max_value_bytes) from None
            more, exact = _count_more(conn, cur, sql, len(rows), limit, timed_out)
    finally:
        conn.set_authorizer(None)
        limit_value_size(conn, old_limit)
    return {"columns": columns, "rows": rows, "more_rows": more, "more_rows_exact": exact,
            "cut_cells": cut}


def _refusal(exc: sqlite3.DatabaseError, refused: list[str], timed_out: bool,
             time_limit: float, max_value_bytes: int) -> QueryRefused:
    """The one-line reason a statement failed."""
    if refused:
        return QueryRefused(f"read-only: {refused[0]} is not allowed; only SELECT "
                            "(and PRAGMAs that describe the schema) may run")
    if timed_out:
        return QueryRefused(f"the query ran longer than {time_limit:g} s and was "
                            "stopped; add a LIMIT or narrow it")
    if "too big" in str(exc):
        return QueryRefused(f"a value would be larger than {_size(max_value_bytes)}, the "
                            "limit of one string or BLOB here; select less (substr(), "
                            "length())")
    return QueryRefused(f"SQL error: {exc}")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _count_more(conn: sqlite3.Connection, cur: sqlite3.Cursor, sql: str, shown: int,
                limit: int, timed_out: threading.Event) -> tuple[int, bool]:
    """How many rows come after the `shown` ones, and whether that is exact (False when
    counting ran out of time). Counted by SQLite (`count(*)` around the statement), so
    no value is copied into Python; a statement that cannot be a subquery (a PRAGMA,
    EXPLAIN: small rows) is stepped on instead."""
    if shown < limit:
        return 0, True
    body = sql.rstrip().rstrip(";")
    try:
        cur.close()
        total = conn.execute(f"SELECT count(*) FROM (\n{body}\n)").fetchone()[0]
        return max(int(total) - shown, 0), True
    except sqlite3.Error:
        if timed_out.is_set():
            return 0, False
    more = 0
    try:
        cur = conn.execute(sql)
        while cur.fetchone() is not None:
            more += 1
    except sqlite3.Error:
        return max(more - shown, 0), False
    return max(more - shown, 0), True


def _cut_row(columns: list[str], values: tuple[Any, ...], max_cell_chars: int
             ) -> tuple[dict[str, Any], int]:
    """One row as an object, long text cut and BLOBs described; how many cells were cut."""
    cut = 0
    row: dict[str, Any] = {}
    for column, value in zip(columns, values, strict=True):
        if isinstance(value, bytes):
            value = f"<BLOB, {len(value):,} bytes>"
        elif isinstance(value, str) and len(value) > max_cell_chars:
            left = len(value) - max_cell_chars
            value = value[:max_cell_chars] + f"… [{left:,} more characters]"
            cut += 1
        row[column] = value
    return row, cut
