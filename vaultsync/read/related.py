"""Pages likely to deserve a link from or to a page, by the graph: pages that do not link
to it and it does not link to, but that share its sources (both cited by the same source
pages) or its neighbours (Adamic–Adar over the link graph taken undirected: each shared
neighbour counts 1/log(its degree), so a shared hub counts little and a shared niche page
much). Each suggestion says why, in words."""

from __future__ import annotations

import math
import sqlite3

from .answers import RelatedPage, RelatedPages
from .pages import page_id

SOURCE_WEIGHT = 1.0  # a shared source counts as much as a shared neighbour of degree e
NAMED = 3  # how many shared sources or neighbours a reason names


def _neighbours(conn: sqlite3.Connection, pid: int) -> set[int]:
    return {n for (n,) in conn.execute(
        "SELECT target_id FROM page_edges WHERE source_id = ? "
        "UNION SELECT source_id FROM page_edges WHERE target_id = ?", (pid, pid))}


def _names(titles: list[str]) -> str:
    shown = ", ".join(titles[:NAMED])
    return shown + (f" and {len(titles) - NAMED} more" if len(titles) > NAMED else "")


def related(conn: sqlite3.Connection, path: str, *, limit: int = 10) -> RelatedPages:
    """Up to `limit` pages most likely related to the page at `path` that are not linked
    to or from it, best first, each with its score, what it shares and why in words."""
    pid, real_path = page_id(conn, path)
    title = conn.execute("SELECT title FROM pages WHERE id = ?", (pid,)).fetchone()[0]
    linked = _neighbours(conn, pid)
    shared_neighbours: dict[int, list[int]] = {}
    degree: dict[int, int] = {}
    for z in linked:
        others = _neighbours(conn, z)
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
    candidates = set(shared_neighbours) | set(shared_sources)
    candidates = {q for q in candidates
                  if set(shared_neighbours.get(q, [])) - set(shared_sources.get(q, []))
                  or shared_sources.get(q)}
    if not candidates:
        return {"path": real_path, "title": title, "related": []}
    ids = sorted(candidates | {z for zs in shared_neighbours.values() for z in zs} |
                 {s for ss in shared_sources.values() for s in ss})
    info: dict[int, tuple[str, str, str | None, bool]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for i, p, t, kind, is_source in conn.execute(
                f"SELECT id, path, title, kind, is_source FROM pages WHERE id IN "
                f"({','.join('?' * len(chunk))})", chunk):
            info[i] = (p, t, kind, bool(is_source))
    out: list[tuple[float, str, RelatedPage]] = []
    for q in candidates:
        sources = sorted(shared_sources.get(q, []), key=lambda s: info[s][1])
        # A shared source is a shared neighbour too (a citation is a link): counted once.
        neighbours = sorted((z for z in shared_neighbours.get(q, []) if z not in sources),
                            key=lambda z: (degree[z], info[z][1]))
        adamic_adar = sum(1 / math.log(degree[z]) for z in neighbours if degree[z] > 1)
        score = adamic_adar + SOURCE_WEIGHT * len(sources)
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
