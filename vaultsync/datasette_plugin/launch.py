"""`vaultsync datasette`: make sure there is a mirror, then run Datasette on it.

Datasette runs in this process (its own click `serve` command), not as a child: Ctrl-C
and SIGTERM reach it directly, no orphan is left behind, and the plugin is registered
explicitly even where the entry-point metadata is stale. Datasette opens the mirror
read-only (`mode=ro`); the mirror is in WAL mode, so a daemon may write meanwhile and
every query sees one committed snapshot.

The database is named after the vault folder (`vault`, not the mirror file's
`vault-2e722d3d70`), and table cells are cut at TRUNCATE_CELLS characters (a row's
page shows them whole), so the `pages` table is not a wall of page bodies.

Datasette gets tighter settings than its own defaults (SETTINGS); a `--setting` of the
user's, or a `settings` section in the user's `--config` file, wins over each.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import Config
from ..sync import ProgressCallback, SyncReport

DEFAULT_PORT = 8001
HOST = "127.0.0.1"
TRUNCATE_CELLS = 120
# Datasette settings `vaultsync datasette` starts with (Datasette's defaults in comments).
SETTINGS: dict[str, int] = {
    "truncate_cells_html": TRUNCATE_CELLS,  # 2,048
    "sql_time_limit_ms": 1000,  # 1,000, now also kept by wall clock (the plugin)
    "max_returned_rows": 100,  # 1,000
    "num_sql_threads": 2,  # 3: queries running at once
    "max_csv_mb": 20,  # 100: a streamed CSV export
}


class LaunchError(Exception):
    """A start-up failure a user can fix: one line."""


def not_installed_message() -> str:
    """How to add Datasette to this environment (vaultsync is not on a package index, so
    the requirement of its `datasette` extra is named, not the extra)."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        wanted = [r.partition(";")[0].strip() for r in requires("vaultsync") or []
                  if r.partition(";")[2].replace(" ", "").replace("'", '"')
                  == 'extra=="datasette"']
    except PackageNotFoundError:
        wanted = []
    requirement = wanted[0] if wanted else "datasette"
    return f"Datasette is not installed here: {sys.executable} -m pip install '{requirement}'"


def datasette_installed() -> bool:
    return importlib.util.find_spec("datasette") is not None


def ensure_mirror(config: Config, *, workers: int | None = None,
                  progress: ProgressCallback | None = None) -> SyncReport | None:
    """Check the mirror and sync once when it was never synced (Vault.prepare), and
    make the graph metrics current (the canned queries show them); returns that sync's
    report, or None when the mirror was used as it is."""
    from ..vault import Vault

    vault = Vault(config=config)
    first = vault.prepare(workers=workers, progress=progress).first_sync
    with vault.connection() as conn:
        vault.current_metrics(conn)
    return first


def database_name(config: Config) -> str:
    """The vault folder's name; Datasette keeps names starting with _ for itself."""
    return config.vault.name.lstrip("_") or "vault"


def serve_args(db: Path, port: int, extra: Sequence[str] = ()) -> list[str]:
    """Arguments for Datasette's `serve`: our SETTINGS but those the user set in `extra`
    (`--setting NAME VALUE`, or a --config file's `settings`); `extra` comes last."""
    mine = user_settings(extra)
    ours = [arg for name, value in SETTINGS.items() if name not in mine
            for arg in ("--setting", name, str(value))]
    return ["serve", str(db), "--host", HOST, "--port", str(port), *ours, *extra]


def user_settings(args: Sequence[str]) -> set[str]:
    """The names of the Datasette settings `args` set: `--setting`/`-s NAME VALUE`, the
    `settings` of a JSON or YAML `--config`/`-c` file (Datasette 1.0), or a
    `--config NAME:VALUE` (Datasette 0.6x)."""
    names: set[str] = set()
    for i, arg in enumerate(args[:-1]):
        if arg in ("--setting", "-s"):
            names.add(args[i + 1].removeprefix("settings."))
    for i, arg in enumerate(args):
        value = args[i + 1] if arg in ("--config", "-c") and i + 1 < len(args) else \
            arg.split("=", 1)[1] if arg.startswith("--config=") else None
        if value is None:
            continue
        path = Path(value)
        if path.is_file():
            import yaml

            try:
                data = yaml.safe_load(path.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue  # Datasette reports it
            if isinstance(data, dict) and isinstance(data.get("settings"), dict):
                names.update(data["settings"])
        elif ":" in value:
            names.add(value.split(":", 1)[0])
    return names


def option_value(args: Sequence[str], names: tuple[str, ...]) -> str | None:
    """The last value given to one of the options `names` in `args` (`--x V`, `--x=V`)."""
    value = None
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                value = args[i + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
    return value


def free_port(host: str, port: int) -> int:
    """`port` if it can be listened on (0: a free one), else LaunchError in one line.
    Checked before Datasette starts, so nothing claims a server that will not run."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            return int(probe.getsockname()[1])
    except OSError as exc:
        raise LaunchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                          "is another Datasette running? choose another --port") from None


def run(config: Config, port: int = DEFAULT_PORT, extra: Sequence[str] = ()) -> None:
    """Start Datasette on the mirror (blocks until Datasette stops; exits the process)."""
    from datasette.cli import cli as datasette_cli

    from . import DATABASE_NAMES, ensure_registered

    extra = list(extra)
    host = option_value(extra, ("--host", "-h")) or HOST
    asked = option_value(extra, ("--port", "-p"))
    try:
        port = int(asked) if asked is not None else port
    except ValueError:
        raise LaunchError(f"--port {asked}: not a port number") from None
    port = free_port(host, port)
    name = database_name(config)
    DATABASE_NAMES[str(config.db.resolve())] = name
    ensure_registered()
    shown = f"[{host}]" if ":" in host else host
    print(f"Datasette: http://{shown}:{port}/{name} (mirror {config.db}); Ctrl-C to stop",
          file=sys.stderr, flush=True)
    datasette_cli.main(args=serve_args(config.db, port, [*extra, "--port", str(port)]),
                       prog_name="vaultsync datasette")
