"""The knowledge graph's figures: algorithms on arrays (algorithms), computing and
writing them for a mirror (metrics), and the one scheduler that keeps them current
(scheduler).

The graph: one node per page, one edge per (linking page, linked page) pair of
resolved page-to-page links (the `page_edges` view); parallel links add up to the
edge's weight and a page's links to itself are left out. Nodes are ordered by path,
so the same vault gives the same answer whatever row ids its mirror gave the pages.
"""

from .algorithms import (
    BFS_BATCH,
    EXACT_WORK,
    K_MAX,
    K_MIN,
    LAYOUT_SEED,
    LOUVAIN_MAX_EDGES,
    REFRESH_SHARE,
    SAMPLE_WORK,
    SPAN,
    betweenness,
    choose_k,
    citation_counts,
    communities,
    community_layout,
    force_layout,
    modularity,
    pagerank,
    place_new,
    weak_components,
)
from .metrics import (
    compute_core_metrics,
    compute_heavy_metrics,
    compute_layout,
    core_rows,
    ensure_metrics,
)
from .scheduler import MetricsOnDemand, MetricsScheduler

__all__ = [
    "BFS_BATCH", "EXACT_WORK", "K_MAX", "K_MIN", "LAYOUT_SEED", "LOUVAIN_MAX_EDGES",
    "REFRESH_SHARE", "SAMPLE_WORK", "SPAN", "MetricsOnDemand", "MetricsScheduler",
    "betweenness", "choose_k",
    "citation_counts", "communities", "community_layout", "compute_core_metrics",
    "compute_heavy_metrics",
    "compute_layout", "core_rows", "ensure_metrics", "force_layout", "modularity",
    "pagerank", "place_new", "weak_components",
]
