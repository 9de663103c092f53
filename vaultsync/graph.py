"""Graph metrics of the mirror: degrees, flags, citations, PageRank, components
(the *core* metrics, cheap, recomputed after every batch) and betweenness and
communities (the *heavy* ones, run in the background).

The graph: one node per page, one edge per (linking page, linked page) pair of
resolved page-to-page links; parallel links add up to the edge's weight and a
page's links to itself are left out (the `page_edges` view). Nodes are ordered
by path, so the same vault gives the same answer whatever row ids its mirror
gave the pages.

networkx, numpy and scipy are imported inside the functions that use them:
`vaultsync sync` never pays for them.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .mirror import Mirror

if TYPE_CHECKING:
    import networkx
    import numpy as np

log = logging.getLogger(__name__)

PAGERANK_ALPHA = 0.85
PAGERANK_TOL = 1e-10  # on the L1 change of the whole vector (networkx: n * 1e-6)
PAGERANK_MAX_ITER = 300

# Betweenness costs about (BFS sources) x (edges). Exact (every page a source)
# while pages x edges stays under EXACT_WORK; above it, K sampled sources with
# K x edges near SAMPLE_WORK, clamped to [K_MIN, K_MAX].
EXACT_WORK = 3e8
SAMPLE_WORK = 5e8
K_MIN, K_MAX = 256, 1024
BFS_BATCH = 32  # sources walked together; each holds a few n x BFS_BATCH arrays

# Louvain (networkx, seeded) up to this many undirected edges; fast label
# propagation above it. Measured (scripts/bench_graph.py): Louvain takes ~30 s
# CPU at 100k pages / 1M edges, and label propagation lumps power-law graphs
# with hub pages into one community (modularity ~0), so it is only the
# fallback for graphs far beyond the sizes.
LOUVAIN_MAX_EDGES = 2_500_000

HEAVY_METHOD_KEYS = (
    "betweenness_method", "betweenness_k", "betweenness_seed", "community_method",
    "community_seed", "community_modularity", "communities",
)


# --- reading the graph --------------------------------------------------------------


def load_graph(conn: sqlite3.Connection) -> networkx.DiGraph:
    """The page graph as a networkx DiGraph: nodes are page ids (in path order) with
    path, title, kind and is_source; edges carry `weight`, the number of links."""
    import networkx as nx

    graph = nx.DiGraph()
    with _read_transaction(conn):
        for page_id, path, title, kind, is_source in conn.execute(
                "SELECT id, path, title, kind, is_source FROM pages ORDER BY path"):
            graph.add_node(page_id, path=path, title=title, kind=kind,
                           is_source=bool(is_source))
        graph.add_weighted_edges_from(conn.execute(
            "SELECT source_id, target_id, weight FROM page_edges "
            "ORDER BY source_id, target_id"))
    return graph


class _read_transaction:  # noqa: N801 - used as a context manager
    """One read snapshot across several SELECTs (WAL), unless already in a transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.own = False

    def __enter__(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
            self.own = True

    def __exit__(self, *exc: object) -> None:
        if self.own:
            self.conn.execute("COMMIT")


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

    with _read_transaction(conn):
        row = conn.execute("SELECT value FROM meta WHERE key = 'graph_version'").fetchone()
        version = row[0] if row and row[0] is not None else "0"
        pages = np.fromiter(
            itertools.chain.from_iterable(
                conn.execute("SELECT id, is_source FROM pages ORDER BY path")),
            dtype=np.int64).reshape(-1, 2)
        links = np.fromiter(
            itertools.chain.from_iterable(conn.execute(
                "SELECT source_id, target_id FROM links "
                "WHERE target_id IS NOT NULL AND target_id != source_id")),
            dtype=np.int64).reshape(-1, 2)
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
        key, counts = np.unique(s[keep] * n + t[keep], return_counts=True)
        src, dst, weight = key // n, key % n, counts.astype(np.float64)
    else:
        src = dst = np.zeros(0, dtype=np.int64)
        weight = np.zeros(0, dtype=np.float64)
    return GraphArrays(version, ids, is_source, src, dst, weight)


# --- the algorithms, on arrays --------------------------------------------------------


def pagerank(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None = None, *,
             alpha: float = PAGERANK_ALPHA, tol: float = PAGERANK_TOL,
             max_iter: int = PAGERANK_MAX_ITER) -> np.ndarray:
    """Weighted PageRank by power iteration on a scipy matrix built from the edge
    arrays; networkx's definition (uniform teleport, dangling pages spread evenly)."""
    import numpy as np
    import scipy.sparse as sp

    if n == 0:
        return np.zeros(0)
    w = np.ones(len(src)) if weight is None else np.asarray(weight, dtype=np.float64)
    out_w = np.bincount(src, weights=w, minlength=n)
    # P^T: column u holds u's out-links normalised to 1; x_next = alpha P^T x + ...
    pt = sp.csr_array((w / out_w[src], (dst, src)), shape=(n, n)) if len(src) else \
        sp.csr_array((n, n))
    dangling = out_w == 0
    x = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        last = x
        x = alpha * (pt @ x + x[dangling].sum() / n) + (1.0 - alpha) / n
        if np.abs(x - last).sum() < tol:
            break
    else:
        log.warning("PageRank did not converge in %d iterations", max_iter)
    return x / x.sum()


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber groups 0.. by size, largest first, ties by their first node."""
    import numpy as np

    n = len(labels)
    if n == 0:
        return labels.astype(np.int64)
    _, dense = np.unique(labels, return_inverse=True)
    count = dense.max() + 1
    sizes = np.bincount(dense, minlength=count)
    first = np.full(count, n, dtype=np.int64)
    np.minimum.at(first, dense, np.arange(n))
    order = np.lexsort((first, -sizes))
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count)
    return rank[dense]


def weak_components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Weakly connected component of each node; 0 is the largest."""
    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    if n == 0:
        return np.zeros(0, dtype=np.int64)
    a = sp.csr_array((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, labels = connected_components(a, directed=True, connection="weak")
    return _relabel(labels)


def citation_counts(n: int, src: np.ndarray, dst: np.ndarray,
                    is_source: np.ndarray) -> np.ndarray:
    """Distinct source pages joined to each page by a link either way."""
    import numpy as np

    a = np.concatenate([src, dst])
    b = np.concatenate([dst, src])
    sel = is_source[b]
    pairs = np.unique(a[sel] * max(n, 1) + b[sel])
    return np.bincount(pairs // max(n, 1), minlength=n).astype(np.int64)


def choose_k(n: int, m: int, k: int | None = None) -> int | None:
    """Sources to sample for betweenness, or None for exact (every page)."""
    if k is not None:
        return None if k >= n else max(int(k), 1)
    if n * max(m, 1) <= EXACT_WORK:
        return None
    return min(n, max(K_MIN, min(K_MAX, int(SAMPLE_WORK // max(m, 1)))))


def betweenness(n: int, src: np.ndarray, dst: np.ndarray, *, k: int | None = None,
                seed: int = 42, cancel: Callable[[], bool] | None = None,
                batch: int = BFS_BATCH) -> np.ndarray | None:
    """Normalised directed betweenness over unweighted shortest paths (networkx's
    definition), exact or from `k` seeded sample sources. Brandes' algorithm with
    BFS run for `batch` sources at once as sparse-matrix x dense-block products.
    Returns None when `cancel()` turned true between batches."""
    import numpy as np
    import scipy.sparse as sp

    bc = np.zeros(n)
    if n < 3 or len(src) == 0:
        return bc
    if k is None or k >= n:
        sources = np.arange(n)
    else:
        sources = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
    ones = np.ones(len(src))
    fwd = sp.csr_array((ones, (dst, src)), shape=(n, n))  # fwd @ x: x pushed along links
    back = sp.csr_array((ones, (src, dst)), shape=(n, n))  # back @ x: pulled from successors
    for start in range(0, len(sources), batch):
        if cancel is not None and cancel():
            return None
        chunk = sources[start:start + batch]
        b = len(chunk)
        cols = np.arange(b)
        depth = np.full((n, b), -1, dtype=np.int32)
        depth[chunk, cols] = 0
        frontier = np.zeros((n, b))
        frontier[chunk, cols] = 1.0
        sigma = frontier.copy()  # shortest paths from the source
        level = 0
        while True:
            reached = fwd @ frontier
            new = (reached > 0) & (depth < 0)
            if not new.any():
                break
            level += 1
            depth[new] = level
            frontier = np.where(new, reached, 0.0)
            sigma += frontier
        delta = np.zeros((n, b))
        safe_sigma = np.where(sigma > 0, sigma, 1.0)
        for lvl in range(level - 1, 0, -1):
            pull = np.where(depth == lvl + 1, (1.0 + delta) / safe_sigma, 0.0)
            delta += np.where(depth == lvl, sigma * (back @ pull), 0.0)
        bc += delta.sum(axis=1)
    # networkx 3.6 rescaling (normalized, directed, endpoints excluded).
    if k is None or k >= n:
        return bc / ((n - 1) * (n - 2))
    scale = np.full(n, 1.0 / (k * (n - 2)))
    scale[sources] = 1.0 / ((k - 1) * (n - 2)) if k > 1 else 0.0
    return bc * scale


def _undirected(n: int, src: np.ndarray, dst: np.ndarray,
                weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each linked pair once, weight = links both ways."""
    import numpy as np

    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    key, inverse = np.unique(lo * max(n, 1) + hi, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=weight, minlength=len(key))
    return key // max(n, 1), key % max(n, 1), w


def modularity(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray,
               labels: np.ndarray) -> float:
    """Newman modularity of a partition of an undirected weighted graph (resolution 1)."""
    import numpy as np

    total = w.sum()
    if total == 0:
        return 0.0
    inside = labels[u] == labels[v]
    count = int(labels.max()) + 1 if n else 0
    internal = np.bincount(labels[u][inside], weights=w[inside], minlength=count)
    degree = np.bincount(u, weights=w, minlength=n) + np.bincount(v, weights=w, minlength=n)
    strength = np.bincount(labels, weights=degree, minlength=count)
    return float((internal / total - (strength / (2 * total)) ** 2).sum())


def communities(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, *,
                seed: int = 42, method: str | None = None,
                cancel: Callable[[], bool] | None = None
                ) -> tuple[np.ndarray, str, float] | None:
    """Community of each node (0 = largest) on the undirected weighted graph, the
    method used ('louvain' or 'label_propagation', by size unless given) and its
    modularity. Seeded: the same graph gives the same answer. None when cancelled."""
    import networkx as nx
    import numpy as np

    u, v, w = _undirected(n, src, dst, weight)
    if method is None:
        method = "louvain" if len(u) <= LOUVAIN_MAX_EDGES else "label_propagation"
    if len(u) == 0:
        labels = np.arange(n)
    else:
        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        graph.add_weighted_edges_from(zip(u.tolist(), v.tolist(), w.tolist(), strict=True))
        if method == "louvain":
            parts: list = [[{i} for i in range(n)]]
            for level in nx.community.louvain_partitions(graph, weight="weight", seed=seed):
                if cancel is not None and cancel():
                    return None
                parts.append(level)
            groups = parts[-1]
        elif method == "label_propagation":
            groups = nx.community.fast_label_propagation_communities(
                graph, weight="weight", seed=seed)
        else:
            raise ValueError(f"unknown community method {method!r}")
        labels = np.empty(n, dtype=np.int64)
        for number, members in enumerate(groups):
            labels[list(members)] = number
    labels = _relabel(labels)
    return labels, method, modularity(n, u, v, w, labels)


# --- metrics written to the mirror ------------------------------------------------------


def core_rows(g: GraphArrays) -> list[tuple]:
    """Rows for Mirror.write_core_metrics: (page_id, in_degree, out_degree, pagerank,
    component, citation_count, orphan, isolated, dead_end)."""
    import numpy as np

    n = g.n
    in_degree = np.bincount(g.dst, minlength=n)
    out_degree = np.bincount(g.src, minlength=n)
    rank = pagerank(n, g.src, g.dst, g.weight)
    component = weak_components(n, g.src, g.dst)
    cited = citation_counts(n, g.src, g.dst, g.is_source)
    orphan = in_degree == 0
    dead_end = out_degree == 0
    return list(zip(
        g.ids.tolist(), in_degree.tolist(), out_degree.tolist(), rank.tolist(),
        component.tolist(), cited.tolist(), orphan.astype(int).tolist(),
        (orphan & dead_end).astype(int).tolist(), dead_end.astype(int).tolist(), strict=True))


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def metrics_stale(conn: sqlite3.Connection) -> bool:
    """True when the core metrics are missing or older than the last graph change."""
    return _meta(conn, "metrics_graph_version") != (_meta(conn, "graph_version") or "0")


def heavy_stale(conn: sqlite3.Connection) -> bool:
    """True when betweenness and communities were not computed for the graph the core
    metrics describe (edits that change no link leave them current)."""
    if metrics_stale(conn):
        return True
    return _meta(conn, "heavy_graph_hash") != _meta(conn, "metrics_graph_hash")


def _existing(rows: list[tuple], conn: sqlite3.Connection) -> list[tuple]:
    ids = {r[0] for r in conn.execute("SELECT id FROM pages")}
    return [r for r in rows if r[0] in ids]


def _write_core(mirror: Mirror, g: GraphArrays, rows: list[tuple], digest: str,
                seconds: float) -> None:
    """Inside a transaction: pages deleted since the snapshot are left out (their
    metrics would break the foreign key); the version written is the snapshot's, so
    a graph that changed meanwhile still reads as stale."""
    if (mirror.get_meta("graph_version") or "0") != g.version:
        rows = _existing(rows, mirror.conn)
    mirror.write_core_metrics(rows, g.version)
    mirror.set_meta("metrics_graph_hash", digest)
    mirror.set_meta("metrics_seconds", f"{seconds:.3f}")


def compute_core_metrics(mirror: Mirror) -> dict:
    """Degrees, orphan/isolated/dead-end flags, citation counts, weighted PageRank and
    weakly connected components, written in one transaction. When the graph's
    structure is unchanged (an edit that moved no link) only the version is noted."""
    started = time.perf_counter()
    g = read_graph_arrays(mirror.conn)
    digest = g.fingerprint()
    unchanged = (
        mirror.get_meta("metrics_graph_hash") == digest
        and mirror.conn.execute("SELECT count(*) FROM page_metrics").fetchone()[0] == g.n
    )
    rows = [] if unchanged else core_rows(g)
    seconds = time.perf_counter() - started
    with mirror.transaction():
        if unchanged and mirror.get_meta("metrics_graph_hash") == digest:
            mirror.write_core_metrics([], g.version)
        else:
            if unchanged:  # a computation elsewhere wrote another graph meanwhile
                rows = core_rows(g)
            _write_core(mirror, g, rows, digest, seconds)
    return {"pages": g.n, "edges": g.m, "seconds": round(time.perf_counter() - started, 4),
            "graph_version": g.version, "graph_hash": digest, "changed": not unchanged}


def compute_heavy_metrics(mirror: Mirror, *, seed: int = 42, k: int | None = None,
                          cancel: Callable[[str], bool] | None = None) -> dict:
    """Betweenness (exact on small graphs, `k` seeded samples above; k by size when None)
    and communities (Louvain, seeded; label propagation on huge graphs), written with
    how they were computed (meta: betweenness_method, betweenness_k, betweenness_seed,
    community_method, community_modularity, communities, heavy_seconds,
    heavy_graph_hash). Writes the core metrics too when they are missing for this
    graph. `cancel(graph_hash)` is polled between steps: True abandons the work
    (returns with written=False)."""
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
    rows = list(zip(between.tolist(), labels.tolist(), g.ids.tolist(), strict=True))
    seconds = time.perf_counter() - started
    info = {
        "betweenness_method": "exact" if sample is None else "sampled",
        "betweenness_k": str(g.n if sample is None else sample),
        "betweenness_seed": str(seed),
        "community_method": method,
        "community_seed": str(seed),
        "community_modularity": f"{quality:.6f}",
        "communities": str(groups),
        "heavy_seconds": f"{seconds:.3f}",
        "heavy_graph_hash": digest,
        "heavy_graph_version": g.version,
        "heavy_computed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    core: list[tuple] | None = None
    core_started = time.perf_counter()
    if mirror.get_meta("metrics_graph_hash") != digest:
        core = core_rows(g)
    core_seconds = time.perf_counter() - core_started
    with mirror.transaction():
        # Core rows for this graph when they are missing, unless the graph has moved
        # on since the snapshot (newer core rows are never replaced by older ones).
        if mirror.get_meta("metrics_graph_hash") != digest and \
                (mirror.get_meta("graph_version") or "0") == g.version:
            _write_core(mirror, g, core if core is not None else core_rows(g), digest,
                        core_seconds)
        mirror.write_heavy_metrics(rows, info)
    summary.update(
        written=True, seconds=round(time.perf_counter() - started, 4),
        betweenness_method=info["betweenness_method"], k=g.n if sample is None else sample,
        seed=seed, community_method=method, modularity=round(quality, 6), communities=groups)
    return summary


def ensure_metrics(mirror: Mirror, *, heavy: bool = True) -> None:
    """Compute the core (and, with `heavy`, the heavy) metrics if missing or stale."""
    if metrics_stale(mirror.conn):
        compute_core_metrics(mirror)
    if heavy and heavy_stale(mirror.conn):
        compute_heavy_metrics(mirror)


# --- the daemon's scheduler ---------------------------------------------------------------


def _layout_stale(mirror: Mirror) -> bool:
    from .layout import has_layout_table, layout_stale

    return has_layout_table(mirror.conn) and layout_stale(mirror.conn)


class MetricsScheduler:
    """Keeps a mirror's metrics current behind a syncing daemon.

    `notify()` after each committed batch. Once batches settle (no notify for
    `debounce` seconds) the core metrics are recomputed in a worker thread; then
    the heavy ones in a second thread, which never blocks syncing or the core
    metrics, and after them, in the same thread, the graph view's stored layout
    (vaultsync.layout). A heavy run whose graph changed meanwhile (a later core run saw
    another structure) is abandoned and started again from scratch on the
    settled graph. At most one computation of each kind is in flight. Each thread
    opens its own Mirror(db_path). `on_done("core" | "heavy" | "layout")` is called
    from the worker threads after each write.
    """

    def __init__(self, db_path: Path, *, debounce: float = 0.3,
                 on_done: Callable[[str], None] | None = None, seed: int = 42,
                 heavy: bool = True) -> None:
        self.db_path = Path(db_path)
        self.debounce = debounce
        self.on_done = on_done
        self.seed = seed
        self.heavy = heavy
        self.last_error: BaseException | None = None
        self._cond = threading.Condition()
        self._pending = False
        self._last_notify = 0.0
        self._heavy_wanted = False
        self._stopping = False
        self._latest_hash: str | None = None  # structure the last core run saw
        self._busy = 0  # computations under way
        self._threads = [
            threading.Thread(target=self._core_loop, name="vaultsync-metrics-core", daemon=True)]
        if heavy:
            self._threads.append(threading.Thread(
                target=self._heavy_loop, name="vaultsync-metrics-heavy", daemon=True))
        for thread in self._threads:
            thread.start()

    def notify(self) -> None:
        """A batch was committed: recompute once things settle. Never blocks."""
        with self._cond:
            self._pending = True
            self._last_notify = time.monotonic()
            self._cond.notify_all()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop both threads (a heavy run is abandoned at its next step)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is pending or under way; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._stopping or not (self._pending or self._heavy_wanted
                                               or self._busy), timeout)

    def _finished(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def _done(self, kind: str) -> None:
        if self.on_done is not None:
            try:
                self.on_done(kind)
            except Exception:  # a callback's bug must not kill the scheduler
                log.exception("metrics on_done callback failed")

    def _wait_settled(self) -> bool:
        """Block until a notify has settled; False when stopping."""
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            while not self._stopping:
                remaining = self._last_notify + self.debounce - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._pending = False
            if self._stopping:
                return False
            self._busy += 1
            return True

    def _failed(self, what: str, exc: Exception, mirror: Mirror | None) -> None:
        """Log a failed computation and drop its connection: the next run reopens it."""
        self.last_error = exc
        log.exception("%s metrics failed", what)
        if mirror is not None:
            mirror.close()

    def _core_loop(self) -> None:
        mirror: Mirror | None = None
        try:
            while self._wait_settled():
                try:
                    if mirror is None:
                        mirror = Mirror(self.db_path)
                    if metrics_stale(mirror.conn):
                        summary = compute_core_metrics(mirror)
                        self._latest_hash = summary["graph_hash"]
                        self._done("core")
                    if self.heavy and (heavy_stale(mirror.conn) or _layout_stale(mirror)):
                        with self._cond:
                            self._heavy_wanted = True
                            self._cond.notify_all()
                except Exception as exc:  # logged; the next notify tries again
                    self._failed("core", exc, mirror)
                    mirror = None
                finally:
                    self._finished()
        finally:
            if mirror is not None:
                mirror.close()

    def _heavy_loop(self) -> None:
        mirror: Mirror | None = None
        try:
            while True:
                with self._cond:
                    while not self._heavy_wanted and not self._stopping:
                        self._cond.wait()
                    if self._stopping:
                        return
                    self._heavy_wanted = False
                    self._busy += 1
                    seen_at_start = self._latest_hash

                def abandon(digest: str, seen: str | None = seen_at_start) -> bool:
                    latest = self._latest_hash
                    return self._stopping or (latest != seen and latest != digest)

                try:
                    if mirror is None:
                        mirror = Mirror(self.db_path)
                    if heavy_stale(mirror.conn):
                        result = compute_heavy_metrics(mirror, seed=self.seed, cancel=abandon)
                        if not result["written"]:
                            log.info("heavy metrics abandoned: the graph changed")
                            continue
                        self._done("heavy")
                    # The graph view's stored positions follow the same graph.
                    if not self._stopping and _layout_stale(mirror):
                        from .layout import compute_layout

                        compute_layout(mirror)
                        self._done("layout")
                except Exception as exc:
                    self._failed("heavy", exc, mirror)
                    mirror = None
                finally:
                    self._finished()
        finally:
            if mirror is not None:
                mirror.close()
