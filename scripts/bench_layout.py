#!/usr/bin/env python3
"""Measure how well the graph view's stored layout shows a vault's structure.

Usage::

    .venv/bin/python scripts/bench_layout.py VAULT --db MIRROR.db       # sync, lay out, measure
    .venv/bin/python scripts/bench_layout.py --db MIRROR.db              # a mirror as it is
    .venv/bin/python scripts/bench_layout.py VAULT --db M.db --compare fruchterman_reingold drl
    .venv/bin/python scripts/bench_layout.py --generate 10000 --groups 20 --workdir /tmp/bl

With VAULT the vault is synced into the mirror first and its metrics (communities
included) computed; then the stored layout (`page_layout`) is brought up to date by
`vaultsync.graph.compute_layout` (a full layout unless the stored one is current) and
timed. `--generate N --groups K` first makes a vault of N pages with K planted groups
with scripts/gen_vault.py in WORKDIR (kept: later runs reuse it).

The figures, on the stored positions and the communities (`page_metrics.community`):

- neighbourhood: of each linked page's 10 nearest pages on the plane, the share in its
  own community, averaged over pages in communities of at least 2 pages (in brackets:
  the same for the positions shuffled among pages, i.e. random placement);
- edge ratio: mean length of the graph's edges (each linked pair once) over the mean
  distance of two random pages;
- layout seconds: wall-clock time of the full layout alone (reading the graph and
  writing the positions included; the metrics before it are not).

`--compare` also lays out the same graph arrays with other methods (not stored) and
prints their figures: `fruchterman_reingold` (igraph's grid FR, the layout before
communities shaped it), `drl` (igraph's DrL), `community` (this package's layout).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vaultsync import graph as vg  # noqa: E402
from vaultsync.config import load_config  # noqa: E402
from vaultsync.graph.algorithms import neighbourhood_share  # noqa: E402
from vaultsync.mirror import Mirror  # noqa: E402
from vaultsync.read import read_graph_arrays  # noqa: E402
from vaultsync.sync import sync_vault  # noqa: E402

RANDOM_PAIRS = 200_000


@dataclass(frozen=True)
class Figures:
    pages: int
    neighbourhood: float  # share of the 10 nearest pages in the page's own community
    random_neighbourhood: float  # the same for shuffled positions
    edge_ratio: float  # mean edge length / mean random-pair distance


def edge_ratio(pos: np.ndarray, u: np.ndarray, v: np.ndarray, seed: int = 0) -> float:
    """Mean edge length over the mean distance of two random pages."""
    n = len(pos)
    if len(u) == 0 or n < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, RANDOM_PAIRS), rng.integers(0, n, RANDOM_PAIRS)
    keep = a != b
    random_mean = float(np.linalg.norm(pos[a[keep]] - pos[b[keep]], axis=1).mean())
    return float(np.linalg.norm(pos[u] - pos[v], axis=1).mean()) / random_mean


def figures(pos: np.ndarray, src: np.ndarray, dst: np.ndarray, labels: np.ndarray,
            seed: int = 0) -> Figures:
    """Both figures of positions `pos` for the graph src→dst with communities `labels`."""
    n = len(pos)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    pair = np.unique(lo * max(n, 1) + hi)
    u, v = pair // max(n, 1), pair % max(n, 1)
    sizes = np.bincount(labels, minlength=int(labels.max()) + 1 if n else 0)
    linked = np.zeros(n, dtype=bool)
    linked[u] = True
    linked[v] = True
    pages = np.flatnonzero(linked & (sizes[labels] >= 2))
    shuffled = pos[np.random.default_rng(seed).permutation(n)]
    return Figures(n, neighbourhood_share(pos, labels, pages),
                   neighbourhood_share(shuffled, labels, pages), edge_ratio(pos, u, v, seed))


def stored(db: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions and communities from a mirror, with its graph's edges, in node order."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        g = read_graph_arrays(conn)
        rows = {pid: (x, y, c) for pid, x, y, c in conn.execute(
            "SELECT l.page_id, l.x, l.y, m.community FROM page_layout l "
            "JOIN page_metrics m ON m.page_id = l.page_id")}
    finally:
        conn.close()
    missing = [int(i) for i in g.ids.tolist() if int(i) not in rows]
    if missing:
        raise SystemExit(f"bench_layout: {len(missing)} pages have no stored position")
    table = np.array([rows[int(i)] for i in g.ids.tolist()], dtype=np.float64)
    return table[:, :2], table[:, 2].astype(np.int64), g.src, g.dst


def other_methods() -> dict[str, Callable[..., np.ndarray]]:
    def drl(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray,
            labels: np.ndarray) -> np.ndarray:
        import random

        import igraph
        graph = igraph.Graph(n=n, edges=np.column_stack([src, dst]).tolist())
        graph.simplify()
        igraph.set_random_number_generator(random.Random(42))
        return np.asarray(graph.layout_drl().coords, dtype=np.float64).reshape(n, 2)

    return {
        "fruchterman_reingold": lambda n, src, dst, weight, labels: vg.force_layout(n, src, dst),
        "drl": drl,
        "community": lambda n, src, dst, weight, labels: vg.community_layout(
            n, src, dst, weight, labels),
    }


def line(name: str, f: Figures, seconds: float | None) -> str:
    took = f"{seconds:8.2f} s" if seconds is not None else "       -  "
    return (f"| {name:<32} | {f.pages:>7,} | {f.neighbourhood:.2f} ({f.random_neighbourhood:.2f})"
            f" | {f.edge_ratio:.3f} | {took} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vault", nargs="?", type=Path, help="vault to sync first (optional)")
    ap.add_argument("--db", type=Path, help="the mirror (default: WORKDIR/<vault name>.db)")
    ap.add_argument("--generate", type=int, metavar="N", help="make a vault of N pages")
    ap.add_argument("--groups", type=int, default=20, help="planted groups (with --generate)")
    ap.add_argument("--workdir", type=Path, help="where --generate puts vaults and mirrors")
    ap.add_argument("--compare", nargs="*", default=[], choices=sorted(other_methods()),
                    help="also lay out the same graph with these methods (not stored)")
    ap.add_argument("--relayout", action="store_true",
                    help="a full layout even when the stored one is current")
    args = ap.parse_args(argv)
    vault: Path | None = args.vault
    if args.generate:
        if args.workdir is None:
            ap.error("--generate needs --workdir")
        from scripts import gen_vault
        vault = args.workdir / f"vault-{args.generate}-g{args.groups}"
        if not (vault / gen_vault.MARKER).exists():
            gen_vault.generate(vault, args.generate, seed=42, groups=args.groups)
    db: Path | None = args.db
    if db is None:
        if vault is None or args.workdir is None:
            ap.error("give --db, or a vault and --workdir")
        db = args.workdir / f"{vault.name}.db"
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    layout_seconds: float | None = None
    if vault is not None:
        started = time.perf_counter()
        sync_vault(load_config(vault, db))
        synced = time.perf_counter() - started
        with Mirror(db) as mirror:
            started = time.perf_counter()
            vg.ensure_metrics(mirror, heavy=True)
            metrics = time.perf_counter() - started
            if args.relayout:
                mirror.conn.execute("DELETE FROM page_layout")
            started = time.perf_counter()
            summary = vg.compute_layout(mirror)
            if summary["changed"]:
                layout_seconds = time.perf_counter() - started
        print(f"{vault.name}: sync {synced:.1f} s, metrics {metrics:.1f} s, layout "
              f"{'current, not recomputed' if layout_seconds is None else 'computed'}")
    pos, labels, src, dst = stored(db)
    print("| layout | pages | neighbourhood (random) | edge ratio | layout time |")
    print("|---|---|---|---|---|")
    print(line("stored (page_layout)", figures(pos, src, dst, labels), layout_seconds))
    if args.compare:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            g = read_graph_arrays(conn)
        finally:
            conn.close()
        for name in args.compare:
            started = time.perf_counter()
            other = other_methods()[name](g.n, g.src, g.dst, g.weight, labels)
            seconds = time.perf_counter() - started
            print(line(name, figures(other, src, dst, labels), seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
