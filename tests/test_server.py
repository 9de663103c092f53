"""The HTTP API (`vaultsync serve`): the real server on a free loopback port, a real
HTTP client, every endpoint, its errors, the token, CORS, the Host check, path
traversal and the event stream. Waits are bounded; no test asserts a time."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from conftest import (
    ProcessOutput,
    RunningDaemon,
    interrupt,
    serving,
    start_process,
    wait_for,
    wait_watching,
)

from vaultsync.cli import cli
from vaultsync.config import Config
from vaultsync.mirror import Mirror
from vaultsync.server import app as server_app
from vaultsync.server.run import AppServer, bind_socket
from vaultsync.server.security import ensure_token, load_token, token_path
from vaultsync.sync import Syncer, sync_vault

WAIT = 20.0  # the longest any bounded wait here may take before the test fails

VAULT = {
    "index.md": (
        "---\ntitle: Home page\ntags: [home]\n---\n# Home\n\nStart at [[alpha]] and [[beta]]; "
        "[[Missing Page]] is not written yet. ![[pic.png]] #nav/top\n"
    ),
    "alpha.md": (
        "---\naliases: [First letter]\ntags: [greek, greek/letters]\n---\n# Alpha\n\n"
        "## Details\n\nAlpha links to [[beta]] and cites [[sources/paper]]. "
        "It mentions <script>alert(1)</script> zeppelin.\n"
    ),
    "beta.md": "# Beta\n\nBeta goes back to [[alpha]] and [[alpha#Details|the details]].\n",
    "gamma.md": "# Gamma\n\nGamma cites [[sources/paper]] and [[sources/book]], and [[beta]].\n",
    "lonely.md": "# Lonely\n\nNobody links here and I link nowhere.\n",
    "sources/paper.md": "---\ntype: source\n---\n# A paper\n\nAbout zeppelins.\n",
    "sources/book.md": "---\ntype: source\n---\n# A book\n\nLong.\n",
    "pic.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 32,
}


@dataclass
class Served:
    base: str
    port: int
    token: str
    config: Config
    server: AppServer
    client: httpx.Client

    def get(self, path: str, **kw: object) -> httpx.Response:
        return self.client.get(path, **kw)  # type: ignore[arg-type]

    def sync(self) -> None:
        with Mirror(self.config.db) as mirror:
            Syncer(self.config, mirror, workers=1).sync()


@pytest.fixture
def serve(make_vault, config_for) -> Iterator[Callable[..., Served]]:
    """serve(files, allow_remote=False, ...) → a running server on 127.0.0.1:<free port>."""
    with contextlib.ExitStack() as stack:

        def start(files: dict | None = None, *, allow_remote: bool = False,
                  sync: bool = True, compute_metrics: bool = True) -> Served:
            vault = make_vault(VAULT if files is None else files)
            config = config_for(vault)
            if sync:
                sync_vault(config, workers=1)
            server, base, token = stack.enter_context(serving(
                config, allow_remote=allow_remote, compute_metrics=compute_metrics))
            client = stack.enter_context(httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=WAIT))
            return Served(base, server.port, token, config, server, client)

        yield start


def node_ids(data: dict, type_: str | None = "page") -> set[str]:
    return {n["id"] for n in data["nodes"] if type_ is None or n["type"] == type_}


# --- the token ----------------------------------------------------------------------------

def test_token_file_is_made_once_with_0600(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    token, created = ensure_token(db)
    assert created and len(token) >= 32
    assert token_path(db) == tmp_path / "m.db.token"
    assert stat.S_IMODE(token_path(db).stat().st_mode) == 0o600
    again, created_again = ensure_token(db)
    assert (again, created_again) == (token, False)
    os.chmod(token_path(db), 0o644)
    ensure_token(db)
    assert stat.S_IMODE(token_path(db).stat().st_mode) == 0o600
    rotated, created = ensure_token(db, rotate=True)
    assert created and rotated != token and load_token(db) == rotated


def test_token_command_prints_the_stored_token(make_vault, tmp_path: Path) -> None:
    vault = make_vault({"a.md": "# A\n"})
    db = tmp_path / "cli.db"
    result = CliRunner().invoke(cli, ["token", str(vault), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == load_token(db)
    second = CliRunner().invoke(cli, ["token", str(vault), "--db", str(db)])
    assert second.output == result.output


def test_api_needs_the_token(serve) -> None:
    s = serve()
    for path in ("/api/graph", "/api/status", "/api/pages/alpha.md", "/api/search?q=a",
                 "/api/openapi.json", "/api/nope", "/api"):
        r = httpx.get(s.base + path, timeout=WAIT)
        assert r.status_code == 401, path
        assert "token" in r.json()["error"]
        assert r.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.get(s.base + path, headers={"Authorization": "Bearer nope"}, timeout=WAIT)
        assert wrong.status_code == 401, path
    basic = httpx.get(s.base + "/api/graph", headers={"Authorization": f"Basic {s.token}"},
                      timeout=WAIT)
    assert basic.status_code == 401
    # ?token= is for the event stream only.
    assert httpx.get(s.base + f"/api/graph?token={s.token}", timeout=WAIT).status_code == 401
    assert s.get("/api/graph").status_code == 200


# --- Host check and CORS -------------------------------------------------------------------

def test_host_header_must_be_loopback_with_our_port(serve) -> None:
    s = serve()
    for host in (f"127.0.0.1:{s.port}", f"localhost:{s.port}", f"LOCALHOST:{s.port}"):
        assert s.get("/api/status", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", f"evil.example:{s.port}", f"127.0.0.1:{s.port + 1}",
                 "127.0.0.1", f"127.0.0.2:{s.port}"):
        r = s.get("/api/status", headers={"Host": host})
        assert r.status_code == 400, host
        assert "Host" in r.json()["error"]
        # The page that carries the token is refused too (DNS rebinding).
        page = httpx.get(s.base + "/", headers={"Host": host}, timeout=WAIT)
        assert page.status_code == 400 and s.token not in page.text


def test_allow_remote_accepts_other_hosts_but_not_without_token(serve) -> None:
    s = serve(allow_remote=True)
    assert s.get("/api/status", headers={"Host": "notes.lan:8765"}).status_code == 200
    assert httpx.get(s.base + "/api/status", headers={"Host": "notes.lan"},
                     timeout=WAIT).status_code == 401
    page = httpx.get(s.base + "/", headers={"Host": "notes.lan:8765"}, timeout=WAIT)
    assert page.status_code == 200 and s.token not in page.text


def test_cors_allows_obsidian_and_our_own_origin_only(serve) -> None:
    s = serve()
    for origin in ("app://obsidian.md", s.base, f"http://localhost:{s.port}"):
        r = s.get("/api/status", headers={"Origin": origin})
        assert r.status_code == 200, origin
        assert r.headers["access-control-allow-origin"] == origin
        pre = httpx.options(s.base + "/api/graph", timeout=WAIT, headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert pre.status_code == 204, origin
        assert pre.headers["access-control-allow-origin"] == origin
        assert "Authorization" in pre.headers["access-control-allow-headers"]
    for origin in ("https://evil.example", "null", "app://obsidian.md.evil.example",
                   f"http://127.0.0.1:{s.port + 1}"):
        r = s.get("/api/status", headers={"Origin": origin})
        assert r.status_code == 403, origin
        assert "access-control-allow-origin" not in r.headers
        pre = httpx.options(s.base + "/api/graph", timeout=WAIT, headers={
            "Origin": origin, "Access-Control-Request-Method": "GET"})
        assert pre.status_code == 403
        assert "access-control-allow-origin" not in pre.headers
    # No Origin (curl, the plugin's Node side): no CORS headers, just the token.
    assert "access-control-allow-origin" not in s.get("/api/status").headers


# --- the view page -------------------------------------------------------------------------

def test_view_page_carries_the_token_and_locks_itself_down(serve) -> None:
    s = serve()
    r = httpx.get(s.base + "/", timeout=WAIT)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f'<meta name="vaultsync-token" content="{s.token}">' in r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    css = httpx.get(s.base + "/static/app.css", timeout=WAIT)
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


def test_view_page_says_how_to_build_a_missing_bundle(serve, monkeypatch, tmp_path) -> None:
    s = serve()
    monkeypatch.setattr(server_app, "BUNDLE", tmp_path / "no-bundle.js")
    r = httpx.get(s.base + "/", timeout=WAIT)
    assert r.status_code == 200
    assert "bash scripts/build_view.sh" in r.text and "bundle.js" not in r.text
    assert s.get("/api/status").json()["server"]["view_built"] is False


def test_static_files_cannot_leave_their_folder(serve) -> None:
    s = serve()
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
                 "/static/%2e%2e/%2e%2e/config.py"):
        r = raw_get(s, path)
        assert r[0] in (400, 404), path
        assert "def create_app" not in r[1] and "load_config" not in r[1]


# --- /api/graph --------------------------------------------------------------------------

def test_graph_is_node_link_json_with_metrics(serve) -> None:
    s = serve()
    data = s.get("/api/graph").json()
    assert node_ids(data) == {"index.md", "alpha.md", "beta.md", "gamma.md", "lonely.md",
                              "sources/paper.md", "sources/book.md"}
    nodes = {n["id"]: n for n in data["nodes"]}
    alpha = nodes["alpha.md"]
    for key in ("id", "title", "kind", "tags", "pagerank", "community", "citation_count",
                "orphan", "isolated", "single_source", "in_degree", "out_degree", "type"):
        assert key in alpha, key
    assert alpha["title"] == "Alpha" and alpha["type"] == "page"
    assert alpha["tags"] == ["greek", "greek/letters"]
    # Metrics were missing: computed on first request (graph.ensure_metrics).
    assert all(isinstance(n["pagerank"], float) for n in data["nodes"])
    assert data["meta"]["metrics"]["fresh"] is True
    assert alpha["in_degree"] == 2 and alpha["out_degree"] == 2
    assert alpha["single_source"] is True and alpha["orphan"] is False
    assert nodes["gamma.md"]["single_source"] is False and nodes["gamma.md"]["orphan"]
    assert nodes["lonely.md"]["isolated"] is True and nodes["lonely.md"]["orphan"] is True
    assert nodes["index.md"]["orphan"] and not nodes["index.md"]["isolated"]
    links = {(link["source"], link["target"]): link["weight"] for link in data["links"]}
    assert links[("beta.md", "alpha.md")] == 2  # two links, one edge of weight 2
    assert links[("index.md", "alpha.md")] == 1
    assert all(link["source"] in nodes and link["target"] in nodes for link in data["links"])


def test_graph_filters_and_toggles(serve) -> None:
    s = serve()
    assert node_ids(s.get("/api/graph?kind=source").json()) == {
        "sources/paper.md", "sources/book.md"}
    assert node_ids(s.get("/api/graph", params={"tag": "greek"}).json()) == {"alpha.md"}
    assert node_ids(s.get("/api/graph", params={"tag": "#nav"}).json()) == {"index.md"}
    assert node_ids(s.get("/api/graph", params={"tag": "nav/top,greek"}).json()) == {
        "index.md", "alpha.md"}
    full = s.get("/api/graph").json()
    ranked = sorted((n for n in full["nodes"]), key=lambda n: -n["pagerank"])
    top2 = s.get("/api/graph?limit=2").json()
    assert node_ids(top2) == {n["id"] for n in ranked[:2]}
    assert top2["meta"]["truncated"] is True and top2["meta"]["pages"] == 7
    assert all(link["source"] in node_ids(top2) and link["target"] in node_ids(top2)
               for link in top2["links"])
    floor = ranked[2]["pagerank"]
    assert node_ids(s.get("/api/graph", params={"min_pagerank": floor}).json()) == {
        n["id"] for n in ranked if n["pagerank"] >= floor}

    extra = s.get("/api/graph?include=unresolved,attachments,tags").json()
    types = {n["id"]: n["type"] for n in extra["nodes"]}
    assert types["unresolved:missing page"] == "unresolved"
    assert types["pic.png"] == "attachment"
    assert types["tag:#greek/letters"] == "tag" and types["tag:#nav/top"] == "tag"
    pairs = {(link["source"], link["target"]) for link in extra["links"]}
    assert ("index.md", "unresolved:missing page") in pairs
    assert ("index.md", "pic.png") in pairs
    assert ("alpha.md", "tag:#greek") in pairs
    repeated = s.get("/api/graph", params=[("include", "tags"), ("include", "attachments")])
    assert {"tag", "attachment"} <= {n["type"] for n in repeated.json()["nodes"]}


@pytest.mark.parametrize("query", [
    "include=bogus", "limit=0", "limit=x", "min_pagerank=high", "limit=-3",
])
def test_graph_bad_params_are_400(serve, query: str) -> None:
    s = serve()
    r = s.get(f"/api/graph?{query}")
    assert r.status_code == 400
    assert r.json()["error"]


def decode_compact(data: dict) -> tuple[dict[str, dict], set[tuple[str, str, int]]]:
    """The compact form back as {id: node} and {(source, target, weight)}."""
    columns = data["nodes"]
    assert all(len(values) == data["count"] for values in columns.values())
    nodes = {columns["id"][i]: {name: values[i] for name, values in columns.items()}
             for i in range(data["count"])}
    ids = columns["id"]
    flat = data["links"]
    assert len(flat) % 3 == 0
    links = {(ids[flat[i]], ids[flat[i + 1]], flat[i + 2]) for i in range(0, len(flat), 3)}
    return nodes, links


@pytest.mark.parametrize("path,params", [
    ("/api/graph", {}),
    ("/api/graph", {"include": "unresolved,attachments,tags"}),
    ("/api/graph", {"limit": "3"}),
    ("/api/graph/local", {"path": "alpha.md", "depth": "2"}),
])
def test_compact_graph_is_the_same_graph(serve, path: str, params: dict) -> None:
    s = serve()
    full = s.get(path, params=params).json()
    compact = s.get(path, params={**params, "format": "compact"}).json()
    assert compact["format"] == "compact" and compact["count"] == len(full["nodes"])
    nodes, links = decode_compact(compact)
    assert list(nodes) == [n["id"] for n in full["nodes"]]  # same order
    assert links == {(link["source"], link["target"], link["weight"]) for link in full["links"]}
    flags = {"orphan": 1, "isolated": 2, "dead_end": 4, "single_source": 8, "unsourced": 16,
             "is_source": 32}
    for node in full["nodes"]:
        small = nodes[node["id"]]
        for key in ("type", "title", "kind", "community", "in_degree", "out_degree"):
            assert small[key] == node.get(key), key
        for key, bit in flags.items():
            assert bool(small["flags"] & bit) == bool(node.get(key)), key
        if node.get("pagerank") is not None:
            assert small["pagerank"] == pytest.approx(node["pagerank"], rel=5e-3)
        if node.get("x") is not None:
            assert small["x"] == pytest.approx(node["x"], abs=0.051)
        if "depth" in node:
            assert small["depth"] == node["depth"] and small["center"] == node["center"]
    assert compact["meta"]["communities"] == full["meta"]["communities"]


def test_compact_graph_is_much_smaller(serve) -> None:
    s = serve()
    full = s.get("/api/graph").content
    compact = s.get("/api/graph", params={"format": "compact"}).content
    assert len(compact) < len(full) / 2


def test_graph_format_must_be_known(serve) -> None:
    s = serve()
    for path, params in (("/api/graph", {}), ("/api/graph/local", {"path": "alpha.md"})):
        r = s.get(path, params={**params, "format": "xml"})
        assert r.status_code == 400 and "format" in r.json()["error"]


def test_graph_carries_stored_positions_and_community_names(serve) -> None:
    s = serve()
    data = s.get("/api/graph").json()
    # The layout was missing: computed with the metrics on the first request.
    assert data["meta"]["layout"]["fresh"] is True
    assert all(isinstance(n["x"], float) and isinstance(n["y"], float) for n in data["nodes"])
    assert len({(n["x"], n["y"]) for n in data["nodes"]}) == len(data["nodes"])
    names = data["meta"]["communities"]
    assert names and all({"id", "name", "path", "size"} <= set(c) for c in names)
    nodes = {n["id"]: n for n in data["nodes"]}
    for community in names:
        members = [n for n in nodes.values() if n["community"] == community["id"]]
        assert community["size"] == len(members) >= 2
        top = max(members, key=lambda n: (n["pagerank"], [-ord(c) for c in n["id"]]))
        assert community["name"] == top["title"] and community["path"] == top["id"]
    again = s.get("/api/graph").json()
    assert [(n["x"], n["y"]) for n in again["nodes"]] == [(n["x"], n["y"]) for n in
                                                         data["nodes"]]
    status = s.get("/api/status").json()
    assert status["layout"]["fresh"] is True and status["layout"]["method"]


# --- /api/graph/local ----------------------------------------------------------------------

def test_local_graph_depth_and_direction(serve) -> None:
    s = serve()
    one = s.get("/api/graph/local", params={"path": "alpha.md"}).json()
    assert one["center"] == "alpha.md" and one["depth"] == 1
    assert node_ids(one) == {"alpha.md", "beta.md", "index.md", "sources/paper.md"}
    depths = {n["id"]: n["depth"] for n in one["nodes"]}
    assert depths["alpha.md"] == 0 and depths["beta.md"] == 1
    assert [n["id"] for n in one["nodes"] if n.get("center")] == ["alpha.md"]
    ids = node_ids(one)
    assert all(link["source"] in ids and link["target"] in ids for link in one["links"])
    two = s.get("/api/graph/local", params={"path": "alpha.md", "depth": 2}).json()
    assert node_ids(two) == ids | {"gamma.md"}  # gamma links to beta and the paper
    out = s.get("/api/graph/local", params={"path": "gamma", "direction": "out"}).json()
    assert node_ids(out) == {"gamma.md", "beta.md", "sources/paper.md", "sources/book.md"}
    incoming = s.get("/api/graph/local", params={"path": "alpha.md", "direction": "in",
                                                 "depth": 5}).json()
    assert node_ids(incoming) == {"alpha.md", "beta.md", "index.md", "gamma.md"}
    lonely = s.get("/api/graph/local", params={"path": "lonely.md", "depth": 3}).json()
    assert node_ids(lonely) == {"lonely.md"} and lonely["links"] == []
    tagged = s.get("/api/graph/local", params={"path": "index.md", "include": "unresolved"})
    assert "unresolved:missing page" in node_ids(tagged.json(), None)


@pytest.mark.parametrize("params,status", [
    ({"path": "alpha.md", "depth": "0"}, 400),
    ({"path": "alpha.md", "depth": "6"}, 400),
    ({"path": "alpha.md", "depth": "two"}, 400),
    ({"path": "alpha.md", "direction": "sideways"}, 400),
    ({}, 400),
    ({"path": "nope.md"}, 404),
    ({"path": "../outside.md"}, 400),
    ({"path": "/etc/passwd"}, 400),
    ({"path": "%2e%2e/outside.md"}, 400),
])
def test_local_graph_errors(serve, params: dict, status: int) -> None:
    s = serve()
    r = s.get("/api/graph/local", params=params)
    assert r.status_code == status, r.text
    assert r.json()["error"]


# --- /api/pages ----------------------------------------------------------------------------

def test_page_has_everything(serve) -> None:
    s = serve()
    page = s.get("/api/pages/alpha.md").json()
    assert page["path"] == "alpha.md" and page["title"] == "Alpha"
    assert page["frontmatter"] == {"aliases": ["First letter"], "tags": ["greek", "greek/letters"]}
    assert page["aliases"] == ["First letter"]
    assert page["tags"] == ["greek", "greek/letters"]
    assert [(h["level"], h["text"]) for h in page["headings"]] == [(1, "Alpha"), (2, "Details")]
    targets = {(link["target"], link["resolved"], link["target_path"]) for link in page["links"]}
    assert ("beta", True, "beta.md") in targets
    assert ("sources/paper", True, "sources/paper.md") in targets
    backlinks = {(b["path"], b["line"]) for b in page["backlinks"]}
    assert {b[0] for b in backlinks} == {"index.md", "beta.md"}
    assert len([b for b in page["backlinks"] if b["path"] == "beta.md"]) == 2
    assert [c["path"] for c in page["citations"]["sources"]] == ["sources/paper.md"]
    metrics = page["metrics"]
    assert metrics["single_source"] is True and isinstance(metrics["pagerank"], float)
    assert metrics["in_degree"] == 2 and "body" not in page
    assert s.get("/api/pages/alpha.md?body=1").json()["body"].startswith("# Alpha")
    # .md may be left off; nested paths work.
    assert s.get("/api/pages/alpha").json()["path"] == "alpha.md"
    paper = s.get("/api/pages/sources/paper.md").json()
    assert paper["is_source"] is True
    assert {c["path"] for c in paper["citations"]["cited_by"]} == {"alpha.md", "gamma.md"}
    index = s.get("/api/pages/index.md").json()
    unresolved = [link for link in index["links"] if not link["resolved"]]
    assert [link["target"] for link in unresolved] == ["Missing Page"]
    assert any(link["target_type"] == "attachment" for link in index["links"])


def test_page_metrics_are_ready_for_people(serve) -> None:
    s = serve()
    graph = s.get("/api/graph").json()
    ranked = sorted(graph["nodes"], key=lambda n: -n["pagerank"])
    names = {c["id"]: c["name"] for c in graph["meta"]["communities"]}
    for place, node in enumerate(ranked[:3], start=1):
        metrics = s.get(f"/api/pages/{node['id']}").json()["metrics"]
        assert metrics["pagerank_rank"] == place and metrics["pages_ranked"] == 7
        assert metrics["community_name"] == names.get(node["community"])


def test_unknown_page_is_404(serve) -> None:
    s = serve()
    r = s.get("/api/pages/nope.md")
    assert r.status_code == 404 and "nope.md" in r.json()["error"]


def raw_get(s: Served, path: str) -> tuple[int, str]:
    """GET with the path exactly as given (httpx would normalise `..` away)."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=WAIT)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {s.token}",
                                           "Host": f"127.0.0.1:{s.port}"})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/api/pages/../secret.md",
    "/api/pages/../../etc/passwd",
    "/api/pages/%2e%2e/secret.md",
    "/api/pages/%2E%2E/%2E%2E/etc/passwd",
    "/api/pages/%252e%252e/secret.md",
    "/api/pages/sources/../../secret.md",
    "/api/pages/..%2fsecret.md",
    "/api/pages//etc/passwd",
    "/api/pages/%2Fetc%2Fpasswd",
    "/api/pages/..\\secret.md",
    "/api/pages/C:/secret.md",
    "/api/pages/./alpha.md",
    "/api/pages/alpha.md%00.png",
])
def test_paths_that_leave_the_vault_are_refused(serve, path: str) -> None:
    s = serve()
    (s.config.vault.parent / "secret.md").write_text("# Secret\n\nTOP SECRET\n")
    status, body = raw_get(s, path)
    assert status == 400, (path, status, body)
    assert "TOP SECRET" not in body and "root:" not in body
    assert json.loads(body)["error"]


# --- /api/search ---------------------------------------------------------------------------

def test_search_titles_aliases_and_text(serve) -> None:
    s = serve()
    by_title = s.get("/api/search?q=beta").json()
    assert by_title["results"][0]["path"] == "beta.md"
    alias = s.get("/api/search", params={"q": "First letter"}).json()["results"]
    assert alias[0]["path"] == "alpha.md" and alias[0]["alias"] == "First letter"
    text = s.get("/api/search", params={"q": "zeppelin"}).json()["results"]
    assert {r["path"] for r in text} == {"alpha.md", "sources/paper.md"}
    hit = next(r for r in text if r["path"] == "alpha.md")
    assert "<mark>" in hit["snippet"]
    assert "<script>" not in hit["snippet"] and "&lt;script&gt;" in hit["snippet"]
    prefix = s.get("/api/search", params={"q": "zepp"}).json()["results"]
    assert {r["path"] for r in prefix} == {"alpha.md", "sources/paper.md"}
    assert s.get("/api/search", params={"q": "zeppelin", "limit": 1}).json()["results"]
    assert len(s.get("/api/search", params={"q": "a", "limit": 2}).json()["results"]) <= 2


@pytest.mark.parametrize("q", ['"unbalanced', "a AND", "NEAR(", "col:umn", "*", "-x", "^", "'"])
def test_search_syntax_is_text_not_an_error(serve, q: str) -> None:
    s = serve()
    r = s.get("/api/search", params={"q": q})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["results"], list)


def test_search_needs_q(serve) -> None:
    s = serve()
    assert s.get("/api/search").status_code == 400
    assert s.get("/api/search?q=%20").status_code == 400
    assert s.get("/api/search?q=a&limit=1000").status_code == 400


# --- /api/reports --------------------------------------------------------------------------

def test_reports_match_run_report(serve) -> None:
    from vaultsync import read as reports
    s = serve()
    listed = s.get("/api/reports").json()["reports"]
    assert listed == list(reports.REPORT_NAMES)
    conn = sqlite3.connect(s.config.db)
    try:
        def timeless(data: object) -> object:  # summary says when it was made
            return {k: v for k, v in data.items() if k != "generated_at"} \
                if isinstance(data, dict) else data

        for name in reports.REPORT_NAMES:
            r = s.get(f"/api/reports/{name}")
            assert r.status_code == 200, (name, r.text)
            expected = json.loads(json.dumps(reports.run_report(conn, name).json()))
            assert timeless(r.json()) == timeless(expected), name
        limited = s.get("/api/reports/central?limit=2").json()
        assert limited == json.loads(json.dumps(
            reports.run_report(conn, "central", limit=2).json()))
        assert len(limited) == 2
        kinds = s.get("/api/reports/orphans?kind=source").json()
        assert kinds == json.loads(json.dumps(
            reports.run_report(conn, "orphans", kind="source").json()))
    finally:
        conn.close()
    unknown = s.get("/api/reports/nope")
    assert unknown.status_code == 404 and "central" in unknown.json()["reports"]
    assert s.get("/api/reports/central?limit=x").status_code == 400
    assert s.get("/api/reports/wanted?kind=concept").status_code == 400


# --- /api/status, openapi, errors ------------------------------------------------------------

def test_status(serve) -> None:
    s = serve()
    status = s.get("/api/status").json()
    assert status["vault"] == str(s.config.vault) and status["db"] == str(s.config.db)
    assert status["counts"]["pages"] == 7 and status["counts"]["attachments"] == 1
    assert status["daemon"] is None and status["alive"] is False
    assert status["last_batch"]["id"] == 1 and "alpha.md" in status["last_batch"]["changed_paths"]
    assert status["mirror"]["schema_version"] >= 1
    assert set(status["metrics"]) >= {"computed_at", "fresh", "computing"}


def test_status_reports_a_live_daemon(serve) -> None:
    s = serve()
    with Mirror(s.config.db) as mirror, mirror.transaction():
        import socket

        mirror.write_status(pid=os.getpid(), host=socket.gethostname(), state="watching",
                            started_at="2026-01-01T00:00:00Z")
    status = s.get("/api/status").json()
    assert status["alive"] is True and status["daemon"]["state"] == "watching"
    with Mirror(s.config.db) as mirror, mirror.transaction():
        mirror.write_status(state="stopped")
    assert s.get("/api/status").json()["alive"] is False


def test_openapi_describes_every_api_route(serve) -> None:
    s = serve()
    doc = s.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    routes = {r.path.replace("{path:path}", "{path}") for r in s.server.app.routes
              if getattr(r, "path", "").startswith("/api")}
    assert routes == set(doc["paths"])


def test_errors_are_json(serve) -> None:
    s = serve()
    missing = s.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]
    post = s.client.post("/api/graph")
    assert post.status_code == 405 and post.json()["error"]


def test_no_mirror_yet_is_503_not_a_crash(serve) -> None:
    s = serve(sync=False)
    r = s.get("/api/graph")
    assert r.status_code == 503 and "vaultsync sync" in r.json()["error"]
    assert s.get("/api/status").json()["counts"] is None


def test_metrics_can_be_left_alone(serve) -> None:
    s = serve(compute_metrics=False)
    data = s.get("/api/graph").json()
    assert all(n["pagerank"] is None for n in data["nodes"])
    assert data["meta"]["metrics"]["fresh"] is False
    # The structural flags do not depend on the metrics.
    assert {n["id"] for n in data["nodes"] if n["orphan"]} == {"index.md", "gamma.md",
                                                                "lonely.md"}


# --- /api/events ---------------------------------------------------------------------------

def sse_events(response: httpx.Response, timeout: float = WAIT) -> Iterator[dict]:
    """Parsed server-sent events: {event, data, id}. Fails once `timeout` seconds pass
    without an event (heartbeats keep the socket busy, so the client's read timeout alone
    would never fire)."""
    lines = response.iter_lines()
    event: dict = {}
    ended = {"ended": True}

    def read() -> dict | None:
        """Lines up to the next event (returned), heartbeat (None: the wait goes on, or
        times out) or the end of the stream (`ended`)."""
        nonlocal event
        for line in lines:
            if line == "":
                if "data" in event:
                    done, event = event, {}
                    done["data"] = json.loads(done["data"])
                    return done
                event = {}
            elif line.startswith(":"):
                return None
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                event[field] = event.get(field, "") + value if field == "data" else value
        return ended

    while (found := wait_for(read, timeout, "a server-sent event")) is not ended:
        yield found


def next_event(events: Iterator[dict], name: str) -> dict:
    for event in events:
        if event.get("event") == name:
            return event
    raise AssertionError(f"stream ended before a {name} event")


def test_events_stream_a_batch_when_a_page_changes(serve) -> None:
    s = serve()
    s.get("/api/graph")  # metrics computed now, so the next metrics event is ours
    with httpx.Client(timeout=WAIT) as client, client.stream(
            "GET", f"{s.base}/api/events?token={s.token}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        hello = next_event(events, "hello")
        assert hello["data"]["last_id"] == 1
        (s.config.vault / "beta.md").write_text("# Beta\n\nNow also [[gamma]].\n")
        (s.config.vault / "delta.md").write_text("# Delta\n\nNew, links [[alpha]].\n")
        (s.config.vault / "lonely.md").unlink()
        s.sync()
        batch = next_event(events, "batch")
        assert batch["id"] == "2" and batch["data"]["id"] == 2
        assert batch["data"]["changed"] == ["beta.md", "delta.md"]
        assert batch["data"]["removed"] == ["lonely.md"]
        assert batch["data"]["at"]
        from vaultsync import graph

        with Mirror(s.config.db) as mirror:
            graph.ensure_metrics(mirror, heavy=False)
        metrics = next_event(events, "metrics")
        assert metrics["data"]["computed_at"]


def test_events_resume_after_last_event_id(serve) -> None:
    s = serve()
    (s.config.vault / "beta.md").write_text("# Beta\n\nChanged.\n")
    s.sync()
    with httpx.Client(timeout=WAIT) as client, client.stream(
            "GET", f"{s.base}/api/events", headers={"Authorization": f"Bearer {s.token}",
                                                    "Last-Event-ID": "0"}) as response:
        events = sse_events(response)
        assert next_event(events, "hello")["data"]["last_id"] == 0
        first, second = next_event(events, "batch"), next_event(events, "batch")
        assert (first["data"]["id"], second["data"]["id"]) == (1, 2)
        assert second["data"]["changed"] == ["beta.md"]


def test_events_need_the_token(serve) -> None:
    s = serve()
    assert httpx.get(f"{s.base}/api/events", timeout=WAIT).status_code == 401
    assert httpx.get(f"{s.base}/api/events?token=wrong", timeout=WAIT).status_code == 401
    assert s.get("/api/events?last_id=x").status_code == 400


# --- `vaultsync serve` ---------------------------------------------------------------------

def test_serve_refuses_a_public_host_without_allow_remote(make_vault, tmp_path) -> None:
    vault = make_vault({"a.md": "# A\n"})
    result = CliRunner().invoke(cli, ["serve", str(vault), "--db", str(tmp_path / "x.db"),
                                      "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output


def start_serve(vault: Path, db: Path, *args: str, **popen: Any
                ) -> tuple[subprocess.Popen[str], ProcessOutput, str, str]:
    """`vaultsync serve VAULT --db DB --port 0 ARGS` as a real process, once it has said
    where it serves: the process, its output, that line, and the address (no final /)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaultsync", "serve", str(vault), "--db", str(db),
         "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, **popen)
    output = ProcessOutput(proc.stdout)
    try:
        served = output.wait_line(lambda line: " at http://127.0.0.1:" in line, WAIT,
                                  "serve to print its address")
    except BaseException:
        interrupt(proc, output, WAIT)
        raise
    return proc, output, served, served.split(" at ", 1)[1].split("/ ", 1)[0]


def test_serve_watch_is_a_live_backend(make_vault, tmp_path) -> None:
    """The real command in its own process: `serve --watch` prints the token once, serves,
    and an edit to the vault arrives as a batch event with no sync run by the test."""
    vault = make_vault(VAULT)
    db = tmp_path / "live.db"
    proc, output, _, url = start_serve(vault, db, "--watch")
    try:
        token = load_token(db)
        assert token and token in output.text  # printed once, when made
        headers = {"Authorization": f"Bearer {token}"}
        wait_for(lambda: httpx.get(url + "/api/status", headers=headers, timeout=WAIT)
                 .json().get("alive"), WAIT, "the daemon to report itself alive")
        with httpx.Client(timeout=WAIT) as client, client.stream(
                "GET", f"{url}/api/events?token={token}") as response:
            events = sse_events(response)
            next_event(events, "hello")
            (vault / "alpha.md").write_text("# Alpha\n\nRewritten, links [[gamma]].\n")
            batch = next_event(events, "batch")
            while "alpha.md" not in batch["data"]["changed"]:
                batch = next_event(events, "batch")
            assert batch["data"]["origin"] == "watch"
        page = httpx.get(url + "/api/pages/alpha.md", headers=headers, timeout=WAIT).json()
        assert [link["target"] for link in page["links"]] == ["gamma"]
    finally:
        code = interrupt(proc, output, WAIT)
    assert code in (0, -signal.SIGINT, 130), output.text


def test_busy_port_is_one_line(make_vault, tmp_path) -> None:
    vault = make_vault(VAULT)
    with bind_socket("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", str(vault), "--db", str(tmp_path / "m.db"),
                                          "--port", str(port)])
    assert result.exit_code == 2
    assert result.output == (f"vaultsync: cannot listen on 127.0.0.1:{port}: "
                             "Address already in use\n")


def test_serve_watch_beside_a_running_daemon_says_so_and_records_its_url(
        make_vault, tmp_path) -> None:
    """No claim of its own watching followed by a warning: the running daemon keeps the
    mirror live. While it serves, `<db>.serve.json` tells Datasette where the view is."""
    import socket

    from vaultsync.server.address import address_path, running_url

    vault = make_vault(VAULT)
    db = tmp_path / "m.db"
    sync_vault(Config(vault=vault, db=db))
    with Mirror(db) as mirror, mirror.transaction():
        mirror.write_status(pid=os.getpid(), host=socket.gethostname(), state="watching",
                            started_at="2026-01-01T00:00:00Z")
    proc, output, serving, url = start_serve(vault, db, "--watch")
    try:
        assert (f"(live: kept by the running vaultsync watch, pid {os.getpid()}; kept here "
                "if it stops)") in serving
        wait_for(lambda: running_url(db) == url + "/", WAIT, "the server's address record")
    finally:
        interrupt(proc, output, WAIT)
    text = output.text
    assert "warning" not in text and "watching the vault" not in text, text
    assert not address_path(db).exists()  # withdrawn when it stops


# --- slow clients ------------------------------------------------------------------------

@contextlib.contextmanager
def server_with_header_timeout(config: Config, seconds: float) -> Iterator[int]:
    """`vaultsync serve`'s server in a thread with a short header deadline: its port."""
    import threading

    token, _ = ensure_token(config.db)
    server = AppServer(server_app.create_app(config, token=token),
                       bind_socket("127.0.0.1", 0), header_timeout=seconds)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, WAIT, "the server to start")
    try:
        yield server.port
    finally:
        server.stop()
        thread.join(WAIT)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed `sock` (waits up to WAIT for it)."""
    sock.settimeout(WAIT)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_half_sent_request_is_closed(make_vault, config_for) -> None:
    config = config_for(make_vault(VAULT))
    sync_vault(config, workers=1)
    with server_with_header_timeout(config, 0.5) as port:
        silent = socket.create_connection(("127.0.0.1", port))  # sends nothing at all
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line
        trickle = socket.create_connection(("127.0.0.1", port))
        trickle.settimeout(0.1)
        started = time.monotonic()
        try:
            # A header line every 0.1 s keeps the connection busy, never complete.
            trickle.sendall(b"GET / HTTP/1.1\r\n")
            gone = False
            while not gone and time.monotonic() - started < WAIT:
                try:
                    trickle.sendall(b"X-Slow: 1\r\n")
                    gone = trickle.recv(1024) == b""
                except TimeoutError:
                    continue
                except OSError:  # reset or broken pipe: closed by the server
                    gone = True
            assert gone, "a trickling request was not closed"
            assert closed_by_server(half) and closed_by_server(silent)
        finally:
            for sock in (silent, half, trickle):
                sock.close()
        # A request whose headers came in time is answered, however long it then takes.
        with socket.create_connection(("127.0.0.1", port)) as ok:
            ok.sendall(b"GET /api/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            ok.settimeout(WAIT)
            assert ok.recv(64).startswith(b"HTTP/1.1 ")


def test_half_open_connections_do_not_starve_a_real_request(make_vault, tmp_path) -> None:
    # The server may hold 64 files; 100 half-sent requests would take every one of them
    # for good, were they not closed after the header deadline (HEADER_TIMEOUT).
    import resource

    from vaultsync.server.protocol import HEADER_TIMEOUT

    assert 1 <= HEADER_TIMEOUT <= 10
    vault = make_vault(VAULT)
    db = tmp_path / "m.db"

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    proc, output, _, url = start_serve(vault, db, preexec_fn=few_files)
    held: list[socket.socket] = []
    try:
        port = int(url.rsplit(":", 1)[1])
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append(sock)
        token = load_token(db)
        r = httpx.get(f"{url}/api/status", headers={"Authorization": f"Bearer {token}"},
                      timeout=HEADER_TIMEOUT + WAIT)
        assert r.status_code == 200
    finally:
        for sock in held:
            sock.close()
        interrupt(proc, output, WAIT)

# --- live only while something keeps the mirror live ---------------------------------------

def test_events_say_live_only_while_a_daemon_keeps_the_mirror(serve) -> None:
    s = serve()
    with httpx.Client(timeout=WAIT) as client, client.stream(
            "GET", f"{s.base}/api/events?token={s.token}") as response:
        events = sse_events(response)
        assert next_event(events, "hello")["data"]["live"] is False  # no --watch, no daemon
        with RunningDaemon(s.config.vault, s.config.db):
            assert next_event(events, "live")["data"] == {"live": True}
        assert next_event(events, "live")["data"] == {"live": False}


def test_serve_watch_takes_over_when_the_daemon_it_relied_on_stops(make_vault, tmp_path):
    vault = make_vault(VAULT)
    db = tmp_path / "live.db"
    watcher = start_process(vault, db)
    try:
        wait_watching(db, watcher)
        proc, output, served, url = start_serve(vault, db, "--watch")
        try:
            assert "kept here if it stops" in served
            headers = {"Authorization": f"Bearer {load_token(db)}"}
            assert interrupt(watcher) in (0, 130, -signal.SIGINT)
            output.wait_line(lambda line: "keeps the mirror live now" in line, WAIT,
                             "the server to take over")
            (vault / "alpha.md").write_text("# Alpha\n\nTaken over, links [[gamma]].\n")
            page = wait_for(lambda: (p := httpx.get(url + "/api/pages/alpha.md",
                                                    headers=headers, timeout=WAIT).json())
                            and [link["target"] for link in p.get("links", [])] == ["gamma"]
                            and p, WAIT, "the edit to reach the mirror")
            assert page
            status = httpx.get(url + "/api/status", headers=headers, timeout=WAIT).json()
            assert status["alive"] is True and status["daemon"]["pid"] == proc.pid
        finally:
            interrupt(proc, output, WAIT)
    finally:
        if watcher.poll() is None:
            interrupt(watcher)
