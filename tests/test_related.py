"""Related pages that do not link (`Vault.related`, the `related` MCP tool, GET
/api/related): shared sources and shared neighbours (Adamic–Adar) on a small vault,
worked out by hand."""

from __future__ import annotations

import math

import pytest

from vaultsync import Vault, read

# a and b are both cited by s1 and s2 and both link to hub and niche; they do not link
# to each other. c shares only the hub with a; d links to a (so it is never suggested).
# hub is linked by a, b, c and e; niche by a and b only.
FILES = {
    "a.md": "# A\n\n[[hub]] [[niche]]\n",
    "b.md": "# B\n\n[[hub]] [[niche]]\n",
    "c.md": "# C\n\n[[hub]]\n",
    "d.md": "# D\n\n[[a]] [[hub]]\n",
    "e.md": "# E\n\n[[hub]]\n",
    "hub.md": "# Hub\n",
    "niche.md": "# Niche\n",
    "sources/s1.md": "---\ntype: source\ntitle: Source one\n---\n\n[[a]] [[b]]\n",
    "sources/s2.md": "---\ntype: source\ntitle: Source two\n---\n\n[[a]] [[b]]\n",
}


@pytest.fixture
def vault(synced_vault) -> Vault:
    return synced_vault(FILES)


def test_related_pages_by_hand(vault: Vault) -> None:
    found = vault.related("A")
    assert found["path"] == "a.md"
    by_path = {r["path"]: r for r in found["related"]}
    assert "d.md" not in by_path and "hub.md" not in by_path  # linked with a: never
    b = found["related"][0]
    assert b["path"] == "b.md"
    assert b["shared_sources"] == ["sources/s1.md", "sources/s2.md"]
    assert b["shared_neighbours"] == ["niche.md", "hub.md"]  # the niche page first
    # hub has degree 5 (a, b, c, d, e), niche 2 (a, b): 1/log 2 + 1/log 5, plus 2 sources.
    expected = 1 / math.log(2) + 1 / math.log(5)
    assert b["adamic_adar"] == pytest.approx(expected, abs=1e-4)
    assert b["score"] == pytest.approx(expected + 2, abs=1e-4)
    assert b["reason"] == ("both cited by 2 of the same sources: Source one, Source two; "
                           "both linked with 2 of the same pages: Niche, Hub")
    c = by_path["c.md"]
    assert c["reason"] == "both linked with the same page: Hub"
    assert c["score"] == pytest.approx(1 / math.log(5), abs=1e-4)
    assert [r["path"] for r in found["related"]][:1] == ["b.md"]
    assert vault.related("A", limit=1)["related"] == [b]
    with pytest.raises(read.NotFound):
        vault.related("nobody")


def test_related_over_http_and_mcp(vault: Vault) -> None:
    import anyio
    import httpx
    from conftest import serving
    from mcp import Client

    from vaultsync.graph import MetricsOnDemand
    from vaultsync.mcp import Vault as ToolVault
    from vaultsync.mcp import build_server

    expected = vault.related("a.md", limit=3)
    with serving(vault.config) as (_, base, token):
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        assert api.get("/api/related", params={"page": "[[a]]", "limit": 3}).json() == \
            expected

    async def over_mcp() -> dict:
        server = build_server(ToolVault(vault.config, MetricsOnDemand(vault.db_path)))
        async with Client(server) as client:
            answer = await client.call_tool("related", {"path": "A", "limit": 3})
            return dict(answer.structured_content or {})

    answer = anyio.run(over_mcp)
    assert [(r["path"], r["reason"]) for r in answer["related"]] == \
        [(r["path"], r["reason"]) for r in expected["related"]]
