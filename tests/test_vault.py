"""vaultsync.Vault, the front door: what a notebook or script calls, and what every
door (CLI, HTTP, MCP, Datasette) calls underneath."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import vaultsync
from vaultsync import read
from vaultsync.cli import cli
from vaultsync.mirror import MirrorError

FILES = {
    "Alpha.md": "---\naliases: [First]\n---\n# Alpha\n[[Beta]] and [[Gamma#Part|g]]\n",
    "Beta.md": "# Beta\n[[Alpha]] [[Missing]]\n",
    "Gamma.md": "---\ntitle: The Gamma Page\n---\n## Part\n[[Alpha]]\n",
    "sources/Paper.md": "# Paper\n[[Alpha]]\n",
    "notes/Same.md": "---\naliases: [Twin]\n---\nx\n",
    "other/Else.md": "---\naliases: [Twin]\n---\ny\n",
}


@pytest.fixture
def vault(make_vault, tmp_path: Path) -> vaultsync.Vault:
    return vaultsync.Vault(make_vault(FILES), db=tmp_path / "mirror.db")


def test_sync_then_sql_sees_the_metrics(vault: vaultsync.Vault) -> None:
    """A plain sync leaves SQL over the mirror with PageRank: the README's notebook
    example (`open_mirror` + central_pages) gets rows without another step."""
    report = vault.sync()
    assert report.pages == 6
    db = vaultsync.open_mirror(vault.path, db=vault.db_path)
    central = list(db.query("select path, pagerank from central_pages"))
    assert {r["path"] for r in central} == {"Alpha.md", "Beta.md", "Gamma.md",
                                            "notes/Same.md", "other/Else.md"}
    assert all(r["pagerank"] is not None for r in central)
    assert [r["path"] for r in vault.db.query("select path from central_pages")] == \
        [r["path"] for r in central]


def test_db_is_read_only(vault: vaultsync.Vault) -> None:
    vault.sync()
    with pytest.raises(sqlite3.OperationalError):
        vault.db.execute("delete from pages")


def test_reading_before_any_sync_says_so(vault: vaultsync.Vault) -> None:
    with pytest.raises(read.MirrorMissing):
        vault.report("central")
    with pytest.raises(read.MirrorMissing):
        vault.db  # noqa: B018


def test_report_computes_stale_metrics(vault: vaultsync.Vault) -> None:
    vault.sync(metrics=False)
    with vault.connection() as conn:
        assert not read.metrics_state(conn).core_current
    central = vault.report("central")
    assert central.total == 5 and central.rows[0]["rank"] == 1
    communities = vault.report("communities")  # the heavy figures too
    with vault.connection() as conn:
        assert read.metrics_state(conn).heavy_current
    assert communities.name == "communities"


def test_page_by_path_title_alias_and_link(vault: vaultsync.Vault) -> None:
    vault.sync()
    assert vault.page("Alpha.md")["path"] == "Alpha.md"
    assert vault.page("alpha")["path"] == "Alpha.md"
    assert vault.page("[[Gamma#Part|shown]]")["path"] == "Gamma.md"
    assert vault.page("The Gamma Page")["path"] == "Gamma.md"  # a title
    assert vault.page("First")["path"] == "Alpha.md"  # an alias
    with pytest.raises(read.NotFound, match="notes/Same.md, other/Else.md"):
        vault.page("Twin")  # two pages fit equally: both named
    with pytest.raises(read.NotFound):
        vault.page("Nothing")


def test_page_rank_says_what_it_ranks_among(vault: vaultsync.Vault) -> None:
    vault.sync()
    metrics = vault.page("Alpha")["metrics"]
    assert metrics["rank_among"] == "pages" and metrics["pages_ranked"] == 6
    assert metrics["central_rank"] == 1 and metrics["central_ranked"] == 5
    assert vault.page("sources/Paper.md")["metrics"]["central_rank"] is None


def test_search_neighbors_graph(vault: vaultsync.Vault) -> None:
    vault.sync()
    assert vault.search("Alpha")["results"][0]["path"] == "Alpha.md"
    local = vault.neighbors("[[Beta]]", depth=1)
    assert {n["id"] for n in local["nodes"]} == {"Beta.md", "Alpha.md"}
    whole = vault.graph()
    assert len(whole["nodes"]) == 6


def test_status_counts_are_the_headline_counts(vault: vaultsync.Vault) -> None:
    vault.sync()
    status = vault.status()
    assert status["vault"] == str(vault.path) and not status["alive"]
    counts = status["counts"]
    assert {k: counts[k] for k in read.Counts.__annotations__} == {
        "pages": 6, "sources": 1, "attachments": 0, "links": 6, "links_between_pages": 5,
        "edges": 5, "unresolved": 1, "problems": 0}
    summary = vault.report("summary").summary
    assert summary is not None
    assert {k: summary["counts"][k] for k in read.Counts.__annotations__} == \
        {k: counts[k] for k in read.Counts.__annotations__}


def test_prepare_syncs_once_and_says_who_keeps_it_live(vault: vaultsync.Vault) -> None:
    first = vault.prepare()
    assert first.first_sync is not None and first.first_sync.pages == 6
    assert not first.live and first.description.startswith("not live")
    again = vault.prepare(watch=True)
    assert again.first_sync is None
    assert again.live and again.in_process and again.description == "live: watching the vault"


def test_a_report_converts_to_rows_json_markdown_csv(vault: vaultsync.Vault) -> None:
    vault.sync()
    report = vault.report("central", limit=2)
    assert report.to_rows() == report.rows and len(report.rows) == 2
    assert json.loads(report.to_json()) == report.rows
    assert report.to_markdown().startswith("## Central pages")
    assert "[Alpha](Alpha.md)" in report.to_markdown()
    parsed = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert [r["path"] for r in parsed] == [r["path"] for r in report.rows]
    summary = vault.report("summary")
    assert {"count": "pages", "value": 6} in summary.to_rows()


def test_a_report_converts_to_a_dataframe_when_pandas_is_there(vault: vaultsync.Vault
                                                               ) -> None:
    vault.sync()
    report = vault.report("wanted")
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            report.to_dataframe()
        return
    frame = report.to_dataframe()
    assert list(frame.columns) == list(read.REPORTS["wanted"].column_names)
    assert frame["target"].tolist() == ["Missing"]


def test_every_answer_converts_to_rows_json_and_csv(vault: vaultsync.Vault) -> None:
    vault.sync()
    page = vault.page("Alpha")
    (row,) = vaultsync.to_rows(page)
    assert row["path"] == "Alpha.md" and row["metrics.in_degree"] == 3
    assert "links" not in row  # lists are rows of their own:
    assert [r["target_path"] for r in vaultsync.to_rows(page, "links")] == \
        ["Beta.md", "Gamma.md"]
    with pytest.raises(ValueError, match="choose from .*backlinks"):
        vaultsync.to_rows(page, "nodes")
    hits = vault.search("Alpha")
    assert vaultsync.to_rows(hits)[0]["path"] == "Alpha.md"
    local = vault.neighbors("Beta")
    assert {r["id"] for r in vaultsync.to_rows(local)} == {"Alpha.md", "Beta.md"}
    assert {(r["source"], r["target"]) for r in vaultsync.to_rows(local, "links")} == {
        ("Alpha.md", "Beta.md"), ("Beta.md", "Alpha.md")}
    whole = vault.graph()
    assert len(vaultsync.to_rows(whole)) == 6
    (state,) = vaultsync.to_rows(vault.status())
    assert state["counts.pages"] == 6 and state["mirror.last_sync_at"]
    for answer in (page, hits, local, whole, vault.status()):
        assert json.loads(vaultsync.to_json(answer)) == answer
    parsed = list(csv.DictReader(io.StringIO(vaultsync.to_csv(whole))))
    assert sorted(r["id"] for r in parsed) == sorted(n["id"] for n in whole["nodes"])
    report = vault.report("orphans")
    assert vaultsync.to_rows(report) == report.rows
    assert vaultsync.to_csv(report) == report.to_csv()
    with pytest.raises(TypeError, match="not an answer"):
        vaultsync.to_rows({"what": 1})


def test_every_answer_converts_to_a_dataframe_when_pandas_is_there(
        vault: vaultsync.Vault) -> None:
    vault.sync()
    whole = vault.graph()
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            vaultsync.to_dataframe(whole)
        return
    frame = vaultsync.to_dataframe(whole)
    assert sorted(frame["id"]) == sorted(n["id"] for n in whole["nodes"])
    assert len(vaultsync.to_dataframe(whole, "links")) == len(whole["links"])


def test_vault_takes_a_settings_file(make_vault, tmp_path: Path) -> None:
    folder = make_vault({**FILES, "refs/Book.md": "# Book\n[[Alpha]]\n"})
    settings = tmp_path / "settings.toml"
    settings.write_text('source_folders = ["refs"]\n')
    vault = vaultsync.open(folder, db=tmp_path / "other.db", config=settings)
    vault.sync()
    assert vault.db_path == tmp_path / "other.db"
    assert vault.status()["counts"]["sources"] == 1
    assert vault.page("Book")["is_source"] and not vault.page("Paper")["is_source"]


def test_cli_status_prints_no_python_none(vault: vaultsync.Vault) -> None:
    vault.sync()
    result = CliRunner().invoke(cli, ["status", str(vault.path), "--db", str(vault.db_path)])
    assert result.exit_code == 0, result.output
    assert "None" not in result.output
    assert "6 pages (1 sources), 6 links (5 between pages, 1 unresolved), 5 edges" in \
        result.output


def test_cli_status_of_a_mirror_never_synced_says_never(vault: vaultsync.Vault) -> None:
    from vaultsync.mirror import Mirror

    Mirror(vault.db_path).close()  # made, not yet filled: no last sync
    result = CliRunner().invoke(cli, ["status", str(vault.path), "--db", str(vault.db_path)])
    assert result.exit_code == 0, result.output
    assert "last sync never" in result.output and "None" not in result.output


def test_a_server_computes_the_stored_layout_the_cli_left_out(vault: vaultsync.Vault
                                                              ) -> None:
    """`report` computes the metrics but not the graph view's layout; `serve` (no
    daemon) then computes the layout on the first request that shows the graph."""
    import httpx
    from conftest import serving, wait_for

    vault.sync()
    vault.report("summary")  # core and heavy metrics, no layout
    with vault.connection() as conn:
        state = read.metrics_state(conn)
        assert state.core_current and state.heavy_current and not state.layout_current
    with serving(vault.config) as (_, url, token):
        headers = {"authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/api/graph", headers=headers, timeout=60).status_code == 200

        def layout_fresh() -> bool:
            status = httpx.get(f"{url}/api/status", headers=headers, timeout=60).json()
            return bool(status["layout"]["fresh"])

        wait_for(layout_fresh, what="the stored layout to be computed")


def test_sync_and_prepare_move_a_damaged_mirror_aside_and_rebuild_it(
        vault: vaultsync.Vault) -> None:
    # The same check every door makes (Vault.check_mirror), for a script too.
    for step in ("sync", "prepare"):
        vault.db_path.write_bytes(b"not a database, " * 100)
        if step == "sync":
            warnings = vault.sync().warnings
        else:
            liveness = vault.prepare()
            assert liveness.moved_aside is not None and liveness.moved_aside.exists()
            assert liveness.first_sync is not None
            warnings = liveness.first_sync.warnings
        assert "damaged" in warnings[0] and "moved it to" in warnings[0]
        assert vault.status()["counts"]["pages"] == 6
    kept = vault.db_path.parent.glob("mirror.db.damaged-*")
    assert len([p for p in kept if not p.name.endswith("-wal")]) == 2


def another_vault_given(mirror_of: vaultsync.Vault, tmp_path: Path) -> vaultsync.Vault:
    """A vault of one page, `x.md`, pointed at the mirror of another."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.md").write_text("# X\n")
    return vaultsync.Vault(other, db=mirror_of.db_path)


def test_another_vaults_mirror_is_refused_before_anything_is_written(
        vault: vaultsync.Vault, tmp_path: Path) -> None:
    vault.sync()
    stranger = another_vault_given(vault, tmp_path)
    for call in (stranger.sync, stranger.prepare, stranger.check_mirror):
        with pytest.raises(MirrorError, match="another vault"):
            call()
    assert vault.status()["counts"]["pages"] == 6


def test_stale_pages_says_what_a_report_computes_first(vault: vaultsync.Vault) -> None:
    vault.sync()
    assert vault.stale_pages("central") == 6
    vault.report("central")
    assert vault.stale_pages("central") == 0
    assert vault.stale_pages("communities") == 6  # the heavy figures are not there yet
    vault.report("communities")
    assert vault.stale_pages("communities") == 0


def test_rebuilding_makes_another_vaults_mirror_this_ones(vault: vaultsync.Vault,
                                                          tmp_path: Path) -> None:
    vault.sync()
    stranger = another_vault_given(vault, tmp_path)
    with stranger.rebuilding():
        assert not vault.db_path.exists()
        stranger.sync()
    assert stranger.status()["counts"]["pages"] == 1
    with pytest.raises(MirrorError, match="another vault"):
        vault.sync()
