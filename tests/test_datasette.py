"""Datasette: metadata, canned queries, labels, the plugin page, snapshots, the command.

Everything runs against a mirror of a small vault whose graph is known by hand, through
Datasette's own in-process client; one test starts `vaultsync datasette` for real.

The same tests run under Datasette 0.65 (the project's venv) and 1.0 (CI's second venv,
`.venv-datasette1`). The helpers below read metadata through each version's API; where
the two versions behave differently, the test branches on DATASETTE_1 and says how.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from click.testing import CliRunner
from conftest import wait_for

from vaultsync.cli import cli
from vaultsync.graph import compute_core_metrics
from vaultsync.mirror import Mirror
from vaultsync.read import run_report
from vaultsync.sync import Syncer, sync_vault

datasette_app = pytest.importorskip("datasette.app")
from datasette.plugins import pm  # noqa: E402

import vaultsync.datasette_plugin as plugin  # noqa: E402
from vaultsync.datasette_plugin import launch  # noqa: E402
from vaultsync.datasette_plugin.compat import (  # noqa: E402
    DATASETTE_1,
    DATASETTE_VERSION,
    supports_stored_queries,
    version_key,
)
from vaultsync.datasette_plugin.metadata import QUERIES  # noqa: E402

DB_NAME = "vault-1a2b3c4d5e"  # a stem like the default mirror's: metadata must follow it

VAULT = {
    "index.md": "# Index\n\n- [[alpha]]\n- [[beta]]\n- [[gamma]]\n",
    "concepts/alpha.md": (
        "---\ntitle: Alpha\ntags: [concept, streaming/windows]\n---\n# Alpha\n\n"
        "Alpha builds on [[beta]] (Source: [[s1]]).\n"
        "Somewhere in the body: the quick zebra crossing.\n"
        "See also [[nowhere]].\n"
    ),
    "concepts/beta.md": (
        "# Beta\n\nBack to [[alpha]]. Sources: [[s1]] and [[sources/s2|S2]].\n#Streaming\n"
    ),
    "concepts/gamma.md": "# Gamma\n\nNo links out. #ml\n",
    "concepts/delta.md": "# Delta\n\nOnly dead links: [[Nowhere]] and [[another-missing]].\n",
    "concepts/epsilon.md": "# Epsilon\n\nFrom [[s2]] alone.\n",
    "sources/s1.md": "---\ntitle: Source one\ntype: source\n---\nA paper.\n",
    "sources/s2.md": "---\ntitle: Source two\n---\nA talk.\n",
}

EXPECTED = {
    "orphans": ["concepts/delta.md", "concepts/epsilon.md", "index.md"],
    "isolated": ["concepts/delta.md"],
    "single_source": [("concepts/alpha.md", "sources/s1.md"),
                      ("concepts/epsilon.md", "sources/s2.md")],
    "unsourced_concepts": ["concepts/delta.md", "concepts/gamma.md", "index.md"],
    # As first written (min): [[Nowhere]] and [[nowhere]] want the same page.
    "wanted": [("Nowhere", 2), ("another-missing", 1)],
}


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


@pytest.fixture(autouse=True)
def registered() -> None:
    plugin.ensure_registered()


@pytest.fixture
def mirror_db(make_vault: Callable, config_for: Callable) -> Path:
    config = config_for(make_vault(VAULT), f"{DB_NAME}.db")
    sync_vault(config, workers=1)
    return config.db


def write_metrics(db: Path) -> None:
    """Graph metrics as the daemon writes them."""
    with Mirror(db) as mirror:
        compute_core_metrics(mirror)


def datasette(*dbs: Path, metadata: dict | None = None, config: dict | None = None) -> Any:
    """A Datasette on `dbs`; `config` (datasette.yaml) exists under Datasette 1.0 only."""
    if config is not None:
        assert DATASETTE_1, "Datasette 0.6x has no configuration file: use metadata"
        return datasette_app.Datasette([str(db) for db in dbs], metadata=metadata,
                                       config=config)
    return datasette_app.Datasette([str(db) for db in dbs], metadata=metadata)


# Metadata as Datasette resolves it: 0.6x through `metadata()` (which asks the plugin's
# get_metadata hook), 1.0 from its internal database and configuration once startup
# (where the plugin writes them) has run.


async def instance_metadata(ds: Any, key: str) -> Any:
    if DATASETTE_1:
        await ds.invoke_startup()
        return (await ds.get_instance_metadata()).get(key)
    return ds.metadata(key)


async def database_metadata(ds: Any, database: str, key: str) -> Any:
    if DATASETTE_1:
        await ds.invoke_startup()
        return (await ds.get_database_metadata(database)).get(key)
    return ds.metadata(key, database=database)


async def table_setting(ds: Any, database: str, table: str, key: str) -> Any:
    """A table setting (sort, facets, label_column, fts_table...): metadata in 0.6x,
    configuration in 1.0."""
    if DATASETTE_1:
        await ds.invoke_startup()
        return (await ds.table_config(database, table)).get(key)
    return ds.metadata(key, database=database, table=table)


async def table_description(ds: Any, database: str, table: str) -> Any:
    if DATASETTE_1:
        await ds.invoke_startup()
        return (await ds.get_resource_metadata(database, table)).get("description")
    return ds.metadata("description", database=database, table=table)


async def query_names(ds: Any, database: str) -> set[str]:
    """The canned (1.0: stored) queries of `database`."""
    if DATASETTE_1:
        await ds.invoke_startup()
        page = await ds.list_queries(database, limit=100)
        return {q.name for q in page.queries}
    return set(await ds.get_canned_queries(database, None))


async def table_json(ds: Any, url: str, *extras: str) -> Any:
    """A table's JSON with `extras`: 0.6x always includes them; 1.0 only when asked
    (?_extra=name)."""
    if DATASETTE_1:
        url += "".join(f"&_extra={extra}" for extra in extras)
    return await get_json(ds, url)


async def facets_shown(ds: Any, url: str) -> set[str]:
    """The facets a table's JSON reports (1.0: under facet_results.results)."""
    data = (await table_json(ds, url, "facet_results"))["facet_results"]
    return set(data["results"] if DATASETTE_1 else data)


def sql_url(database: str) -> str:
    """Where arbitrary SQL runs: 1.0 moved it to /db/-/query and redirects the old URL."""
    return f"/{database}/-/query.json" if DATASETTE_1 else f"/{database}.json"


async def get_json(ds: Any, url: str) -> Any:
    response = await ds.client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    return response.json()


def view(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def report_rows(db: Path, name: str) -> list[str]:
    """The paths (wanted: the targets) `vaultsync report NAME` lists."""
    with closing(sqlite3.connect(db)) as conn:
        return [row.get("path", row.get("target")) for row in run_report(conn, name).rows]


# --- metadata -------------------------------------------------------------------------


def test_static_metadata_json_is_metadata_for_mirror() -> None:
    shipped = json.loads(plugin.METADATA_PATH.read_text("utf-8"))
    assert shipped == plugin.metadata_for("mirror"), (
        "regenerate vaultsync/datasette_plugin/metadata.json from metadata_for('mirror')")
    config = json.loads(plugin.CONFIG_PATH.read_text("utf-8"))
    assert config == plugin.config_for("mirror"), (
        "regenerate vaultsync/datasette_plugin/datasette.json from config_for('mirror')")
    # The configuration holds every table setting and canned query of the metadata.
    metadata = shipped["databases"]["mirror"]
    assert config["databases"]["mirror"]["queries"] == metadata["queries"]
    for table, settings in config["databases"]["mirror"]["tables"].items():
        assert settings.items() <= metadata["tables"][table].items()
    assert config["databases"]["mirror"]["tables"]["pages"]["label_column"] == "title"


def test_version_check_orders_datasette_releases() -> None:
    ordered = ["0.64", "0.65.5", "1.0a30", "1.0a31", "1.0a41", "1.0b1", "1.0rc1", "1.0",
               "1.0.1"]
    assert sorted(ordered, key=version_key) == ordered
    assert not supports_stored_queries("1.0a30") and supports_stored_queries("1.0a41")
    assert DATASETTE_VERSION is not None
    assert DATASETTE_1 == (version_key(DATASETTE_VERSION) >= version_key("1.0a0"))
    # 0.6x answers metadata per request through get_metadata; 1.0 removed the hook.
    assert hasattr(plugin, "get_metadata") != DATASETTE_1


def test_plugin_metadata_applies_to_a_mirror_whatever_its_name(mirror_db: Path) -> None:
    async def go() -> None:
        ds = datasette(mirror_db)
        data = await get_json(ds, f"/{DB_NAME}.json")
        assert await instance_metadata(ds, "title") == "vaultsync"
        tables = {t["name"]: t for t in data["tables"]}
        # content='pages' (single quotes) escapes Datasette's FTS detection: metadata says it.
        assert await table_setting(ds, DB_NAME, "pages", "fts_table") == "pages_fts"
        assert tables["skipped_files"]["hidden"] and tables["pages_fts"]["hidden"]
        # FTS shadow tables are hidden (0.65, the early 1.0 alphas) or left out of the
        # list altogether (1.0a41).
        assert tables["pages_fts_data"]["hidden"] if "pages_fts_data" in tables \
            else DATASETTE_1
        assert not tables["pages"]["hidden"]
        assert await query_names(ds, DB_NAME) == set(QUERIES)
        if DATASETTE_1:
            # 1.0's database page previews five stored queries and links to the rest.
            assert len(data["queries"]) == 5 and data["queries_count"] == len(QUERIES)
            listed = await get_json(ds, f"/{DB_NAME}/-/queries.json?_size=100")
            assert {q["name"] for q in listed["queries"]} == set(QUERIES)
        else:
            assert {q["name"] for q in data["queries"]} == set(QUERIES)
        assert await table_setting(ds, DB_NAME, "pages", "label_column") == "title"
        assert await database_metadata(ds, DB_NAME, "title") == "vaultsync mirror of vault"
        assert (await table_description(ds, DB_NAME, "pages")).startswith(
            "One row per Markdown page")
        assert await facets_shown(ds, f"/{DB_NAME}/pages.json?_size=1") >= {"kind", "folder"}
        pages = await table_json(ds, f"/{DB_NAME}/pages.json?_shape=objects",
                                 "human_description_en")
        assert pages["human_description_en"] == "sorted by path"
        assert [r["path"] for r in pages["rows"]] == sorted(VAULT)
        metrics = await table_json(ds, f"/{DB_NAME}/page_metrics.json?_size=1",
                                   "human_description_en")
        assert metrics["human_description_en"] == "sorted by pagerank descending"
        assert "tag" in await facets_shown(ds, f"/{DB_NAME}/tags.json?_size=1")
        assert {"form", "embed"} <= await facets_shown(ds, f"/{DB_NAME}/links.json?_size=1")
        html = (await ds.client.get(f"/{DB_NAME}/pages")).text
        assert "One row per Markdown page" in html
        assert "Frontmatter title, else the file name" in html  # column description

    run(go())


def test_other_databases_are_left_alone(mirror_db: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE pages (id INTEGER PRIMARY KEY, path TEXT)")
    conn.execute("INSERT INTO pages (path) VALUES ('x.md')")
    conn.commit()
    conn.close()

    async def go() -> None:
        ds = datasette(mirror_db, other)
        assert await instance_metadata(ds, "title") is None  # not only mirrors: no title
        assert await query_names(ds, "other") == set()
        assert await table_setting(ds, "other", "pages", "label_column") is None
        assert await table_description(ds, "other", "pages") is None
        data = await get_json(ds, "/other/pages.json?_shape=array")
        assert data == [{"id": 1, "path": "x.md"}]
        html = (await ds.client.get("/other/pages")).text
        assert "/-/vaultsync/page" not in html
        assert (await ds.client.get(f"/{DB_NAME}/orphans.json")).status_code == 200

    run(go())


def test_static_metadata_alone_gives_the_queries(mirror_db: Path, tmp_path: Path) -> None:
    """The plain `datasette mirror.db --metadata metadata.json` path, without the plugin
    (under 1.0: `--metadata metadata.json --config datasette.json`)."""
    plain = tmp_path / "mirror.db"
    src = sqlite3.connect(mirror_db)
    dst = sqlite3.connect(plain)
    src.backup(dst)
    src.close()
    dst.close()
    metadata = json.loads(plugin.METADATA_PATH.read_text("utf-8"))
    config = json.loads(plugin.CONFIG_PATH.read_text("utf-8"))
    pm.unregister(plugin)
    try:
        async def go() -> None:
            if DATASETTE_1:
                # 1.0 reads canned queries from its configuration only: metadata alone
                # keeps the descriptions and table settings but has no queries.
                alone = datasette(plain, metadata=metadata)
                assert (await alone.client.get("/mirror/orphans.json")).status_code == 404
                assert await table_setting(alone, "mirror", "pages", "label_column") == \
                    "title"
                assert await query_names(alone, "mirror") == set()
                ds = datasette(plain, metadata=metadata, config=config)
            else:
                ds = datasette(plain, metadata=metadata)
            rows = await get_json(ds, "/mirror/orphans.json?_shape=array")
            assert [r["path"] for r in rows] == EXPECTED["orphans"]
            found = await get_json(ds, "/mirror/search.json?_shape=array&q=zebra")
            assert [r["path"] for r in found] == ["concepts/alpha.md"]
            assert await table_setting(ds, "mirror", "pages", "label_column") == "title"
            assert await table_description(ds, "mirror", "pages") is not None

        run(go())
    finally:
        plugin.ensure_registered()


# --- canned queries -------------------------------------------------------------------


def test_graph_queries_match_views_graph_and_reports(mirror_db: Path) -> None:
    write_metrics(mirror_db)

    async def go() -> dict[str, list[dict]]:
        ds = datasette(mirror_db)
        out = {}
        for name in ("central_concepts", "orphans", "isolated", "single_source",
                     "unsourced_concepts", "wanted"):
            out[name] = await get_json(ds, f"/{DB_NAME}/{name}.json?_shape=array")
        return out

    got = run(go())
    paths = {name: [r.get("path", r.get("target")) for r in rows] for name, rows in got.items()}
    # What the vault's graph is, by hand.
    assert paths["orphans"] == EXPECTED["orphans"]
    assert paths["isolated"] == EXPECTED["isolated"]
    assert [(r["path"], r["source_path"]) for r in got["single_source"]] == \
        EXPECTED["single_source"]
    assert [r["source_title"] for r in got["single_source"]] == ["Source one", "Source two"]
    assert paths["unsourced_concepts"] == EXPECTED["unsourced_concepts"]
    assert [(r["target"], r["references"]) for r in got["wanted"]] == EXPECTED["wanted"]
    # ... and what the mirror's views say.
    for name, view_name in (("orphans", "orphan_pages"), ("isolated", "isolated_pages"),
                            ("single_source", "single_source_pages"),
                            ("unsourced_concepts", "unsourced_pages")):
        assert paths[name] == [r[0] for r in view(mirror_db, f"SELECT path FROM {view_name}")]
    assert paths["wanted"] == [r[0] for r in view(mirror_db, "SELECT target FROM wanted_pages")]
    central = view(mirror_db, "SELECT path FROM central_pages ORDER BY pagerank DESC, path")
    assert paths["central_concepts"] == [r[0] for r in central][:100]
    assert "sources/s1.md" not in paths["central_concepts"]  # concepts, not sources
    assert set(paths["central_concepts"]) == {
        p for p in VAULT if not p.startswith("sources/")}
    ranks = [r["pagerank"] for r in got["central_concepts"]]
    assert ranks == sorted(ranks, reverse=True)
    # ... and what the graph module computed.
    for name, flag in (("orphans", "orphan"), ("isolated", "isolated")):
        flagged = view(mirror_db, "SELECT p.path FROM page_metrics m JOIN pages p "
                                  f"ON p.id = m.page_id WHERE m.{flag} ORDER BY p.path")
        assert paths[name] == [r[0] for r in flagged], name
    # ... and what the reports say.
    for name, report in (("orphans", "orphans"), ("isolated", "isolated"),
                         ("single_source", "single-source"),
                         ("unsourced_concepts", "unsourced"), ("wanted", "wanted")):
        assert sorted(paths[name]) == sorted(report_rows(mirror_db, report)), name


def test_parameterised_queries(mirror_db: Path) -> None:
    async def go() -> None:
        ds = datasette(mirror_db)

        async def q(name: str, **params: str) -> list[dict]:
            return await get_json(ds, f"/{DB_NAME}/{name}.json?_shape=array&"
                                      + "&".join(f"{k}={v}" for k, v in params.items()))

        back = await q("page_backlinks", path="concepts/alpha.md")
        assert sorted({r["source_path"] for r in back}) == ["concepts/beta.md", "index.md"]
        assert back == await q("page_backlinks", path="concepts/alpha")  # .md optional
        assert {r["source_title"] for r in back} == {"Beta", "Index"}
        assert await q("page_backlinks", path="") == []

        s1 = await q("citing_source", source="sources/s1.md")
        assert [r["path"] for r in s1] == ["concepts/alpha.md", "concepts/beta.md"]
        s2 = await q("citing_source", source="sources/s2")
        assert [r["path"] for r in s2] == ["concepts/beta.md", "concepts/epsilon.md"]

        tagged = await q("tagged", tag="%23Streaming")  # '#', any case, nested tags too
        assert [r["path"] for r in tagged] == ["concepts/alpha.md", "concepts/beta.md"]
        assert [r["path"] for r in await q("tagged", tag="ml")] == ["concepts/gamma.md"]
        assert await q("tagged", tag="stream") == []

    run(go())


def test_full_text_search_finds_a_phrase_only_in_a_body(mirror_db: Path) -> None:
    assert view(mirror_db, "SELECT count(*) FROM pages WHERE title LIKE '%zebra%'") == [(0,)]

    async def go() -> None:
        ds = datasette(mirror_db)
        url = f"/{DB_NAME}/search.json?_shape=array&q="
        hits = await get_json(ds, url + '"quick zebra crossing"')
        assert [h["path"] for h in hits] == ["concepts/alpha.md"]
        assert "<mark>quick zebra crossing</mark>" in hits[0]["snippet"]
        assert await get_json(ds, url + '"zebra quick"') == []  # a phrase, not words
        gamma = await get_json(ds, url + "Gamma")  # a title, and a link in index.md
        assert [h["path"] for h in gamma] == ["concepts/gamma.md", "index.md"]
        assert await get_json(ds, url) == []  # empty search: no rows, no error
        assert await get_json(ds, url + '"unbalanced') == []  # syntax is escaped
        # Titles rank above bodies.
        ranked = await get_json(ds, url + "alpha")
        assert ranked[0]["path"] == "concepts/alpha.md"
        html = (await ds.client.get(f"/{DB_NAME}/search?q=zebra")).text
        assert "<mark>zebra</mark>" in html
        # The table's own search uses pages_fts too.
        table = await get_json(ds, f"/{DB_NAME}/pages.json?_shape=array&_search=zebra")
        assert [r["path"] for r in table] == ["concepts/alpha.md"]

    run(go())


# --- labels and the plugin page ---------------------------------------------------------


def test_foreign_keys_show_page_titles(mirror_db: Path) -> None:
    link_id, source_id = view(
        mirror_db, "SELECT l.id, l.source_id FROM links l JOIN pages p ON p.id = l.source_id "
                   "WHERE p.path = 'concepts/beta.md' AND l.target = 'alpha'")[0]

    async def go() -> None:
        ds = datasette(mirror_db)
        rows = await get_json(ds, f"/{DB_NAME}/links.json?_shape=array&_labels=on"
                                  f"&id={link_id}")
        assert rows[0]["source_id"] == {"value": source_id, "label": "Beta"}
        assert rows[0]["target_id"]["label"] == "Alpha"
        html = (await ds.client.get(f"/{DB_NAME}/links?id={link_id}")).text
        assert f'<a href="/{DB_NAME}/pages/{source_id}">Beta</a>' in html
        tags = (await ds.client.get(f"/{DB_NAME}/tags?tag=ml")).text
        assert ">Gamma</a>" in tags

    run(go())


def test_plugin_page_links_graph_view_and_backlinks(mirror_db: Path) -> None:
    async def go() -> None:
        ds = datasette(mirror_db)
        data = await get_json(ds, "/-/vaultsync/page.json?path=concepts/alpha.md")
        page = data["page"]
        assert data["database"] == DB_NAME
        assert (page["title"], page["kind"], page["is_source"]) == ("Alpha", "concept", False)
        assert [b["path"] for b in page["backlinks"]] == ["concepts/beta.md", "index.md"]
        assert [b["path"] for b in page["links_to"]] == ["concepts/beta.md", "sources/s1.md"]
        assert [c["path"] for c in page["citations"]] == ["sources/s1.md"]
        assert page["unresolved_links"] == 1
        assert sorted(page["tags"]) == ["concept", "streaming/windows"]
        links = data["links"]
        assert "graph" not in links  # no `vaultsync serve` runs for this mirror
        assert links["backlinks"] == f"/{DB_NAME}/page_backlinks?path=concepts%2Falpha.md"
        # The links it gives answer.
        back = await get_json(ds, links["backlinks"].replace(
            "page_backlinks?", "page_backlinks.json?_shape=array&"))
        assert {r["source_path"] for r in back} == {"concepts/beta.md", "index.md"}
        assert (await ds.client.get(links["row"])).status_code == 200

        source = await get_json(ds, "/-/vaultsync/page.json?path=sources/s2")
        assert source["page"]["is_source"]
        assert [c["path"] for c in source["page"]["citations"]] == [
            "concepts/beta.md", "concepts/epsilon.md"]
        assert source["links"]["citing"] == f"/{DB_NAME}/citing_source?source=sources%2Fs2.md"

        html = await ds.client.get(f"/-/vaultsync/page?database={DB_NAME}&path=concepts/alpha.md")
        assert html.status_code == 200
        assert "<h1>Alpha</h1>" in html.text
        assert "Graph view" not in html.text
        assert "Backlinks (2)" in html.text
        assert (await ds.client.get("/-/vaultsync/page")).status_code == 200  # a form
        missing = await ds.client.get("/-/vaultsync/page.json?path=nope.md")
        assert missing.status_code == 404
        assert (await ds.client.get("/-/vaultsync/page?database=nope&path=a.md")
                ).status_code == 404

        # Page paths in tables and query results link to the page card; cheap per cell.
        table = (await ds.client.get(f"/{DB_NAME}/pages")).text
        assert (f'href="/-/vaultsync/page?database={DB_NAME}&amp;path=concepts/alpha.md"'
                in table)
        orphans = (await ds.client.get(f"/{DB_NAME}/orphans")).text
        assert "/-/vaultsync/page?" in orphans
        assert "Full-text search (vaultsync)" in table  # table action on pages
        assert "Graph view (vaultsync serve)" not in table

    run(go())


def test_graph_view_links_follow_the_running_server(mirror_db: Path) -> None:
    """The graph-view link is the URL the running `vaultsync serve` recorded for this
    mirror; a record naming a dead process, or none, gives no link."""
    from vaultsync.server.address import address_path, publish, withdraw

    async def graph_link() -> str | None:
        data = await get_json(datasette(mirror_db), "/-/vaultsync/page.json?path=index.md")
        return data["links"].get("graph")

    publish(mirror_db, "http://127.0.0.1:8777/")
    try:
        assert run(graph_link()) == "http://127.0.0.1:8777/?path=index.md"
        record = json.loads(address_path(mirror_db).read_text())
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
        address_path(mirror_db).write_text(json.dumps({**record, "pid": int(dead)}))
        assert run(graph_link()) is None
    finally:
        withdraw(mirror_db)
        address_path(mirror_db).unlink(missing_ok=True)


def test_graph_url_is_configurable(mirror_db: Path) -> None:
    settings = {"plugins": {"vaultsync": {"graph_url": "http://localhost:9999/graph"}}}

    async def go() -> None:
        # Plugin settings: metadata in 0.6x, configuration (datasette.yaml) in 1.0.
        given = {"databases": {DB_NAME: settings}}
        ds = datasette(mirror_db, config=given) if DATASETTE_1 else \
            datasette(mirror_db, metadata=given)
        data = await get_json(ds, "/-/vaultsync/page.json?path=index.md")
        assert data["links"]["graph"] == "http://localhost:9999/graph?path=index.md"
        assert await table_setting(ds, DB_NAME, "pages", "label_column") == "title"

    run(go())


def test_what_the_user_gives_datasette_overrides_the_plugin_key_by_key(
        mirror_db: Path) -> None:
    mine = "SELECT 'mine.md' AS path"
    metadata = {"title": "My Datasette", "databases": {DB_NAME: {
        "title": "My vault", "tables": {"pages": {"description": "My pages."}}}}}
    # Table settings and queries: metadata in 0.6x, configuration in 1.0.
    settings = {"databases": {DB_NAME: {
        "tables": {"pages": {"facets": ["folder"]}},
        "queries": {"orphans": {"sql": mine, "title": "My orphans"}}}}}

    async def go() -> None:
        if DATASETTE_1:
            ds = datasette(mirror_db, metadata=metadata, config=settings)
        else:
            merged = json.loads(json.dumps(metadata))
            merged["databases"][DB_NAME]["tables"]["pages"]["facets"] = ["folder"]
            merged["databases"][DB_NAME]["queries"] = settings["databases"][DB_NAME]["queries"]
            ds = datasette(mirror_db, metadata=merged)
        assert await instance_metadata(ds, "title") == "My Datasette"
        assert await database_metadata(ds, DB_NAME, "title") == "My vault"
        assert await table_description(ds, DB_NAME, "pages") == "My pages."
        assert await table_setting(ds, DB_NAME, "pages", "facets") == ["folder"]
        rows = await get_json(ds, f"/{DB_NAME}/orphans.json?_shape=array")
        assert rows == [{"path": "mine.md"}]
        # ... and the rest stays the plugin's.
        assert await database_metadata(ds, DB_NAME, "description") is not None
        assert await table_setting(ds, DB_NAME, "pages", "label_column") == "title"
        assert await table_setting(ds, DB_NAME, "pages", "sort") == "path"
        assert await query_names(ds, DB_NAME) == set(QUERIES)
        isolated = await get_json(ds, f"/{DB_NAME}/isolated.json?_shape=array")
        assert [r["path"] for r in isolated] == EXPECTED["isolated"]
        assert await facets_shown(ds, f"/{DB_NAME}/pages.json?_size=1") == {"folder"}
        html = (await ds.client.get(f"/{DB_NAME}/pages")).text
        assert "My pages." in html and "One row per Markdown page" not in html
        assert "Frontmatter title, else the file name" in html  # ours: not given

    run(go())


def test_the_launchers_database_name_keeps_metadata_queries_and_card(
        mirror_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`vaultsync datasette` names the mirror after its vault folder at startup (under
    1.0 by attaching the file anew, as removing a database closes it)."""
    monkeypatch.setitem(plugin.DATABASE_NAMES, str(mirror_db.resolve()), "vault")

    async def go() -> None:
        ds = datasette(mirror_db)
        rows = await get_json(ds, "/vault/orphans.json?_shape=array")
        assert [r["path"] for r in rows] == EXPECTED["orphans"]
        assert "vault" in ds.databases and DB_NAME not in ds.databases
        assert await table_setting(ds, "vault", "pages", "label_column") == "title"
        assert await database_metadata(ds, "vault", "title") == "vaultsync mirror of vault"
        card = await get_json(ds, "/-/vaultsync/page.json?path=concepts/alpha.md")
        assert card["database"] == "vault"
        assert [b["path"] for b in card["page"]["backlinks"]] == ["concepts/beta.md",
                                                                  "index.md"]
        assert (await ds.client.get(f"/{DB_NAME}/pages.json")).status_code == 404

    run(go())


def test_canned_queries_run_where_arbitrary_sql_is_denied(mirror_db: Path) -> None:
    # allow_sql: metadata in 0.6x, configuration in 1.0 (where the plugin's stored
    # queries are trusted, as canned queries in configuration are).
    given = {"allow_sql": False}

    async def go() -> None:
        ds = datasette(mirror_db, config=given) if DATASETTE_1 else \
            datasette(mirror_db, metadata=given)
        denied = await ds.client.get(f"{sql_url(DB_NAME)}?sql=select+1")
        assert denied.status_code == 403
        rows = await get_json(ds, f"/{DB_NAME}/orphans.json?_shape=array")
        assert [r["path"] for r in rows] == EXPECTED["orphans"]
        back = await get_json(ds, f"/{DB_NAME}/page_backlinks.json?_shape=array&path=index")
        assert back == []

    run(go())


def test_the_page_card_is_as_private_as_the_pages_table(mirror_db: Path) -> None:
    # Only root may see the mirror: permissions are metadata in 0.6x, configuration in 1.0.
    given = {"databases": {DB_NAME: {"allow": {"id": "root"}}}}

    async def go() -> None:
        ds = datasette(mirror_db, config=given) if DATASETTE_1 else \
            datasette(mirror_db, metadata=given)
        assert (await ds.client.get(f"/{DB_NAME}/pages.json")).status_code == 403
        card = await ds.client.get("/-/vaultsync/page.json?path=index.md")
        assert card.status_code == 403
        cookies = {"ds_actor": ds.sign({"a": {"id": "root"}}, "actor")}
        card = await ds.client.get("/-/vaultsync/page.json?path=index.md", cookies=cookies)
        assert card.status_code == 200 and card.json()["page"]["title"] == "Index"

    run(go())


# --- snapshots while the daemon writes ------------------------------------------------------


def test_reads_see_committed_snapshots_during_a_write(mirror_db: Path) -> None:
    async def go() -> None:
        ds = datasette(mirror_db)
        before = await get_json(ds, f"/{DB_NAME}/orphans.json?_shape=array")
        with Mirror(mirror_db) as writer:
            writer.conn.execute("BEGIN IMMEDIATE")
            # Half a batch: a page renamed, one gone, one retitled, nothing committed.
            writer.conn.execute("UPDATE pages SET title = 'Changed' WHERE path = 'index.md'")
            writer.conn.execute("DELETE FROM pages WHERE path = 'concepts/beta.md'")
            writer.conn.execute(
                "UPDATE pages SET path = 'concepts/renamed.md' WHERE path = 'concepts/gamma.md'")
            during = await get_json(ds, f"/{DB_NAME}/orphans.json?_shape=array")
            assert during == before
            titles = await get_json(ds, f"/{DB_NAME}/pages.json?_shape=array&path=index.md")
            assert titles[0]["title"] == "Index"
            card = await get_json(ds, "/-/vaultsync/page.json?path=concepts/alpha.md")
            assert [b["path"] for b in card["page"]["backlinks"]] == [
                "concepts/beta.md", "index.md"]
            hits = await get_json(ds, f"/{DB_NAME}/search.json?_shape=array&q=Gamma")
            assert [h["path"] for h in hits] == ["concepts/gamma.md", "index.md"]
            writer.conn.execute("COMMIT")
        after = await get_json(ds, f"/{DB_NAME}/pages.json?_shape=array&path=index.md")
        assert after[0]["title"] == "Changed"

    run(go())


def test_reads_never_see_half_a_sync_batch(mirror_db: Path) -> None:
    """A real writer (the sync engine) adds and removes pairs of pages, one batch each;
    Datasette must see both pages of a pair or neither, and pages with their links."""
    vault = Path(str(view(mirror_db, "SELECT value FROM meta WHERE key = 'vault'")[0][0]))
    from vaultsync.config import load_config

    config = load_config(vault, mirror_db)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with Mirror(mirror_db) as mirror:
                syncer = Syncer(config, mirror, workers=1)
                i = 0
                while not stop.is_set():
                    i += 1
                    pair = [f"pair/a{i}.md", f"pair/b{i}.md"]
                    for rel in pair:
                        (vault / rel).parent.mkdir(exist_ok=True)
                        (vault / rel).write_text(f"[[alpha]] [[a{i}]] [[b{i}]]\n")
                    syncer.sync(pair)
                    for rel in pair:
                        (vault / rel).unlink()
                    syncer.sync(pair)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    sql = ("SELECT (SELECT count(*) FROM pages WHERE path LIKE 'pair/%') AS pages, "
           "(SELECT count(*) FROM links l JOIN pages p ON p.id = l.source_id "
           "WHERE p.path LIKE 'pair/%') AS links, "
           "(SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'alpha') AS fts")

    base = view(mirror_db, "SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'alpha'")[0][0]
    allowed = {(0, 0, base), (2, 6, base + 2)}

    async def go() -> dict[tuple[int, int, int], int]:
        ds = datasette(mirror_db)
        seen: dict[tuple[int, int, int], int] = {}
        thread = threading.Thread(target=writer)
        thread.start()
        # Read until both states were seen a few times (or something else was), for 30 s at
        # most: a sampling budget, not a wait on state (an overlap seen once is enough for
        # the assertions below, which judge what was seen).
        deadline = time.monotonic() + 30
        try:
            while thread.is_alive() and time.monotonic() < deadline and (
                    min(seen.get(s, 0) for s in allowed) < 5 or set(seen) - allowed):
                rows = await get_json(ds, f"{sql_url(DB_NAME)}?_shape=array&sql={sql}")
                state = (rows[0]["pages"], rows[0]["links"], rows[0]["fts"])
                seen[state] = seen.get(state, 0) + 1
                if set(seen) - allowed:
                    break
        finally:
            stop.set()
            thread.join()
        return seen

    seen = run(go())
    assert not errors, errors
    assert set(seen) <= allowed, seen
    assert set(seen) == allowed, f"the reads never overlapped the writes: {seen}"


# --- the command ------------------------------------------------------------------------


def test_command_without_datasette_says_how_to_install(
        make_vault: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = make_vault(VAULT)
    monkeypatch.setattr(launch, "datasette_installed", lambda: False)
    result = CliRunner().invoke(cli, ["datasette", str(vault), "--db", str(tmp_path / "m.db")])
    assert result.exit_code == 2
    assert f"Datasette is not installed here: {sys.executable} -m pip install 'datasette" \
        in result.output
    assert "vaultsync[" not in result.output  # vaultsync is on no package index
    assert len(result.output.strip().splitlines()) == 1


def test_command_prints_metadata_for_its_mirror(make_vault: Callable, tmp_path: Path) -> None:
    vault = make_vault(VAULT)
    db = tmp_path / "vault-abc.db"
    result = CliRunner().invoke(cli, ["datasette", str(vault), "--db", str(db),
                                      "--print-metadata"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == plugin.metadata_for("vault-abc", "vault")


def test_command_passes_extra_args_to_datasette(
        make_vault: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = make_vault(VAULT)
    calls: list[tuple] = []
    monkeypatch.setattr(launch, "run", lambda config, port, extra: calls.append(
        (config.vault, config.db, port, list(extra))))
    monkeypatch.setenv("VAULTSYNC_VAULT", str(vault))
    db = tmp_path / "m.db"
    for args in (["--db", str(db), "--port", "9000", "--", "--setting", "x", "1"],
                 [str(vault), "--db", str(db), "--port", "9000", "--", "--setting", "x", "1"]):
        result = CliRunner().invoke(cli, ["datasette", *args])
        assert result.exit_code == 0, result.output
    assert calls == [(vault.resolve(), db, 9000, ["--setting", "x", "1"])] * 2
    assert "synced: 8 pages" in CliRunner().invoke(cli, [
        "datasette", "--db", str(tmp_path / "n.db")]).stderr


def test_command_syncs_only_a_missing_or_empty_mirror(make_vault: Callable,
                                                      config_for: Callable) -> None:
    config = config_for(make_vault(VAULT))
    assert launch.ensure_mirror(config, workers=1) is not None
    assert launch.ensure_mirror(config, workers=1) is None
    assert launch.serve_args(config.db, 8001, ["--port", "9"])[-2:] == ["--port", "9"]


def test_serve_args_keep_datasette_tight_unless_the_user_says(tmp_path: Path) -> None:
    db = tmp_path / "m.db"

    def settings(extra: list[str]) -> dict[str, str]:
        args = launch.serve_args(db, 8001, extra)
        return {args[i + 1]: args[i + 2] for i, arg in enumerate(args) if arg == "--setting"}

    assert settings([]) == {name: str(v) for name, v in launch.SETTINGS.items()}
    assert settings([])["max_returned_rows"] == "100"
    assert settings(["--setting", "max_returned_rows", "500"])["max_returned_rows"] == "500"
    assert launch.serve_args(db, 8001, ["-s", "max_returned_rows", "7"]).count(
        "max_returned_rows") == 1  # only the user's
    config = tmp_path / "datasette.yaml"
    config.write_text("settings:\n  sql_time_limit_ms: 5000\n")
    mine = settings(["--config", str(config)])
    assert "sql_time_limit_ms" not in mine and mine["max_returned_rows"] == "100"
    assert "max_csv_mb" not in settings(["--config", "max_csv_mb:50"])


def bounded_datasette(db: Path, **settings: int) -> Any:
    return datasette_app.Datasette([str(db)], settings=settings or None)


async def sql_json(ds: Any, sql: str, status: int = 200) -> Any:
    """The JSON answer to `sql` (Datasette 1.0 redirects to /db/-/query.json)."""
    response = await ds.client.get(f"/{DB_NAME}.json?" + urlencode(
        {"sql": sql, "_shape": "objects"}), follow_redirects=True)
    assert response.status_code == status, (response.status_code, response.text[:300])
    return response.json()


async def error_of(ds: Any, sql: str) -> str:
    data = await sql_json(ds, sql, 400)
    return str(data.get("error") or data)


def test_a_value_over_16_mib_is_refused_by_sqlite(mirror_db: Path) -> None:
    async def go() -> None:
        ds = bounded_datasette(mirror_db)
        message = await error_of(ds, "select length(randomblob(200000000)) as n")
        assert "too big" in message, message
        ok = await sql_json(ds, "select length(randomblob(1000000)) as n")
        assert ok["rows"] == [{"n": 1000000}]

    run(go())


def test_rows_of_one_query_are_bounded_in_bytes(mirror_db: Path) -> None:
    async def go() -> None:
        ds = bounded_datasette(mirror_db)
        # 8 pages of 5 MB each: over the 32 MiB a query's rows may hold.
        message = await error_of(ds, "select path, zeroblob(5000000) as b from pages")
        assert "more than 32 MiB" in message, message
        # The same rows under the bound, and the next query on the connection, run.
        rows = await sql_json(ds, "select path, length(zeroblob(5000000)) as n from pages")
        assert len(rows["rows"]) == 8

    run(go())


def test_the_time_limit_is_kept_by_wall_clock(mirror_db: Path) -> None:
    # Rows of twenty 15 MB values: Datasette's progress handler (every 1,000 SQLite
    # steps) would first look at the clock some 25 rows in, over ten seconds.
    row = " + ".join(["length(randomblob(15000000))"] * 20)
    sql = (f"with recursive r(n) as (select 1 union all select n + 1 from r where n < 2000) "
           f"select sum({row}) from r")

    async def go() -> None:
        from datasette.database import QueryInterrupted

        ds = bounded_datasette(mirror_db, sql_time_limit_ms=300)
        db = ds.get_database(DB_NAME)
        await db.execute("select 1")  # the connection is open
        started = time.monotonic()
        with pytest.raises(QueryInterrupted):
            await db.execute(sql)
        assert time.monotonic() - started < 6  # a bound on being stopped, not a speed
        # The connection is usable afterwards.
        assert list((await db.execute("select 2 as n")).rows[0]) == [2]

    run(go())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_vaultsync_datasette_serves_canned_query_json(make_vault: Callable,
                                                       tmp_path: Path) -> None:
    vault = make_vault(VAULT)
    db = tmp_path / f"{DB_NAME}.db"  # missing: the command syncs first
    port = free_port()
    log_path = tmp_path / "datasette.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaultsync", "datasette", str(vault), "--db", str(db),
         "--port", str(port), "--", "--setting", "sql_time_limit_ms", "5000"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        # The database is named after the vault folder, not the mirror file.
        url = f"http://127.0.0.1:{port}/vault/orphans.json?_shape=array"

        def answer() -> httpx.Response | None:
            assert proc.poll() is None, f"vaultsync datasette exited:\n{log_path.read_text()}"
            try:
                return httpx.get(url, timeout=5)
            except httpx.TransportError:
                return None

        response = wait_for(answer, 60, lambda: "an answer from vaultsync datasette:\n"
                            + log_path.read_text())
        assert response.status_code == 200, response.text[:500]
        rows = response.json()
        assert [r["path"] for r in rows] == EXPECTED["orphans"]
        settings = httpx.get(f"http://127.0.0.1:{port}/-/settings.json", timeout=5).json()
        assert settings["sql_time_limit_ms"] == 5000  # extra args reach Datasette
        assert settings["max_returned_rows"] == launch.SETTINGS["max_returned_rows"]
        assert settings["truncate_cells_html"] == launch.TRUNCATE_CELLS
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_busy_port_is_one_line_before_any_url(make_vault: Callable, tmp_path: Path) -> None:
    vault = make_vault(VAULT)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["datasette", str(vault), "--db",
                                          str(tmp_path / "m.db"), "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == (
        f"vaultsync: cannot listen on 127.0.0.1:{port}: Address already in use; is another "
        "Datasette running? choose another --port")
    assert "http://" not in result.output  # no URL of a server that never ran


def test_canned_queries_round_figures_and_tables_fold_column_notes(mirror_db: Path) -> None:
    write_metrics(mirror_db)

    async def go() -> None:
        ds = datasette(mirror_db)
        rows = await get_json(ds, f"/{DB_NAME}/central_concepts.json?_shape=array")
        assert rows and all(r["pagerank"] == round(r["pagerank"], 5) for r in rows)
        assert [r["pagerank"] for r in rows] == sorted((r["pagerank"] for r in rows),
                                                       reverse=True)
        table = (await ds.client.get(f"/{DB_NAME}/page_metrics")).text
        assert 'class="column-descriptions"' in table and "Column notes (" in table
        cell = next(line for line in table.splitlines() if 'class="col-pagerank' in line
                    and "<td" in line)
        shown = cell.split('">', 2)[-1].split("<", 1)[0]
        assert len(shown.split(".")[1]) == 5, cell  # 0.12345, the full value in the title

    run(go())
