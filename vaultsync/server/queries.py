"""The API's reads: SQL over a read-only connection to the mirror, returned as JSON-ready
dicts. No Starlette here, so the same answers can be had in-process.

Structural facts (degrees, orphan, isolated, dead end, single source, unsourced) are
computed live from the links and citations tables, so they are never stale; PageRank,
community, betweenness and component come from `page_metrics` (see `metrics_state`).
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote

from ..read import DIRECTIONS, BadRequest, metrics_state, neighbourhood, page_id
from ..read import NotFound as NotFound  # the reads shared with the MCP server
from ..read import daemon_status as daemon_status
from ..read import edges as _edges

INCLUDE_OPTIONS = ("unresolved", "attachments", "tags")
MAX_DEPTH = 5


def _chunks(items: Sequence, size: int = 500) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- paths ------------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_vault_path(raw: str) -> str:
    """A vault-relative page path from a client, or BadRequest when it tries to leave the
    vault: absolute, `..`, backslashes, NUL, or any of those percent-encoded (decoded up
    to three more times, so `%2e%2e` and `%252e%252e` are caught too)."""
    if not raw or not raw.strip():
        raise BadRequest("a page path is required")
    probe = raw
    for _ in range(3):
        decoded = unquote(probe)
        if decoded == probe:
            break
        probe = decoded
    for candidate in (raw, probe):
        if "\x00" in candidate:
            raise BadRequest("path contains a NUL byte")
        if candidate.startswith(("/", "\\", "~")) or _DRIVE.match(candidate):
            raise BadRequest(f"path must be relative to the vault: {raw!r}")
        if "\\" in candidate:
            raise BadRequest(f"path must use '/' separators: {raw!r}")
        if any(part in ("..", ".") for part in candidate.split("/")):
            raise BadRequest(f"path may not leave the vault ('..' or '.'): {raw!r}")
    return raw


# --- params -----------------------------------------------------------------------------

def split_list(values: Iterable[str]) -> list[str]:
    """`a,b` and repeated parameters alike → ['a', 'b']."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_include(values: Iterable[str]) -> tuple[str, ...]:
    include = split_list(values)
    unknown = [v for v in include if v not in INCLUDE_OPTIONS]
    if unknown:
        raise BadRequest(f"unknown include value(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(INCLUDE_OPTIONS)}")
    return tuple(dict.fromkeys(include))


def parse_int(value: str | None, name: str, *, lo: int, hi: int, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {value!r}") from None
    if not lo <= number <= hi:
        raise BadRequest(f"{name} must be from {lo} to {hi}, not {number}")
    return number


def parse_float(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number, not {value!r}") from None


# --- metrics freshness ------------------------------------------------------------------

def layout_wanted(conn: sqlite3.Connection) -> bool:
    """True when the graph view's stored layout is missing or stale (a mirror made
    before layouts were stored counts as missing until it is migrated)."""
    from ..layout import has_layout_table, layout_stale

    if not conn.execute("SELECT EXISTS (SELECT 1 FROM pages)").fetchone()[0]:
        return False
    return not has_layout_table(conn) or layout_stale(conn)


def layout_state(conn: sqlite3.Connection) -> dict[str, Any]:
    from ..layout import has_layout_table, layout_state

    if not has_layout_table(conn):
        return {"fresh": False, "computed_at": None, "method": None, "graph_hash": None}
    return layout_state(conn)


def community_names(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Communities of two or more pages, each named after its top page by PageRank (ties
    by path), as `vaultsync report communities` names them: [{id, name, path, size}]."""
    return [{"id": c, "name": title, "path": path, "size": size} for c, path, title, size in
            conn.execute("""
        SELECT community, path, title, size FROM (
            SELECT m.community, p.path, p.title,
                   count(*) OVER (PARTITION BY m.community) AS size,
                   row_number() OVER (PARTITION BY m.community
                                      ORDER BY m.pagerank DESC, p.path) AS place
            FROM pages p JOIN page_metrics m ON m.page_id = p.id
            WHERE m.community IS NOT NULL)
        WHERE place = 1 AND size >= 2 ORDER BY community""")]


# --- nodes ------------------------------------------------------------------------------

_NODE_SQL = """
SELECT p.id, p.path, p.title, p.kind, p.is_source, p.folder,
       m.pagerank, m.community, m.betweenness, m.component, m.citation_count, /*xy*/
       (SELECT count(DISTINCT l.source_id) FROM links l
        WHERE l.target_id = p.id AND l.source_id != p.id) AS in_degree,
       (SELECT count(DISTINCT l.target_id) FROM links l
        WHERE l.source_id = p.id AND l.target_id IS NOT NULL AND l.target_id != p.id)
        AS out_degree,
       (SELECT count(*) FROM citations c WHERE c.page_id = p.id) AS sources,
       (SELECT count(*) FROM citations c WHERE c.source_page_id = p.id) AS cited_by
FROM pages p LEFT JOIN page_metrics m ON m.page_id = p.id /*layout*/
"""


def _node_sql(conn: sqlite3.Connection) -> str:
    from ..layout import has_layout_table

    if has_layout_table(conn):
        return _NODE_SQL.replace("/*xy*/", "pl.x, pl.y,").replace(
            "/*layout*/", "LEFT JOIN page_layout pl ON pl.page_id = p.id")
    return _NODE_SQL.replace("/*xy*/", "NULL AS x, NULL AS y,")


def _node(row: sqlite3.Row, tags: list[str]) -> dict[str, Any]:
    is_source = bool(row["is_source"])
    in_degree, out_degree, sources = row["in_degree"], row["out_degree"], row["sources"]
    citation_count = row["citation_count"]
    if citation_count is None:  # metrics not computed yet: the citations table's count
        citation_count = sources
    return {
        "id": row["path"],
        "type": "page",
        "title": row["title"],
        "kind": row["kind"],
        "folder": row["folder"],
        "is_source": is_source,
        "tags": tags,
        "pagerank": row["pagerank"],
        "community": row["community"],
        "betweenness": row["betweenness"],
        "component": row["component"],
        "citation_count": citation_count,
        "sources": sources,
        "cited_by": row["cited_by"],
        "in_degree": in_degree,
        "out_degree": out_degree,
        "orphan": in_degree == 0,
        "dead_end": out_degree == 0,
        "isolated": in_degree == 0 and out_degree == 0,
        "single_source": not is_source and sources == 1,
        "unsourced": not is_source and sources == 0,
        "x": row["x"],
        "y": row["y"],
    }


def _tags_by_page(conn: sqlite3.Connection, ids: Sequence[int] | None) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if ids is None:
        rows: Iterable = conn.execute("SELECT page_id, tag FROM tags ORDER BY tag")
    else:
        rows = (r for chunk in _chunks(list(ids)) for r in conn.execute(
            f"SELECT page_id, tag FROM tags WHERE page_id IN ({','.join('?' * len(chunk))}) "
            "ORDER BY tag", chunk))
    for page, tag in rows:
        out.setdefault(page, []).append(tag)
    return out


def page_nodes(conn: sqlite3.Connection, ids: Sequence[int] | None = None
               ) -> dict[int, dict[str, Any]]:
    """Node dicts by page id: every page, or those in `ids`."""
    sql = _node_sql(conn)
    conn.row_factory = sqlite3.Row
    try:
        if ids is None:
            rows = list(conn.execute(sql))
        else:
            rows = [r for chunk in _chunks(list(ids)) for r in conn.execute(
                sql + f" WHERE p.id IN ({','.join('?' * len(chunk))})", chunk)]
    finally:
        conn.row_factory = None
    tags = _tags_by_page(conn, ids)
    return {row["id"]: _node(row, tags.get(row["id"], [])) for row in rows}


def _tag_matches(page_tags: list[str], wanted: list[str]) -> bool:
    """`ml` matches `ml` and nested `ml/serving`, case-insensitively, as Obsidian's tag search."""
    lowered = [t.lower() for t in page_tags]
    return any(t == w or t.startswith(w + "/") for w in wanted for t in lowered)


def _extra(conn: sqlite3.Connection, nodes: dict[int, dict[str, Any]], include: Sequence[str],
           everything: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The nodes and links that Obsidian's graph toggles add, for the pages in `nodes`."""
    extra_nodes: list[dict[str, Any]] = []
    extra_links: list[dict[str, Any]] = []
    ids = set(nodes)

    def page_links(sql: str) -> Iterator[tuple]:
        if everything:
            yield from conn.execute(sql)
            return
        for chunk in _chunks(sorted(ids)):
            marks = ",".join("?" * len(chunk))
            yield from conn.execute(sql.replace("/*ids*/", f"AND l.source_id IN ({marks})"),
                                    chunk)

    if "unresolved" in include:
        found: dict[str, dict[str, Any]] = {}
        for source_id, key, target, weight in page_links(
                "SELECT l.source_id, l.target_key, min(l.target), count(*) FROM links l "
                "WHERE l.target_path IS NULL AND l.target != '' /*ids*/ "
                "GROUP BY l.source_id, l.target_key"):
            if source_id not in ids:
                continue
            node_id = f"unresolved:{key}"
            node = found.setdefault(node_id, {
                "id": node_id, "type": "unresolved", "title": target, "kind": None,
                "tags": [], "in_degree": 0, "out_degree": 0})
            node["in_degree"] += 1
            extra_links.append({"source": nodes[source_id]["id"], "target": node_id,
                                "weight": weight, "type": "unresolved"})
        extra_nodes.extend(found.values())
    if "attachments" in include:
        attached: dict[str, dict[str, Any]] = {}
        if everything:
            for (path,) in conn.execute("SELECT path FROM attachments ORDER BY path"):
                attached[path] = {"id": path, "type": "attachment",
                                  "title": path.rpartition("/")[2], "kind": None, "tags": [],
                                  "in_degree": 0, "out_degree": 0}
        for source_id, path, weight in page_links(
                "SELECT l.source_id, l.target_path, count(*) FROM links l "
                "JOIN attachments a ON a.path = l.target_path "
                "WHERE l.target_id IS NULL /*ids*/ GROUP BY l.source_id, l.target_path"):
            if source_id not in ids:
                continue
            node = attached.setdefault(path, {
                "id": path, "type": "attachment", "title": path.rpartition("/")[2],
                "kind": None, "tags": [], "in_degree": 0, "out_degree": 0})
            node["in_degree"] += 1
            extra_links.append({"source": nodes[source_id]["id"], "target": path,
                                "weight": weight, "type": "attachment"})
        extra_nodes.extend(attached.values())
    if "tags" in include:
        tag_nodes: dict[str, dict[str, Any]] = {}
        for node in nodes.values():
            for tag in node["tags"]:
                node_id = f"tag:#{tag.lower()}"
                tag_node = tag_nodes.setdefault(node_id, {
                    "id": node_id, "type": "tag", "title": f"#{tag}", "kind": None,
                    "tags": [], "in_degree": 0, "out_degree": 0})
                tag_node["in_degree"] += 1
                extra_links.append({"source": node["id"], "target": node_id, "weight": 1,
                                    "type": "tag"})
        extra_nodes.extend(tag_nodes.values())
    return extra_nodes, extra_links


def graph(conn: sqlite3.Connection, *, kinds: Sequence[str] = (), tags: Sequence[str] = (),
          min_pagerank: float | None = None, include: Sequence[str] = (),
          limit: int | None = None) -> dict[str, Any]:
    """The whole graph as node-link JSON, filtered like Obsidian's graph view."""
    nodes = page_nodes(conn)
    total = len(nodes)
    filtered = bool(kinds or tags or min_pagerank is not None or limit is not None)
    if kinds:
        wanted_kinds = {k.lower() for k in kinds}
        nodes = {i: n for i, n in nodes.items() if (n["kind"] or "").lower() in wanted_kinds}
    if tags:
        wanted_tags = [t.lower().lstrip("#") for t in tags]
        nodes = {i: n for i, n in nodes.items() if _tag_matches(n["tags"], wanted_tags)}
    if min_pagerank is not None:
        nodes = {i: n for i, n in nodes.items()
                 if n["pagerank"] is not None and n["pagerank"] >= min_pagerank}
    truncated = False
    if limit is not None and len(nodes) > limit:
        ranked = sorted(nodes.items(), key=lambda kv: (
            -(kv[1]["pagerank"] or 0.0), -kv[1]["in_degree"], kv[1]["id"]))
        nodes = dict(ranked[:limit])
        truncated = True
    ids = set(nodes)
    links = [{"source": nodes[s]["id"], "target": nodes[t]["id"], "weight": w}
             for s, t, w in _edges(conn, None) if s in ids and t in ids]
    out_nodes = sorted(nodes.values(), key=lambda n: n["id"])
    extra_nodes, extra_links = _extra(conn, nodes, include, everything=not filtered)
    return {
        "nodes": out_nodes + extra_nodes,
        "links": links + extra_links,
        "meta": {"pages": total, "shown_pages": len(nodes), "truncated": truncated,
                 "include": list(include), "metrics": metrics_state(conn),
                 "communities": community_names(conn), "layout": layout_state(conn)},
    }


def local_graph(conn: sqlite3.Connection, path: str, *, depth: int = 1,
                direction: str = "both", include: Sequence[str] = ()) -> dict[str, Any]:
    """The neighbourhood of one page, up to `depth` links away (Obsidian's local graph)."""
    if direction not in DIRECTIONS:
        raise BadRequest(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    if not 1 <= depth <= MAX_DEPTH:
        raise BadRequest(f"depth must be from 1 to {MAX_DEPTH}, not {depth}")
    center_id, center_path = page_id(conn, path)
    distance = neighbourhood(conn, center_id, depth=depth, direction=direction)
    nodes = page_nodes(conn, list(distance))
    for i, node in nodes.items():
        node["depth"] = distance[i]
        node["center"] = i == center_id
    ids = set(nodes)
    links = [{"source": nodes[s]["id"], "target": nodes[t]["id"], "weight": w}
             for s, t, w in _edges(conn, ids)]
    extra_nodes, extra_links = _extra(conn, nodes, include, everything=False)
    out_nodes = sorted(nodes.values(), key=lambda n: (n["depth"], n["id"]))
    return {
        "center": center_path,
        "depth": depth,
        "direction": direction,
        "nodes": out_nodes + extra_nodes,
        "links": links + extra_links,
        "meta": {"shown_pages": len(nodes), "include": list(include),
                 "metrics": metrics_state(conn), "communities": community_names(conn)},
    }


# --- the compact form -------------------------------------------------------------------

# `format=compact`: the same graph, column by column, for the view (a tenth of the size).
COMPACT_COLUMNS = ("id", "type", "title", "kind", "pagerank", "community", "citation_count",
                   "in_degree", "out_degree", "flags", "x", "y")
LOCAL_COLUMNS = ("depth", "center")
FLAGS = {"orphan": 1, "isolated": 2, "dead_end": 4, "single_source": 8, "unsourced": 16,
         "is_source": 32}


def _sig3(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.3g}")


def _coord(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def compact(data: dict[str, Any]) -> dict[str, Any]:
    """A node-link answer (`graph`, `local_graph`) as columns: `nodes` maps each of
    COMPACT_COLUMNS (and LOCAL_COLUMNS for a local graph) to one array with a value per
    node; `links` is one flat array [source, target, weight, ...] of node indexes.
    PageRank keeps 3 significant digits and positions one decimal; booleans are bits
    of `flags` (FLAGS). The node's other fields (tags, folder, betweenness, component,
    sources, cited_by) are left out: `/api/pages/{path}` has them."""
    nodes = data["nodes"]
    index = {n["id"]: i for i, n in enumerate(nodes)}
    columns: dict[str, list[Any]] = {}
    names = COMPACT_COLUMNS + (LOCAL_COLUMNS if "center" in data else ())
    for name in names:
        if name == "flags":
            columns[name] = [sum(bit for key, bit in FLAGS.items() if n.get(key))
                             for n in nodes]
        elif name == "pagerank":
            columns[name] = [_sig3(n.get("pagerank")) for n in nodes]
        elif name in ("x", "y"):
            columns[name] = [_coord(n.get(name)) for n in nodes]
        else:
            columns[name] = [n.get(name) for n in nodes]
    links: list[int] = []
    for link in data["links"]:
        links += (index[link["source"]], index[link["target"]], link["weight"])
    out = {k: v for k, v in data.items() if k not in ("nodes", "links")}
    out.update(format="compact", count=len(nodes), nodes=columns, links=links)
    return out


# --- one page ---------------------------------------------------------------------------

def _rows(conn: sqlite3.Connection, sql: str, *params: object) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur]


def page(conn: sqlite3.Connection, path: str, *, body: bool = False) -> dict[str, Any]:
    """Everything the mirror knows about one page. NotFound when there is no such page."""
    pid, real_path = page_id(conn, path)
    row = _rows(conn, "SELECT id, path, title, kind, is_source, folder, frontmatter, body, "
                      "mtime, size, hash, synced_at FROM pages WHERE id = ?", pid)[0]
    node = page_nodes(conn, [pid])[pid]
    links = _rows(conn, """
        SELECT l.target, l.anchor, l.display, l.embed, l.line, l.form, l.target_path,
               t.title AS target_title,
               CASE WHEN l.target_id IS NOT NULL THEN 'page'
                    WHEN l.target_path IS NOT NULL THEN 'attachment' END AS target_type
        FROM links l LEFT JOIN pages t ON t.id = l.target_id
        WHERE l.source_id = ? ORDER BY l.line, l.id""", pid)
    for link in links:
        link["embed"] = bool(link["embed"])
        link["resolved"] = link["target_path"] is not None
    backlinks = _rows(conn, """
        SELECT source_path AS path, source_title AS title, line, display, anchor, embed, form
        FROM backlinks WHERE target_id = ? AND source_id != target_id
        ORDER BY source_path, line""", pid)
    for link in backlinks:
        link["embed"] = bool(link["embed"])
    sources = _rows(conn, """
        SELECT s.path, s.title, s.kind FROM citations c JOIN pages s ON s.id = c.source_page_id
        WHERE c.page_id = ? ORDER BY s.path""", pid)
    cited_by = _rows(conn, """
        SELECT p.path, p.title, p.kind FROM citations c JOIN pages p ON p.id = c.page_id
        WHERE c.source_page_id = ? ORDER BY p.path""", pid)
    metrics = {k: node[k] for k in (
        "pagerank", "community", "betweenness", "component", "citation_count", "in_degree",
        "out_degree", "orphan", "dead_end", "isolated", "single_source", "unsourced")}
    m_row = conn.execute("SELECT computed_at FROM page_metrics WHERE page_id = ?",
                         (pid,)).fetchone()
    metrics["computed_at"] = m_row[0] if m_row else None
    # For people: the page's place among all pages, and its community's name.
    metrics["pagerank_rank"] = None if node["pagerank"] is None else conn.execute(
        "SELECT count(*) + 1 FROM page_metrics WHERE pagerank > ?",
        (node["pagerank"],)).fetchone()[0]
    metrics["pages_ranked"] = conn.execute(
        "SELECT count(*) FROM page_metrics WHERE pagerank IS NOT NULL").fetchone()[0]
    metrics["community_name"] = next(
        (c["name"] for c in community_names(conn) if c["id"] == node["community"]), None)
    out: dict[str, Any] = {
        "path": real_path,
        "title": row["title"],
        "kind": row["kind"],
        "is_source": bool(row["is_source"]),
        "folder": row["folder"],
        "frontmatter": json.loads(row["frontmatter"] or "{}"),
        "tags": node["tags"],
        "aliases": [r[0] for r in conn.execute(
            "SELECT alias FROM aliases WHERE page_id = ? ORDER BY alias", (pid,))],
        "headings": _rows(conn, "SELECT level, text, line FROM headings WHERE page_id = ? "
                                "ORDER BY line, id", pid),
        "links": links,
        "external_links": _rows(conn, "SELECT url, display, line FROM external_links "
                                      "WHERE page_id = ? ORDER BY line, id", pid),
        "backlinks": backlinks,
        "citations": {"sources": sources, "cited_by": cited_by},
        "metrics": metrics,
        "problems": _rows(conn, "SELECT line, message, severity FROM problems WHERE path = ? "
                                "ORDER BY line", real_path),
        "size": row["size"],
        "mtime": row["mtime"],
        "synced_at": row["synced_at"],
        "excerpt": _excerpt(row["body"]),
    }
    if body:
        out["body"] = row["body"]
    return out


def _excerpt(body: str, length: int = 280) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"(?m)^#+\s.*$", " ", body or "")).strip()
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


# --- search -----------------------------------------------------------------------------

_MARK_OPEN, _MARK_CLOSE = "\x02", "\x03"


def fts_query(q: str) -> str:
    """User text → a safe FTS5 query: every word a quoted phrase (so `-`, `:`, `*` and
    quotes are text, not syntax), all required, the last one a prefix for type-ahead."""
    words = [w.replace('"', '""') for w in q.split() if w.strip('"')]
    if not words:
        return ""
    parts = [f'"{w}"' for w in words]
    parts[-1] += "*"
    return " ".join(parts)


def _snippet_html(text: str) -> str:
    escaped = html.escape(text, quote=False)
    return escaped.replace(_MARK_OPEN, "<mark>").replace(_MARK_CLOSE, "</mark>")


def search(conn: sqlite3.Connection, q: str, *, limit: int = 20) -> dict[str, Any]:
    """Pages whose title, alias or path names `q` first, then full-text matches (FTS5,
    bm25 with titles weighted 8x). `snippet` is HTML: the text escaped, hits in <mark>."""
    q = q.strip()
    if not q:
        raise BadRequest("q is required")
    results: dict[str, dict[str, Any]] = {}
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    for path, title, kind, _exact, alias, body in conn.execute("""
            SELECT p.path, p.title, p.kind,
                   CASE WHEN lower(p.title) = lower(:q) OR lower(a.alias) = lower(:q) THEN 0
                        WHEN lower(p.title) LIKE lower(:q) || '%' THEN 1 ELSE 2 END AS exact,
                   a.alias, substr(p.body, 1, 400)
            FROM pages p LEFT JOIN aliases a ON a.page_id = p.id
                 AND a.alias LIKE :like ESCAPE '\\'
            WHERE p.title LIKE :like ESCAPE '\\' OR p.path LIKE :like ESCAPE '\\'
                  OR a.alias IS NOT NULL
            ORDER BY exact, length(p.title), p.path LIMIT :limit""",
            {"q": q, "like": like, "limit": limit}):
        if path in results:
            continue
        results[path] = {"path": path, "title": title, "kind": kind, "match": "name",
                         "alias": alias, "snippet": _snippet_html(_excerpt(body, 160)),
                         "rank": None}
    query = fts_query(q)
    if query and len(results) < limit:
        try:
            rows = conn.execute("""
                SELECT p.path, p.title, p.kind,
                       snippet(pages_fts, -1, char(2), char(3), '…', 12),
                       bm25(pages_fts, 8.0, 1.0) AS rank
                FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid
                WHERE pages_fts MATCH ? ORDER BY rank LIMIT ?""",
                (query, limit)).fetchall()
        except sqlite3.OperationalError as exc:
            raise BadRequest(f"cannot search for {q!r}: {exc}") from None
        for path, title, kind, snip, rank in rows:
            if path in results:
                results[path]["snippet"] = _snippet_html(snip)
                results[path]["rank"] = rank
                continue
            if len(results) >= limit:
                break
            results[path] = {"path": path, "title": title, "kind": kind, "match": "text",
                             "alias": None, "snippet": _snippet_html(snip), "rank": rank}
    return {"query": q, "fts_query": query, "results": list(results.values())[:limit]}
