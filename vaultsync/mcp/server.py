"""`vaultsync mcp`: the vault's knowledge graph for AI assistants, over the Model Context
Protocol (the official SDK's `MCPServer`).

One server, two transports: stdio for `vaultsync mcp` (an assistant app starts it), and
streamable HTTP at `/mcp` inside `vaultsync serve`, behind the API's token, Host and
Origin checks. Every tool only reads the mirror (see tools.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import (
    CallToolResult,
    InputRequiredResult,
    SubscribeRequestParams,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from pydantic import ValidationError
from starlette.routing import Route

from .. import __version__, read
from ..config import Config
from ..platform import stop_signals
from .live import Notifier
from .tools import Vault, VaultTools, compact_schema

if TYPE_CHECKING:
    from ..sync import ProgressCallback

log = logging.getLogger("vaultsync.mcp")

INSTRUCTIONS = """\
This server reads one Obsidian-style vault (Markdown pages with [[wikilinks]]) through \
vaultsync's SQLite mirror of it: pages, links, tags, citations of source pages, and graph \
metrics (PageRank, communities). Everything is read-only. Start with `search` (words) or \
`report` (central, orphans, wanted, summary, ...); `get_page` takes a path or a link as \
written ([[Name]]) and gives backlinks, sources and metrics; `neighbors` walks the link \
graph up to 3 links away; `query` runs read-only SQL (schema: the resource \
vault://schema); `status` says whether the mirror is live; `changes` says what changed \
since a cursor it gives you; `unlinked_mentions` finds pages that name a page without \
linking to it, and `related` the pages the graph suggests linking (shared sources, \
shared neighbours). Subscribe to vault://page/{path} (subscriptions/listen, or \
resources/subscribe) to hear when a page changes, and to the resource list to hear \
when pages are added, removed or renamed. Answers are bounded: `truncated` says what \
was left out."""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)

QUERY_DESCRIPTION = """\
Run one read-only SQL statement (SQLite) over the vault's mirror and get rows as objects. \
Only reading is allowed: SELECT (WITH, joins, FTS5 MATCH, json_extract) and the PRAGMAs \
that describe tables; anything that writes, ATTACH, transactions, a PRAGMA that sets a \
value, or a second statement is refused. A statement is stopped after {seconds:g} s, \
and no string or BLOB may exceed {value_mib:g} MiB. At \
most `limit` rows come back; long values are cut. Paths are vault-relative with .md; \
page_id, source_id, target_id and source_page_id refer to pages.id. Tables and views \
(the resource vault://schema describes each):
{schema}"""


class VaultServer(MCPServer):
    """MCPServer whose tool errors are one sentence in vaultsync's words: what was wrong
    and the valid choices, without the SDK's prefix or pydantic's report and URL."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None
                        ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            tool = self._tool_manager.get_tool(name)
            if tool is None:
                names = ", ".join(t.name for t in self._tool_manager.list_tools())
                raise ToolError(f"there is no tool named {name!r}; the tools are {names}"
                                ) from None
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(argument_errors(name, exc.__cause__, tool.parameters)
                                ) from None
            text = str(exc).removeprefix(f"Error executing tool {name}: ")
            raise ToolError(text) from None


def argument_errors(tool: str, exc: ValidationError, schema: dict[str, Any]) -> str:
    """Pydantic's errors for a tool's arguments as one sentence naming what is valid."""
    properties = schema.get("properties", {})
    said: list[str] = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "the arguments"
        spec = properties.get(str(error["loc"][0]) if error["loc"] else "", {})
        given = error.get("input")
        choices = _choices(spec)
        if error["type"] == "missing":
            said.append(f"{field} is required")
        elif error["type"] == "extra_forbidden":
            said.append(f"{tool} takes no argument {field}; it takes "
                        f"{', '.join(properties) or 'none'}")
        elif tool == "report" and field == "name":
            said.append(f"there is no report named {given!r}; choose one of {choices}")
        elif choices:
            said.append(f"{field} must be one of {choices}, not {given!r}")
        elif "minimum" in _bounds(spec) or "maximum" in _bounds(spec):
            low, high = _bounds(spec).get("minimum"), _bounds(spec).get("maximum")
            span = (f"from {low:,} to {high:,}" if low is not None and high is not None
                    else f"at least {low:,}" if low is not None else f"at most {high:,}")
            said.append(f"{field} must be a whole number {span}, not {given!r}")
        else:
            kind = _bounds(spec).get("type", "a value of another type")
            said.append(f"{field} must be {kind}, not {given!r}")
    return f"{tool}: " + "; ".join(dict.fromkeys(said))


def _bounds(spec: dict[str, Any]) -> dict[str, Any]:
    """The schema of an argument, looking inside `anyOf` (an optional argument)."""
    for option in spec.get("anyOf", [spec]):
        if option.get("type") != "null":
            return dict(option)
    return spec


def _choices(spec: dict[str, Any]) -> str:
    values = _bounds(spec).get("enum") or []
    return ", ".join(str(v) for v in values)


def build_server(vault: Vault, *, notifier: Notifier | None = None) -> MCPServer:
    """The MCP server for one mirror: read-only tools, two resources, and notifications
    when pages change (see live.py) while it runs."""
    bus = InMemorySubscriptionBus() if notifier is None else notifier.bus
    live = notifier or Notifier(vault.config.db, bus)
    # MCPServer sets up the root logger (a Rich handler on stderr); vaultsync's front
    # ends set up their own logging, so put the root logger back as it was.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        server: MCPServer = VaultServer("vaultsync", title="vaultsync", version=__version__,
                                      instructions=INSTRUCTIONS, subscriptions=bus,
                                      lifespan=lambda _: live.running(),
                                      middleware=[live.observe])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    server.notifier = live  # type: ignore[attr-defined]
    # Clients of protocols before 2026-07-28 subscribe with resources/subscribe and
    # learn of list changes when the server says it sends them; MCPServer registers
    # neither (it serves subscriptions/listen), so they are added to its low-level
    # server here.
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams,
                                 live.subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams,
                                 live.unsubscribe)
    options = lowlevel.create_initialization_options

    def initialization_options(notification_options: NotificationOptions | None = None,
                               *args: Any, **kwargs: Any) -> Any:
        return options(notification_options or NotificationOptions(resources_changed=True),
                       *args, **kwargs)

    lowlevel.create_initialization_options = initialization_options  # type: ignore[method-assign]
    tools = VaultTools(vault)
    titles = {"search": "Search the vault", "get_page": "Read a page and its links",
              "neighbors": "Local link graph of a page", "report": "A vault report",
              "query": "Read-only SQL over the mirror", "status": "Is the mirror live?",
              "changes": "What changed since a cursor or time",
              "unlinked_mentions": "Pages that name a page without linking to it",
              "related": "Pages that likely deserve a link"}
    for fn in (tools.search, tools.get_page, tools.neighbors, tools.status, tools.changes,
               tools.unlinked_mentions, tools.related):
        server.add_tool(fn, title=titles[fn.__name__], annotations=READ_ONLY,
                        structured_output=True)
    server.add_tool(tools.report, title=titles["report"], annotations=READ_ONLY,
                    structured_output=True, description=report_description())
    server.add_tool(tools.query, title=titles["query"], annotations=READ_ONLY,
                    structured_output=True, description=query_description(vault))
    server.resource("vault://page/{+path}", name="page", title="A page's Markdown",
                    mime_type="text/markdown",
                    description="The Markdown of the page at a vault path (e.g. "
                                "vault://page/concepts/backpressure.md): its frontmatter "
                                "and body, as the mirror holds them")(tools.page_markdown)
    server.resource("vault://schema", name="schema", title="The mirror's schema",
                    mime_type="text/markdown",
                    description="The public tables and views of the mirror, for the query "
                                "tool")(tools.schema_markdown)
    return server


def report_description() -> str:
    """The report tool's description, from the reports' declarations."""
    names = "; ".join(f"{spec.name} ({spec.description})" for spec in read.REPORTS.values())
    return ("A report of `vaultsync report`, by the same name and with the same rows: "
            f"{names}. `kind` keeps pages of one kind (central: any kind, sources "
            "included); `limit` cuts the rows (summary: the top entries per section).")


def query_description(vault: Vault) -> str:
    try:
        with vault.connection() as conn:
            schema = compact_schema(read.schema(conn))
    except Exception:  # no mirror yet: the resource still describes it later
        schema = "(read vault://schema)"
    return QUERY_DESCRIPTION.format(seconds=vault.query_time_limit,
                                    value_mib=vault.query_value_bytes / 1024 / 1024,
                                    schema=schema)


# --- streamable HTTP, inside `vaultsync serve` ------------------------------------------

def http_endpoint(vault: Vault) -> tuple[Route, Callable[[Any], AbstractAsyncContextManager[
        None]]]:
    """The `/mcp` route for `vaultsync serve` and the lifespan that runs its sessions.
    The serve app's middleware already checks the token, Host and Origin (and
    `--allow-remote` relaxes the Host check), so the SDK's own Host check is off."""
    app = build_server(vault).streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async with app.router.lifespan_context(app):
            yield

    return Route("/mcp", endpoint=app), lifespan


# --- stdio: `vaultsync mcp` ---------------------------------------------------------------

def serve_stdio(config: Config, *, watch: bool, say: Callable[[str], None],
                progress: ProgressCallback | None = None) -> None:
    """What `vaultsync mcp` does: sync first if the mirror was never made, with `watch`
    run the daemon in a thread (unless a `vaultsync watch` already keeps the mirror),
    then answer on stdin/stdout until the client closes them. Blocks."""
    import anyio

    from ..graph import MetricsOnDemand
    from ..vault import Vault as FrontDoor
    from ..watch import start_in_thread

    if not config.db.exists():
        say(f"vaultsync mcp: first sync of {config.vault} into {config.db}")
    liveness = FrontDoor(config=config).prepare(watch=watch, progress=progress)
    if liveness.first_sync is not None:
        say("\n".join([liveness.first_sync.summary(), *liveness.first_sync.warnings]))
    vault = Vault(config, MetricsOnDemand(config.db), in_process=liveness.in_process)
    server = build_server(vault)
    stop = threading.Event()
    stopping = threading.Event()
    daemons: list[threading.Thread] = []

    # A client closes stdin to stop the server (the loop below then returns), and
    # signals only one that does not exit. The loop cannot be stopped while a thread
    # waits on stdin, so a signal stops the daemon (it rolls back a batch in progress)
    # and leaves. The handler only sets an event: the main thread may be holding a lock
    # the daemon needs (an import's), so the waiting happens in a thread of its own.
    def finish() -> None:
        stopping.wait()
        stop.set()
        for thread in daemons:
            thread.join(10)
        sys.stderr.flush()
        os._exit(0)

    def terminate(signum: int, frame: object) -> None:
        if stopping.is_set():
            os._exit(0)  # asked twice: do not wait for the daemon
        stopping.set()

    threading.Thread(target=finish, name="vaultsync-mcp-stop", daemon=True).start()
    previous = {sig: signal.signal(sig, terminate) for sig in stop_signals()}
    try:
        if vault.in_process or liveness.standby:
            # Beside a running daemon, on standby: when it stops, this server takes over.
            daemons.append(start_in_thread(config, stop, say, standby=liveness.standby))
        live = liveness.description
        say(f"vaultsync mcp: serving {config.vault} over stdio (mirror {config.db}; {live})")
        anyio.run(server.run_stdio_async)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop.set()
        for thread in daemons:
            thread.join(10)
