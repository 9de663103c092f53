"""The graph algorithms, as pure functions of arrays: node i is a page, edges are
(src[i], dst[i]) pairs of node indices with a weight. No SQL here: `graph.metrics`
reads the arrays from the mirror (`read.read_graph_arrays`) and writes the results.

numpy, scipy, networkx and igraph are imported inside the functions that use them:
`vaultsync sync` never pays for them.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("vaultsync.graph")

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
# fallback for graphs far beyond a million links.
LOUVAIN_MAX_EDGES = 2_500_000

LAYOUT_SEED = 42
LAYOUT_ITERATIONS = 500
SPAN = 1000.0
REFRESH_SHARE = 0.1
LAYOUT_METHOD = "fruchterman_reingold"

# igraph draws from one process-wide random generator: one seeded layout at a time.
_RNG_LOCK = threading.Lock()



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
    result: np.ndarray = x / x.sum()
    return result


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
        exact: np.ndarray = bc / ((n - 1) * (n - 2))
        return exact
    scale = np.full(n, 1.0 / (k * (n - 2)))
    scale[sources] = 1.0 / ((k - 1) * (n - 2)) if k > 1 else 0.0
    sampled: np.ndarray = bc * scale
    return sampled


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
            parts: list[Any] = [[{i} for i in range(n)]]
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



# --- the graph view's layout ----------------------------------------------------------

def force_layout(n: int, src: np.ndarray, dst: np.ndarray, *, seed: int = LAYOUT_SEED,
                 iterations: int = LAYOUT_ITERATIONS) -> np.ndarray:
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


