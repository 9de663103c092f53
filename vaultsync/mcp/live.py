"""Telling subscribed assistants that the vault changed.

The notifier follows the mirror's `sync_log`: every batch committed by a daemon (this
process's with `--watch`, or another `vaultsync watch`) or a `vaultsync sync` adds a row
naming the paths it wrote and removed. New rows are read every `POLL` seconds in a
worker thread with a short read-only connection, so the server's event loop never waits
on SQLite. The first change after a quiet spell is told at once; what follows within
`COALESCE` seconds is gathered and told together: a `git checkout` of 5,000 pages,
whatever number of batches it takes, is at most one `resources/updated` per subscribed
page and one `resources/list_changed` per interval.

Both ways a client subscribes are served:
- `subscriptions/listen` (protocol 2026-07-28): events go on the server's subscription
  bus, which delivers each only to the streams that asked for it;
- `resources/subscribe` (earlier protocols): sessions are told of the pages they
  subscribed to, and every session of those protocols of changes to the list of pages
  (the server says it sends them), directly. A send that does not
  finish in `SEND_TIMEOUT` seconds is given up, so one stuck client delays no other.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated, SubscriptionBus
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from ..mirror import connect

log = logging.getLogger("vaultsync.mcp")

PAGE_URI = "vault://page/"
POLL = 0.2  # seconds between looks at sync_log (one indexed max(id) query)
COALESCE = 0.5  # seconds changes are gathered before clients are told
SEND_TIMEOUT = 5.0


def page_uri(path: str) -> str:
    return PAGE_URI + path


@dataclass
class Pending:
    """What clients have not been told yet."""

    uris: set[str] = field(default_factory=set)
    list_changed: bool = False
    since: float | None = None  # when the first of these was read

    def add(self, uris: set[str], list_changed: bool) -> None:
        if uris or list_changed:
            self.uris |= uris
            self.list_changed = self.list_changed or list_changed
            if self.since is None:
                self.since = time.monotonic()

    def take(self) -> tuple[set[str], bool]:
        out = (self.uris, self.list_changed)
        self.uris, self.list_changed, self.since = set(), False, None
        return out


def read_batches(db: Path, after: int | None) -> tuple[int, set[str], bool]:
    """(the last batch id, the page URIs batches after `after` touched, whether pages
    came or went). `after` None: only the last id, nothing touched."""
    if not db.exists():
        return (after or 0), set(), False
    try:
        conn = connect(db, readonly=True)
    except (OSError, sqlite3.Error):
        return (after or 0), set(), False
    try:
        if after is None:
            row = conn.execute("SELECT coalesce(max(id), 0) FROM sync_log").fetchone()
            return int(row[0]), set(), False
        uris: set[str] = set()
        list_changed = False
        last = after
        for batch_id, added, removed, renamed, changed, gone in conn.execute(
                "SELECT id, added, removed, renamed, changed_paths, removed_paths "
                "FROM sync_log WHERE id > ? ORDER BY id", (after,)):
            last = batch_id
            uris.update(page_uri(p) for p in json.loads(changed))
            uris.update(page_uri(p) for p in json.loads(gone))
            list_changed = list_changed or bool(added or removed or renamed)
        if last < after:  # a new mirror: ids start again
            last = 0
        return last, uris, list_changed
    except sqlite3.Error as exc:
        log.debug("notifier: cannot read sync_log: %s", exc)
        return (after or 0), set(), False
    finally:
        conn.close()


def _connection(ctx: Any) -> Any:
    """The client connection a request came on. The SDK makes a session object per
    request; its connection is the one thing that is the same for all of a client's
    requests, and it sends notifications on the connection's own channel."""
    return getattr(ctx.session, "_connection", ctx.session)


class Notifier:
    """Follows sync_log and tells subscribed clients what changed."""

    def __init__(self, db: Path, bus: SubscriptionBus, *, poll: float = POLL,
                 coalesce: float = COALESCE) -> None:
        self.db = db
        self.bus = bus
        self.poll = poll
        self.coalesce = coalesce
        # Connections of earlier protocols (resources/subscribe) and their page URIs.
        self.legacy: dict[Any, set[str]] = {}
        self.sent = 0  # notifications published or sent
        self.rounds = 0  # rounds of telling (each at most one message per subscription)
        self.told = 0  # the last batch clients were told of
        self._running = 0

    # --- resources/subscribe, resources/unsubscribe (before 2026-07-28) -------------------

    async def observe(self, ctx: Any, call_next: Any) -> Any:
        """Server middleware: a session of an earlier protocol is told of list changes
        (the server says it sends them) from its first message on."""
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self.legacy.setdefault(_connection(ctx), set())
        return await call_next(ctx)

    async def subscribe(self, ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        self.legacy.setdefault(_connection(ctx), set()).add(str(params.uri))
        return EmptyResult()

    async def unsubscribe(self, ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        self.legacy.get(_connection(ctx), set()).discard(str(params.uri))
        return EmptyResult()

    # --- following the log ----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Follow the log while the server runs (its lifespan). One follower per
        notifier: a second lifespan (another in-process client) shares the first's."""
        self._running += 1
        try:
            if self._running > 1:
                yield
                return
            async with anyio.create_task_group() as group:
                group.start_soon(self._follow)
                try:
                    yield
                finally:
                    group.cancel_scope.cancel()
        finally:
            self._running -= 1

    async def _follow(self) -> None:
        last, _, _ = await anyio.to_thread.run_sync(read_batches, self.db, None)
        pending = Pending()
        told_at = float("-inf")
        while True:
            await anyio.sleep(self.poll)
            try:
                last, uris, list_changed = await anyio.to_thread.run_sync(
                    read_batches, self.db, last)
            except Exception:  # never stop following: the next look may succeed
                log.exception("notifier: reading sync_log failed")
                continue
            pending.add(uris, list_changed)
            now = time.monotonic()
            if pending.since is None:
                self.told = last
            # The first change after a quiet interval is told at once; what follows
            # within `coalesce` seconds is gathered and told together.
            elif now - told_at >= self.coalesce or now - pending.since >= self.coalesce:
                await self.tell(*pending.take())
                self.told, told_at = last, now

    async def tell(self, uris: set[str], list_changed: bool) -> None:
        """Publish one round of changes: to listen streams through the bus (it delivers
        only what each stream asked for), and to sessions that used
        resources/subscribe."""
        self.rounds += 1
        if list_changed:
            await self.bus.publish(ResourcesListChanged())
            self.sent += 1
        for uri in sorted(uris):
            await self.bus.publish(ResourceUpdated(uri=uri))
        for connection, subscribed in list(self.legacy.items()):
            try:
                with anyio.fail_after(SEND_TIMEOUT):
                    if list_changed:
                        await connection.send_resource_list_changed()
                        self.sent += 1
                    for uri in sorted(subscribed & uris):
                        await connection.send_resource_updated(uri)
                        self.sent += 1
            except Exception as exc:  # a closed or stuck client is forgotten
                log.debug("notifier: dropping a connection: %r", exc)
                self.legacy.pop(connection, None)
