"""Assistants told that the vault changed: resource subscriptions through the official
SDK's client, both `subscriptions/listen` (protocol 2026-07-28) and `resources/subscribe`
(earlier protocols), in process and from a real `vaultsync mcp --watch` over stdio. The
mirror is changed by real syncs of real files (another process's daemon writes it the
same way); waits are bounded, never sleeps."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp.types as types
import pytest
from conftest import rows, wait_for
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.subscriptions import ResourcesListChanged, ResourceUpdated

from vaultsync.config import Config
from vaultsync.graph import MetricsOnDemand
from vaultsync.mcp import Vault, build_server
from vaultsync.mcp.live import Notifier
from vaultsync.sync import sync_vault

WAIT = 60.0
# The clients of earlier protocols subscribe as they must; the SDK warns of the method.
pytestmark = pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed")
FILES = {
    "alpha.md": "# Alpha\n\nLinks to [[beta]].\n",
    "beta.md": "# Beta\n\nBack to [[alpha]].\n",
}
ALPHA = "vault://page/alpha.md"


@pytest.fixture
def config(make_vault, config_for) -> Config:
    cfg: Config = config_for(make_vault(FILES))
    sync_vault(cfg, workers=1)
    return cfg


def server_for(config: Config) -> Any:
    return build_server(Vault(config, MetricsOnDemand(config.db)))


async def sync(config: Config) -> None:
    await anyio.to_thread.run_sync(lambda: sync_vault(config, workers=1))


async def until(check: Callable[[], object], what: str) -> None:
    """The shared bounded wait (conftest.wait_for), off the event loop."""
    await anyio.to_thread.run_sync(lambda: wait_for(check, WAIT, what))


def test_a_listening_client_hears_of_a_save_and_of_a_new_page(config: Config) -> None:
    async def scenario() -> list[Any]:
        heard: list[Any] = []
        async with Client(server_for(config)) as client, \
                client.listen(resources_list_changed=True,
                              resource_subscriptions=[ALPHA]) as sub:
            assert sub.honored.resource_subscriptions == [ALPHA]
            (config.vault / "alpha.md").write_text("# Alpha\n\nSaved again.\n")
            await sync(config)
            with anyio.fail_after(WAIT):
                heard.append(await sub.__anext__())
            body = await client.read_resource(ALPHA)
            assert "Saved again." in body.contents[0].text  # type: ignore[union-attr]
            (config.vault / "gamma.md").write_text("# Gamma\n")
            await sync(config)
            with anyio.fail_after(WAIT):
                heard.append(await sub.__anext__())
        return heard

    heard = anyio.run(scenario)
    assert heard == [ResourceUpdated(uri=ALPHA), ResourcesListChanged()]


def test_a_page_nobody_subscribed_to_is_not_announced(config: Config) -> None:
    async def scenario() -> list[Any]:
        async with Client(server_for(config)) as client, \
                client.listen(resource_subscriptions=[ALPHA]) as sub:
            (config.vault / "beta.md").write_text("# Beta\n\nEdited.\n")
            await sync(config)
            (config.vault / "alpha.md").write_text("# Alpha\n\nEdited.\n")
            await sync(config)
            with anyio.fail_after(WAIT):
                return [await sub.__anext__()]

    # beta's edit came first, yet only alpha's is heard.
    assert anyio.run(scenario) == [ResourceUpdated(uri=ALPHA)]


class Heard:
    """Notifications as they arrive on the wire (a client's message_handler)."""

    def __init__(self) -> None:
        self.updated: list[str] = []
        self.list_changed = 0

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            self.updated.append(str(message.params.uri))
        elif isinstance(message, types.ResourceListChangedNotification):
            self.list_changed += 1


def test_resources_subscribe_of_earlier_protocols(config: Config) -> None:
    heard = Heard()

    async def scenario() -> None:
        async with Client(server_for(config), mode="legacy", message_handler=heard) as client:
            caps = client.server_capabilities.resources
            assert caps is not None and caps.subscribe and caps.list_changed
            await client.subscribe_resource(ALPHA)
            (config.vault / "alpha.md").write_text("# Alpha\n\nSaved.\n")
            (config.vault / "delta.md").write_text("# Delta\n")
            await sync(config)
            await until(lambda: heard.updated and heard.list_changed, "notifications")
            await client.unsubscribe_resource(ALPHA)

    anyio.run(scenario)
    assert heard.updated == [ALPHA] and heard.list_changed == 1


def test_earlier_protocols_hear_of_list_changes_without_subscribing(config: Config) -> None:
    heard = Heard()

    async def scenario() -> None:
        async with Client(server_for(config), mode="legacy", message_handler=heard) as client:
            await client.list_resources()
            (config.vault / "new.md").write_text("# New\n")
            await sync(config)
            await until(lambda: heard.list_changed, "the list change")

    anyio.run(scenario)
    assert heard.updated == [] and heard.list_changed == 1


def test_a_big_checkout_is_a_bounded_number_of_messages(config: Config) -> None:
    """Several batches of many new pages each (a `git checkout`, as the daemon commits
    it in batches): however many pages, each coalescing round is one list change and
    one update per subscribed page: the bound does not depend on the number of pages."""
    heard = Heard()
    pages, batches = 5000, 4
    server = server_for(config)
    notifier: Notifier = server.notifier

    def checkout() -> int:
        for b in range(batches):
            for n in range(b * pages // batches, (b + 1) * pages // batches):
                (config.vault / f"new-{n:05}.md").write_text(f"# New {n}\n\nSee [[alpha]].\n")
            (config.vault / "alpha.md").write_text(f"# Alpha\n\nVersion {b}.\n")
            sync_vault(config, workers=1)
        return int(rows(config.db, "SELECT max(id) FROM sync_log")[0][0])

    async def scenario() -> None:
        async with Client(server, mode="legacy", message_handler=heard) as client:
            await client.subscribe_resource(ALPHA)
            last = await anyio.to_thread.run_sync(checkout)
            await until(lambda: notifier.told >= last, "the notifier to tell every batch")

    anyio.run(scenario)
    assert 1 <= heard.list_changed <= batches
    assert 1 <= len(heard.updated) <= batches and set(heard.updated) == {ALPHA}
    assert notifier.rounds <= batches


def test_vaultsync_mcp_over_stdio_tells_of_a_save(make_vault, tmp_path: Path) -> None:
    """A real `vaultsync mcp --watch`: its own daemon commits the save, the notifier
    follows the log, the client hears it (2026-07-28 listen, then the legacy way)."""
    vault = make_vault(FILES)
    db = tmp_path / "stdio.db"

    def params() -> StdioServerParameters:
        return StdioServerParameters(command=sys.executable, args=[
            "-m", "vaultsync", "mcp", str(vault), "--db", str(db), "--watch"])

    async def live(client: Client) -> None:
        # The mirror is there once the client is: its daemon's row follows (no row yet,
        # then the pid).
        await until(lambda: [pid for pid, in rows(db, "SELECT pid FROM daemon_status") if pid],
                    "the daemon")

    async def modern(errlog: Any) -> Any:
        async with Client(stdio_client(params(), errlog=errlog)) as client:
            await live(client)
            async with client.listen(resource_subscriptions=[ALPHA]) as sub:
                (vault / "alpha.md").write_text("# Alpha\n\nSaved over stdio.\n")
                with anyio.fail_after(WAIT):
                    return await sub.__anext__()

    heard = Heard()

    async def legacy(errlog: Any) -> None:
        async with Client(stdio_client(params(), errlog=errlog), mode="legacy",
                          message_handler=heard) as client:
            await live(client)
            await client.subscribe_resource(ALPHA)
            (vault / "alpha.md").write_text("# Alpha\n\nSaved again over stdio.\n")
            await until(lambda: heard.updated, "the update")

    with open(tmp_path / "mcp.log", "w", encoding="utf-8") as errlog:
        assert anyio.run(modern, errlog) == ResourceUpdated(uri=ALPHA)
        anyio.run(legacy, errlog)
    assert heard.updated[0] == ALPHA



def test_over_http_inside_vaultsync_serve(config: Config) -> None:
    import httpx2
    from conftest import serving
    from mcp.client.streamable_http import streamable_http_client

    with serving(config) as (_, base, token):
        async def scenario() -> Any:
            bearer = {"Authorization": f"Bearer {token}"}
            async with httpx2.AsyncClient(headers=bearer, timeout=WAIT) as http:
                transport = streamable_http_client(base + "/mcp", http_client=http)
                async with Client(transport) as client, \
                        client.listen(resource_subscriptions=[ALPHA]) as sub:
                    (config.vault / "alpha.md").write_text("# Alpha\n\nOver HTTP.\n")
                    await sync(config)
                    with anyio.fail_after(WAIT):
                        return await sub.__anext__()

        assert anyio.run(scenario) == ResourceUpdated(uri=ALPHA)
