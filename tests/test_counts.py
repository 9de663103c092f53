"""One set of headline counts, named the same by every door: `sync`, `status`, the
summary report, GET /api/status and the MCP `status` tool agree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_VAULT, copy_fixture_mirror, rows, serving

from vaultsync import Vault, read
from vaultsync.cli import cli
from vaultsync.config import load_config
from vaultsync.graph import MetricsOnDemand
from vaultsync.mcp import Vault as McpVault
from vaultsync.mcp.tools import VaultTools
from vaultsync.read.status import UNRESOLVED
from vaultsync.sync import sync_vault

NAMES = list(read.Counts.__annotations__)


def test_every_door_gives_the_same_counts(tmp_path: Path) -> None:
    folder = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, folder)
    db = tmp_path / "mirror.db"
    runner = CliRunner()
    synced = runner.invoke(cli, ["sync", str(folder), "--db", str(db), "--json"])
    assert synced.exit_code == 0, synced.output
    sync_json = json.loads(synced.output)

    vault = Vault(folder, db=db)
    counts = {k: vault.status()["counts"][k] for k in NAMES}
    assert counts["pages"] == 71 and counts["links"] == 564
    assert counts["links_between_pages"] == 550 and counts["edges"] == 465
    assert counts["unresolved"] == 10 and counts["sources"] == 19

    assert (sync_json["pages"], sync_json["links"], sync_json["unresolved"]) == \
        (counts["pages"], counts["links"], counts["unresolved"])

    status = json.loads(runner.invoke(cli, ["status", str(folder), "--db", str(db),
                                            "--json"]).output)
    assert {k: status[k] for k in NAMES} == counts

    summary = vault.report("summary").summary
    assert summary is not None
    assert {k: summary["counts"][k] for k in NAMES} == counts
    assert summary["counts"]["central"] == 52  # the pages `report central` ranks

    with serving(vault.config) as (_, url, token):
        api = httpx.get(f"{url}/api/status", headers={"authorization": f"Bearer {token}"},
                        timeout=60).json()
    assert {k: api["counts"][k] for k in NAMES} == counts

    tools = VaultTools(McpVault(vault.config, MetricsOnDemand(db, enabled=False)))
    mcp = dict(tools.status())
    assert {k: mcp[k] for k in NAMES} == counts


def test_a_page_rank_says_what_it_ranks_among(tmp_path: Path) -> None:
    vault = Vault(SAMPLE_VAULT, db=tmp_path / "mirror.db")
    vault.sync()
    metrics = vault.page("Apache Kafka")["metrics"]
    central = vault.report("central", limit=1)
    assert (metrics["central_rank"], metrics["central_ranked"]) == (1, central.total) \
        == (1, 52)
    assert (metrics["pagerank_rank"], metrics["pages_ranked"], metrics["rank_among"]) == \
        (1, 71, "pages")



@pytest.mark.parametrize("mirror", ["new", "migrated from schema 2"])
def test_every_sync_counts_unresolved_links_from_an_index_alone(tmp_path: Path,
                                                                 mirror: str) -> None:
    # A daemon counts them after every batch: reading a table row per unresolved link
    # made that count an edit's largest read on a large vault.
    if mirror == "new":
        vault, db = SAMPLE_VAULT, tmp_path / "mirror.db"
    else:
        vault, db = copy_fixture_mirror(2, tmp_path)
    sync_vault(load_config(vault, db), workers=1)
    plan = rows(db, f"EXPLAIN QUERY PLAN SELECT count(*) FROM links WHERE {UNRESOLVED}")
    assert "COVERING INDEX" in plan[0][-1], plan
