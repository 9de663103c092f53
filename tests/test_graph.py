"""Graph metrics: each definition on a vault whose answers are known, agreement with
networkx and with the mirror's views, determinism, staleness and the scheduler."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from conftest import REPO, rows, wait_for

from vaultsync import graph, read
from vaultsync.config import load_config
from vaultsync.mirror import MetaKey, Mirror
from vaultsync.sync import sync_vault

# a: three links to b (one edge of weight 3), links to itself, a link to s2.
# lonely: links only to itself, to a missing page and to an attachment: isolated.
# d → leaf: d is an orphan, leaf a dead end. s1 and s2 are sources (folder).
KNOWN = {
    "a.md": "# Top\n[[b]] [[b]] [[b|again]] [[a]] [[#Top]] [[s2]]\n",
    "b.md": "[[c]] ![[img.png]] [[nowhere]]\n",
    "c.md": "[[a]] [[s1]]\n",
    "d.md": "[[leaf]]\n",
    "leaf.md": "no links at all\n",
    "lonely.md": "# Self\n[[lonely]] [[nowhere]] ![[img.png]] [[#Self]]\n",
    "sources/s1.md": "[[a]] [[s2]]\n",
    "sources/s2.md": "cited, links nowhere\n",
    "img.png": b"\x89PNG\r\n\x1a\n",
}
EXPECTED = {  # path: (in, out, citations, orphan, isolated, dead_end)
    "a.md": (2, 2, 2, 0, 0, 0),
    "b.md": (1, 1, 0, 0, 0, 0),
    "c.md": (1, 2, 1, 0, 0, 0),
    "d.md": (0, 1, 0, 1, 0, 0),
    "leaf.md": (1, 0, 0, 0, 0, 1),
    "lonely.md": (0, 0, 0, 1, 1, 1),
    "sources/s1.md": (1, 2, 1, 0, 0, 0),
    "sources/s2.md": (2, 0, 1, 0, 0, 1),
}


def synced(make_vault, config_for, files=KNOWN, name="mirror.db"):
    vault = make_vault(files)
    config = config_for(vault, name)
    sync_vault(config, workers=1)
    return vault, config


def metrics_by_path(db: Path) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(db, (
        "SELECT p.path, m.in_degree, m.out_degree, m.citation_count, m.orphan, m.isolated, "
        "m.dead_end FROM page_metrics m JOIN pages p ON p.id = m.page_id"))}


def meta(db: Path, key: str) -> str | None:
    found = rows(db, "SELECT value FROM meta WHERE key = ?", key)
    return found[0][0] if found else None


def state(mirror: Mirror) -> read.MetricsState:
    return read.metrics_state(mirror.conn)


def load_graph(conn: sqlite3.Connection) -> nx.DiGraph:
    """The mirror's page graph as networkx builds it, the reference the arrays and the
    algorithms are checked against: nodes are page ids (in path order) with path, title,
    kind and is_source; edges carry `weight`, the number of links (page_edges)."""
    graph_ = nx.DiGraph()
    for page_id, path, title, kind, is_source in conn.execute(
            "SELECT id, path, title, kind, is_source FROM pages ORDER BY path"):
        graph_.add_node(page_id, path=path, title=title, kind=kind, is_source=bool(is_source))
    graph_.add_weighted_edges_from(conn.execute(
        "SELECT source_id, target_id, weight FROM page_edges ORDER BY source_id, target_id"))
    return graph_


def test_load_graph_weights_parallel_links_and_drops_self_links(make_vault, config_for):
    _, config = synced(make_vault, config_for)
    with Mirror(config.db) as mirror:
        g = load_graph(mirror.conn)
        view = set(mirror.conn.execute("SELECT source_id, target_id, weight FROM page_edges"))
    path = nx.get_node_attributes(g, "path")
    by_path = {p: n for n, p in path.items()}
    assert sorted(path.values()) == sorted(p for p in KNOWN if p.endswith(".md"))
    assert list(path.values()) == sorted(path.values())  # nodes in path order
    assert nx.number_of_selfloops(g) == 0
    assert g[by_path["a.md"]][by_path["b.md"]]["weight"] == 3
    assert g.nodes[by_path["sources/s1.md"]]["is_source"] is True
    assert g.nodes[by_path["a.md"]]["is_source"] is False
    assert g.nodes[by_path["sources/s1.md"]]["kind"] == "source"
    assert g.degree(by_path["lonely.md"]) == 0  # self, missing and attachment links: none
    assert {(u, v, d["weight"]) for u, v, d in g.edges(data=True)} == view
    assert g.number_of_edges() == 8


def test_each_definition_on_a_known_vault(make_vault, config_for):
    _, config = synced(make_vault, config_for)
    with Mirror(config.db) as mirror:
        summary = graph.compute_core_metrics(mirror)
    assert (summary["pages"], summary["edges"]) == (8, 8)
    assert metrics_by_path(config.db) == EXPECTED
    components = dict(rows(config.db, "SELECT p.path, m.component FROM page_metrics m "
                                      "JOIN pages p ON p.id = m.page_id"))
    assert {components[p] for p in ("a.md", "b.md", "c.md", "sources/s1.md",
                                     "sources/s2.md")} == {0}  # the largest is 0
    assert components["d.md"] == components["leaf.md"] == 1
    assert components["lonely.md"] == 2
    ranks = dict(rows(config.db, "SELECT p.path, m.pagerank FROM page_metrics m "
                                 "JOIN pages p ON p.id = m.page_id"))
    assert sum(ranks.values()) == pytest.approx(1.0)


def check_flags_match_views(db: Path) -> None:
    def paths(sql: str) -> set[str]:
        return {r[0] for r in rows(db, sql)}

    flagged = "SELECT p.path FROM page_metrics m JOIN pages p ON p.id = m.page_id WHERE m.{} = 1"
    assert paths(flagged.format("orphan")) == paths("SELECT path FROM orphan_pages")
    assert paths(flagged.format("isolated")) == paths("SELECT path FROM isolated_pages")
    assert paths(flagged.format("dead_end")) == paths("SELECT path FROM dead_end_pages")
    # citation_count: the citations table for non-source pages.
    assert rows(db, "SELECT p.path, m.citation_count FROM page_metrics m "
                    "JOIN pages p ON p.id = m.page_id WHERE p.is_source = 0 ORDER BY p.path") \
        == rows(db, "SELECT p.path, (SELECT count(*) FROM citations c WHERE c.page_id = p.id) "
                    "FROM pages p WHERE p.is_source = 0 ORDER BY p.path")
    assert paths("SELECT p.path FROM page_metrics m JOIN pages p ON p.id = m.page_id "
                 "WHERE p.is_source = 0 AND m.citation_count = 1") == \
        paths("SELECT path FROM single_source_pages")
    assert paths("SELECT p.path FROM page_metrics m JOIN pages p ON p.id = m.page_id "
                 "WHERE p.is_source = 0 AND m.citation_count = 0") == \
        paths("SELECT path FROM unsourced_pages")
    # Degrees: distinct linked pages in page_edges.
    assert rows(db, "SELECT page_id, in_degree, out_degree FROM page_metrics ORDER BY page_id") \
        == rows(db, "SELECT id, (SELECT count(*) FROM page_edges e WHERE e.target_id = p.id), "
                    "(SELECT count(*) FROM page_edges e WHERE e.source_id = p.id) "
                    "FROM pages p ORDER BY id")
    central = rows(db, "SELECT path, pagerank FROM central_pages")
    assert [r[1] for r in central] == sorted((r[1] for r in central), reverse=True)
    assert len(central) == rows(db, "SELECT count(*) FROM pages WHERE is_source = 0")[0][0]


def test_metrics_match_the_views_on_the_known_vault(make_vault, config_for):
    _, config = synced(make_vault, config_for)
    with Mirror(config.db) as mirror:
        graph.compute_core_metrics(mirror)
    check_flags_match_views(config.db)
    assert {r[0] for r in rows(config.db, "SELECT path FROM single_source_pages")} == {"c.md"}
    assert rows(config.db, "SELECT source_path FROM single_source_pages") == \
        [("sources/s1.md",)]
    assert {r[0] for r in rows(config.db, "SELECT path FROM unsourced_pages")} == \
        {"b.md", "d.md", "leaf.md", "lonely.md"}
    assert rows(config.db, 'SELECT target, "references", links FROM wanted_pages') == \
        [("nowhere", 2, 2)]


def test_metrics_match_the_views_on_the_sample_vault(sample_mirror):
    with read.open_mirror(sample_mirror) as conn:
        g = load_graph(conn)
    check_flags_match_views(sample_mirror)
    expected = nx.pagerank(g, weight="weight", tol=1e-13, max_iter=1000)
    got = dict(rows(sample_mirror, "SELECT page_id, pagerank FROM page_metrics"))
    assert max(abs(got[n] - expected[n]) for n in g) < 1e-9
    exact = nx.betweenness_centrality(g)
    got = dict(rows(sample_mirror, "SELECT page_id, betweenness FROM page_metrics"))
    assert meta(sample_mirror, "betweenness_method") == "exact"
    assert max(abs(got[n] - exact[n]) for n in g) < 1e-12


def random_graph(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), (rng.zipf(1.6, m) * 7) % n
    keep = src != dst
    key, counts = np.unique(src[keep] * n + dst[keep], return_counts=True)
    return key // n, key % n, counts.astype(float)


def as_digraph(n: int, src, dst, weight) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), weight.tolist(), strict=True))
    return g


def test_pagerank_equals_networkx_with_weights_and_dangling_pages():
    n = 300
    src, dst, weight = random_graph(n, 900, seed=5)
    g = as_digraph(n, src, dst, weight)
    assert any(g.out_degree(v) == 0 for v in g)  # dangling pages are part of the test
    mine = graph.pagerank(n, src, dst, weight)
    tight = nx.pagerank(g, weight="weight", tol=1e-13, max_iter=1000)
    assert np.abs(mine - np.array([tight[i] for i in range(n)])).max() < 1e-10
    default = nx.pagerank(g, weight="weight")
    # networkx stops once the L1 change is under n * 1e-6: within that of the answer.
    assert np.abs(mine - np.array([default[i] for i in range(n)])).sum() < n * 1e-6
    unweighted = nx.pagerank(g, weight=None, tol=1e-13, max_iter=1000)
    assert np.abs(graph.pagerank(n, src, dst) -
                  np.array([unweighted[i] for i in range(n)])).max() < 1e-10


def test_exact_betweenness_equals_networkx():
    n = 200
    src, dst, weight = random_graph(n, 600, seed=9)
    g = as_digraph(n, src, dst, weight)
    expected = nx.betweenness_centrality(g)  # unweighted shortest paths, normalised
    mine = graph.betweenness(n, src, dst, batch=7)  # batches that do not divide n
    assert np.abs(mine - np.array([expected[i] for i in range(n)])).max() < 1e-12


def test_sampled_betweenness_is_seeded_and_estimates_the_exact_ranking():
    from scipy.stats import spearmanr

    n = 300
    src, dst, _ = random_graph(n, 3000, seed=3)
    exact = graph.betweenness(n, src, dst)
    one = graph.betweenness(n, src, dst, k=100, seed=7)
    assert np.array_equal(one, graph.betweenness(n, src, dst, k=100, seed=7))
    assert not np.array_equal(one, graph.betweenness(n, src, dst, k=100, seed=8))
    assert spearmanr(exact, one).statistic > 0.8
    assert np.array_equal(graph.betweenness(n, src, dst, k=n), exact)


def test_choose_k_by_size():
    assert graph.choose_k(1000, 10_000) is None  # exact
    assert graph.choose_k(10_000, 107_000) == graph.K_MAX
    assert graph.K_MIN <= graph.choose_k(100_000, 1_070_000) < graph.K_MAX
    assert graph.choose_k(10_000_000, 100_000_000) == graph.K_MIN
    assert graph.choose_k(50, 100, k=10) == 10
    assert graph.choose_k(50, 100, k=50) is None


def test_modularity_equals_networkx():
    n = 150
    src, dst, weight = random_graph(n, 500, seed=2)
    labels, method, q = graph.communities(n, src, dst, weight, seed=1)
    assert method == "louvain"
    undirected = nx.Graph()
    undirected.add_nodes_from(range(n))
    for u, v, w in zip(src.tolist(), dst.tolist(), weight.tolist(), strict=True):
        old = undirected.get_edge_data(u, v, {"weight": 0})["weight"]
        undirected.add_edge(u, v, weight=old + w)
    parts = [set(np.flatnonzero(labels == c).tolist()) for c in range(labels.max() + 1)]
    assert q == pytest.approx(nx.community.modularity(undirected, parts, weight="weight"))
    sizes = [len(p) for p in parts]
    assert sizes == sorted(sizes, reverse=True)  # community 0 is the largest


GENERATED = {
    f"{folder}/p{i}.md": " ".join(f"[[p{(i * 7 + j * 13) % 60}]]" for j in range(i % 5 + 1))
    + (" [[p0]]" if i % 3 == 0 else "")
    for i, folder in ((i, ("concepts", "systems", "sources")[i % 3]) for i in range(60))
}


def heavy_by_path(db: Path) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(db, (
        "SELECT p.path, m.betweenness, m.community FROM page_metrics m "
        "JOIN pages p ON p.id = m.page_id"))}


def test_sampled_betweenness_and_communities_are_deterministic(make_vault, tmp_path):
    vault = make_vault(GENERATED)
    results = []
    for name in ("one.db", "two.db"):
        config = load_config(vault, tmp_path / name)
        sync_vault(config, workers=1)
        with Mirror(config.db) as mirror:
            summary = graph.compute_heavy_metrics(mirror, seed=11, k=12)
        assert summary["written"] and summary["betweenness_method"] == "sampled"
        assert (meta(config.db, "betweenness_k"), meta(config.db, "betweenness_seed")) == \
            ("12", "11")
        assert meta(config.db, "community_method") == "louvain"
        assert float(meta(config.db, "community_modularity")) == summary["modularity"]
        results.append(heavy_by_path(config.db))
    assert results[0] == results[1]
    assert all(b is not None and c is not None for b, c in results[0].values())
    assert len({c for _, c in results[0].values()}) > 1


def test_communities_do_not_depend_on_hash_seed_or_process(make_vault, config_for):
    vault, config = synced(make_vault, config_for, GENERATED)
    code = (
        "import json, sys; from vaultsync.mirror import Mirror; from vaultsync import graph\n"
        "with Mirror(sys.argv[1]) as m:\n"
        "    graph.compute_heavy_metrics(m, seed=3, k=20)\n"
        "    print(json.dumps(sorted(m.conn.execute('SELECT p.path, x.community, "
        "x.betweenness FROM page_metrics x JOIN pages p ON p.id = x.page_id').fetchall())))\n"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code, str(config.db)], env=env, cwd=REPO,
                              capture_output=True, text=True, check=True)
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1]


def test_label_propagation_above_the_louvain_threshold(make_vault, config_for, monkeypatch):
    _, config = synced(make_vault, config_for, GENERATED)
    monkeypatch.setattr(graph.algorithms, "LOUVAIN_MAX_EDGES", 10)
    with Mirror(config.db) as mirror:
        summary = graph.compute_heavy_metrics(mirror)
    assert summary["community_method"] == "label_propagation"
    assert meta(config.db, "community_method") == "label_propagation"
    assert rows(config.db, "SELECT count(*) FROM page_metrics WHERE community IS NULL") == [(0,)]


def test_heavy_writes_core_metrics_when_missing(make_vault, config_for):
    _, config = synced(make_vault, config_for)
    with Mirror(config.db) as mirror:
        graph.compute_heavy_metrics(mirror)
        assert state(mirror).core_current
        assert state(mirror).heavy_current
    assert metrics_by_path(config.db) == EXPECTED


def test_cancelled_heavy_run_writes_nothing(make_vault, config_for):
    _, config = synced(make_vault, config_for, GENERATED)
    with Mirror(config.db) as mirror:
        summary = graph.compute_heavy_metrics(mirror, cancel=lambda digest: True)
    assert summary["written"] is False
    assert meta(config.db, "heavy_graph_hash") is None
    assert rows(config.db, "SELECT count(*) FROM page_metrics") == [(0,)]


def test_staleness_follows_edits(make_vault, config_for):
    vault, config = synced(make_vault, config_for)
    with Mirror(config.db) as mirror:
        assert not state(mirror).core_current and not state(mirror).heavy_current
        graph.ensure_metrics(mirror)
        assert state(mirror).core_current and state(mirror).heavy_current
        hash_before = mirror.get_meta(MetaKey.METRICS_GRAPH_HASH)

        # An edit that moves no link: stale until core runs, which writes no rows.
        (vault / "leaf.md").write_text("other words, still no links\n")
        sync_vault(config, workers=1)
        assert not state(mirror).core_current
        assert graph.compute_core_metrics(mirror)["changed"] is False
        assert state(mirror).core_current
        assert state(mirror).heavy_current  # same structure: still current
        assert mirror.get_meta(MetaKey.METRICS_GRAPH_HASH) == hash_before

        # A new link: leaf stops being a dead end, d's... and the heavy ones go stale.
        (vault / "leaf.md").write_text("[[d]]\n")
        sync_vault(config, workers=1)
        assert not state(mirror).core_current
        graph.ensure_metrics(mirror, heavy=False)
        assert state(mirror).core_current and not state(mirror).heavy_current
        graph.ensure_metrics(mirror)
        assert state(mirror).heavy_current
    got = metrics_by_path(config.db)
    assert got["leaf.md"][1] == 1 and got["leaf.md"][5] == 0
    assert got["d.md"][0] == 1 and got["d.md"][3] == 0  # no longer an orphan


def test_core_metrics_of_an_empty_vault(make_vault, config_for):
    _, config = synced(make_vault, config_for, {"notes.txt": "not a page"})
    with Mirror(config.db) as mirror:
        assert state(mirror).core_current  # nothing to compute: current as it is
        assert graph.compute_core_metrics(mirror)["pages"] == 0
        graph.ensure_metrics(mirror)
        assert state(mirror).core_current
        assert graph.compute_heavy_metrics(mirror)["written"]


def test_pages_deleted_during_a_computation_are_left_out(make_vault, config_for):
    vault, config = synced(make_vault, config_for)
    with Mirror(config.db) as mirror:
        g = read.read_graph_arrays(mirror.conn)
        computed = graph.core_rows(g)
        (vault / "d.md").unlink()
        sync_vault(config, workers=1)  # a sync commits between snapshot and write
        with mirror.transaction():
            mirror.write_core_metrics(computed, {
                MetaKey.METRICS_GRAPH_VERSION: g.version,
                MetaKey.METRICS_GRAPH_HASH: g.fingerprint()})
        assert not state(mirror).core_current  # written for the old graph: recompute
        assert "d.md" not in metrics_by_path(config.db)
        graph.ensure_metrics(mirror, heavy=False)
    assert metrics_by_path(config.db)["leaf.md"][:1] == (0,)


def test_scheduler_computes_after_notify_and_after_each_settled_batch(make_vault, config_for):
    vault, config = synced(make_vault, config_for)
    done: list[str] = []
    scheduler = graph.MetricsScheduler(config.db, debounce=0.05, on_done=done.append)
    try:
        assert meta(config.db, "metrics_graph_version") is None
        scheduler.notify()
        wait_for(lambda: "heavy" in done, what="the heavy metrics")
        assert done[:1] == ["core"]
        assert metrics_by_path(config.db) == EXPECTED
        with Mirror(config.db) as mirror:
            assert state(mirror).core_current and state(mirror).heavy_current

        (vault / "leaf.md").write_text("[[d]]\n")
        sync_vault(config, workers=1)
        for _ in range(3):  # a burst of batches
            scheduler.notify()
        wait_for(lambda: done.count("heavy") == 2, what="the heavy metrics again")
        assert metrics_by_path(config.db)["d.md"][0] == 1
        with Mirror(config.db) as mirror:
            assert state(mirror).core_current and state(mirror).heavy_current
    finally:
        scheduler.stop(timeout=10)
    assert not scheduler.running
    assert scheduler.last_error is None


def test_scheduler_restarts_heavy_work_when_the_graph_changes(make_vault, config_for,
                                                              monkeypatch):
    vault, config = synced(make_vault, config_for, GENERATED)
    real = graph.betweenness
    calls: list[int] = []
    started, go = threading.Event(), threading.Event()

    def slow_first(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            started.set()
            go.wait(60)  # stands for a long computation
        return real(*args, **kw)

    monkeypatch.setattr(graph.metrics, "betweenness", slow_first)
    done: list[str] = []
    scheduler = graph.MetricsScheduler(config.db, debounce=0.05, on_done=done.append)
    try:
        scheduler.notify()
        assert started.wait(60) and done == ["core"]
        (vault / "concepts/p0.md").write_text("[[p1]] [[p2]] [[p3]] [[p4]] [[p5]]\n")
        sync_vault(config, workers=1)
        scheduler.notify()
        wait_for(lambda: done.count("core") == 2, what="the core metrics again")
        go.set()
        wait_for(lambda: "heavy" in done, what="the heavy metrics")
        assert len(calls) == 2  # the first run was abandoned, then started again
        assert done.count("heavy") == 1
        with Mirror(config.db) as mirror:
            assert state(mirror).heavy_current
            assert mirror.get_meta(MetaKey.HEAVY_GRAPH_VERSION) == \
                mirror.get_meta(MetaKey.GRAPH_VERSION)
    finally:
        go.set()
        scheduler.stop(timeout=10)
    assert not scheduler.running


def test_scheduler_skips_work_when_nothing_changed(make_vault, config_for):
    _, config = synced(make_vault, config_for)
    with Mirror(config.db) as mirror:
        graph.ensure_metrics(mirror, layout=True)
    done: list[str] = []
    scheduler = graph.MetricsScheduler(config.db, debounce=0.01, on_done=done.append)
    try:
        scheduler.notify()
        assert scheduler.wait_idle(60)
    finally:
        scheduler.stop(timeout=10)
    assert done == []


def test_importing_the_graph_module_costs_nothing():
    code = ("import sys, vaultsync.cli, vaultsync.graph, vaultsync.read, vaultsync.render, "
            "vaultsync.sync; "
            "print(sorted(m for m in ('networkx', 'numpy', 'scipy', 'rich') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"
