"""Running `vaultsync serve`: the listening socket, the API token, a first sync, the
daemon in a thread for `--watch`, and uvicorn until Ctrl-C."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from ..config import Config
from .app import BUILD_HINT, BUNDLE, ServerState, create_app
from .protocol import HEADER_TIMEOUT

if TYPE_CHECKING:
    from ..sync import ProgressCallback

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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
    and also ends open event streams so shutdown does not wait on them. A connection
    that has not sent a request's complete headers within `header_timeout` seconds is
    closed (server.protocol)."""

    def __init__(self, app: Starlette, sock: socket.socket, *, log_level: str = "warning",
                 header_timeout: float = HEADER_TIMEOUT) -> None:
        import uvicorn

        from .protocol import protocol_with_header_timeout

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
            timeout_graceful_shutdown=3, proxy_headers=False, server_header=False,
            # A connection must send a request's headers within `header_timeout`.
            http=protocol_with_header_timeout(header_timeout)))

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
    from ..vault import Vault
    from .address import browser_url, publish, withdraw
    from .security import ensure_token, token_path

    say = echo or (lambda line: print(line, file=sys.stderr))
    vault = Vault(config=config)
    # Another vault's mirror is refused (a damaged one moved aside) before a port is
    # bound or a token written beside it; `prepare` below does not check it again.
    vault.check_mirror()
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
            say(f"mirror: {config.db} (first sync)")
        # A daemon already keeping the mirror makes this server live; a second one
        # would only be refused.
        liveness = vault.prepare(watch=watch, progress=progress)
        if liveness.first_sync is not None:
            say(liveness.first_sync.summary())
            for warning in liveness.first_sync.warnings:
                say(warning)
        app = create_app(config, token=token, allow_remote=allow_remote,
                         watch=liveness.in_process)
        server = AppServer(app, sock)
        stop_daemon = threading.Event()
        daemon_thread = None
        if liveness.in_process or liveness.standby:
            # Beside a running daemon, on standby: when it stops, this server takes over.
            daemon_thread = start_daemon(config, stop_daemon, app.state.vaultsync, say,
                                         standby=liveness.standby)
        live = liveness.description
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
            app.state.vaultsync.metrics.stop()
            stop_daemon.set()
            if daemon_thread is not None:
                daemon_thread.join(10)
    finally:
        sock.close()


def start_daemon(config: Config, stop: threading.Event, state: ServerState,
                 say: Callable[[str], None], *, standby: bool = False) -> threading.Thread:
    """The watch daemon in a thread of this process (`serve --watch`), its batches logged
    one line each; with `standby`, once the running daemon it waits for stops."""
    from ..watch import start_in_thread

    watch_log = logging.getLogger("vaultsync.watch")
    watch_log.setLevel(logging.INFO)
    if not watch_log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        watch_log.addHandler(handler)

    def failed(exc: Exception) -> None:
        state.daemon_error = str(exc)

    def ready() -> None:
        state.watch = True
        if standby:
            say("vaultsync: the running vaultsync watch stopped; this server keeps the "
                "mirror live now")

    return start_in_thread(config, stop, say, on_error=failed, standby=standby,
                           on_ready=ready)
