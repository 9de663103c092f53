#!/usr/bin/env python3
"""Benchmark the graph metrics (vaultsync.graph) and report their accuracy.

Usage::

    .venv/bin/python scripts/bench_graph.py                       # 10k and 100k pages
    .venv/bin/python scripts/bench_graph.py --sizes 10000 --runs 5
    .venv/bin/python scripts/bench_graph.py --vault /tmp/vault10k  # a gen_vault.py vault

Graphs are synthetic power-law graphs written straight into a fresh mirror
through Mirror's write methods (pages in topic areas of ~1,000 pages, ~10.7
links per page, in-links drawn Zipf-like so a few hub pages gather thousands,
25 % source pages, 3 % unresolved links), or the mirror of a vault made by
scripts/gen_vault.py (synced first). Times are CPU seconds of this process
(time.process_time), the median of --runs runs (--runs-large for 100k+ pages).

Accuracy: Spearman rank correlation of sampled against exact betweenness on a
--accuracy-pages graph (several seeds), and the modularity of Louvain against
(fast) label propagation at every size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vaultsync import graph as vg  # noqa: E402
from vaultsync.mirror import MetaKey, Mirror, PageWrite  # noqa: E402
from vaultsync.parse import ParsedPage  # noqa: E402


def power_law_graph(n: int, *, seed: int = 42, mean_out: float = 10.7, area_size: int = 1000,
                    p_local: float = 0.5, alpha: float = 0.8
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges (with parallels, no self-loops): each page links to a geometric
    number of pages; a link stays in its topic area with probability `p_local`;
    targets are drawn with Zipf-like popularity (rank ** -alpha)."""
    rng = np.random.default_rng(seed)
    areas = max(1, n // area_size)
    area = rng.integers(0, areas, n)
    popularity = (1.0 + rng.permutation(n)) ** -alpha
    out_degree = np.minimum(rng.geometric(1 / mean_out, n), 500)
    src = np.repeat(np.arange(n), out_degree)
    local = rng.random(len(src)) < p_local
    dst = np.empty(len(src), dtype=np.int64)
    far = ~local
    dst[far] = rng.choice(n, size=int(far.sum()), p=popularity / popularity.sum())
    order = np.argsort(area, kind="stable")
    bounds = np.searchsorted(area[order], np.arange(areas + 1))
    for a in range(areas):
        members = order[bounds[a]:bounds[a + 1]]
        chosen = local & (area[src] == a)
        weights = popularity[members] / popularity[members].sum()
        dst[chosen] = members[rng.choice(len(members), size=int(chosen.sum()), p=weights)]
    keep = src != dst
    return src[keep], dst[keep]


def build_mirror(db: Path, n: int, *, seed: int = 42, p_local: float = 0.5) -> None:
    """A mirror holding a synthetic vault's pages and links (no files on disk)."""
    rng = np.random.default_rng(seed + 1)
    src, dst = power_law_graph(n, seed=seed, p_local=p_local)
    is_source = rng.random(n) < 0.25
    paths = [f"{'sources' if s else 'concepts'}/p{i:06d}.md" for i, s in enumerate(is_source)]
    with Mirror(db) as mirror, mirror.transaction():
        first = mirror.next_page_id()
        ids = [first + i for i in range(n)]
        mirror.write_pages([PageWrite(path, 0, 0, "", ParsedPage(
            f"Page {i}", "source" if is_source[i] else "concept", bool(is_source[i]), {}, ""),
            ids[i], new=True) for i, path in enumerate(paths)])
        unresolved = rng.random(len(src)) < 0.03
        wanted = rng.zipf(1.5, size=len(src)) % 5000
        mirror.insert_links(
            (ids[s], f"missing {w}", None, None, 0, 1, "wikilink", None, None, 0) if miss else
            (ids[s], paths[t][:-3], None, None, 0, 1, "wikilink", paths[t], ids[t], 0)
            for s, t, miss, w in zip(src.tolist(), dst.tolist(), unresolved.tolist(),
                                     wanted.tolist(), strict=True))
        mirror.refresh_citations(None)
        mirror.bump_meta_counter(MetaKey.GRAPH_VERSION)


def sync_vault_mirror(vault: Path, db: Path) -> None:
    from vaultsync.config import load_config
    from vaultsync.sync import sync_vault

    sync_vault(load_config(vault, db))


def cpu(func: Callable[[], object]) -> tuple[float, float, object]:
    """(CPU seconds, wall seconds, result)."""
    c, w = time.process_time(), time.perf_counter()
    result = func()
    return time.process_time() - c, time.perf_counter() - w, result


def forget_metrics(mirror: Mirror) -> None:
    """Make the next computation start from nothing."""
    with mirror.transaction():
        for key in ("metrics_graph_hash", "metrics_graph_version", "heavy_graph_hash"):
            mirror.set_meta(key, "")


def bench_mirror(label: str, db: Path, runs: int, heavy_runs: int) -> dict:
    out: dict = {"label": label}
    with Mirror(db) as mirror:
        g = vg.read_graph_arrays(mirror.conn)
        out["pages"], out["edges"] = g.n, g.m
        out["links"] = mirror.conn.execute("SELECT count(*) FROM links").fetchone()[0]
        core, core_wall = [], []
        for _ in range(runs):
            forget_metrics(mirror)
            c, w, _ = cpu(lambda: vg.compute_core_metrics(mirror))
            core.append(c)
            core_wall.append(w)
        heavy, heavy_wall = [], []
        info: dict = {}
        for _ in range(heavy_runs):
            c, w, info = cpu(lambda: vg.compute_heavy_metrics(mirror))  # type: ignore[assignment]
            heavy.append(c)
            heavy_wall.append(w)
        # Where the heavy time goes (same arrays, same choices).
        k = vg.choose_k(g.n, g.m)
        out["bc_cpu"], _, _ = cpu(lambda: vg.betweenness(g.n, g.src, g.dst, k=k))
        out["louvain_cpu"], _, louvain = cpu(
            lambda: vg.communities(g.n, g.src, g.dst, g.weight, method="louvain"))
        out["lpa_cpu"], _, lpa = cpu(
            lambda: vg.communities(g.n, g.src, g.dst, g.weight, method="label_propagation"))
        out["pagerank_cpu"], _, _ = cpu(lambda: vg.pagerank(g.n, g.src, g.dst, g.weight))
        out["read_cpu"], _, _ = cpu(lambda: vg.read_graph_arrays(mirror.conn))
    out.update(
        core_cpu=statistics.median(core), core_wall=statistics.median(core_wall),
        core_runs=runs, heavy_cpu=statistics.median(heavy),
        heavy_wall=statistics.median(heavy_wall), heavy_runs=heavy_runs,
        k=info["k"], bc_method=info["betweenness_method"],
        community_method=info["community_method"],
        louvain_q=louvain[2], louvain_groups=int((np.bincount(louvain[0]) >= 2).sum()),
        lpa_q=lpa[2], lpa_groups=int((np.bincount(lpa[0]) >= 2).sum()),
    )
    return out


def accuracy(n: int, ks: list[int], seeds: list[int], p_local: float = 0.5) -> list[dict]:
    """Spearman correlation of sampled vs exact betweenness on an n-page graph."""
    from scipy.stats import spearmanr

    src, dst = power_law_graph(n, seed=7, p_local=p_local)
    key = np.unique(src * n + dst)
    src, dst = key // n, key % n
    exact = vg.betweenness(n, src, dst)
    top = set(np.argsort(-exact)[:20].tolist())
    rows = []
    for k in ks:
        rhos, overlaps = [], []
        for seed in seeds:
            approx = vg.betweenness(n, src, dst, k=k, seed=seed)
            rhos.append(spearmanr(exact, approx).statistic)
            overlaps.append(len(top & set(np.argsort(-approx)[:20].tolist())) / 20)
        rows.append({"pages": n, "edges": len(src), "k": k, "seeds": len(seeds),
                     "rho_mean": statistics.mean(rhos),
                     "rho_min": min(rhos), "top20": statistics.mean(overlaps)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--runs", type=int, default=5, help="core runs below 100k pages (median)")
    ap.add_argument("--heavy-runs", type=int, default=3, help="heavy runs below 100k pages")
    ap.add_argument("--runs-large", type=int, default=2, help="core runs at 100k+ pages")
    ap.add_argument("--heavy-runs-large", type=int, default=1)
    ap.add_argument("--p-local", type=float, default=0.5,
                    help="share of links inside a page's topic area (0: near-random graph)")
    ap.add_argument("--vault", type=Path, nargs="*", default=[],
                    help="also bench the mirror of these vaults (e.g. from gen_vault.py)")
    ap.add_argument("--accuracy-pages", type=int, default=1000)
    ap.add_argument("--accuracy-k", type=int, nargs="*", default=[64, 128, 256, 512])
    ap.add_argument("--accuracy-large", type=int, default=10_000,
                    help="also check the k chosen for this size against exact (0: skip)")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="vaultsync-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.sizes:
        db = work / f"synthetic-{n}-{args.p_local}.db"
        if not db.exists():
            _, wall, _ = cpu(lambda n=n, db=db: build_mirror(db, n, p_local=args.p_local))
            print(f"built {db} in {wall:.1f}s", file=sys.stderr)
        large = n >= 100_000
        results.append(bench_mirror(
            f"synthetic {n:,}", db, args.runs_large if large else args.runs,
            args.heavy_runs_large if large else args.heavy_runs))
        print(results[-1], file=sys.stderr)
    for vault in args.vault:
        db = work / f"vault-{vault.name}.db"
        if not db.exists():
            _, wall, _ = cpu(lambda vault=vault, db=db: sync_vault_mirror(vault, db))
            print(f"synced {vault} in {wall:.1f}s", file=sys.stderr)
        results.append(bench_mirror(f"vault {vault.name}", db, args.runs, args.heavy_runs))
        print(results[-1], file=sys.stderr)

    print("## Metrics, CPU seconds (median)\n")
    print("| graph | pages | edges (links) | core | heavy | PageRank | read | betweenness "
          "| k | Louvain | label prop. |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in results:
        print(f"| {r['label']} | {r['pages']:,} | {r['edges']:,} ({r['links']:,}) "
              f"| {r['core_cpu']:.2f} (n={r['core_runs']}) "
              f"| {r['heavy_cpu']:.1f} (n={r['heavy_runs']}) | {r['pagerank_cpu']:.3f} "
              f"| {r['read_cpu']:.2f} | {r['bc_cpu']:.1f} | {r['bc_method']} {r['k']} "
              f"| {r['louvain_cpu']:.1f} | {r['lpa_cpu']:.1f} |")
    print("\n## Communities: modularity (groups of 2+ pages)\n")
    print("| graph | chosen | Louvain | label propagation |")
    print("|---|---|---:|---:|")
    for r in results:
        print(f"| {r['label']} | {r['community_method']} | {r['louvain_q']:.3f} "
              f"({r['louvain_groups']}) | {r['lpa_q']:.3f} ({r['lpa_groups']}) |")
    seeds = [1, 2, 3, 4, 5]
    checks = []
    if args.accuracy_pages:
        checks += accuracy(args.accuracy_pages, args.accuracy_k, seeds, args.p_local)
    if args.accuracy_large:
        n = args.accuracy_large
        chosen = vg.choose_k(n, int(n * 10)) or n
        checks += accuracy(n, sorted({vg.K_MIN, chosen}), seeds[:3], args.p_local)
    if checks:
        print(f"\n## Sampled vs exact betweenness (synthetic, p_local={args.p_local})\n")
        print("| pages | edges | k | seeds | Spearman mean | Spearman min | top-20 overlap |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for r in checks:
            print(f"| {r['pages']:,} | {r['edges']:,} | {r['k']} | {r['seeds']} "
                  f"| {r['rho_mean']:.3f} | {r['rho_min']:.3f} | {r['top20']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
