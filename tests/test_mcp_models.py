"""The MCP tools answer with the read layer's records (vaultsync/mcp/models.py): each
tool's published output schema has the fields of the record it is made from, with the
record's descriptions, so a record's change reaches assistants or breaks this test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import SAMPLE_VAULT
from pydantic import TypeAdapter

from vaultsync import read
from vaultsync.config import load_config
from vaultsync.graph import MetricsOnDemand
from vaultsync.mcp import Vault as McpVault
from vaultsync.mcp.server import build_server
from vaultsync.read import answers as records

TRUNCATED = {"truncated"}


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    config = load_config(SAMPLE_VAULT, tmp_path_factory.mktemp("mcp") / "mirror.db")
    server = build_server(McpVault(config, MetricsOnDemand(config.db, enabled=False)))
    return {t.name: t.output_schema or {} for t in anyio.run(server.list_tools)}


def resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """`node` with its $ref followed and an optional (anyOf with null) unwrapped."""
    if "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    for option in node.get("anyOf", []):
        if option.get("type") != "null":
            return resolve(option, root)
    return node


def at(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    """The object schema reached from the tool's schema by property names (`[]`: the
    items of an array)."""
    node = schema
    for step in path:
        node = resolve(node, schema)
        node = node["items"] if step == "[]" else node["properties"][step]
    return resolve(node, schema)


def keys(record: Any) -> set[str]:
    return set(record.__required_keys__ | record.__optional_keys__)


# (tool, where in its answer, the record, the answer's own fields beside the record's)
MADE_FROM = [
    ("changes", (), records.Changes, TRUNCATED),
    ("changes", ("renamed", "[]"), records.RenamedPage, set()),
    ("unlinked_mentions", (), records.UnlinkedMentions, TRUNCATED),
    ("unlinked_mentions", ("mentions", "[]"), records.Mention, set()),
    ("related", (), records.RelatedPages, TRUNCATED),
    ("related", ("related", "[]"), records.RelatedPage, set()),
    ("search", ("results", "[]"), records.SearchHitBase, {"snippet", "why"}),
    ("get_page", ("metrics",), records.PageMetrics, {"current"}),
    ("get_page", ("backlinks", "[]"), records.BacklinkRef, set()),
    ("get_page", ("headings", "[]"), records.Heading, set()),
    ("get_page", ("citations", "sources", "[]"), records.PageName, set()),
    ("neighbors", ("edges", "[]"), records.GraphEdge, set()),
    ("status", ("daemon",), records.Daemon, set()),
]


@pytest.mark.parametrize(("tool", "where", "record", "own"), MADE_FROM,
                         ids=[f"{t}:{'.'.join(w) or 'answer'}" for t, w, *_ in MADE_FROM])
def test_the_output_schema_is_the_records(schemas: dict[str, dict[str, Any]], tool: str,
                                          where: tuple[str, ...], record: Any,
                                          own: set[str]) -> None:
    published = at(schemas[tool], *where)
    assert set(published["properties"]) == keys(record) | own
    # The record's descriptions are what assistants read.
    generated = TypeAdapter(record).json_schema()
    for name, field in generated["properties"].items():
        if "description" in field:
            assert published["properties"][name].get("description") == \
                field["description"], f"{tool}: {name}"


def test_status_carries_every_headline_count(schemas: dict[str, dict[str, Any]]) -> None:
    published = set(at(schemas["status"])["properties"])
    assert keys(records.StatusCounts) | keys(read.Counts) <= published


def test_every_tool_says_what_it_left_out(schemas: dict[str, dict[str, Any]]) -> None:
    for name, schema in schemas.items():
        if name == "status":  # nothing to leave out
            continue
        truncated = at(schema)["properties"]["truncated"]
        assert truncated["description"].startswith("What was left out"), name


def test_tools_do_not_import_upward_into_render() -> None:
    import ast

    from vaultsync.mcp import tools

    tree = ast.parse(Path(tools.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert "render" not in imported  # report titles come from read.REPORTS
