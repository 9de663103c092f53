"""`vaultsync datasette`: make sure there is a mirror, then run Datasette on it.

Datasette runs in this process (its own click `serve` command), not as a child: Ctrl-C
and SIGTERM reach it directly, no orphan is left behind, and the plugin is registered
explicitly even where the entry-point metadata is stale. Datasette opens the mirror
read-only (`mode=ro`); the mirror is in WAL mode, so a daemon may write meanwhile and
every query sees one committed snapshot.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import Config

NOT_INSTALLED = "Datasette is not installed: pip install 'vaultsync[datasette]'"
DEFAULT_PORT = 8001
HOST = "127.0.0.1"


def datasette_installed() -> bool:
    return importlib.util.find_spec("datasette") is not None


def ensure_mirror(config: Config, *, workers: int | None = None) -> str | None:
    """Sync once when the mirror is missing or has never been synced / has no pages;
    returns the sync summary, or None when the mirror was used as it is."""
    from ..mirror import Mirror
    from ..sync import Syncer

    with Mirror(config.db) as mirror:
        synced = mirror.get_meta("last_sync_at")
        pages = mirror.conn.execute("SELECT count(*) FROM pages").fetchone()[0]
        if synced is not None and pages:
            return None
        return Syncer(config, mirror, workers=workers).sync().summary()


def serve_args(db: Path, port: int, extra: Sequence[str] = ()) -> list[str]:
    """Arguments for Datasette's `serve`; `extra` comes last, so it can override."""
    return ["serve", str(db), "--host", HOST, "--port", str(port), *extra]


def run(config: Config, port: int = DEFAULT_PORT, extra: Sequence[str] = ()) -> None:
    """Start Datasette on the mirror (blocks until Datasette stops; exits the process)."""
    from datasette.cli import cli as datasette_cli

    from . import ensure_registered

    ensure_registered()
    print(f"Datasette: http://{HOST}:{port}/{config.db.stem} (mirror {config.db})",
          file=sys.stderr, flush=True)
    datasette_cli.main(args=serve_args(config.db, port, extra),
                       prog_name="vaultsync datasette")
