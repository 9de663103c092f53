"""The graph as the graph view and the MCP tools see it: the whole graph filtered as
Obsidian's graph view filters it, a page's local graph, its neighbours cut to a limit,
the compact form, and the graph as arrays for the metrics."""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from ..mirror import MetaKey, chunks, marks
from .base import BadRequest, snapshot
from .pages import community_names, page_id, page_nodes
from .status import metrics_state

if TYPE_CHECKING:
    import numpy as np

Direction = Literal["in", "out", "both"]
DIRECTIONS: tuple[Direction, ...] = ("in", "out", "both")
INCLUDE_OPTIONS = ("unresolved", "attachments", "tags")
MAX_DEPTH = 5


# --- neighbourhoods ----------------------------------------------------------------

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
            holes = marks(chunk)
            if direction in ("out", "both"):
                found.update(r[0] for r in conn.execute(
                    f"SELECT DISTINCT target_id FROM links WHERE source_id IN ({holes}) "
                    "AND target_id IS NOT NULL", chunk))
            if direction in ("in", "both"):
                found.update(r[0] for r in conn.execute(
                    f"SELECT DISTINCT source_id FROM links WHERE target_id IN ({holes})",
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
                f"WHERE source_id IN ({marks(chunk)}) AND target_id IS NOT NULL "
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
            f"SELECT page_id, pagerank FROM page_metrics WHERE page_id IN ({marks(chunk)}) "
            "AND pagerank IS NOT NULL", chunk))
    return out


# --- the whole graph and the local graph --------------------------------------------

def _tag_matches(page_tags: list[str], wanted: list[str]) -> bool:
    """`ml` matches `ml` and nested `ml/serving`, case-insensitively, as Obsidian's tag search."""
    lowered = [t.lower() for t in page_tags]
    return any(t == w or t.startswith(w + "/") for w in wanted for t in lowered)


def _extra_node(node_id: str, node_type: str, title: str) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "title": title, "kind": None, "tags": [],
            "in_degree": 0, "out_degree": 0}


def _extra(conn: sqlite3.Connection, nodes: dict[int, dict[str, Any]], include: Sequence[str],
           everything: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The nodes and links that Obsidian's graph toggles add, for the pages in `nodes`."""
    extra_links: list[dict[str, Any]] = []
    ids = set(nodes)

    def page_links(sql: str) -> Iterator[tuple[Any, ...]]:
        if everything:
            yield from conn.execute(sql)
            return
        for chunk in chunks(sorted(ids)):
            yield from conn.execute(sql.replace("/*ids*/", f"AND l.source_id IN ({marks(chunk)})"),
                                    chunk)

    def link(group: dict[str, dict[str, Any]], source: str, node_id: str, node_type: str,
             title: str, weight: int) -> None:
        """A link from the page node `source` to an extra node, made on first use."""
        group.setdefault(node_id, _extra_node(node_id, node_type, title))["in_degree"] += 1
        extra_links.append({"source": source, "target": node_id, "weight": weight,
                            "type": node_type})

    unresolved: dict[str, dict[str, Any]] = {}
    attached: dict[str, dict[str, Any]] = {}
    tag_nodes: dict[str, dict[str, Any]] = {}
    if "unresolved" in include:
        for source_id, key, target, weight in page_links(
                "SELECT l.source_id, l.target_key, min(l.target), count(*) FROM links l "
                "WHERE l.target_path IS NULL AND l.target != '' /*ids*/ "
                "GROUP BY l.source_id, l.target_key"):
            if source_id in ids:
                link(unresolved, nodes[source_id]["id"], f"unresolved:{key}", "unresolved",
                     target, weight)
    if "attachments" in include:
        if everything:
            for (path,) in conn.execute("SELECT path FROM attachments ORDER BY path"):
                attached[path] = _extra_node(path, "attachment", path.rpartition("/")[2])
        for source_id, path, weight in page_links(
                "SELECT l.source_id, l.target_path, count(*) FROM links l "
                "JOIN attachments a ON a.path = l.target_path "
                "WHERE l.target_id IS NULL /*ids*/ GROUP BY l.source_id, l.target_path"):
            if source_id in ids:
                link(attached, nodes[source_id]["id"], path, "attachment",
                     path.rpartition("/")[2], weight)
    if "tags" in include:
        for node in nodes.values():
            for tag in node["tags"]:
                link(tag_nodes, node["id"], f"tag:#{tag.lower()}", "tag", f"#{tag}", 1)
    extra_nodes = [*unresolved.values(), *attached.values(), *tag_nodes.values()]
    return extra_nodes, extra_links


def graph(conn: sqlite3.Connection, *, kinds: Sequence[str] = (), tags: Sequence[str] = (),
          min_pagerank: float | None = None, include: Sequence[str] = (),
          limit: int | None = None) -> dict[str, Any]:
    """The whole graph as node-link JSON, filtered like Obsidian's graph view."""
    state = metrics_state(conn)
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
             for s, t, w in edges(conn, None) if s in ids and t in ids]
    out_nodes = sorted(nodes.values(), key=lambda n: n["id"])
    extra_nodes, extra_links = _extra(conn, nodes, include, everything=not filtered)
    return {
        "nodes": out_nodes + extra_nodes,
        "links": links + extra_links,
        "meta": {"pages": total, "shown_pages": len(nodes), "truncated": truncated,
                 "include": list(include), "metrics": state.as_json(),
                 "communities": community_names(conn), "layout": state.layout_json()},
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
             for s, t, w in edges(conn, ids)]
    extra_nodes, extra_links = _extra(conn, nodes, include, everything=False)
    out_nodes = sorted(nodes.values(), key=lambda n: (n["depth"], n["id"]))
    return {
        "center": center_path,
        "depth": depth,
        "direction": direction,
        "nodes": out_nodes + extra_nodes,
        "links": links + extra_links,
        "meta": {"shown_pages": len(nodes), "include": list(include),
                 "metrics": metrics_state(conn).as_json(),
                 "communities": community_names(conn)},
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


# --- the graph as arrays, for the metrics -------------------------------------------

@dataclass
class GraphArrays:
    """The page graph as arrays. Node i is the page ids[i]; pages in path order."""

    version: str
    ids: np.ndarray  # int64 page ids
    is_source: np.ndarray  # bool
    src: np.ndarray  # int64 node indices; edges sorted by (src, dst), no self-loops
    dst: np.ndarray
    weight: np.ndarray  # float64: links per edge

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def m(self) -> int:
        return len(self.src)

    def fingerprint(self) -> str:
        """Changes exactly when a metric can change: pages, source flags, edges, weights."""
        h = hashlib.blake2b(digest_size=16)
        for arr in (self.ids, self.is_source, self.src, self.dst, self.weight):
            h.update(arr.tobytes())
            h.update(b"|")
        return h.hexdigest()


def read_graph_arrays(conn: sqlite3.Connection) -> GraphArrays:
    """Pages and page-to-page edges (as the `page_edges` view defines them), read in
    one snapshot together with meta 'graph_version'."""
    import numpy as np

    with snapshot(conn):
        row = conn.execute("SELECT value FROM meta WHERE key = ?",
                           (MetaKey.GRAPH_VERSION.value,)).fetchone()
        version = row[0] if row and row[0] is not None else "0"
        pages = np.fromiter(
            itertools.chain.from_iterable(
                conn.execute("SELECT id, is_source FROM pages ORDER BY path")),
            dtype=np.int64).reshape(-1, 2)
        links = np.fromiter(
            itertools.chain.from_iterable(conn.execute(
                "SELECT source_id, target_id, weight FROM page_edges")),
            dtype=np.int64).reshape(-1, 3)
    ids = np.ascontiguousarray(pages[:, 0])
    is_source = pages[:, 1] != 0
    n = len(ids)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]

    def index_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.searchsorted(sorted_ids, values)
        pos = np.minimum(pos, max(n - 1, 0))
        ok = sorted_ids[pos] == values if n else np.zeros(len(values), dtype=bool)
        return order[pos], ok

    if len(links) and n:
        s, ok_s = index_of(links[:, 0])
        t, ok_t = index_of(links[:, 1])
        keep = ok_s & ok_t
        key = s[keep] * n + t[keep]
        order_edges = np.argsort(key, kind="stable")  # edges sorted by (src, dst)
        key = key[order_edges]
        src, dst = key // n, key % n
        weight = links[keep, 2][order_edges].astype(np.float64)
    else:
        src = dst = np.zeros(0, dtype=np.int64)
        weight = np.zeros(0, dtype=np.float64)
    return GraphArrays(version, ids, is_source, src, dst, weight)


