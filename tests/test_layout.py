"""The graph view's stored layout (vaultsync.layout, table page_layout): computed once
per graph structure, seeded, kept for the pages a user has seen when others are added,
migrated into older mirrors, and followed by the daemon's scheduler."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from scripts import bench_layout, gen_vault
from vaultsync import graph, read
from vaultsync.config import load_config
from vaultsync.graph import REFRESH_SHARE, SPAN, compute_layout, place_new
from vaultsync.mirror import MIGRATIONS, SCHEMA_VERSION, MetaKey, Mirror
from vaultsync.sync import sync_vault


def ring_vault(n: int) -> dict[str, str]:
    """n pages in a ring, each also linking to a hub."""
    files = {f"p{i:03d}.md": f"# Page {i}\n\n[[p{(i + 1) % n:03d}]] [[hub]]\n" for i in range(n)}
    files["hub.md"] = "# Hub\n\n[[p000]]\n"
    return files


def positions(db: Path) -> dict[str, tuple[float, float]]:
    conn = sqlite3.connect(db)
    try:
        return {path: (x, y) for path, x, y in conn.execute(
            "SELECT p.path, l.x, l.y FROM page_layout l JOIN pages p ON p.id = l.page_id")}
    finally:
        conn.close()


def laid_out(vault: Path, db: Path) -> dict:
    config = load_config(vault, db)
    sync_vault(config, workers=1)
    with Mirror(db) as mirror:
        graph.ensure_metrics(mirror, heavy=False)
        return compute_layout(mirror)


def test_every_page_gets_a_position_and_the_same_vault_the_same_picture(make_vault, tmp_path):
    vault = make_vault(ring_vault(40))
    first = laid_out(vault, tmp_path / "a.db")
    assert first["changed"] and first["full"]
    a = positions(tmp_path / "a.db")
    assert len(a) == 41 and len(set(a.values())) == 41
    assert max(max(abs(x), abs(y)) for x, y in a.values()) <= SPAN * 1.001
    laid_out(vault, tmp_path / "b.db")
    assert positions(tmp_path / "b.db") == a
    with Mirror(tmp_path / "a.db") as mirror:
        assert read.metrics_state(mirror.conn).layout_current
        assert compute_layout(mirror)["changed"] is False
        assert mirror.get_meta(MetaKey.LAYOUT_METHOD) == "community_fruchterman_reingold"


def test_new_pages_join_their_neighbours_and_the_rest_stays_put(make_vault, tmp_path):
    vault = make_vault(ring_vault(40))
    db = tmp_path / "m.db"
    laid_out(vault, db)
    before = positions(db)
    (vault / "new.md").write_text("# New\n\nNext to [[p010]].\n", encoding="utf-8")
    summary = laid_out(vault, db)
    assert summary["changed"] and not summary["full"] and summary["placed"] == 1
    after = positions(db)
    assert {k: v for k, v in after.items() if k != "new.md"} == before
    spread = np.array(list(before.values()))
    typical = np.median(np.linalg.norm(spread[:, None] - spread[None], axis=2))
    gap = np.linalg.norm(np.subtract(after["new.md"], before["p010.md"]))
    assert gap < typical / 2
    with Mirror(db) as mirror:
        assert mirror.get_meta(MetaKey.LAYOUT_PLACED) == "1"


def test_a_full_layout_again_once_many_pages_were_placed(make_vault, tmp_path):
    vault = make_vault(ring_vault(20))
    db = tmp_path / "m.db"
    laid_out(vault, db)
    added = int(REFRESH_SHARE * 21) + 2
    for i in range(added):
        (vault / f"extra{i}.md").write_text(f"# Extra {i}\n\n[[p00{i % 10}]]\n",
                                            encoding="utf-8")
    summary = laid_out(vault, db)
    assert summary["full"] is True
    with Mirror(db) as mirror:
        assert mirror.get_meta(MetaKey.LAYOUT_PLACED) == "0"
    assert len(positions(db)) == 21 + added


def test_place_new_puts_unlinked_pages_outside_the_picture():
    pos = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    placed = np.array([True, True, False, False])
    src, dst = np.array([2]), np.array([1])  # page 2 links to page 1; page 3 to nothing
    out = place_new(4, src, dst, pos, placed)
    assert out[:2].tolist() == pos[:2].tolist()
    assert np.linalg.norm(out[2] - out[1]) < np.linalg.norm(out[2] - out[0])
    assert np.linalg.norm(out[3]) > 100.0


def test_a_version_1_mirror_is_migrated(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(MIGRATIONS[1] + "\nPRAGMA user_version = 1;")
    conn.close()
    with Mirror(db) as mirror:
        assert mirror.schema_version() == SCHEMA_VERSION
        assert mirror.conn.execute("SELECT count(*) FROM page_layout").fetchone()[0] == 0
        assert mirror.get_meta(MetaKey.SCHEMA_VERSION) == str(SCHEMA_VERSION)


def test_the_daemon_scheduler_keeps_the_layout(make_vault, tmp_path):
    vault = make_vault(ring_vault(12))
    config = load_config(vault, tmp_path / "m.db")
    sync_vault(config, workers=1)
    done: list[str] = []
    scheduler = graph.MetricsScheduler(config.db, debounce=0.01, on_done=done.append)
    try:
        scheduler.notify()
        assert scheduler.wait_idle(60)
        assert "layout" in done
        with Mirror(config.db) as mirror:
            assert read.metrics_state(mirror.conn).layout_current
        (vault / "late.md").write_text("# Late\n\n[[p003]]\n", encoding="utf-8")
        sync_vault(config, workers=1)
        scheduler.notify()
        assert scheduler.wait_idle(60)
        assert done.count("layout") == 2
    finally:
        scheduler.stop(timeout=10)
    assert "late.md" in positions(config.db)
    with Mirror(config.db) as mirror:
        graph.ensure_metrics(mirror, layout=True)  # nothing left to do
        assert read.metrics_state(mirror.conn).layout_current


def test_planted_groups_are_drawn_as_clusters(tmp_path):
    """On a generated vault with planted groups, the stored positions put a page's
    nearest pages in its own community and keep linked pages close (bench_layout's
    figures, as properties of the stored layout)."""
    vault = tmp_path / "vault"
    gen_vault.generate(vault, 600, seed=3, groups=20)
    db = tmp_path / "m.db"
    laid_out(vault, db)
    with Mirror(db) as mirror:
        graph.ensure_metrics(mirror)  # communities, then a full layout drawn on them
        mirror.conn.execute("DELETE FROM page_layout")
        assert compute_layout(mirror)["full"]
    pos, labels, src, dst = bench_layout.stored(db)
    figures = bench_layout.figures(pos, src, dst, labels)
    assert figures.neighbourhood >= 0.85 > figures.random_neighbourhood
    plain = bench_layout.figures(graph.force_layout(len(pos), src, dst), src, dst, labels)
    assert plain.neighbourhood < 0.85
    assert figures.edge_ratio < min(plain.edge_ratio, 0.25)


def test_pages_without_links_sit_on_a_ring_around_the_clusters():
    # two triangles and three pages without links
    src, dst = np.array([0, 1, 2, 3, 4, 5]), np.array([1, 2, 0, 4, 5, 3])
    pos = graph.community_layout(9, src, dst)
    radius = np.linalg.norm(pos, axis=1)
    assert radius[6:].min() > radius[:6].max()
    assert np.ptp(radius[6:]) < 1e-6  # one ring
    assert np.array_equal(pos, graph.community_layout(9, src, dst))  # seeded
    side = max(np.linalg.norm(pos[i] - pos[j]) for i, j in ((0, 1), (1, 2), (3, 4)))
    apart = np.linalg.norm(pos[:3].mean(axis=0) - pos[3:6].mean(axis=0))
    assert apart > 1.5 * side  # two clusters with space between them


def test_a_layout_made_by_an_older_method_is_redrawn_whole(make_vault, tmp_path):
    vault = make_vault(ring_vault(20))
    db = tmp_path / "m.db"
    laid_out(vault, db)
    with Mirror(db) as mirror, mirror.transaction():
        mirror.set_meta(MetaKey.LAYOUT_METHOD, "fruchterman_reingold")
    (vault / "new.md").write_text("# New\n\n[[p005]]\n", encoding="utf-8")
    summary = laid_out(vault, db)
    assert summary["full"] is True
    with Mirror(db) as mirror:
        assert mirror.get_meta(MetaKey.LAYOUT_METHOD) == "community_fruchterman_reingold"



def test_the_picture_is_redrawn_when_it_no_longer_shows_the_communities(tmp_path):
    """Pages keep their places while the stored picture shows the communities; once the
    communities were re-drawn (here: shuffled among the pages, as a later Louvain run on
    a fuzzy graph may move many pages), the next layout is a full one."""
    vault = tmp_path / "vault"
    gen_vault.generate(vault, 300, seed=5, groups=10)
    db = tmp_path / "m.db"
    laid_out(vault, db)
    with Mirror(db) as mirror:
        graph.ensure_metrics(mirror)
        mirror.conn.execute("DELETE FROM page_layout")
        assert compute_layout(mirror)["full"]
        # The graph moved on a little, the communities did not: the pages stay put.
        with mirror.transaction():
            mirror.set_meta(MetaKey.LAYOUT_GRAPH_HASH, "an older graph")
        assert compute_layout(mirror)["full"] is False
        rows = mirror.conn.execute("SELECT page_id, community FROM page_metrics").fetchall()
        shuffled = np.random.default_rng(0).permutation([c for _, c in rows]).tolist()
        with mirror.transaction():
            mirror.conn.executemany(
                "UPDATE page_metrics SET community = ? WHERE page_id = ?",
                [(c, pid) for (pid, _), c in zip(rows, shuffled, strict=True)])
            mirror.set_meta(MetaKey.LAYOUT_GRAPH_HASH, "an older graph")
        assert compute_layout(mirror)["full"] is True
