"""The MCP server (`vaultsync mcp`, and `/mcp` in `vaultsync serve`). See server.py."""

from __future__ import annotations

from .server import build_server, http_endpoint, serve_stdio
from .tools import Vault, VaultTools

__all__ = ["Vault", "VaultTools", "build_server", "http_endpoint", "serve_stdio"]
