"""Where a running `vaultsync serve` answers, for the other front ends.

`serve` writes `<db>.serve.json` beside the mirror ({"url", "pid", "host"}, mode 0600)
once it listens, and removes it when it stops; the Datasette plugin links pages to
the graph view at that URL, and to nothing when no server of this mirror is running.
A record left by a killed server names a dead pid and is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

from ..mirror import replace_private_file
from ..read import pid_alive


def address_path(db: Path) -> Path:
    return Path(str(db) + ".serve.json")


def browser_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens for a server bound to host:port."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"  # a wildcard address is reachable on loopback
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def publish(db: Path, url: str) -> None:
    """Record that this process serves the mirror `db` at `url`."""
    replace_private_file(address_path(db), json.dumps(
        {"url": url, "pid": os.getpid(), "host": socket.gethostname()}))


def withdraw(db: Path) -> None:
    """Remove the record, if it is still this process's (a later server may own it)."""
    path = address_path(db)
    if _read(path).get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


def running_url(db: Path) -> str | None:
    """The URL of a live `vaultsync serve` of the mirror `db`, or None."""
    record = _read(address_path(db))
    pid, url = record.get("pid"), record.get("url")
    if not isinstance(pid, int) or not isinstance(url, str) or not url.startswith("http"):
        return None
    if record.get("host") != socket.gethostname() or not pid_alive(pid):
        return None
    return url


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
