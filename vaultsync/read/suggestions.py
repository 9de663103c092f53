"""Pages likely to deserve a link from or to a page, by the graph: pages that do not link
to it and it does not link to, but that share its sources (both cited by the same source
pages) or its neighbours (Adamic–Adar over the link graph taken undirected: each shared
neighbour counts 1/log(its degree), so a shared hub counts little and a shared niche page
much). Each suggestion says why, in words."""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from .answers import RelatedPage, RelatedPages
from .pages import page_id

SOURCE_WEIGHT = 1.0  # a shared source counts as much as a shared neighbour of degree e
# A neighbour linked with more pages than this is not followed: it would add at most
# 1/log(500) ≈ 0.16 to each of hundreds of pages, and reading its links costs the most.
HUB_DEGREE = 500
NAMED = 3  # how many shared sources or neighbours a reason names


def _adjacency(conn: sqlite3.Connection, ids: set[int]) -> dict[int, set[int]]:
    """The pages linked with each of `ids`, either way (the edges of page_edges, read
    from links by its indexes, a chunk of ids at a time)."""
    out: dict[int, set[int]] = {i: set() for i in ids}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for a, b in conn.execute(
                f"SELECT source_id, target_id FROM links WHERE source_id IN ({marks}) "
                "AND target_id IS NOT NULL AND target_id != source_id", chunk):
            out[a].add(b)
        for a, b in conn.execute(
                f"SELECT target_id, source_id FROM links WHERE target_id IN ({marks}) "
                "AND source_id != target_id", chunk):
            out[a].add(b)
    return out


def _rows_by_id(conn: sqlite3.Connection, select: str, ids: set[int]) -> list[Any]:
    ordered = sorted(ids)
    out: list[Any] = []
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        out += conn.execute(f"{select} WHERE id IN ({','.join('?' * len(chunk))})",
                            chunk).fetchall()
    return out


def _names(titles: list[str]) -> str:
    shown = ", ".join(titles[:NAMED])
    return shown + (f" and {len(titles) - NAMED} more" if len(titles) > NAMED else "")


def related(conn: sqlite3.Connection, path: str, *, limit: int = 10) -> RelatedPages:
    """Up to `limit` pages most likely related to the page at `path` that are not linked
    to or from it, best first, each with its score, what it shares and why in words."""
    pid, real_path = page_id(conn, path)
    title = conn.execute("SELECT title FROM pages WHERE id = ?", (pid,)).fetchone()[0]
    linked = _adjacency(conn, {pid})[pid]
    ordered = sorted(linked)
    degrees: dict[int, int] = {}
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        degrees.update(conn.execute(
            "SELECT page_id, in_degree + out_degree FROM page_degrees WHERE page_id IN "
            f"({','.join('?' * len(chunk))})", chunk).fetchall())
    followed = {z for z in linked if degrees.get(z, 0) <= HUB_DEGREE}
    shared_neighbours: dict[int, list[int]] = {}
    degree: dict[int, int] = {}
    for z, others in _adjacency(conn, followed).items():
        degree[z] = len(others)
        for q in others:
            if q != pid and q not in linked:
                shared_neighbours.setdefault(q, []).append(z)
    shared_sources: dict[int, list[int]] = {}
    for q, source in conn.execute(
            "SELECT c2.page_id, c1.source_page_id FROM citations c1 "
            "JOIN citations c2 ON c2.source_page_id = c1.source_page_id "
            "WHERE c1.page_id = ? AND c2.page_id != ?", (pid, pid)):
        if q not in linked:
            shared_sources.setdefault(q, []).append(source)
    scores: dict[int, tuple[float, float]] = {}  # candidate → (score, adamic_adar)
    for q in set(shared_neighbours) | set(shared_sources):
        sources_of_q = set(shared_sources.get(q, []))
        # A shared source is a shared neighbour too (a citation is a link): counted once.
        adamic_adar = sum(1 / math.log(degree[z]) for z in shared_neighbours.get(q, [])
                          if z not in sources_of_q and degree[z] > 1)
        if adamic_adar or sources_of_q:
            scores[q] = (adamic_adar + SOURCE_WEIGHT * len(sources_of_q), adamic_adar)
    if not scores:
        return {"path": real_path, "title": title, "related": []}
    paths = dict(_rows_by_id(conn, "SELECT id, path FROM pages", set(scores)))
    best = sorted(scores, key=lambda q: (-scores[q][0], paths[q]))[:limit]
    ids = set(best) | {z for q in best for z in shared_neighbours.get(q, [])} | \
        {s for q in best for s in shared_sources.get(q, [])}
    info = {i: (p, t, kind, bool(src)) for i, p, t, kind, src in _rows_by_id(
        conn, "SELECT id, path, title, kind, is_source FROM pages", ids)}
    out: list[tuple[float, str, RelatedPage]] = []
    for q in best:
        score, adamic_adar = scores[q]
        sources = sorted(shared_sources.get(q, []), key=lambda s: info[s][1])
        neighbours = sorted((z for z in shared_neighbours.get(q, []) if z not in sources),
                            key=lambda z: (degree[z], info[z][1]))
        reasons = []
        if sources:
            reasons.append(("both cited by the same source: " if len(sources) == 1 else
                            f"both cited by {len(sources)} of the same sources: ")
                           + _names([info[s][1] for s in sources]))
        if neighbours:
            reasons.append(("both linked with the same page: " if len(neighbours) == 1 else
                            f"both linked with {len(neighbours)} of the same pages: ")
                           + _names([info[z][1] for z in neighbours]))
        q_path, q_title, q_kind, q_source = info[q]
        out.append((-score, q_path, {
            "path": q_path, "title": q_title, "kind": q_kind, "is_source": q_source,
            "score": round(score, 4), "adamic_adar": round(adamic_adar, 4),
            "shared_sources": [info[s][0] for s in sources],
            "shared_neighbours": [info[z][0] for z in neighbours],
            "reason": "; ".join(reasons)}))
    out.sort(key=lambda item: (item[0], item[1]))
    return {"path": real_path, "title": title, "related": [r for _, _, r in out[:limit]]}
