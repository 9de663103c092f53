"""`vaultsync serve`: the local HTTP API and the graph view, as one Starlette app.

Every read opens a short read-only connection to the mirror (WAL: readers never block
the writer, whether the daemon runs in this process or another). JSON endpoints are
plain functions, so Starlette runs them in its thread pool off the event loop.

Metrics (PageRank, communities) are computed by `graph.ensure_metrics`. When a request
that shows them finds them missing or older than the graph, and no live daemon owns
the mirror (a daemon recomputes them itself after each batch), the server starts one
computation in a background thread (never two at once): core metrics first, then the
heavy ones (communities, betweenness). The request waits for the core metrics for at
most `metrics_wait` seconds and is otherwise answered with what the mirror has
(`meta.metrics.fresh` says which), and for communities at most `heavy_wait` more; when
a run commits, `/api/events` sends `metrics` and the view recolours.
"""

from __future__ import annotations

import contextlib
import html
import logging
import socket
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from ..mirror import Mirror, connect
from . import queries
from .openapi import openapi_document
from .queries import BadRequest, NotFound
from .security import SecurityMiddleware, SecurityPolicy
from .sse import event_stream

if TYPE_CHECKING:
    from ..sync import ProgressCallback

log = logging.getLogger("vaultsync.server")

STATIC_DIR = Path(__file__).resolve().parent / "static"
BUNDLE = STATIC_DIR / "bundle.js"
BUILD_HINT = "bash scripts/build_view.sh"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class MirrorMissing(Exception):
    """No mirror database yet (503)."""


# --- metrics ------------------------------------------------------------------------------

class MetricsGuard:
    """Computes stale metrics on demand, once at a time, in a background thread."""

    def __init__(self, db: Path, *, enabled: bool = True, wait: float = 10.0,
                 heavy_wait: float = 3.0) -> None:
        self.db = db
        self.enabled = enabled
        self.wait = wait
        self.heavy_wait = heavy_wait
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._events: tuple[threading.Event, threading.Event] | None = None
        self._thread: threading.Thread | None = None

    @property
    def computing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def ensure(self, conn: sqlite3.Connection) -> None:
        """Called by requests that show metrics; returns at once when they are fresh.
        Waits up to `wait` seconds for stale core metrics, then up to `heavy_wait` more
        for communities (a small vault gets both in its first answer; a big one gets
        communities later, announced by a `metrics` event)."""
        if not self.enabled:
            return
        state = queries.metrics_state(conn)
        if state["fresh"] and state["heavy_fresh"] and not queries.layout_wanted(conn):
            return
        status = queries.daemon_status(conn)
        if status and status["alive"]:
            return  # the daemon recomputes after its batches; don't fight it for the lock
        events = self._start()
        if events is None:
            return
        core_done, all_done = events
        if not state["fresh"]:
            core_done.wait(self.wait)
        all_done.wait(self.heavy_wait)

    def _start(self) -> tuple[threading.Event, threading.Event] | None:
        try:
            from .. import graph
        except ImportError:
            return None
        if not hasattr(graph, "ensure_metrics"):
            return None
        with self._lock:
            if self.computing and self._events is not None:
                return self._events
            events = (threading.Event(), threading.Event())
            self._events = events
            self._thread = threading.Thread(target=self._run, args=(graph.ensure_metrics, events),
                                            name="vaultsync-metrics", daemon=True)
            self._thread.start()
            return events

    def _run(self, ensure_metrics: Callable[..., None],
             events: tuple[threading.Event, threading.Event]) -> None:
        core_done, all_done = events
        try:
            with Mirror(self.db) as mirror:
                ensure_metrics(mirror, heavy=False)
                core_done.set()
                ensure_metrics(mirror, heavy=True)
                from ..layout import ensure_layout

                ensure_layout(mirror)
            self.last_error = None
        except Exception as exc:  # a failed run must not take a request down with it
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("metrics computation failed: %s", self.last_error)
        finally:
            core_done.set()
            all_done.set()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


# --- app ----------------------------------------------------------------------------------

@dataclass
class ServerState:
    config: Config
    token: str
    allow_remote: bool
    metrics: MetricsGuard
    stopping: threading.Event = field(default_factory=threading.Event)
    watch: bool = False
    daemon_error: str | None = None


def _state(request: Request) -> ServerState:
    return request.app.state.vaultsync


@contextlib.contextmanager
def read_conn(db: Path) -> Iterator[sqlite3.Connection]:
    """A short read-only connection; MirrorMissing when there is no mirror yet."""
    if not db.exists():
        raise MirrorMissing(f"no mirror at {db} yet: run `vaultsync sync` (or serve --watch)")
    conn = connect(db, readonly=True)
    try:
        yield conn
    finally:
        conn.close()


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status,
                        headers={"cache-control": "no-store"})


def _json(data: Any) -> JSONResponse:
    return JSONResponse(data, headers={"cache-control": "no-store"})


def _include(request: Request) -> tuple[str, ...]:
    return queries.parse_include(request.query_params.getlist("include"))


def _graph_format(request: Request) -> str:
    value = request.query_params.get("format") or "full"
    if value not in ("full", "compact"):
        raise BadRequest(f"format must be full or compact, not {value!r}")
    return value


def api_graph(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    include = _include(request)
    shape = _graph_format(request)
    limit = queries.parse_int(q.get("limit"), "limit", lo=1, hi=1_000_000, default=None)
    min_pagerank = queries.parse_float(q.get("min_pagerank"), "min_pagerank")
    with read_conn(state.config.db) as conn:
        state.metrics.ensure(conn)
        data = queries.graph(conn, kinds=queries.split_list(q.getlist("kind")),
                             tags=queries.split_list(q.getlist("tag")),
                             min_pagerank=min_pagerank, include=include, limit=limit)
    data["meta"]["metrics"]["computing"] = state.metrics.computing
    return _json(queries.compact(data) if shape == "compact" else data)


def api_graph_local(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    path = queries.check_vault_path(q.get("path", ""))
    depth = queries.parse_int(q.get("depth"), "depth", lo=1, hi=queries.MAX_DEPTH, default=1)
    direction = q.get("direction", "both")
    if direction not in queries.DIRECTIONS:
        raise BadRequest(f"direction must be one of {', '.join(queries.DIRECTIONS)}, "
                         f"not {direction!r}")
    include = _include(request)
    shape = _graph_format(request)
    with read_conn(state.config.db) as conn:
        state.metrics.ensure(conn)
        data = queries.local_graph(conn, path, depth=depth or 1, direction=direction,
                                   include=include)
    return _json(queries.compact(data) if shape == "compact" else data)


def api_page(request: Request) -> Response:
    state = _state(request)
    path = queries.check_vault_path(request.path_params["path"])
    body = request.query_params.get("body", "") in ("1", "true", "yes")
    with read_conn(state.config.db) as conn:
        state.metrics.ensure(conn)
        return _json(queries.page(conn, path, body=body))


def api_search(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    limit = queries.parse_int(q.get("limit"), "limit", lo=1, hi=200, default=20)
    with read_conn(state.config.db) as conn:
        return _json(queries.search(conn, q.get("q", ""), limit=limit or 20))


def _reports_module() -> Any:
    try:
        from .. import reports
    except ImportError:
        return None
    return reports


def api_reports(request: Request) -> Response:
    reports = _reports_module()
    if reports is None:
        return error(503, "reports are not available in this build of vaultsync")
    return _json({"reports": list(reports.REPORT_NAMES)})


def api_report(request: Request) -> Response:
    state = _state(request)
    reports = _reports_module()
    if reports is None:
        return error(503, "reports are not available in this build of vaultsync")
    name = request.path_params["name"]
    if name not in reports.REPORT_NAMES:
        return error(404, f"no report named {name!r}", reports=list(reports.REPORT_NAMES))
    q = request.query_params
    limit = queries.parse_int(q.get("limit"), "limit", lo=0, hi=1_000_000, default=None)
    kind = q.get("kind") or None
    with read_conn(state.config.db) as conn:
        state.metrics.ensure(conn)
        try:
            data = reports.run_report(conn, name, limit=limit, kind=kind)
        except (ValueError, KeyError) as exc:
            raise BadRequest(str(exc).strip("'\"")) from None
    return _json(data)


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
    from ..watch import read_lock_state

    with read_conn(config.db) as conn:
        out.update(read.mirror_status(conn, read_lock_state(config.db)))
        out["layout"] = queries.layout_state(conn)
    out["metrics"]["computing"] = state.metrics.computing
    out["metrics"]["last_error"] = state.metrics.last_error
    return _json(out)


async def api_events(request: Request) -> Response:
    state = _state(request)
    if not state.config.db.exists():
        raise MirrorMissing(f"no mirror at {state.config.db} yet")
    raw = request.headers.get("last-event-id") or request.query_params.get("last_id")
    last_id = queries.parse_int(raw, "last_id", lo=0, hi=2**62, default=None)
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
                        metrics=MetricsGuard(config.db, enabled=compute_metrics,
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
            BadRequest: _bad_request,
            NotFound: _not_found,
            MirrorMissing: _mirror_missing,
            sqlite3.Error: _db_error,
            500: _server_error,
        },
    )
    app.state.vaultsync = state
    return app


# --- running it -----------------------------------------------------------------------------

class ServeError(Exception):
    """A start-up failure a user can fix: one line."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


class AppServer:
    """uvicorn on an already bound socket. `run()` blocks; `stop()` works from any thread
    and also ends open event streams so shutdown does not wait on them."""

    def __init__(self, app: Starlette, sock: socket.socket, *, log_level: str = "warning"
                 ) -> None:
        import uvicorn

        self.app = app
        self.sock = sock
        self.state: ServerState = app.state.vaultsync
        stopping = self.state.stopping

        class _Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                stopping.set()
                super().handle_exit(sig, frame)

        self.server = _Server(uvicorn.Config(
            app, log_level=log_level, access_log=False, lifespan="on",
            timeout_graceful_shutdown=3, proxy_headers=False, server_header=False))

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.state.stopping.set()
        self.server.should_exit = True


def serve(config: Config, *, host: str = "127.0.0.1", port: int = 8765, watch: bool = False,
          allow_remote: bool = False, echo: Callable[[str], None] | None = None,
          progress: ProgressCallback | None = None) -> None:
    """What `vaultsync serve` does: blocks until Ctrl-C. `progress` follows a first sync."""
    from ..mirror import daemon_status
    from .address import browser_url, publish, withdraw
    from .security import ensure_token, token_path

    say = echo or (lambda line: print(line, file=sys.stderr))
    if host not in LOOPBACK_HOSTS and not allow_remote:
        raise ServeError(f"refusing to listen on {host}: only 127.0.0.1 without "
                         "--allow-remote (the API serves your notes)")
    if allow_remote:
        say(f"warning: --allow-remote: listening on {host}:{port}; anyone who can reach it "
            "and has the token can read the whole vault, over plain HTTP")
    sock = bind_socket(host, port)
    try:
        try:
            token, created = ensure_token(config.db)
        except OSError as exc:
            raise ServeError(f"cannot write the API token beside the mirror "
                             f"({exc.filename}): {exc.strerror}") from None
        if created:
            say(f"new API token (saved in {token_path(config.db)}, mode 0600; "
                f"`vaultsync token` prints it again):\n{token}")
        if not config.db.exists():
            from ..sync import sync_vault

            say(f"mirror: {config.db} (first sync)")
            say(sync_vault(config, progress=progress).summary())
        # A daemon already keeping the mirror makes this server live; a second one
        # would only be refused.
        with read_conn(config.db) as conn:
            other = daemon_status(conn) or {}
        running = bool(other.get("alive"))
        app = create_app(config, token=token, allow_remote=allow_remote,
                         watch=watch and not running)
        server = AppServer(app, sock)
        stop_daemon = threading.Event()
        daemon_thread = None
        if watch and not running:
            daemon_thread = start_daemon(config, stop_daemon, app.state.vaultsync, say)
        if running:
            live = f"live: kept by the running vaultsync watch, pid {other.get('pid')}"
        elif watch:
            live = "live: watching the vault"
        else:
            live = "no --watch: run `vaultsync watch` for live updates"
        url = f"http://{f'[{host}]' if ':' in host else host}:{server.port}/"
        say(f"vaultsync: serving {config.vault} at {url} ({live}); Ctrl-C to stop")
        if not BUNDLE.exists():
            say(f"note: the graph view is not built; run `{BUILD_HINT}` (needs Node.js)")
        publish(config.db, browser_url(host, server.port))
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            withdraw(config.db)
            stop_daemon.set()
            if daemon_thread is not None:
                daemon_thread.join(10)
    finally:
        sock.close()


def start_daemon(config: Config, stop: threading.Event, state: ServerState,
                 say: Callable[[str], None]) -> threading.Thread | None:
    """The watch daemon in a thread of this process (`serve --watch`)."""
    try:
        from ..watch import Daemon
    except ImportError:
        state.daemon_error = "this build of vaultsync has no watch daemon"
        say(f"warning: --watch: {state.daemon_error}")
        return None
    watch_log = logging.getLogger("vaultsync.watch")
    watch_log.setLevel(logging.INFO)
    if not watch_log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        watch_log.addHandler(handler)

    def run() -> None:
        try:
            Daemon(config, metrics=True).run(stop)
        except Exception as exc:
            state.daemon_error = str(exc)
            say(f"warning: --watch: the daemon did not start: {exc}")

    thread = threading.Thread(target=run, name="vaultsync-daemon", daemon=True)
    thread.start()
    return thread
