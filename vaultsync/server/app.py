"""`vaultsync serve`'s app: the local HTTP API, the graph view's page, and the MCP
endpoint, as one Starlette app. Starting and stopping it is run.py's.

Every read opens a short read-only connection to the mirror (WAL: readers never block
the writer, whether the daemon runs in this process or another) and asks `vaultsync.read`.
JSON endpoints are plain functions, so Starlette runs them in its thread pool off the
event loop. Metrics shown by a request are made current first when no daemon keeps the
mirror (graph.MetricsOnDemand): the request waits a bounded time and is otherwise
answered with what the mirror has (`meta.metrics.fresh` says which); when a run commits,
`/api/events` sends `metrics` and the view recolours.
"""

from __future__ import annotations

import html
import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__, read
from ..config import Config
from ..graph import MetricsOnDemand
from ..lock import read_lock_state
from .openapi import openapi_document
from .params import check_vault_path, parse_float, parse_include, parse_int, split_list
from .security import SecurityMiddleware, SecurityPolicy
from .sse import event_stream

log = logging.getLogger("vaultsync.server")

STATIC_DIR = Path(__file__).resolve().parent / "static"
BUNDLE = STATIC_DIR / "bundle.js"
BUILD_HINT = "bash scripts/build_view.sh"


@dataclass
class ServerState:
    config: Config
    token: str
    allow_remote: bool
    metrics: MetricsOnDemand
    stopping: threading.Event = field(default_factory=threading.Event)
    watch: bool = False
    daemon_error: str | None = None

    def __post_init__(self) -> None:
        from ..vault import Vault

        self.vault = Vault(config=self.config, metrics=self.metrics)

    def current_metrics(self, conn: sqlite3.Connection) -> None:
        """The front door's rule; a live daemon is not waited for: the view hears of
        its new metrics on the event stream."""
        self.vault.current_metrics(conn, wait_for_daemon=False)


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.vaultsync
    return state


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status,
                        headers={"cache-control": "no-store"})


def _json(data: Any) -> JSONResponse:
    return JSONResponse(data, headers={"cache-control": "no-store"})


def _include(request: Request) -> tuple[str, ...]:
    return parse_include(request.query_params.getlist("include"))


def _graph_format(request: Request) -> str:
    value = request.query_params.get("format") or "full"
    if value not in ("full", "compact"):
        raise read.BadRequest(f"format must be full or compact, not {value!r}")
    return value


def api_graph(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    include = _include(request)
    shape = _graph_format(request)
    limit = parse_int(q.get("limit"), "limit", lo=1, hi=1_000_000, default=None)
    min_pagerank = parse_float(q.get("min_pagerank"), "min_pagerank")
    with read.open_mirror(state.config.db) as conn:
        state.current_metrics(conn)
        data = read.graph(conn, kinds=split_list(q.getlist("kind")),
                          tags=split_list(q.getlist("tag")),
                          min_pagerank=min_pagerank, include=include, limit=limit)
    data["meta"]["metrics"]["computing"] = state.metrics.computing
    return _json(read.compact(data) if shape == "compact" else data)


def api_graph_local(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    path = check_vault_path(q.get("path", ""))
    depth = parse_int(q.get("depth"), "depth", lo=1, hi=read.MAX_DEPTH, default=1)
    direction = q.get("direction", "both")
    if direction not in read.DIRECTIONS:
        raise read.BadRequest(f"direction must be one of {', '.join(read.DIRECTIONS)}, "
                              f"not {direction!r}")
    include = _include(request)
    shape = _graph_format(request)
    with read.open_mirror(state.config.db) as conn:
        state.current_metrics(conn)
        data = read.local_graph(conn, path, depth=depth or 1, direction=direction,
                                include=include)
    return _json(read.compact(data) if shape == "compact" else data)


def api_page(request: Request) -> Response:
    state = _state(request)
    path = check_vault_path(request.path_params["path"])
    body = request.query_params.get("body", "") in ("1", "true", "yes")
    with read.open_mirror(state.config.db) as conn:
        state.current_metrics(conn)
        return _json(read.page(conn, path, body=body))


def api_search(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    limit = parse_int(q.get("limit"), "limit", lo=1, hi=200, default=20)
    with read.open_mirror(state.config.db) as conn:
        return _json(read.search(conn, q.get("q", ""), limit=limit or 20))


def api_changes(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    cursor = parse_int(q.get("cursor"), "cursor", lo=0, hi=2**62, default=None)
    return _json(state.vault.changes(cursor=cursor, since=q.get("since") or None))


def api_unlinked_mentions(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    limit = parse_int(q.get("limit"), "limit", lo=0, hi=100_000, default=50)
    return _json(state.vault.unlinked_mentions(q.get("page", ""), limit=limit or 0))


def api_related(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    limit = parse_int(q.get("limit"), "limit", lo=1, hi=200, default=10)
    return _json(state.vault.related(q.get("page", ""), limit=limit or 10))


def api_reports(request: Request) -> Response:
    return _json({"reports": list(read.REPORT_NAMES),
                  "declarations": [spec.as_json() for spec in read.REPORTS.values()]})


def api_report(request: Request) -> Response:
    state = _state(request)
    name = request.path_params["name"]
    if name not in read.REPORT_NAMES:
        return error(404, f"no report named {name!r}", reports=list(read.REPORT_NAMES))
    q = request.query_params
    limit = parse_int(q.get("limit"), "limit", lo=0, hi=1_000_000, default=None)
    kind = q.get("kind") or None
    with read.open_mirror(state.config.db) as conn:
        state.current_metrics(conn)
        report = read.run_report(conn, name, limit=limit, kind=kind)
    return _json(report.json())


def api_status(request: Request) -> Response:
    state = _state(request)
    config = state.config
    out: dict[str, Any] = {
        "vault": str(config.vault),
        "db": str(config.db),
        "server": {"version": __version__, "watch": state.watch,
                   "allow_remote": state.allow_remote, "view_built": BUNDLE.exists(),
                   "daemon_error": state.daemon_error},
    }
    if not config.db.exists():
        out.update(mirror=None, daemon=None, last_batch=None, counts=None, metrics=None,
                   layout=None)
        return _json(out)
    with read.open_mirror(config.db) as conn:
        out.update(read.mirror_status(conn, read_lock_state(config.db)))
        out["layout"] = read.metrics_state(conn).layout_json()
    out["metrics"]["computing"] = state.metrics.computing
    out["metrics"]["last_error"] = state.metrics.last_error
    return _json(out)


async def api_events(request: Request) -> Response:
    state = _state(request)
    if not state.config.db.exists():
        raise read.MirrorMissing(f"no mirror at {state.config.db} yet")
    raw = request.headers.get("last-event-id") or request.query_params.get("last_id")
    last_id = parse_int(raw, "last_id", lo=0, hi=2**62, default=None)
    return StreamingResponse(
        event_stream(state.config.db, last_id=last_id, stopping=state.stopping),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


def api_openapi(request: Request) -> Response:
    return _json(openapi_document(__version__))


# The page carries the token, so: never cached, never framed, scripts only from here.
_PAGE_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"),
}


def render_index(token: str | None) -> str:
    """index.html with the token in a meta tag, and the bundle's script tag, or how to
    build the bundle when it is missing."""
    page = (STATIC_DIR / "index.html").read_text("utf-8")
    page = page.replace("__VAULTSYNC_TOKEN__", html.escape(token or "", quote=True))
    if BUNDLE.exists():
        version = str(int(BUNDLE.stat().st_mtime))
        script = f'<script src="/static/bundle.js?v={version}" defer></script>'
    else:
        script = (
            '<div id="build-notice" class="notice" role="alert"><h2>The graph view is not '
            "built yet</h2><p>The API works; the page needs its JavaScript bundle. From the "
            f"vaultsync checkout run:</p><pre><code>{html.escape(BUILD_HINT)}</code></pre>"
            "<p>(it needs Node.js and npm), then reload this page.</p></div>")
    return page.replace("<!--VAULTSYNC_SCRIPT-->", script)


def index(request: Request) -> Response:
    state = _state(request)
    # With --allow-remote anyone who can reach the port could load the page, so the page
    # then asks for the token (or reads it from #token=...) instead of carrying it.
    token = None if state.allow_remote else state.token
    return HTMLResponse(render_index(token), headers=_PAGE_HEADERS)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error(404, f"not found: {request.url.path}")
    if exc.status_code == 405:
        return error(405, f"method {request.method} not allowed on {request.url.path}")
    return error(exc.status_code, str(exc.detail))


async def _bad_request(request: Request, exc: Exception) -> Response:
    return error(400, str(exc))


async def _not_found(request: Request, exc: Exception) -> Response:
    return error(404, str(exc.args[0]) if exc.args else "not found")


async def _mirror_missing(request: Request, exc: Exception) -> Response:
    return error(503, str(exc))


async def _db_error(request: Request, exc: Exception) -> Response:
    return error(503, f"mirror database error: {exc}")


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path)
    return error(500, f"internal error: {type(exc).__name__}")


def create_app(config: Config, *, token: str, allow_remote: bool = False,
               compute_metrics: bool = True, metrics_wait: float = 10.0,
               watch: bool = False) -> Starlette:
    """The ASGI app for one mirror. `token` is required on every /api request."""
    state = ServerState(config=config, token=token, allow_remote=allow_remote,
                        metrics=MetricsOnDemand(config.db, enabled=compute_metrics,
                                                wait=metrics_wait),
                        watch=watch)
    routes = [
        Route("/", index),
        Route("/index.html", index),
        Route("/api/graph", api_graph),
        Route("/api/graph/local", api_graph_local),
        Route("/api/pages/{path:path}", api_page),
        Route("/api/search", api_search),
        Route("/api/reports", api_reports),
        Route("/api/reports/{name}", api_report),
        Route("/api/changes", api_changes),
        Route("/api/unlinked-mentions", api_unlinked_mentions),
        Route("/api/related", api_related),
        Route("/api/status", api_status),
        Route("/api/events", api_events),
        Route("/api/openapi.json", api_openapi),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
    ]
    from ..mcp import Vault, http_endpoint

    mcp_route, mcp_lifespan = http_endpoint(Vault(config, state.metrics, in_process=watch))
    routes.append(mcp_route)  # MCP over streamable HTTP, behind the same checks as /api
    app = Starlette(
        routes=routes,
        lifespan=mcp_lifespan,
        middleware=[Middleware(SecurityMiddleware,
                               policy=SecurityPolicy(token=token, allow_remote=allow_remote)),
                    # 10,000 pages are ~18 MB of graph JSON, ~1.7 MB gzipped (level 4: fast).
                    # Server-sent events are never compressed (Starlette excludes them).
                    Middleware(GZipMiddleware, minimum_size=1024, compresslevel=4)],
        exception_handlers={
            HTTPException: _http_error,
            read.BadRequest: _bad_request,
            read.NotFound: _not_found,
            read.MirrorMissing: _mirror_missing,
            sqlite3.Error: _db_error,
            500: _server_error,
        },
    )
    app.state.vaultsync = state
    return app
