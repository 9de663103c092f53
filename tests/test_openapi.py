"""The typed answers (read.answers) are what the HTTP API sends, the OpenAPI document is
generated from them, and the committed docs/openapi.json (whence the TypeScript types)
is current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SAMPLE_VAULT, serving
from pydantic import TypeAdapter

from scripts import dump_openapi
from vaultsync import read
from vaultsync.config import load_config
from vaultsync.read import answers
from vaultsync.server.openapi import openapi_document, report_schema_name


def test_the_committed_document_is_current() -> None:
    assert dump_openapi.main(["--check"]) == 0, \
        "docs/openapi.json is out of date: run scripts/dump_openapi.py"


def keys_match(record: Any, value: dict[str, Any], where: str) -> None:
    """`value` has every required key of the TypedDict `record` and no key it lacks."""
    known = record.__required_keys__ | record.__optional_keys__
    assert record.__required_keys__ <= set(value), \
        f"{where}: missing {sorted(record.__required_keys__ - set(value))}"
    assert set(value) <= known, f"{where}: undeclared {sorted(set(value) - known)}"
    TypeAdapter(record).validate_python(value, strict=False)


@pytest.fixture(scope="module")
def api(sample_mirror: Path) -> Any:
    config = load_config(SAMPLE_VAULT, sample_mirror)
    with serving(config) as (_, url, token):
        client = httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"},
                              timeout=60)
        yield client
        client.close()


def test_a_page_is_a_page(api: httpx.Client) -> None:
    page = api.get("/api/pages/systems/apache-kafka.md", params={"body": "1"}).json()
    keys_match(answers.Page, page, "page")
    keys_match(answers.PageMetrics, page["metrics"], "page.metrics")
    for record, items in ((answers.PageLink, page["links"]),
                          (answers.Backlink, page["backlinks"]),
                          (answers.Heading, page["headings"]),
                          (answers.PageRef, page["citations"]["sources"])):
        assert items
        for item in items:
            keys_match(record, item, record.__name__)


def test_the_graph_and_a_neighbourhood(api: httpx.Client) -> None:
    graph = api.get("/api/graph", params={"include": "tags,unresolved,attachments"}).json()
    keys_match(answers.Graph, graph, "graph")
    keys_match(answers.GraphMeta, graph["meta"], "graph.meta")
    assert {n["type"] for n in graph["nodes"]} == {"page", "tag", "unresolved", "attachment"}
    for node in graph["nodes"]:
        keys_match(answers.Node, node, "node")
    local = api.get("/api/graph/local", params={"path": "systems/apache-kafka.md"}).json()
    keys_match(answers.LocalGraph, local, "local graph")
    for node in local["nodes"]:
        keys_match(answers.Node, node, "local node")


def test_search_and_status(api: httpx.Client) -> None:
    found = api.get("/api/search", params={"q": "kafka"}).json()
    keys_match(answers.SearchResult, found, "search")
    for hit in found["results"]:
        keys_match(answers.SearchHit, hit, "hit")
    status = api.get("/api/status").json()
    served = {k: v for k, v in status.items() if k not in ("server", "layout")}
    keys_match(answers.Status, served, "status")
    keys_match(answers.StatusCounts, status["counts"], "status.counts")


def test_every_report_matches_its_schema(api: httpx.Client) -> None:
    schemas = openapi_document("x")["components"]["schemas"]
    for name, spec in read.REPORTS.items():
        data = api.get(f"/api/reports/{name}").json()
        if not spec.columns:
            keys_match(read.Summary, data, "summary")
            continue
        schema = schemas[report_schema_name(name)]
        assert data, name
        for row in data:
            assert list(row) == schema["items"]["required"], name
