"""`vaultsync report`: every report in every format, answers equal to the views,
metrics computed when missing or stale, and the shareable Markdown summary."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from conftest import rows

from vaultsync import graph, read, render
from vaultsync.cli import cli
from vaultsync.mirror import Mirror
from vaultsync.sync import sync_vault

VAULT = {
    "concepts/a.md": "---\ntitle: Alpha | one\n---\n[[b]] [[b]] [[a]] [[s2]] [[Ghost]]\n",
    "concepts/b.md": "[[c]] ![[img.png]] [[nowhere]] [[ghost.md]]\n",
    "concepts/c.md": "[[a#Missing]] [[s1]] [[nowhere]]\n",
    "systems/d.md": "[[leaf]]\n",
    "systems/leaf.md": "no links, though d is named\n",
    "lonely page.md": "[[lonely page]] [[nowhere]] ![[img.png]]\n",
    "sources/s1.md": "[[a]] [[s2]]\n",
    "sources/s2.md": "cited\n",
    "img.png": b"\x89PNG\r\n\x1a\n",
}
PAGE_REPORTS = ("central", "orphans", "isolated", "dead-ends", "single-source", "unsourced",
                "communities")
LIST_REPORTS = (*PAGE_REPORTS, "wanted")


@pytest.fixture
def synced(make_vault, config_for):
    vault = make_vault(VAULT)
    config = config_for(vault)
    sync_vault(config, workers=1)
    return vault, config


def invoke(*args: str, env: dict | None = None):
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.output
    return result


def as_json(vault: Path, db: Path, name: str, *extra: str):
    result = invoke("report", name, str(vault), "--db", str(db), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("fmt", render.FORMATS)
@pytest.mark.parametrize("name", read.REPORT_NAMES)
def test_every_report_in_every_format(synced, name, fmt):
    vault, config = synced
    result = invoke("report", name, str(vault), "--db", str(config.db), "--format", fmt,
                    env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.strip()
    if fmt == "json":
        data = json.loads(out)
        if name == "summary":
            assert {"counts", "top", "metrics"} <= set(data)
        else:
            assert isinstance(data, list) and data
            key = "target" if name == "wanted" else "path"
            assert all(row[key] and row["title"] for row in data)
    elif fmt == "csv":
        table = list(csv.reader(io.StringIO(out)))
        assert len(table) >= 2 and all(len(r) == len(table[0]) for r in table)
    elif fmt == "markdown":
        assert out.startswith("#") and "|" in out
    else:
        assert render.TITLES[name].split(":")[0].split(" (")[0] in out
        assert max(len(line) for line in out.splitlines()) <= 100


def test_report_answers_are_known(synced):
    vault, config = synced
    paths = {name: [r["path"] for r in as_json(vault, config.db, name)]
             for name in ("orphans", "isolated", "dead-ends", "unsourced")}
    assert paths == {
        "orphans": ["lonely page.md", "systems/d.md"],
        "isolated": ["lonely page.md"],
        "dead-ends": ["lonely page.md", "sources/s2.md", "systems/leaf.md"],
        "unsourced": ["concepts/b.md", "lonely page.md", "systems/d.md", "systems/leaf.md"],
    }
    single = as_json(vault, config.db, "single-source")
    assert [(r["path"], r["source"], r["source_title"]) for r in single] == \
        [("concepts/c.md", "sources/s1.md", "s1")]
    wanted = as_json(vault, config.db, "wanted")
    # "Ghost" and "ghost.md" name the same missing page.
    assert [(r["target"], r["title"], r["references"], r["links"], r["referenced_by"])
            for r in wanted] == [
        ("nowhere", "nowhere", 3, 3, ["concepts/b.md", "concepts/c.md", "lonely page.md"]),
        ("Ghost", "Ghost", 2, 2, ["concepts/a.md", "concepts/b.md"]),
    ]
    broken = as_json(vault, config.db, "broken-anchors")
    assert [(r["path"], r["line"], r["target"], r["anchor"], r["target_path"])
            for r in broken] == [("concepts/c.md", 1, "a", "Missing", "concepts/a.md")]
    central = as_json(vault, config.db, "central")
    assert {r["path"] for r in central} == {
        "concepts/a.md", "concepts/b.md", "concepts/c.md", "systems/d.md",
        "systems/leaf.md", "lonely page.md"}  # sources left out
    assert [r["rank"] for r in central] == list(range(1, 7))
    assert central[0]["path"] == "concepts/a.md"
    assert all({"pagerank", "in_degree", "citation_count"} <= set(r) for r in central)


def test_reports_equal_the_views(synced):
    vault, config = synced
    db = config.db
    for name, view in (("orphans", "orphan_pages"), ("isolated", "isolated_pages"),
                       ("dead-ends", "dead_end_pages"), ("unsourced", "unsourced_pages")):
        got = [(r["path"], r["title"], r["kind"]) for r in as_json(vault, db, name)]
        assert got == rows(db, f"SELECT path, title, kind FROM {view}")
    got = [(r["path"], r["source"]) for r in as_json(vault, db, "single-source")]
    assert got == rows(db, "SELECT path, source_path FROM single_source_pages")
    got = [(r["target"], r["references"], r["links"], ",".join(r["referenced_by"]))
           for r in as_json(vault, db, "wanted")]
    view = rows(db, 'SELECT target, "references", links, referenced_by FROM wanted_pages')
    assert [g[:3] for g in got] == [v[:3] for v in view]
    assert [sorted(g[3].split(",")) for g in got] == [sorted(v[3].split(",")) for v in view]
    got = [(r["path"], r["pagerank"]) for r in as_json(vault, db, "central")]
    view = rows(db, "SELECT path, pagerank FROM central_pages")
    assert sorted(got, key=lambda r: (-r[1], r[0])) == got
    assert sorted(got) == sorted(view)
    summary = as_json(vault, db, "summary")
    counts = summary["counts"]
    for key, view in (("orphans", "orphan_pages"), ("isolated", "isolated_pages"),
                      ("dead_ends", "dead_end_pages"), ("single_source", "single_source_pages"),
                      ("unsourced", "unsourced_pages"), ("wanted", "wanted_pages")):
        assert counts[key] == rows(db, f"SELECT count(*) FROM {view}")[0][0], key
    assert counts["pages"] == 8 and counts["sources"] == 2
    assert summary["top"]["central"][0]["path"] == "concepts/a.md"


def test_communities_report(synced):
    vault, config = synced
    data = as_json(vault, config.db, "communities")
    assert sum(r["size"] for r in data) == rows(
        config.db, "SELECT count(*) FROM page_metrics WHERE community IN "
                   "(SELECT community FROM page_metrics GROUP BY community "
                   "HAVING count(*) > 1)")[0][0]
    assert [r["size"] for r in data] == sorted((r["size"] for r in data), reverse=True)
    for r in data:  # each row is labelled by the community's most central page
        best = rows(config.db, "SELECT p.path FROM page_metrics m JOIN pages p "
                               "ON p.id = m.page_id WHERE m.community = ? "
                               "ORDER BY m.pagerank DESC, p.path LIMIT 1", r["community"])
        assert r["path"] == best[0][0] and r["top"][0] == r["title"]


def test_limit_and_kind(synced):
    vault, config = synced
    assert len(as_json(vault, config.db, "central", "--limit", "2")) == 2
    assert len(as_json(vault, config.db, "central", "--limit", "0")) == 6
    sources = as_json(vault, config.db, "central", "--kind", "source")
    assert {r["path"] for r in sources} == {"sources/s1.md", "sources/s2.md"}
    assert [r["path"] for r in as_json(vault, config.db, "orphans", "--kind", "system")] == \
        ["systems/d.md"]
    summary = as_json(vault, config.db, "summary", "--limit", "1")
    assert all(len(v) <= 1 for v in summary["top"].values())
    result = invoke("report", "wanted", str(vault), "--db", str(config.db), "--kind", "x")
    assert result.exit_code == 2 and "--kind does not apply" in result.stderr
    table = invoke("report", "central", str(vault), "--db", str(config.db), "--limit", "1")
    assert "1 of 6 rows" in table.stdout


def test_report_syncs_a_mirror_never_synced(make_vault, config_for):
    vault = make_vault(VAULT)
    config = config_for(vault, "new.db")
    result = invoke("report", "orphans", str(vault), "--db", str(config.db), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "syncing" in result.stderr
    assert [r["path"] for r in json.loads(result.stdout)] == ["lonely page.md", "systems/d.md"]


def test_report_recomputes_stale_metrics(synced):
    vault, config = synced
    central = as_json(vault, config.db, "central")
    assert [r["path"] for r in as_json(vault, config.db, "orphans")] == \
        ["lonely page.md", "systems/d.md"]
    version = rows(config.db, "SELECT value FROM meta WHERE key = 'metrics_graph_version'")
    (vault / "systems/leaf.md").write_text("[[d]] [[lonely page]] [[d]]\n")
    sync_vault(config, workers=1)
    with Mirror(config.db) as mirror:
        assert not read.metrics_state(mirror.conn).core_current
    assert as_json(vault, config.db, "orphans") == []
    after = as_json(vault, config.db, "central")
    assert after != central
    d = next(r for r in after if r["path"] == "systems/d.md")
    assert d["in_degree"] == 1
    assert rows(config.db, "SELECT value FROM meta WHERE key = 'metrics_graph_version'") != \
        version
    with Mirror(config.db) as mirror:
        assert read.metrics_state(mirror.conn).core_current
        assert not read.metrics_state(mirror.conn).heavy_current  # central needs core only
    as_json(vault, config.db, "communities")
    with Mirror(config.db) as mirror:
        assert read.metrics_state(mirror.conn).heavy_current


def test_markdown_summary_is_shareable_and_its_links_work(synced, tmp_path):
    vault, config = synced
    out = tmp_path / "shared" / "report.md"
    out.parent.mkdir()
    result = invoke("report", "summary", str(vault), "--db", str(config.db),
                    "--format", "markdown", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    text = out.read_text("utf-8")
    assert text.startswith("# Vault report: vault\n")
    for heading in ("Most central pages", "Orphans", "Single-source pages", "Wanted pages",
                    "Communities", "Definitions"):
        assert f"\n## {heading}\n" in text
    assert "| Orphans: no other page links to them | 2 |" in text
    assert "[Alpha \\| one](" in text  # a title with a pipe stays one link
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert links and all((out.parent / unquote(href)).is_file() for href in links)
    assert any("lonely%20page.md" in href for href in links)
    assert "`nowhere`: 3 pages" in text

    # Written inside the vault: links are relative to where the report is.
    inside = vault / "reports" / "summary.md"
    inside.parent.mkdir()
    result = invoke("report", "summary", str(vault), "--db", str(config.db),
                    "--format", "markdown", "-o", str(inside))
    assert "inside the vault" in result.stderr
    links = re.findall(r"\]\(([^)]+)\)", inside.read_text("utf-8"))
    assert links and all((inside.parent / unquote(h)).is_file() for h in links)
    assert all(h.startswith("../") for h in links)


def test_markdown_list_report_escapes_and_links(synced):
    vault, config = synced
    text = invoke("report", "central", str(vault), "--db", str(config.db), "--format",
                  "markdown").stdout
    header, rule, *body = [line for line in text.splitlines() if line.startswith("|")]
    assert header.count(" | ") == rule.count("|") - 2
    assert all(line.count(" | ") == header.count(" | ") for line in body)
    assert "[Alpha \\| one](concepts/a.md)" in text


def test_csv_lists_are_joined(synced):
    vault, config = synced
    out = invoke("report", "wanted", str(vault), "--db", str(config.db), "--format",
                 "csv").stdout
    first = next(csv.DictReader(io.StringIO(out)))
    assert first["target"] == "nowhere"
    assert first["referenced_by"] == "concepts/b.md; concepts/c.md; lonely page.md"


def test_table_fits_narrow_terminals(synced):
    vault, config = synced
    for width in (60, 80, 140):
        out = invoke("report", "single-source", str(vault), "--db", str(config.db),
                     env={"COLUMNS": str(width)}).stdout
        assert max(len(line) for line in out.splitlines()) <= width
    with Mirror(config.db) as mirror:
        graph.ensure_metrics(mirror)
        data = read.run_report(mirror.conn, "summary")
    text = render.render(data, "table", width=70)
    assert max(len(line) for line in text.splitlines()) <= 70


def test_run_report_reads_only_and_rejects_unknown_names(synced):
    _, config = synced
    with Mirror(config.db) as mirror:
        graph.ensure_metrics(mirror)
    conn = sqlite3.connect(f"{config.db.absolute().as_uri()}?mode=ro", uri=True)
    try:
        for name in read.REPORT_NAMES:
            assert read.run_report(conn, name, limit=3).json()
        with pytest.raises(ValueError, match="no report named"):
            read.run_report(conn, "nonsense")
        with pytest.raises(ValueError, match="unknown format"):
            render.render(read.Report("orphans", [], 0), "yaml")
    finally:
        conn.close()


def test_unknown_report_is_a_usage_error(synced):
    vault, config = synced
    result = invoke("report", "nonsense", str(vault), "--db", str(config.db))
    assert result.exit_code == 2


@pytest.mark.parametrize("width", [80, 60])
def test_tables_fit_the_terminal_one_line_per_row(sample_mirror, width):
    """On the sample vault, every report's table keeps each row on one line of the
    terminal's width: long titles end in …, paths lose their start, lists say +N."""
    with read.open_mirror(sample_mirror) as conn:
        for name in read.REPORT_NAMES:
            data = read.run_report(conn, name)
            text = render.render(data, "table", vault_name="vault", width=width)
            lines = text.splitlines()
            assert max(len(line.rstrip()) for line in lines) <= width, (name, text)
            if name == "central":
                assert len(lines) == 3 + len(data.rows)  # title, header, rule, one per row
                assert any("…" in line for line in lines)  # something had to give
