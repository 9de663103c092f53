"""The MCP server (`vaultsync mcp`): every tool and resource through the SDK's own
in-process client on a small vault with answers worked out by hand, read-only SQL that
cannot change the mirror, bounded answers, live answers under --watch, the `/mcp`
mount of `vaultsync serve` behind the API's checks, and a real `vaultsync mcp` process
over stdio. Waits are bounded (conftest.wait_for); no test asserts a speed (one bounds
how soon a query is stopped)."""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from click.testing import CliRunner
from conftest import process_log, serving, wait_for, wait_watching
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from vaultsync import read
from vaultsync.cli import cli
from vaultsync.config import Config, load_config
from vaultsync.graph import MetricsOnDemand
from vaultsync.mcp import Vault, build_server
from vaultsync.mirror import Mirror
from vaultsync.sync import sync_vault
from vaultsync.watch import read_status, start_in_thread

# index → alpha, beta; alpha → beta, paper; beta → alpha, gamma; gamma → paper, book;
# delta → gamma; lonely, paper and book link nowhere. "Missing Page" is wanted twice.
VAULT = {
    "index.md": "# Home\n\nStart at [[alpha]] and [[beta]]. [[Missing Page]] is wanted.\n",
    "alpha.md": ("---\naliases: [First]\ntags: [greek]\n---\n# Alpha\n\n"
                 "Alpha links to [[beta]] and cites [[sources/paper]]. Zeppelin.\n"),
    "beta.md": "# Beta\n\nBeta goes back to [[alpha]] and on to [[gamma]].\n",
    "gamma.md": ("# Gamma\n\nGamma cites [[sources/paper]] and [[sources/book]].\n\n"
                 "[[Missing Page|Missing]] again.\n"),
    "delta.md": "# Delta\n\nDelta only links to [[gamma]].\n",
    "lonely.md": "# Lonely\n\nNobody links here and I link nowhere.\n",
    "sources/paper.md": "---\ntype: source\ntitle: A paper\n---\n\nAbout zeppelins.\n",
    "sources/book.md": "---\ntype: source\ntitle: A book\n---\n\nLong.\n",
    "pic.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 16,
}
TOOLS = {"search", "get_page", "neighbors", "report", "query", "status", "changes",
         "unlinked_mentions", "related"}
WAIT = 60.0


class Session:
    """The SDK's client, driven from synchronous test code through a blocking portal
    (so that `wait_for` can poll it)."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self.portal = portal
        self.client = client

    def result(self, tool: str, **args: Any) -> Any:
        return self.portal.call(functools.partial(self.client.call_tool, tool, args))

    def call(self, tool: str, **args: Any) -> dict[str, Any]:
        result = self.result(tool, **args)
        assert not result.is_error, result.content[0].text
        # The text content is the same answer as JSON, for clients without structure.
        assert json.loads(result.content[0].text) == result.structured_content
        return dict(result.structured_content)

    def error(self, tool: str, **args: Any) -> str:
        result = self.result(tool, **args)
        assert result.is_error, result.structured_content
        return str(result.content[0].text)

    def read(self, uri: str) -> str:
        return str(self.portal.call(self.client.read_resource, uri).contents[0].text)


@contextmanager
def connected(server: Any, mode: str = "auto") -> Iterator[Session]:
    """`server`: an MCPServer (in-process) or a transport (stdio, HTTP). `mode`
    "legacy" opens with the initialize handshake, as assistant apps do today."""
    with start_blocking_portal() as portal, \
            portal.wrap_async_context_manager(Client(server, mode=mode)) as client:
        yield Session(portal, client)


@pytest.fixture
def mirror(make_vault, config_for) -> Callable[..., Config]:
    """mirror(files) → the config of a freshly synced mirror of those files."""

    def make(files: dict[str, str | bytes] | None = None) -> Config:
        config: Config = config_for(make_vault(VAULT if files is None else files))
        sync_vault(config, workers=1)
        return config

    return make


@pytest.fixture
def session(mirror) -> Iterator[Callable[..., Session]]:
    """session(files=None, **vault options) → an in-process client of a new server."""
    with contextlib.ExitStack() as stack:

        def start(files: dict[str, str | bytes] | None = None, **options: Any) -> Session:
            config = mirror(files)
            vault = Vault(config, MetricsOnDemand(config.db), **options)
            return stack.enter_context(connected(build_server(vault)))

        yield start


def dump_everything(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# --- the server's face ---------------------------------------------------------------------

def test_every_tool_is_read_only_with_structured_output(session) -> None:
    s = session()
    tools = {t.name: t for t in s.portal.call(s.client.list_tools).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.output_schema and tool.output_schema["type"] == "object"
        assert tool.description
    # The contract: these names and arguments, with these defaults.
    args = {name: {k: v.get("default", ...) for k, v in t.input_schema["properties"].items()}
            for name, t in tools.items()}
    assert args == {
        "search": {"query": ..., "limit": 10},
        "get_page": {"path": ..., "include_body": False, "max_chars": 4000},
        "neighbors": {"path": ..., "depth": 1, "direction": "both", "limit": 50},
        "report": {"name": ..., "limit": 20, "kind": None},
        "query": {"sql": ..., "limit": 100},
        "status": {},
        "changes": {"cursor": None, "since": None, "limit": 200},
        "unlinked_mentions": {"path": ..., "limit": 30},
        "related": {"path": ..., "limit": 10},
    }
    assert set(tools["report"].input_schema["properties"]["name"]["enum"]) == \
        set(read.REPORT_NAMES)
    # The schema is in the query tool's description.
    assert "pages(id, path, title" in str(tools["query"].description)
    templates = s.portal.call(s.client.list_resource_templates).resource_templates
    assert [t.uri_template for t in templates] == ["vault://page/{+path}"]
    resources = s.portal.call(s.client.list_resources).resources
    assert [str(r.uri) for r in resources] == ["vault://schema"]


# --- search --------------------------------------------------------------------------------

def test_search_finds_words_in_text_and_names_in_titles(session) -> None:
    s = session()
    found = s.call("search", query="zeppelin")
    assert {(h["path"], h["match"]) for h in found["results"]} == \
        {("alpha.md", "text"), ("sources/paper.md", "text")}
    # Matches between ⟦ and ⟧, which the page's own Markdown (its **bold**) never uses.
    assert all("⟦" in h["snippet"] and "⟧" in h["snippet"] and "<mark>" not in h["snippet"]
               and "**" not in h["snippet"] for h in found["results"])
    assert all(h["why"] and h["score"] > 0 for h in found["results"])
    assert found["truncated"] == []
    named = s.call("search", query="alpha")
    assert named["results"][0]["path"] == "alpha.md"
    assert named["results"][0]["match"] == "name"
    one = s.call("search", query="a", limit=1)
    assert len(one["results"]) == 1 and "more pages match" in one["truncated"][0]
    assert s.call("search", query="nothing-like-this")["results"] == []
    assert "query is required" in s.error("search", query="  ")
    assert s.error("search", query="a", limit=51) == \
        "search: limit must be a whole number from 1 to 50, not 51"


# --- get_page --------------------------------------------------------------------------------

def test_get_page_answers_with_backlinks_sources_links_and_metrics(session) -> None:
    s = session()
    page = s.call("get_page", path="alpha.md")
    assert (page["path"], page["title"], page["kind"], page["is_source"]) == \
        ("alpha.md", "Alpha", None, False)
    assert page["aliases"] == ["First"] and page["tags"] == ["greek"]
    assert page["frontmatter"] == {"aliases": ["First"], "tags": ["greek"]}
    assert page["backlinks"] == [{"path": "beta.md", "title": "Beta", "line": 3},
                                 {"path": "index.md", "title": "index", "line": 3}]
    assert [(ln["path"], ln["title"], ln["line"]) for ln in page["links"]] == \
        [("beta.md", "Beta", 7), ("sources/paper.md", "A paper", 7)]
    assert page["unresolved_links"] == []
    assert page["citations"] == {
        "count": 1, "single_source": True, "unsourced": False,
        "sources": [{"path": "sources/paper.md", "title": "A paper"}], "cited_by": []}
    assert page["flags"] == {"orphan": False, "dead_end": False, "isolated": False}
    metrics = page["metrics"]
    assert (metrics["in_degree"], metrics["out_degree"]) == (2, 2)
    assert metrics["pages_ranked"] == 8 and 1 <= metrics["pagerank_rank"] <= 8
    assert metrics["current"] is True and metrics["pagerank"] > 0
    # The community is named after its most central page.
    assert metrics["community_name"] in {"index", "Alpha", "Beta", "Gamma", "Delta",
                                         "A paper", "A book"}
    assert page["body"] is None and page["body_chars"] > 0 and page["truncated"] == []
    assert page["excerpt"].startswith("Alpha links to")

    gamma = s.call("get_page", path="gamma")
    assert gamma["unresolved_links"] == [{"target": "Missing Page", "line": 5}]
    assert gamma["citations"]["count"] == 2 and gamma["citations"]["single_source"] is False
    paper = s.call("get_page", path="sources/paper.md")
    assert paper["is_source"] is True and paper["flags"]["dead_end"] is True
    assert [c["path"] for c in paper["citations"]["cited_by"]] == ["alpha.md", "gamma.md"]
    lonely = s.call("get_page", path="lonely.md")
    assert lonely["flags"] == {"orphan": True, "dead_end": True, "isolated": True}
    assert lonely["citations"]["unsourced"] is True


def test_get_page_takes_a_link_as_written(session) -> None:
    s = session()
    for ref, target in (("[[alpha]]", "alpha"), ("ALPHA", "ALPHA"),
                        ("[[Alpha#Heading|shown]]", "Alpha"), ("![[alpha]]", "alpha"),
                        ("[text](alpha.md)", "alpha.md"), ("alpha", None), ("alpha.md", None)):
        page = s.call("get_page", path=ref)
        assert (page["path"], page["resolved_from"]) == ("alpha.md", target), ref
    assert s.call("get_page", path="[[sources/paper|the paper]]")["path"] == "sources/paper.md"
    assert s.call("get_page", path="paper")["path"] == "sources/paper.md"
    # What a person types: a title or an alias finds the page too (aliases never
    # resolve a link in a page, Obsidian's rule, but a person means the page).
    for ref in ("[[First]]", "First", "first", "[[First#Alpha|the first]]"):
        assert s.call("get_page", path=ref)["path"] == "alpha.md", ref
    assert s.call("get_page", path="A paper")["path"] == "sources/paper.md"
    assert "no page" in s.error("get_page", path="[[Missing Page]]")
    assert "attachment" in s.error("get_page", path="[[pic.png]]")


def test_get_page_names_the_candidates_only_on_a_true_tie(session) -> None:
    s = session({"one/kafka-notes.md": "---\naliases: [Streams]\n---\n# Kafka notes\n",
                 "two/flink-notes.md": "---\naliases: [Streams]\n---\n# Flink notes\n",
                 "three.md": "---\ntitle: Kafka notes draft\n---\n"})
    tie = s.error("get_page", path="Streams")
    assert "one/kafka-notes.md" in tie and "two/flink-notes.md" in tie
    # One page has that title: no tie, even though another title starts with it.
    assert s.call("get_page", path="[[Kafka notes]]")["path"] == "one/kafka-notes.md"
    assert s.call("get_page", path="kafka notes draft")["path"] == "three.md"


def test_get_page_is_bounded_on_a_big_page(session) -> None:
    body = "# Big\n\n" + "".join(f"Line {i} links to [[w{i}]].\n" for i in range(60)) + \
        "word " * 4000
    s = session({"big.md": body, "small.md": "# Small\n\n[[big]]\n"})
    page = s.call("get_page", path="big", include_body=True, max_chars=500)
    assert page["body_chars"] == len(body)
    assert page["body"] == body[:500]
    assert any(f"showing the first 500 of {len(body):,} characters" in note
               for note in page["truncated"])
    assert len(page["unresolved_links"]) == 50
    assert "unresolved_links: showing 50 of 60 (the query tool lists them all)" in \
        page["truncated"]
    whole = s.call("get_page", path="big", include_body=True, max_chars=200_000)
    assert whole["body"] == body and not any("body" in n for n in whole["truncated"])
    assert s.error("get_page", path="big", max_chars=5) == \
        "get_page: max_chars must be a whole number from 100 to 200,000, not 5"


# --- neighbors -------------------------------------------------------------------------------

def test_neighbors_at_depth_two(session) -> None:
    s = session()
    local = s.call("neighbors", path="[[alpha]]", depth=2)
    depths = {n["path"]: n["depth"] for n in local["nodes"]}
    assert depths == {"alpha.md": 0, "beta.md": 1, "index.md": 1, "sources/paper.md": 1,
                      "gamma.md": 2}
    assert local["reached"] == 5 and local["truncated"] == []
    # Nearest first; equally near, most central first.
    keys = [(n["depth"], -n["pagerank"]) for n in local["nodes"]]
    assert keys == sorted(keys) and local["nodes"][0]["path"] == "alpha.md"
    edges = {(e["source"], e["target"]) for e in local["edges"]}
    assert edges == {("index.md", "alpha.md"), ("index.md", "beta.md"),
                     ("alpha.md", "beta.md"), ("alpha.md", "sources/paper.md"),
                     ("beta.md", "alpha.md"), ("beta.md", "gamma.md"),
                     ("gamma.md", "sources/paper.md")}
    out = s.call("neighbors", path="alpha", depth=2, direction="out")
    assert {n["path"] for n in out["nodes"]} == {"alpha.md", "beta.md", "sources/paper.md",
                                                 "gamma.md"}
    back = s.call("neighbors", path="alpha", depth=2, direction="in")
    assert {n["path"] for n in back["nodes"]} == {"alpha.md", "index.md", "beta.md"}
    three = s.call("neighbors", path="alpha", depth=3)
    assert {n["path"] for n in three["nodes"]} == {*depths, "delta.md", "sources/book.md"}
    cut = s.call("neighbors", path="alpha", depth=2, limit=3)
    assert [n["depth"] for n in cut["nodes"]] == [0, 1, 1]
    assert "showing 3 of 5 pages" in cut["truncated"][0]
    shown = {n["path"] for n in cut["nodes"]}
    assert all(e["source"] in shown and e["target"] in shown for e in cut["edges"])
    assert s.error("neighbors", path="alpha", depth=4) == \
        "neighbors: depth must be a whole number from 1 to 3, not 4"
    assert "no page" in s.error("neighbors", path="nobody")


# --- report ----------------------------------------------------------------------------------

def test_report_has_every_report_by_the_same_name(session) -> None:
    s = session()
    orphans = s.call("report", name="orphans")
    assert [r["path"] for r in orphans["rows"]] == ["delta.md", "index.md", "lonely.md"]
    assert orphans["total"] == 3 and orphans["title"].startswith("Orphans")
    dead = s.call("report", name="dead-ends")
    assert [r["path"] for r in dead["rows"]] == ["lonely.md", "sources/book.md",
                                                 "sources/paper.md"]
    single = s.call("report", name="single-source")
    assert [(r["path"], r["source"]) for r in single["rows"]] == \
        [("alpha.md", "sources/paper.md")]
    wanted = s.call("report", name="wanted")
    assert [(r["target"], r["references"], r["referenced_by"]) for r in wanted["rows"]] == \
        [("Missing Page", 2, ["gamma.md", "index.md"])]
    central = s.call("report", name="central", limit=2)
    assert central["total"] == 6 and len(central["rows"]) == 2
    assert [r["rank"] for r in central["rows"]] == [1, 2]
    assert central["truncated"] == ["rows: showing 2 of 6 (raise limit, up to 200)"]
    summary = s.call("report", name="summary")
    assert summary["summary"]["counts"]["orphans"] == 3 and summary["rows"] == []
    for name in read.REPORT_NAMES:
        s.call("report", name=name)
    assert "no page has kind 'nope'" in s.error("report", name="central", kind="nope")
    # One sentence naming the choices: no pydantic report, no URL.
    assert s.error("report", name="popular") == (
        "report: there is no report named 'popular'; choose one of "
        + ", ".join(read.REPORT_NAMES))
    assert s.error("neighbors", path="alpha", direction="up") == \
        "neighbors: direction must be one of in, out, both, not 'up'"
    assert s.error("search") == "search: query is required"
    assert s.error("nope").startswith("there is no tool named 'nope'; the tools are ")
    assert "no page at" in s.error("get_page", path="nobody")
    assert not s.error("get_page", path="nobody").startswith("Error executing")


def test_report_rows_are_those_of_run_report(session, tmp_path: Path) -> None:
    s = session()
    rows = s.call("report", name="unsourced", limit=200)["rows"]
    with Mirror(tmp_path / "mirror.db") as m:
        assert rows == read.run_report(m.conn, "unsourced").rows
    assert [r["path"] for r in rows] == ["beta.md", "delta.md", "index.md", "lonely.md"]


# --- query -----------------------------------------------------------------------------------

def test_query_answers_rows_as_objects(session) -> None:
    s = session()
    sources = s.call("query", sql="select path, title from pages where is_source = 1 "
                                  "order by path")
    assert sources["columns"] == ["path", "title"]
    assert sources["rows"] == [{"path": "sources/book.md", "title": "A book"},
                               {"path": "sources/paper.md", "title": "A paper"}]
    assert sources["more_rows"] == 0 and sources["truncated"] == []
    first = s.call("query", sql="select path from pages order by path", limit=2)
    assert first["rows"] == [{"path": "alpha.md"}, {"path": "beta.md"}]
    assert first["more_rows"] == 6 and "6 more rows" in first["truncated"][0]
    fts = s.call("query", sql="select path from pages_fts join pages on pages.id = "
                              "pages_fts.rowid where pages_fts match 'zeppelin*' order by path")
    assert [r["path"] for r in fts["rows"]] == ["alpha.md", "sources/paper.md"]
    both = s.call("query", sql="select a.path, b.path from backlinks l join pages a on "
                               "a.id = l.source_id join pages b on b.id = l.target_id "
                               "where b.path = 'alpha.md' order by 1")
    assert both["columns"] == ["path", "path_2"]
    assert s.call("query", sql="pragma table_info(pages)")["rows"][1]["name"] == "path"
    assert s.call("query", sql="select json_extract(frontmatter, '$.aliases[0]') as a "
                               "from pages where path = 'alpha.md'")["rows"] == [{"a": "First"}]


def test_query_answers_are_bounded(session) -> None:
    s = session({f"p{i:03}.md": f"# P{i}\n\n" + "text " * 300 for i in range(80)})
    whole = s.call("query", sql="select path, body from pages order by path", limit=100)
    assert whole["rows"][0]["body"].endswith("… [506 more characters]")  # 1,506 → 1,000
    shown = len(whole["rows"])
    assert 40 < shown < 80 and whole["more_rows"] == 80 - shown
    assert any("stopped after" in note for note in whole["truncated"])
    assert any("80 cut to 1,000 characters" in note for note in whole["truncated"])
    assert len(json.dumps(whole["rows"])) < 70_000


@pytest.mark.parametrize("sql, why", [
    ("DELETE FROM pages", "DELETE"),
    ("UPDATE pages SET title = 'x'", "UPDATE"),
    ("INSERT INTO tags (page_id, tag) VALUES (1, 'x')", "INSERT"),
    ("DROP VIEW orphan_pages", "schema change"),
    ("ALTER TABLE pages ADD COLUMN x", "ALTER TABLE pages"),
    ("ATTACH DATABASE '{tmp}/attached.db' AS other", "ATTACH"),
    ("VACUUM INTO '{tmp}/copy.db'", "ATTACH"),
    ("PRAGMA writable_schema = 1", "writable_schema"),
    ("PRAGMA writable_schema = ON", "writable_schema"),
    ("PRAGMA journal_mode = DELETE", "journal_mode"),
    ("PRAGMA user_version = 99", "user_version"),
    ("BEGIN IMMEDIATE", "TRANSACTION"),
    ("CREATE TEMP TABLE t (x)", "schema change"),
    ("SELECT 1; DELETE FROM pages", "one statement"),
    ("SELECT 1; SELECT 2", "one statement"),
    ("UPDATE sqlite_master SET sql = 'x'", "may not be modified"),
])
def test_query_refuses_anything_but_reading(session, mirror, tmp_path: Path, sql: str,
                                            why: str) -> None:
    s = session()
    db = tmp_path / "mirror.db"
    before = dump_everything(db)
    message = s.error("query", sql=sql.format(tmp=tmp_path))
    assert why in message, message
    assert dump_everything(db) == before
    assert not (tmp_path / "attached.db").exists() and not (tmp_path / "copy.db").exists()
    # The server still answers.
    assert s.call("query", sql="select count(*) as n from pages")["rows"] == [{"n": 8}]


def test_query_that_runs_too_long_is_stopped(session) -> None:
    s = session(query_time_limit=0.3)
    message = s.error("query", sql="with recursive c(x) as (select 1 union all "
                                   "select x + 1 from c) select count(*) from c")
    assert "ran longer than 0.3 s" in message
    assert "SQL error" in s.error("query", sql="select nothing from nowhere")


def test_query_values_are_bounded_by_size(session) -> None:
    # SQLite refuses to build the value at all (its length limit): no 200 MB allocation.
    s = session()
    message = s.error("query", sql="select length(randomblob(200000000)) as n")
    assert "a value would be larger than 16 MiB" in message, message
    assert "\n" not in message
    # Values below the limit still come back, described.
    assert s.call("query", sql="select zeroblob(1000) as b")["rows"] == [
        {"b": "<BLOB, 1,000 bytes>"}]


def test_query_time_limit_holds_for_long_steps(session) -> None:
    # Rows of twenty 15 MB values each: SQLite's progress handler (every 1,000 steps)
    # would first look at the clock after some 25 rows, over ten seconds in; the
    # interrupt comes from the clock itself, between two steps.
    s = session(query_time_limit=0.3)
    row = " + ".join(["length(randomblob(15000000))"] * 20)
    started = time.monotonic()
    message = s.error("query", sql="with recursive r(n) as (select 1 union all select "
                                   f"n + 1 from r where n < 2000) select sum({row}) from r")
    assert "ran longer than 0.3 s" in message
    assert time.monotonic() - started < 6  # a bound on being stopped, not a speed claim


def test_query_counts_rows_beyond_the_limit_without_fetching_them(mirror) -> None:
    config = mirror()
    tracemalloc.start()
    try:
        with read.open_mirror(config.db) as conn:
            result = read.run_query(conn, "select path, zeroblob(10000000) as b from pages "
                                          "order by path", limit=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["rows"] == [{"path": "alpha.md", "b": "<BLOB, 10,000,000 bytes>"}]
    assert (result["more_rows"], result["more_rows_exact"]) == (7, True)
    # One 10 MB value was copied into Python (the row shown), not the seven others.
    assert peak < 25_000_000, peak
    # A PRAGMA (no subquery possible) is counted by stepping on.
    with read.open_mirror(config.db) as conn:
        cols = read.run_query(conn, "pragma table_info(pages)", limit=2)
    assert cols["more_rows"] > 5 and cols["more_rows_exact"]


# --- status and resources --------------------------------------------------------------------

def test_status_of_a_mirror_no_daemon_keeps(session) -> None:
    s = session()
    status = s.call("status")
    assert status["live"] is False and status["in_process"] is False
    assert status["daemon"] is None
    assert (status["pages"], status["attachments"], status["unresolved_links"]) == (8, 1, 2)
    assert status["last_change_at"] and status["last_sync_at"]
    assert status["summary"].startswith("not live")


def test_resources_are_pages_and_the_schema(session, tmp_path: Path) -> None:
    s = session()
    alpha = s.read("vault://page/alpha.md")
    assert alpha.startswith("---\naliases:\n- First\ntags:\n- greek\n---\n# Alpha\n")
    assert s.read("vault://page/sources/paper.md").endswith("About zeppelins.\n")
    assert s.read("vault://page/beta.md") == VAULT["beta.md"]
    with contextlib.closing(sqlite3.connect(tmp_path / "mirror.db")) as conn:
        tables = read.schema(conn)
    assert all(t["note"] for t in tables), "a public table or view without a note"
    schema = s.read("vault://schema")
    assert "## `pages` (table)" in schema and "## `wanted_pages` (view)" in schema
    assert "skipped_files" not in schema and "pages_fts_data" not in schema
    for uri in ("vault://page/nobody.md", "vault://page/../alpha.md"):
        with pytest.raises(Exception, match="no page|Unknown resource"):
            s.read(uri)


# --- live under --watch ----------------------------------------------------------------------

def test_an_edit_reaches_get_page_under_watch(session, tmp_path: Path) -> None:
    s = session(in_process=True)
    vault = tmp_path / "vault"
    stop = threading.Event()
    thread = start_in_thread(load_config(vault, tmp_path / "mirror.db"), stop, say=print)
    try:
        wait_for(lambda: s.call("status")["live"], WAIT, "the daemon to run")
        assert s.call("status")["in_process"] is True
        (vault / "alpha.md").write_text(
            "---\ntitle: Alpha, edited\n---\nNow it links to [[delta]] only.\n",
            encoding="utf-8")
        wait_for(lambda: s.call("get_page", path="alpha")["title"] == "Alpha, edited", WAIT,
                 "the edit to reach get_page")
        page = s.call("get_page", path="alpha")
        assert [ln["path"] for ln in page["links"]] == ["delta.md"]
        # The daemon recomputes the metrics; the answer waits for them.
        assert page["metrics"]["current"] is True and page["metrics"]["pagerank"] > 0
        assert s.call("get_page", path="delta")["backlinks"] == \
            [{"path": "alpha.md", "title": "Alpha, edited", "line": 4}]
    finally:
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive()


# --- over HTTP, inside `vaultsync serve` -----------------------------------------------------

@pytest.fixture
def served(mirror) -> Iterator[tuple[str, str, Config]]:
    """A real `vaultsync serve` app on 127.0.0.1:<free port>: (base URL, token, config)."""
    config = mirror()
    with serving(config) as (_, base, token):
        yield base, token, config


def test_http_mount_needs_the_token_host_and_origin(served) -> None:
    base, token, _ = served
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    missing = httpx.post(base + "/mcp", json=hello, headers=headers, timeout=WAIT)
    assert missing.status_code == 401 and "token" in missing.json()["error"]
    wrong = httpx.post(base + "/mcp", json=hello, timeout=WAIT,
                       headers={**headers, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    auth = {**headers, "Authorization": f"Bearer {token}"}
    host = httpx.post(base + "/mcp", json=hello, timeout=WAIT,
                      headers={**auth, "Host": "evil.example"})
    assert host.status_code == 400
    origin = httpx.post(base + "/mcp", json=hello, timeout=WAIT,
                        headers={**auth, "Origin": "https://evil.example"})
    assert origin.status_code == 403


def test_http_mount_answers_as_the_api_does(served) -> None:
    base, token, _ = served
    bearer = {"Authorization": f"Bearer {token}"}

    async def over_http() -> tuple[Any, Any]:
        async with httpx2.AsyncClient(headers=bearer, timeout=WAIT) as http:
            transport = streamable_http_client(base + "/mcp", http_client=http)
            async with Client(transport) as client:
                wanted = await client.call_tool("report", {"name": "wanted"})
                status = await client.call_tool("status", {})
                return wanted.structured_content, status.structured_content

    wanted, status = anyio.run(over_http)
    api = httpx.Client(base_url=base, headers=bearer, timeout=WAIT)
    assert wanted["rows"] == api.get("/api/reports/wanted").json()
    assert status["pages"] == api.get("/api/status").json()["counts"]["pages"] == 8
    page = api.get("/api/pages/alpha.md").json()
    assert [b["path"] for b in page["backlinks"]] == ["beta.md", "index.md"]


# --- a real `vaultsync mcp` process over stdio -----------------------------------------------

def test_vaultsync_mcp_over_stdio_with_watch(make_vault, tmp_path: Path) -> None:
    vault = make_vault(VAULT)
    db = tmp_path / "stdio.db"  # no mirror yet: the server syncs first
    params = StdioServerParameters(command=sys.executable, args=[
        "-m", "vaultsync", "mcp", str(vault), "--db", str(db), "--watch"])
    log = tmp_path / "mcp.log"
    with open(log, "w", encoding="utf-8") as errlog, \
            connected(stdio_client(params, errlog=errlog), mode="legacy") as s:
        found = s.call("search", query="zeppelin")
        assert {h["path"] for h in found["results"]} == {"alpha.md", "sources/paper.md"}
        wait_for(lambda: s.call("status")["live"], WAIT, "the daemon to run")
        assert s.call("status")["in_process"] is True
        assert s.call("get_page", path="alpha")["metrics"]["current"] is True
        (vault / "beta.md").write_text("---\ntitle: Beta two\n---\nNow alone.\n",
                                       encoding="utf-8")
        wait_for(lambda: s.call("get_page", path="[[beta]]")["title"] == "Beta two", WAIT,
                 "the edit to reach get_page")
    text = log.read_text("utf-8")
    assert "first sync" in text and "live: watching the vault" in text, text
    assert "Traceback" not in text, text


def test_vaultsync_mcp_stops_its_daemon_on_sigterm(make_vault, tmp_path: Path) -> None:
    # A client that does not close stdin first: the server must not hang on it.
    vault = make_vault(VAULT)
    db = tmp_path / "term.db"
    with open(f"{db}.log", "w", encoding="utf-8") as log:  # where process_log reads
        proc = subprocess.Popen([sys.executable, "-m", "vaultsync", "mcp", str(vault),
                                 "--db", str(db), "--watch"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_watching(db, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stdin is not None
        proc.stdin.close()
    assert read_status(db)["state"] == "stopped"
    assert "Traceback" not in process_log(db)


def test_vaultsync_mcp_user_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["mcp", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert result.output.strip() == f"vaultsync: no such vault: {tmp_path / 'nowhere'}"
