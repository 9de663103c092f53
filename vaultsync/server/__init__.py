"""The local HTTP API, graph view and MCP endpoint (`vaultsync serve`): the app's routes
(app.py), running it (run.py), checking what clients send (params.py, security.py),
the event stream (sse.py) and its OpenAPI document."""

from __future__ import annotations

from .app import create_app
from .run import AppServer, ServeError, serve
from .security import ensure_token, load_token, token_path

__all__ = ["AppServer", "ServeError", "create_app", "ensure_token", "load_token", "serve",
           "token_path"]
