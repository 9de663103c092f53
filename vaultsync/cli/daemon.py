"""`vaultsync watch`: the daemon in the foreground, and what it prints."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..config import Config
from .base import UserError, cli, user_errors, vault_options

# --- the daemon ----------------------------------------------------------------------

def setup_logging(verbose: int, quiet: bool) -> None:
    import logging

    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # we log our own line per batch


def run_until_signalled(target: Callable[[Any], None]) -> int | None:
    """Run `target(stop_event)` until SIGINT or SIGTERM (or Ctrl-Break on Windows) sets
    the event; the signal's number, or None when `target` returned by itself."""
    import signal
    import threading

    from ..platform import stop_signals

    stop = threading.Event()
    received: list[int] = []

    def handle(signum: int, frame: Any) -> None:
        if stop.is_set():  # asked twice: stop now, the mirror rolls the batch back
            raise SystemExit(128 + signum)
        received.append(signum)
        stop.set()

    for sig in stop_signals():
        signal.signal(sig, handle)
    target(stop)
    return received[0] if received else None


@cli.command()
@vault_options
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option("-v", "--verbose", count=True, help="Also log no-op reconciles and details.")
@click.option("--no-metrics", is_flag=True, help="Do not recompute graph metrics after batches.")
@user_errors
def watch(config: Config, quiet: bool, verbose: int, no_metrics: bool) -> None:
    """Keep the mirror live: reconcile, then apply every save, rename and delete."""
    from ..console import SyncProgress
    from ..lock import DaemonRunning
    from ..sync import SyncReport
    from ..watch import Daemon

    setup_logging(verbose, quiet)
    # No spinner after the bar: the daemon's log line follows it at once.
    progress = SyncProgress(f"first reconcile of {config.vault.name}",
                            enabled=False if quiet else None, finishing=False)

    def ready(report: SyncReport | None) -> None:
        # Said once the lock is held and the mirror is current, so never before a refusal.
        progress.close()
        if not quiet:
            pages = f"{report.pages:,} pages; " if report is not None else ""
            click.echo(f"watching {config.vault} ({pages}Ctrl-C stops)", err=True)
            click.echo(next_steps(config), err=True)
        for warning in report.warnings if report is not None else ():
            click.echo(warning, err=True)

    daemon = Daemon(config, metrics=not no_metrics, progress=progress, on_ready=ready)
    try:
        signum = run_until_signalled(daemon.run)
    except DaemonRunning as exc:
        raise UserError(str(exc)) from None
    finally:
        progress.close()
    if signum is not None and not daemon.ready.is_set():
        # Not a success: the mirror may lack part of the vault until the next start.
        if config.db.exists():
            click.echo(f"vaultsync: interrupted during the first reconcile; the mirror "
                       f"{config.db} is not complete: run `vaultsync watch` again", err=True)
        else:
            click.echo(f"vaultsync: interrupted while building the mirror; none was made "
                       f"at {config.db}: run `vaultsync watch` again", err=True)
        sys.exit(128 + signum)


def command_prefix() -> str:
    """How to run this vaultsync from another terminal in the same folder: `vaultsync`
    when it is on PATH outside an activated virtualenv, else the path to this script."""
    import os
    import shlex
    import shutil
    from pathlib import Path

    def shown(path: Path) -> str:
        here = Path.cwd()
        return shlex.quote(str(path.relative_to(here)) if path.is_relative_to(here)
                           else str(path))

    script = Path(sys.argv[0]).absolute()
    if script.name != "vaultsync" or not script.is_file():  # python -m vaultsync
        return f"{shown(Path(sys.executable).absolute())} -m vaultsync"
    venv = os.environ.get("VIRTUAL_ENV")
    on_path = shutil.which("vaultsync")
    if on_path and Path(on_path).absolute() == script and \
            not (venv and script.is_relative_to(Path(venv).absolute())):
        return "vaultsync"
    return shown(script)


def next_steps(config: Config) -> str:
    """What to try once the daemon keeps the mirror: the lines `watch` prints once."""
    import os
    import shlex

    from ..config import default_db_path

    vault = os.path.relpath(config.vault)
    vault = shlex.quote(str(config.vault) if vault.startswith("..") else vault + "/")
    if config.db != default_db_path(config.vault):
        vault += f" --db {shlex.quote(str(config.db))}"
    prog = command_prefix()
    steps = [(f"{prog} report central {vault}", "the most central pages"),
             (f"{prog} serve {vault}", "the graph view in your browser"),
             (f"{prog} datasette {vault}", "browse and query the mirror in Datasette")]
    width = max(len(command) for command, _ in steps)
    return "\n".join([f"mirror: {config.db} (SQLite: sqlite3, sqlite-utils, pandas…)",
                      "next, in another terminal:",
                      *(f"  {command:<{width}}  # {what}" for command, what in steps)])
