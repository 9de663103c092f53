"""Unlinked mentions (`Vault.unlinked_mentions`, the `unlinked_mentions` MCP tool, GET
/api/unlinked-mentions, `vaultsync report unlinked-mentions`): checked by hand on a
small vault built for it, with the mentions that must not count, and on the sample
vault."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultsync import Vault, read

FILES = {
    "stream-processing.md": ("---\naliases: [SP]\n---\n# Stream Processing\n\n"
                             "Stream processing names itself here: not a mention.\n"),
    "plain.md": "# Plain\n\nWe use stream processing daily.\nAnd sp, twice: SP.\n",
    "hidden.md": ("# Hidden\n\n`stream processing` in code.\n\n```\nstream processing\n```\n\n"
                  "%%stream processing%% and <!-- stream processing -->\n\n"
                  "[[other|stream processing]] and [stream processing](other.md)\n\n"
                  "$stream processing$ and https://example.com/stream-processing\n"),
    "linked.md": "# Linked\n\nSee [[stream-processing]]; stream processing again.\n",
    "partial.md": "# Partial\n\nstreamprocessing, stream processings, downstream processing.\n",
    "other.md": "# Other\n",
}


@pytest.fixture
def vault(synced_vault) -> Vault:
    return synced_vault(FILES)


def test_unlinked_mentions_by_hand(vault: Vault) -> None:
    found = vault.unlinked_mentions("Stream Processing")
    assert found["path"] == "stream-processing.md"
    assert found["names"] == ["Stream Processing", "SP"]
    assert [(m["path"], m["line"], m["text"], m["name"]) for m in found["mentions"]] == [
        ("plain.md", 3, "stream processing", "Stream Processing"),
        ("plain.md", 4, "sp", "SP"),
        ("plain.md", 4, "SP", "SP"),
    ]
    assert found["mentions"][0]["snippet"] == "We use ⟦stream processing⟧ daily."
    assert (found["total"], found["pages"], found["complete"]) == (3, 1, True)
    # By an alias, and with a limit.
    assert vault.unlinked_mentions("SP", limit=1)["mentions"] == found["mentions"][:1]


def test_mentions_that_must_not_count(vault: Vault) -> None:
    # In code, comments, math, links and URLs (hidden.md); in a page that links to it
    # (linked.md); inside other words (partial.md); in the page itself.
    paths = {m["path"] for m in vault.unlinked_mentions("stream-processing")["mentions"]}
    assert paths == {"plain.md"}


def test_unlinked_mentions_on_the_sample_vault(tmp_path: Path) -> None:
    sample = Vault(Path(__file__).resolve().parent.parent / "vault", db=tmp_path / "s.db")
    sample.sync(workers=1)
    kafka = sample.unlinked_mentions("[[Apache Kafka]]")
    # "Kafka" (an alias) in three pages that do not link to apache-kafka.md; the many
    # pages that link to it and say Kafka too are not listed.
    assert [(m["path"], m["line"], m["text"]) for m in kafka["mentions"]] == [
        ("concepts/watermarks.md", 30, "Kafka"),
        ("glossary.md", 18, "Kafka"),
        ("systems/flink/checkpointing.md", 15, "Kafka"),
    ]
    cdc = sample.unlinked_mentions("CDC")
    assert ("people/tomas-eriksen.md", 10, "change data capture") in [
        (m["path"], m["line"], m["text"]) for m in cdc["mentions"]]
    with pytest.raises(read.NotFound):
        sample.unlinked_mentions("no such page")


def test_unlinked_mentions_over_http_and_mcp(vault: Vault) -> None:
    import anyio
    import httpx
    from conftest import serving
    from mcp import Client

    from vaultsync.graph import MetricsOnDemand
    from vaultsync.mcp import Vault as ToolVault
    from vaultsync.mcp import build_server

    expected = vault.unlinked_mentions("stream-processing.md")
    with serving(vault.config) as (_, base, token):
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        got = api.get("/api/unlinked-mentions", params={"page": "[[Stream Processing]]"})
        assert got.json() == expected
        assert api.get("/api/unlinked-mentions", params={"page": "nobody"}).status_code == 404
        assert api.get("/api/unlinked-mentions").status_code == 400

    async def over_mcp() -> dict:
        server = build_server(ToolVault(vault.config, MetricsOnDemand(vault.db_path)))
        async with Client(server) as client:
            answer = await client.call_tool("unlinked_mentions", {"path": "SP", "limit": 2})
            return dict(answer.structured_content or {})

    answer = anyio.run(over_mcp)
    assert [m["snippet"] for m in answer["mentions"]] == \
        [m["snippet"] for m in expected["mentions"][:2]]
    assert answer["truncated"] == ["mentions: showing 2 of 3 or more (raise limit, up to 200)"]


def test_the_report_over_the_whole_vault(vault: Vault) -> None:
    import json

    from click.testing import CliRunner

    from vaultsync.cli import cli

    result = CliRunner().invoke(cli, ["report", "unlinked-mentions", str(vault.path),
                                      "--db", str(vault.db_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    # Every page's names at once: the same three mentions of stream-processing.md,
    # and "Other" in other.md's own title heading does not count (the page itself).
    assert [(r["path"], r["line"], r["target_path"], r["name"]) for r in rows] == [
        ("plain.md", 3, "stream-processing.md", "Stream Processing"),
        ("plain.md", 4, "stream-processing.md", "SP"),
        ("plain.md", 4, "stream-processing.md", "SP"),
    ]
    assert rows == vault.report("unlinked-mentions").rows
