"""Stored positions for the graph view, so it paints a large vault at once.

A force layout of 10,000 pages takes the browser many seconds (ForceAtlas2 in a web
worker, on top of drawing); here it is computed once per graph structure and kept in
the mirror (`page_layout`), and the view only refines it after its first paint.

- A *full* layout: Fruchterman-Reingold from igraph (its grid variant, about n + m
  work per iteration: ~1 s for 10,000 pages and 100,000 links), from a seeded start,
  so the same graph gets the same picture. Scaled to span [-SPAN, SPAN].
- After an edit, the pages already placed keep their positions (the picture a user
  knows does not jump) and new pages are put among the pages they link to or from;
  a full layout is run again once more than REFRESH_SHARE of the pages were placed
  that way since the last one.

igraph is imported inside the functions that use it: `vaultsync sync` never pays.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

from .graph import metrics_stale, read_graph_arrays
from .mirror import Mirror

if TYPE_CHECKING:
    import numpy as np

LAYOUT_SEED = 42
FULL_ITERATIONS = 500
SPAN = 1000.0
REFRESH_SHARE = 0.1
METHOD = "fruchterman_reingold"

# igraph draws from one process-wide random generator: one seeded layout at a time.
_RNG_LOCK = threading.Lock()


def force_layout(n: int, src: np.ndarray, dst: np.ndarray, *, seed: int = LAYOUT_SEED,
                 iterations: int = FULL_ITERATIONS) -> np.ndarray:
    """An (n, 2) array of positions for the undirected graph of the edges src→dst:
    seeded Fruchterman-Reingold (igraph), centred and scaled to span [-SPAN, SPAN]."""
    import igraph
    import numpy as np

    if n < 2:
        return np.zeros((n, 2))
    graph = igraph.Graph(n=n, edges=np.column_stack([src, dst]).tolist(), directed=False)
    graph.simplify()
    with _RNG_LOCK:
        igraph.set_random_number_generator(random.Random(seed))
        try:
            coords = graph.layout_fruchterman_reingold(niter=iterations, grid=True)
        finally:
            igraph.set_random_number_generator(random)
    pos = np.asarray(coords.coords, dtype=np.float64).reshape(n, 2)
    pos -= pos.mean(axis=0)
    extent = float(np.abs(pos).max())
    return pos * (SPAN / extent) if extent > 0 else pos


def place_new(n: int, src: np.ndarray, dst: np.ndarray, pos: np.ndarray, placed: np.ndarray,
              *, seed: int = LAYOUT_SEED) -> np.ndarray:
    """Positions for the nodes not `placed`: near the mean of their placed neighbours
    (in rounds, so a chain of new pages follows its anchor), else on a ring just outside
    the picture, where Obsidian also leaves unlinked notes. `pos` rows of placed nodes
    are kept as they are."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pos = pos.copy()
    placed = placed.copy()
    a = np.concatenate([src, dst])
    b = np.concatenate([dst, src])
    jitter = SPAN / max(np.sqrt(n), 1.0)
    for _ in range(4):
        todo = ~placed
        if not todo.any():
            break
        use = todo[a] & placed[b]
        if not use.any():
            break
        count = np.bincount(a[use], minlength=n)
        sx = np.bincount(a[use], weights=pos[b[use], 0], minlength=n)
        sy = np.bincount(a[use], weights=pos[b[use], 1], minlength=n)
        now = todo & (count > 0)
        angle = rng.uniform(0, 2 * np.pi, int(now.sum()))
        radius = rng.uniform(0.2, 1.0, int(now.sum())) * jitter
        pos[now, 0] = sx[now] / count[now] + np.cos(angle) * radius
        pos[now, 1] = sy[now] / count[now] + np.sin(angle) * radius
        placed = placed | now
    rest = ~placed
    if rest.any():
        extent = float(np.abs(pos[placed]).max()) if placed.any() else SPAN
        angle = rng.uniform(0, 2 * np.pi, int(rest.sum()))
        radius = extent * rng.uniform(1.02, 1.12, int(rest.sum()))
        pos[rest, 0] = np.cos(angle) * radius
        pos[rest, 1] = np.sin(angle) * radius
    return pos


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def has_layout_table(conn: sqlite3.Connection) -> bool:
    """False on a mirror made before the layout was stored, until it is migrated."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                        "AND name = 'page_layout'").fetchone() is not None


def layout_stale(conn: sqlite3.Connection) -> bool:
    """True when the stored layout is missing or was made for another graph structure
    than the one the core metrics describe (or those are stale themselves)."""
    if metrics_stale(conn):
        return True
    return _meta(conn, "layout_graph_hash") != _meta(conn, "metrics_graph_hash")


def layout_state(conn: sqlite3.Connection) -> dict[str, Any]:
    """How the stored layout was made and whether it is current (for /api/status)."""
    fresh = not layout_stale(conn)
    has_pages = conn.execute("SELECT EXISTS (SELECT 1 FROM pages)").fetchone()[0]
    return {"fresh": bool(fresh or not has_pages),
            "computed_at": _meta(conn, "layout_computed_at"),
            "method": _meta(conn, "layout_method"),
            "graph_hash": _meta(conn, "layout_graph_hash")}


def compute_layout(mirror: Mirror, *, seed: int = LAYOUT_SEED) -> dict[str, Any]:
    """Bring the stored layout up to the mirror's graph: a full layout when there is
    none or too many pages were placed since the last one, else only the new pages
    placed. Written in one transaction with meta `layout_*`."""
    import numpy as np

    started = time.perf_counter()
    g = read_graph_arrays(mirror.conn)
    digest = g.fingerprint()
    stored = {r[0]: (r[1], r[2]) for r in mirror.conn.execute(
        "SELECT page_id, x, y FROM page_layout")}
    summary: dict[str, Any] = {"pages": g.n, "graph_hash": digest, "changed": False}
    if mirror.get_meta("layout_graph_hash") == digest and len(stored) == g.n:
        return summary
    placed = np.array([int(i) in stored for i in g.ids.tolist()], dtype=bool)
    pos = np.array([stored.get(int(i), (0.0, 0.0)) for i in g.ids.tolist()],
                   dtype=np.float64).reshape(g.n, 2)
    since_full = int(mirror.get_meta("layout_placed") or 0) if stored else 0
    new = int((~placed).sum())
    full = not placed.any() or since_full + new > REFRESH_SHARE * max(g.n, 1)
    if full:
        pos = force_layout(g.n, g.src, g.dst, seed=seed)
        since_full = 0
    elif new:
        pos = place_new(g.n, g.src, g.dst, pos, placed, seed=seed)
        since_full += new
    seconds = time.perf_counter() - started
    rows = list(zip(g.ids.tolist(), np.round(pos[:, 0], 3).tolist(),
                    np.round(pos[:, 1], 3).tolist(), strict=True))
    info = {"layout_graph_hash": digest, "layout_graph_version": g.version,
            "layout_method": METHOD, "layout_seed": str(seed),
            "layout_iterations": str(FULL_ITERATIONS), "layout_placed": str(since_full),
            "layout_seconds": f"{seconds:.3f}",
            "layout_computed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with mirror.transaction():
        mirror.write_layout(rows, info)
    summary.update(changed=True, full=full, placed=new, seconds=round(seconds, 4))
    return summary


def ensure_layout(mirror: Mirror) -> None:
    """Compute the stored layout when it is missing or stale."""
    if layout_stale(mirror.conn):
        compute_layout(mirror)
