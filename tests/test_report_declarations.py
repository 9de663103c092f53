"""One declaration per report (read.REPORTS): its rows have exactly the declared columns,
and every door names every report: the CLI's help, the renderers, the HTTP API, the MCP
tool's enum, the Datasette canned queries and the README's table."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import httpx
import pytest
from click.testing import CliRunner
from conftest import REPO, SAMPLE_VAULT, serving

from vaultsync import read, render
from vaultsync.cli import cli
from vaultsync.config import load_config
from vaultsync.datasette_plugin.metadata import QUERIES
from vaultsync.graph import MetricsOnDemand
from vaultsync.mcp import Vault as McpVault
from vaultsync.mcp.server import build_server

README = (REPO / "README.md").read_text(encoding="utf-8")
NAMES = list(read.REPORTS)


def test_names_are_the_declarations() -> None:
    assert read.REPORT_NAMES == tuple(read.REPORTS)
    assert "broken-anchors" in NAMES
    for name, spec in read.REPORTS.items():
        assert spec.name == name and spec.title and spec.description
        assert set(spec.shown) <= set(spec.column_names), name


@pytest.mark.parametrize("name", [n for n in NAMES if n != "summary"])
def test_rows_have_exactly_the_declared_columns(sample_mirror: Path, name: str) -> None:
    with read.open_mirror(sample_mirror) as conn:
        report = read.run_report(conn, name)
    assert report.rows, f"the sample vault gives no {name} rows to check"
    spec = read.REPORTS[name]
    for row in report.rows:
        assert tuple(row) == spec.column_names
    types = {"string": str, "integer": int, "number": float, "boolean": bool,
             "string[]": list}
    for column in spec.columns:
        values = [row[column.name] for row in report.rows]
        assert all(isinstance(v, types[column.type]) or (column.nullable and v is None)
                   for v in values), f"{name}.{column.name} is not {column.type}"


def test_kind_is_refused_where_not_accepted(sample_mirror: Path) -> None:
    with read.open_mirror(sample_mirror) as conn:
        for name, spec in read.REPORTS.items():
            if spec.kind:
                read.run_report(conn, name, kind="concept")
            else:
                with pytest.raises(read.BadRequest):
                    read.run_report(conn, name, kind="concept")


@pytest.mark.parametrize("name", NAMES)
def test_the_cli_help_names_it(name: str) -> None:
    result = CliRunner().invoke(cli, ["report", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert re.search(rf"^\s+{re.escape(name)}\s+\S", result.output, re.M), \
        f"`vaultsync report --help` does not list {name}"


@pytest.mark.parametrize("name", NAMES)
def test_the_renderers_know_it(sample_mirror: Path, name: str) -> None:
    assert render.TITLES[name] == read.REPORTS[name].title
    if name != "summary":
        assert render.COLUMNS[name] == read.REPORTS[name].shown
    with read.open_mirror(sample_mirror) as conn:
        report = read.run_report(conn, name, limit=3)
    for fmt in render.FORMATS:
        assert render.render(report, fmt, width=120)


def test_the_http_api_and_mcp_enum_list_every_report(tmp_path: Path) -> None:
    config = load_config(SAMPLE_VAULT, tmp_path / "mirror.db")
    with serving(config) as (_, url, token):
        got = httpx.get(f"{url}/api/reports", headers={"authorization": f"Bearer {token}"})
        assert got.json()["reports"] == NAMES
        declared = {d["name"]: d for d in got.json()["declarations"]}
        assert list(declared) == NAMES
        assert [c["name"] for c in declared["wanted"]["columns"]] == \
            list(read.REPORTS["wanted"].column_names)
        assert declared["wanted"]["kind"] is False and declared["summary"]["limit"] == "top"
    server = build_server(McpVault(config, MetricsOnDemand(config.db, enabled=False)))
    tools = {t.name: t for t in anyio.run(server.list_tools)}
    assert tools["report"].input_schema["properties"]["name"]["enum"] == NAMES
    for name in NAMES:
        assert name in (tools["report"].description or "")


@pytest.mark.parametrize("name", NAMES)
def test_datasette_has_its_canned_query(name: str) -> None:
    spec = read.REPORTS[name]
    if name in ("summary", "unlinked-mentions"):
        # Several reports at once, or words matched in Python: no one SQL query.
        assert spec.canned_query is None
        return
    assert spec.canned_query in QUERIES, f"no Datasette canned query for {name}"


def readme_report_rows() -> dict[str, str]:
    section = README.split("\n## Reports\n", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): line for line in section.splitlines()
            if (m := re.match(r"\| `([a-z-]+)` \|", line))}


def test_the_readme_table_lists_every_report_and_no_other() -> None:
    assert list(readme_report_rows()) == NAMES
