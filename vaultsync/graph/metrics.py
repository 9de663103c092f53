"""The graph's figures, computed from the mirror and written back to it.

Each computation reads the graph as arrays in one snapshot (`read.read_graph_arrays`),
runs the algorithms (`algorithms`), and writes through the mirror's writer in one
transaction. Whether a kind of figure is current is `read.metrics_state`'s rule:

- *core* (degrees and flags, citation counts, PageRank, components): cheap, after
  every batch; current when made for the graph version there is now;
- *heavy* (betweenness, communities) and the graph view's *layout*: current when made
  for the graph structure the core figures describe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..mirror import CoreMetrics, HeavyMetrics, LayoutPosition, MetaKey, Mirror
from ..read import GraphArrays, metrics_state, read_graph_arrays

if TYPE_CHECKING:
    import numpy as np

from .algorithms import (
    LAYOUT_ITERATIONS,
    LAYOUT_METHOD,
    LAYOUT_SEED,
    REFRESH_SHARE,
    betweenness,
    choose_k,
    citation_counts,
    communities,
    community_layout,
    pagerank,
    place_new,
    shows_communities,
    weak_components,
)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def core_rows(g: GraphArrays) -> list[CoreMetrics]:
    """Each page's core figures. Degrees count the graph's edges (the page_degrees and
    page_edges views' rule: distinct linked pages, no self-links)."""
    import numpy as np

    n = g.n
    in_degree = np.bincount(g.dst, minlength=n)
    out_degree = np.bincount(g.src, minlength=n)
    rank = pagerank(n, g.src, g.dst, g.weight)
    component = weak_components(n, g.src, g.dst)
    cited = citation_counts(n, g.src, g.dst, g.is_source)
    orphan = in_degree == 0
    dead_end = out_degree == 0
    return [CoreMetrics(*values) for values in zip(
        g.ids.tolist(), in_degree.tolist(), out_degree.tolist(), rank.tolist(),
        component.tolist(), cited.tolist(), orphan.astype(int).tolist(),
        (orphan & dead_end).astype(int).tolist(), dead_end.astype(int).tolist(), strict=True)]


def _core_info(g: GraphArrays, digest: str, seconds: float) -> dict[MetaKey, str]:
    # The version written is the snapshot's: a graph that changed meanwhile still reads
    # as stale, and is computed again.
    return {MetaKey.METRICS_GRAPH_VERSION: g.version, MetaKey.METRICS_GRAPH_HASH: digest,
            MetaKey.METRICS_SECONDS: f"{seconds:.3f}"}


def compute_core_metrics(mirror: Mirror) -> dict[str, Any]:
    """Degrees, orphan/isolated/dead-end flags, citation counts, weighted PageRank and
    weakly connected components, written in one transaction. When the graph's
    structure is unchanged (an edit that moved no link) only the version is noted."""
    started = time.perf_counter()
    g = read_graph_arrays(mirror.conn)
    digest = g.fingerprint()
    known = mirror.conn.execute("SELECT count(*) FROM page_metrics").fetchone()[0] == g.n
    unchanged = known and mirror.get_meta(MetaKey.METRICS_GRAPH_HASH) == digest
    rows = [] if unchanged else core_rows(g)
    with mirror.transaction():
        if unchanged and mirror.get_meta(MetaKey.METRICS_GRAPH_HASH) != digest:
            rows = core_rows(g)  # a computation elsewhere wrote another graph meanwhile
            unchanged = False
        mirror.write_core_metrics(rows, _core_info(g, digest, time.perf_counter() - started))
    return {"pages": g.n, "edges": g.m, "seconds": round(time.perf_counter() - started, 4),
            "graph_version": g.version, "graph_hash": digest, "changed": not unchanged}


def compute_heavy_metrics(mirror: Mirror, *, seed: int = 42, k: int | None = None,
                          cancel: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Betweenness (exact on small graphs, `k` seeded samples above; k by size when None)
    and communities (Louvain, seeded; label propagation on huge graphs), written with
    how they were computed (the `betweenness_*`, `community_*` and `heavy_*` meta keys).
    Writes the core metrics too when they are missing for this graph.
    `cancel(graph_hash)` is polled between steps: True abandons the work (returns with
    written=False)."""
    import numpy as np

    started = time.perf_counter()
    g = read_graph_arrays(mirror.conn)
    digest = g.fingerprint()
    summary: dict[str, Any] = {"pages": g.n, "edges": g.m, "graph_hash": digest,
                               "written": False}
    stop = (lambda: cancel(digest)) if cancel is not None else None
    sample = choose_k(g.n, g.m, k)
    between = betweenness(g.n, g.src, g.dst, k=sample, seed=seed, cancel=stop)
    if between is None:
        return summary
    found = communities(g.n, g.src, g.dst, g.weight, seed=seed, cancel=stop)
    if found is None or (stop is not None and stop()):
        return summary
    labels, method, quality = found
    sizes = np.bincount(labels) if g.n else np.zeros(0, dtype=np.int64)
    groups = int((sizes >= 2).sum())
    rows = [HeavyMetrics(*values) for values in
            zip(g.ids.tolist(), between.tolist(), labels.tolist(), strict=True)]
    info = {
        MetaKey.BETWEENNESS_METHOD: "exact" if sample is None else "sampled",
        MetaKey.BETWEENNESS_K: str(g.n if sample is None else sample),
        MetaKey.BETWEENNESS_SEED: str(seed),
        MetaKey.COMMUNITY_METHOD: method,
        MetaKey.COMMUNITY_SEED: str(seed),
        MetaKey.COMMUNITY_MODULARITY: f"{quality:.6f}",
        MetaKey.COMMUNITIES: str(groups),
        MetaKey.HEAVY_SECONDS: f"{time.perf_counter() - started:.3f}",
        MetaKey.HEAVY_GRAPH_HASH: digest,
        MetaKey.HEAVY_GRAPH_VERSION: g.version,
        MetaKey.HEAVY_COMPUTED_AT: _now(),
    }
    core_started = time.perf_counter()
    core = core_rows(g) if mirror.get_meta(MetaKey.METRICS_GRAPH_HASH) != digest else None
    with mirror.transaction():
        # Core rows for this graph when they are missing, unless the graph has moved
        # on since the snapshot (newer core rows are never replaced by older ones).
        if mirror.get_meta(MetaKey.METRICS_GRAPH_HASH) != digest and \
                (mirror.get_meta(MetaKey.GRAPH_VERSION) or "0") == g.version:
            mirror.write_core_metrics(
                core if core is not None else core_rows(g),
                _core_info(g, digest, time.perf_counter() - core_started))
        mirror.write_heavy_metrics(rows, info)
    summary.update(
        written=True, seconds=round(time.perf_counter() - started, 4),
        betweenness_method=info[MetaKey.BETWEENNESS_METHOD],
        k=g.n if sample is None else sample, seed=seed, community_method=method,
        modularity=round(quality, 6), communities=groups)
    return summary


def _stored_communities(mirror: Mirror, g: GraphArrays, digest: str) -> np.ndarray | None:
    """page_metrics.community of each node when computed for this graph (the picture's
    clusters are then the communities the view colours and names), else None."""
    import numpy as np

    if mirror.get_meta(MetaKey.HEAVY_GRAPH_HASH) != digest:
        return None
    found = dict(mirror.conn.execute(
        "SELECT page_id, community FROM page_metrics WHERE community IS NOT NULL"))
    if len(found) != g.n:
        return None
    return np.array([found.get(int(i), -1) for i in g.ids.tolist()], dtype=np.int64)


def compute_layout(mirror: Mirror, *, seed: int = LAYOUT_SEED) -> dict[str, Any]:
    """Bring the stored layout up to the mirror's graph: a full layout when there is
    none or too many pages were placed since the last one (`community_layout`, on the
    stored communities when they describe this graph), else only the new pages placed
    beside their neighbours. Written in one transaction with the `layout_*` meta keys."""
    import numpy as np

    started = time.perf_counter()
    g = read_graph_arrays(mirror.conn)
    digest = g.fingerprint()
    stored = {r[0]: (r[1], r[2]) for r in mirror.conn.execute(
        "SELECT page_id, x, y FROM page_layout")}
    summary: dict[str, Any] = {"pages": g.n, "graph_hash": digest, "changed": False}
    if mirror.get_meta(MetaKey.LAYOUT_GRAPH_HASH) == digest and len(stored) == g.n:
        return summary
    placed = np.array([int(i) in stored for i in g.ids.tolist()], dtype=bool)
    pos = np.array([stored.get(int(i), (0.0, 0.0)) for i in g.ids.tolist()],
                   dtype=np.float64).reshape(g.n, 2)
    since_full = int(mirror.get_meta(MetaKey.LAYOUT_PLACED) or 0) if stored else 0
    new = int((~placed).sum())
    # A layout made by another method (an older vaultsync's) is redrawn whole.
    full = not placed.any() or since_full + new > REFRESH_SHARE * max(g.n, 1) or \
        mirror.get_meta(MetaKey.LAYOUT_METHOD) != LAYOUT_METHOD
    labels = _stored_communities(mirror, g, digest)
    if not full and new:
        pos = place_new(g.n, g.src, g.dst, pos, placed, seed=seed)
    # Pages keep their places while the picture still shows the communities the view
    # colours and names; when an edit re-drew them, so is the picture.
    if not full and labels is not None and \
            not shows_communities(g.n, g.src, g.dst, pos, labels, seed=seed):
        full = True
    if full:
        pos = community_layout(g.n, g.src, g.dst, g.weight, labels, seed=seed)
        since_full = 0
    else:
        since_full += new
    seconds = time.perf_counter() - started
    rows = [LayoutPosition(*values) for values in zip(
        g.ids.tolist(), np.round(pos[:, 0], 3).tolist(), np.round(pos[:, 1], 3).tolist(),
        strict=True)]
    info = {MetaKey.LAYOUT_GRAPH_HASH: digest, MetaKey.LAYOUT_GRAPH_VERSION: g.version,
            MetaKey.LAYOUT_METHOD: LAYOUT_METHOD, MetaKey.LAYOUT_SEED: str(seed),
            MetaKey.LAYOUT_ITERATIONS: str(LAYOUT_ITERATIONS),
            MetaKey.LAYOUT_PLACED: str(since_full), MetaKey.LAYOUT_SECONDS: f"{seconds:.3f}",
            MetaKey.LAYOUT_COMPUTED_AT: _now()}
    with mirror.transaction():
        mirror.write_layout(rows, info)
    summary.update(changed=True, full=full, placed=new, seconds=round(seconds, 4))
    return summary


def ensure_metrics(mirror: Mirror, *, heavy: bool = True, layout: bool = False) -> None:
    """Compute whatever is not current: the core metrics, and with `heavy` betweenness
    and communities, and with `layout` the graph view's stored positions."""
    state = metrics_state(mirror.conn)
    if not state.core_current:
        compute_core_metrics(mirror)
    if heavy and not metrics_state(mirror.conn).heavy_current:
        compute_heavy_metrics(mirror)
    if layout and not metrics_state(mirror.conn).layout_current:
        compute_layout(mirror)
