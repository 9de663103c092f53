"""The local HTTP API and graph view (`vaultsync serve`). See app.py."""

from __future__ import annotations

from .app import AppServer, ServeError, create_app, serve
from .security import ensure_token, load_token, token_path

__all__ = ["AppServer", "ServeError", "create_app", "ensure_token", "load_token", "serve",
           "token_path"]
