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
LAYOUT_METHOD = "community_fruchterman_reingold"
GRID_ABOVE = 300  # pages in a cluster above which igraph's grid approximation is used
CLUSTER_GAP = 1.5  # clusters are parted as if this much wider: white space between them
NEAREST = 10  # neighbours counted by neighbourhood_share
# Below this neighbourhood share the stored picture no longer shows the communities and
# is drawn again (a fresh layout scores 0.95 - 1.0 on the vaults in BENCHMARKS.md).
SHOWS_COMMUNITIES = 0.6

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
    seeded Fruchterman-Reingold (igraph), centred and scaled to span [-SPAN, SPAN].
    The layout before communities shaped it; kept for comparison (bench_layout.py)."""
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
    return _fit(np.asarray(coords.coords, dtype=np.float64).reshape(n, 2))


def _fit(pos: np.ndarray, *, centre: bool = True) -> np.ndarray:
    """Scaled to span [-SPAN, SPAN], centred first unless already (a ring is)."""
    import numpy as np

    if len(pos) == 0:
        return pos
    if centre:
        pos = pos - (pos.max(axis=0) + pos.min(axis=0)) / 2
    extent = float(np.abs(pos).max())
    fitted: np.ndarray = pos * (SPAN / extent) if extent > 0 else pos
    return fitted


def _igraph_layout(count: int, u: np.ndarray, v: np.ndarray, w: np.ndarray,
                   iterations: int) -> np.ndarray:
    """Weighted Fruchterman-Reingold of one cluster or of the graph of clusters
    (igraph; the caller holds the seeded generator), centred, as a (count, 2) array."""
    import igraph
    import numpy as np

    if count == 1:
        return np.zeros((1, 2))
    graph = igraph.Graph(n=count, edges=np.column_stack([u, v]).tolist(), directed=False)
    coords = graph.layout_fruchterman_reingold(
        weights=w.tolist() if len(w) else None, niter=iterations,
        grid=count > GRID_ABOVE)
    pos = np.asarray(coords.coords, dtype=np.float64).reshape(count, 2)
    centred: np.ndarray = pos - pos.mean(axis=0)
    return centred


def _separate(centre: np.ndarray, radius: np.ndarray, rounds: int = 200) -> np.ndarray:
    """Move discs (centre, radius) apart until none overlaps another, each step
    pushing every overlapping pair apart along the line joining them."""
    import numpy as np
    from scipy.spatial import cKDTree

    centre = centre.copy()
    count = len(centre)
    if count < 2:
        return centre
    reach = 2.0 * float(radius.max())
    for _ in range(rounds):
        pairs = cKDTree(centre).query_pairs(reach, output_type="ndarray")
        if len(pairs) == 0:
            break
        a, b = pairs[:, 0], pairs[:, 1]
        delta = centre[b] - centre[a]
        dist = np.linalg.norm(delta, axis=1)
        overlap = radius[a] + radius[b] - dist
        hit = overlap > 1e-9
        if not hit.any():
            break
        a, b, delta, dist, overlap = a[hit], b[hit], delta[hit], dist[hit], overlap[hit]
        same = dist < 1e-9  # coincident centres: part them along a fixed direction
        delta[same] = [1.0, 0.0]
        dist[same] = 1.0
        # Each disc moves in proportion to the other's area: a small cluster makes
        # way for a big one.
        area_a, area_b = radius[a] ** 2, radius[b] ** 2
        share_a = area_b / (area_a + area_b)
        step = (delta / dist[:, None]) * (overlap[:, None] * 0.5 + 1e-6)
        move = np.zeros_like(centre)
        np.add.at(move, a, -step * (2 * share_a)[:, None])
        np.add.at(move, b, step * (2 * (1 - share_a))[:, None])
        centre += move
    return centre


def neighbourhood_share(pos: np.ndarray, labels: np.ndarray, pages: np.ndarray,
                        k: int = NEAREST, *, attainable: bool = False) -> float:
    """How well positions show communities: the mean over `pages` of the share of each
    one's k nearest other pages (every page counts as a neighbour) in its community;
    with `attainable`, of the most there can be (a community of 4 has only 3 others).
    NaN when there are no pages or too few positions."""
    import numpy as np
    from scipy.spatial import cKDTree

    if len(pages) == 0 or len(pos) <= k:
        return float("nan")
    _, near = cKDTree(pos).query(pos[pages], k=k + 1)
    near = near[:, 1:]  # not the page itself
    same = (labels[near] == labels[pages][:, None]).sum(axis=1)
    if not attainable:
        return float(same.mean() / k)
    sizes = np.bincount(labels)[labels[pages]]
    return float(np.mean(same / np.clip(sizes - 1, 1, k)))


def shows_communities(n: int, src: np.ndarray, dst: np.ndarray, pos: np.ndarray,
                      labels: np.ndarray, *, sample: int = 2000, seed: int = LAYOUT_SEED
                      ) -> bool:
    """Whether positions still show the communities `labels`: the neighbourhood share
    (of the attainable) of a seeded sample of the linked pages in communities of 2 or
    more is at least SHOWS_COMMUNITIES. An edit can re-draw the communities (Louvain
    moves many pages between fuzzy communities for one new link) while the pages keep
    their places."""
    import numpy as np

    linked = np.zeros(n, dtype=bool)
    linked[src] = True
    linked[dst] = True
    sizes = np.bincount(labels) if n else np.zeros(0, dtype=np.int64)
    pages = np.flatnonzero(linked & (sizes[labels] >= 2))
    if len(pages) > sample:
        pages = np.sort(np.random.default_rng(seed).choice(pages, sample, replace=False))
    share = neighbourhood_share(pos, labels, pages, attainable=True)
    return bool(np.isnan(share) or share >= SHOWS_COMMUNITIES)


def community_layout(n: int, src: np.ndarray, dst: np.ndarray,
                     weight: np.ndarray | None = None, labels: np.ndarray | None = None, *,
                     seed: int = LAYOUT_SEED, iterations: int = LAYOUT_ITERATIONS
                     ) -> np.ndarray:
    """An (n, 2) array of positions that shows the graph's communities: each community
    (`labels`, e.g. page_metrics.community; igraph's multilevel when None) is a disc
    of area proportional to its pages, placed by a weighted force layout of the graph
    of communities (so linked communities are neighbours) and then parted until no two
    discs overlap; inside its disc, the community's own pages are laid out by a
    weighted force layout, which puts its hub pages in the middle. Pages without links
    sit on a ring around the picture. Seeded; centred and scaled to [-SPAN, SPAN]."""
    import igraph
    import numpy as np

    if n < 2:
        return np.zeros((n, 2))
    w_in = np.ones(len(src)) if weight is None else np.asarray(weight, dtype=np.float64)
    u, v, w = _undirected(n, src, dst, w_in)
    linked = np.zeros(n, dtype=bool)
    linked[u] = True
    linked[v] = True
    pos = np.zeros((n, 2))
    members = np.flatnonzero(linked)
    with _RNG_LOCK:
        igraph.set_random_number_generator(random.Random(seed))
        try:
            if labels is None:
                graph = igraph.Graph(n=n, edges=np.column_stack([u, v]).tolist())
                labels = np.asarray(
                    graph.community_multilevel(weights=w.tolist()).membership)
            labels = _relabel(np.where(linked, np.asarray(labels), -1 - np.arange(n)))
            group = labels[members]
            count = int(group.max()) + 1 if len(group) else 0
            size = np.bincount(group, minlength=count).astype(np.float64)
            # The graph of communities: weight = links between them.
            cu, cv = labels[u], labels[v]
            across = cu != cv
            cross_u, cross_v, cross_w = _undirected(
                count, cu[across], cv[across], w[across]) if across.any() else \
                (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
            radius = np.sqrt(size)
            centre = _igraph_layout(count, cross_u, cross_v, cross_w, iterations) \
                if count else np.zeros((0, 2))
            if count > 1:
                # Start at the scale of the discs, then part what overlaps.
                typical = float(np.median(np.linalg.norm(
                    centre[cross_u] - centre[cross_v], axis=1))) if len(cross_u) else 1.0
                centre *= 2.0 * float(radius.mean()) / max(typical, 1e-9)
                centre = _separate(centre, radius * CLUSTER_GAP + 0.5)
            # Each community's pages inside its disc.
            inside = ~across
            order = np.argsort(group, kind="stable")
            bounds = np.searchsorted(group[order], np.arange(count + 1))
            local = np.full(n, -1, dtype=np.int64)
            edge_group = cu[inside]
            edge_order = np.argsort(edge_group, kind="stable")
            edge_bounds = np.searchsorted(edge_group[edge_order], np.arange(count + 1))
            iu, iv, iw = u[inside][edge_order], v[inside][edge_order], w[inside][edge_order]
            for c in range(count):
                nodes = members[order[bounds[c]:bounds[c + 1]]]
                local[nodes] = np.arange(len(nodes))
                e = slice(edge_bounds[c], edge_bounds[c + 1])
                inner = _igraph_layout(len(nodes), local[iu[e]], local[iv[e]], iw[e],
                                       iterations)
                spread = float(np.percentile(np.linalg.norm(inner, axis=1), 95)) \
                    if len(nodes) > 1 else 0.0
                if spread > 0:
                    inner *= radius[c] / spread
                pos[nodes] = inner + centre[c]
        finally:
            igraph.set_random_number_generator(random)
    alone = np.flatnonzero(~linked)
    if len(alone):
        # A ring just outside the clusters, evenly spaced in path order.
        if len(members):
            mid = (pos[members].max(axis=0) + pos[members].min(axis=0)) / 2
            pos[members] -= mid
            edge = float(np.linalg.norm(pos[members], axis=1).max())
        else:
            edge = 1.0
        ring = max(edge * 1.08, 1.0)
        angle = 2 * np.pi * np.arange(len(alone)) / len(alone)
        pos[alone, 0] = np.cos(angle) * ring
        pos[alone, 1] = np.sin(angle) * ring
    return _fit(pos, centre=not len(alone))


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


