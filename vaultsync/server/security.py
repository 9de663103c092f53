"""What keeps a local service that reads a person's notes private.

Three checks, in one ASGI middleware, before any route runs:

1. Host: the Host header must name the loopback address the server listens on
   (``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT``). A web page that
   rebinds its own DNS name to 127.0.0.1 still sends its own name as Host, so it is
   refused (400) before it can read anything, including the view page that carries
   the token. ``--allow-remote`` turns this check off.
2. CORS: a request that carries an Origin must come from the server's own origin
   or from Obsidian's app (``app://obsidian.md``); any other origin gets 403, and
   only the allowed ones get ``Access-Control-Allow-*`` headers, so no other web
   page can read a response even when it guesses the token.
3. Token: every ``/api`` and ``/mcp`` request needs ``Authorization: Bearer <token>``;
   the event stream may pass ``?token=`` instead, since EventSource cannot set headers.

The token is made with ``secrets.token_urlsafe`` on first start and kept next to
the mirror as ``<db>.token`` with 0600 permissions.

Why the view page may carry the token (``GET /`` puts it in a meta tag, unauthenticated):
the token exists to stop *web pages* from reading the API through the user's browser.
A page from another site cannot read ``GET /``: a cross-origin fetch gets no
``Access-Control-Allow-Origin`` (and a request with its Origin is refused outright),
the page is served with ``X-Frame-Options: DENY`` / ``frame-ancestors 'none'`` so it
cannot be framed, and a DNS-rebinding page reaches us with its own name in Host and gets
400. What can read ``GET /`` is a process on this machine talking to 127.0.0.1 directly;
one running as the same user can read ``<db>.token`` (and the vault) anyway. On a
machine shared with other users, their processes could fetch the page too: the same
exposure as any loopback service (Obsidian's Local REST API included). With
``--allow-remote`` the page carries no token and asks for it instead.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..mirror import replace_private_file

OBSIDIAN_ORIGIN = "app://obsidian.md"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# Paths that may carry the token in the query string (EventSource cannot set headers).
QUERY_TOKEN_PATHS = ("/api/events",)
# Everything under these needs the token: the HTTP API and the MCP endpoint.
TOKEN_PREFIXES = ("/api", "/mcp")


def token_path(db: Path) -> Path:
    """Where the token of the mirror `db` is kept: `<db>.token`, beside the mirror."""
    return Path(str(db) + ".token")


def load_token(db: Path) -> str | None:
    """The stored token, or None when there is none yet."""
    path = token_path(db)
    try:
        value = path.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def ensure_token(db: Path, *, rotate: bool = False) -> tuple[str, bool]:
    """The mirror's token and whether it was created now.

    Made with `secrets.token_urlsafe(32)` and written with mode 0600 (created so, never
    widened later); a token file that group or others can read is narrowed to 0600.
    """
    path = token_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not rotate:
        existing = load_token(db)
        if existing:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                os.chmod(path, 0o600)
            return existing, False
    token = secrets.token_urlsafe(32)
    replace_private_file(path, token + "\n")
    return token, True


@dataclass(frozen=True)
class SecurityPolicy:
    token: str
    allow_remote: bool = False
    extra_origins: tuple[str, ...] = (OBSIDIAN_ORIGIN,)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _server_port(scope: Scope) -> int | None:
    server = scope.get("server")
    return int(server[1]) if server and server[1] is not None else None


def host_allowed(host: str | None, port: int | None) -> bool:
    """Host header is one of the loopback names with the port the server listens on."""
    if not host:
        return False
    host = host.strip().lower()
    allowed = {f"{name}:{port}" for name in LOOPBACK_NAMES} if port else set()
    if port == 80:
        allowed |= set(LOOPBACK_NAMES)
    return host in allowed


def own_origins(scope: Scope, headers: dict[str, str], policy: SecurityPolicy) -> set[str]:
    """The origins that are this server: the Host it was reached by (already checked)."""
    scheme = scope.get("scheme", "http")
    host = headers.get("host", "").strip().lower()
    origins = {f"{scheme}://{host}"} if host else set()
    port = _server_port(scope)
    if not policy.allow_remote and port:
        origins |= {f"{scheme}://{name}:{port}" for name in LOOPBACK_NAMES}
    return origins


def bearer_ok(scope: Scope, headers: dict[str, str], token: str) -> bool:
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip() and \
            secrets.compare_digest(value.strip().encode(), token.encode()):
        return True
    if scope.get("path") in QUERY_TOKEN_PATHS:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        for value in query.get("token", []):
            if secrets.compare_digest(value.encode(), token.encode()):
                return True
    return False


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-store"), *(headers or []),
    ]})
    await send({"type": "http.response.body", "body": data})


class SecurityMiddleware:
    """Host check, CORS and the bearer token, for every HTTP request."""

    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if not self.policy.allow_remote and \
                not host_allowed(headers.get("host"), _server_port(scope)):
            await send_json(send, 400, {"error": "Host header not allowed: this server only "
                                        "answers to 127.0.0.1 or localhost on its own port"})
            return
        origin = headers.get("origin")
        cors: list[tuple[bytes, bytes]] = []
        if origin is not None:
            allowed = own_origins(scope, headers, self.policy) | set(self.policy.extra_origins)
            if origin.lower() not in allowed:
                await send_json(send, 403, {"error": f"origin not allowed: {origin}"},
                                [(b"vary", b"Origin")])
                return
            cors = [(b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-expose-headers", b"Mcp-Session-Id"),
                    (b"vary", b"Origin")]
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await send({"type": "http.response.start", "status": 204, "headers": [
                    *cors,
                    (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
                    (b"access-control-allow-headers", b"Authorization, Content-Type, "
                     b"Last-Event-ID, Cache-Control, Accept, Mcp-Session-Id, "
                     b"Mcp-Protocol-Version"),
                    (b"access-control-max-age", b"600"),
                    (b"content-length", b"0"),
                ]})
                await send({"type": "http.response.body", "body": b""})
                return
        path: str = scope.get("path", "")
        if any(path == p or path.startswith(p + "/") for p in TOKEN_PREFIXES) and \
                not bearer_ok(scope, headers, self.policy.token):
            await send_json(send, 401, {"error": "missing or wrong token: send "
                                        "'Authorization: Bearer <token>' (vaultsync token "
                                        "prints it)"},
                            [*cors, (b"www-authenticate", b'Bearer realm="vaultsync"')])
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *cors,
                                      (b"x-content-type-options", b"nosniff"),
                                      (b"referrer-policy", b"no-referrer")]
            await send(message)

        await self.app(scope, receive, send_with_headers)
