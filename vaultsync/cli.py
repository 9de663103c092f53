"""The `vaultsync` command: a thin click layer over the library."""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .config import Config, ConfigError, load_config
from .mirror import MirrorError


class UserError(click.ClickException):
    """One clear line and exit code 2, never a traceback."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"vaultsync: {self.format_message()}", err=True)


def vault_options(func: Callable) -> Callable:
    """[VAULT] --db --config, shared by every command that opens a mirror."""

    @click.argument("vault", required=False, type=click.Path(file_okay=False))
    @click.option("--db", "db", type=click.Path(dir_okay=False),
                  help="Mirror database (default: one per vault in the user data dir; "
                       "or $VAULTSYNC_DB).")
    @click.option("--config", "config_file", type=click.Path(dir_okay=False),
                  help="TOML settings (or $VAULTSYNC_CONFIG).")
    @functools.wraps(func)
    def wrapper(vault: str | None, db: str | None, config_file: str | None, **kw: Any) -> Any:
        try:
            config = load_config(vault, db, config_file)
        except ConfigError as exc:
            raise UserError(str(exc)) from None
        return func(config, **kw)

    return wrapper


def user_errors(func: Callable) -> Callable:
    """Turn the failures a user can cause into one line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kw: Any) -> Any:
        try:
            return func(*args, **kw)
        except (ConfigError, MirrorError) as exc:
            raise UserError(str(exc)) from None
        except sqlite3.OperationalError as exc:
            raise UserError(f"mirror database error: {exc}") from None
        except FileNotFoundError as exc:
            raise UserError(str(exc)) from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaultsync")
def cli() -> None:
    """Mirror an Obsidian-style vault into SQLite and explore it as a knowledge graph.

    VAULT defaults to $VAULTSYNC_VAULT, else ./vault. The mirror lives outside the
    vault; `vaultsync where` prints it.
    """


@cli.command()
@vault_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes that parse pages (default: one per core).")
@user_errors
def sync(config: Config, as_json: bool, workers: int | None) -> None:
    """Bring the mirror in line with the vault, once."""
    from .sync import sync_vault

    if not as_json:
        click.echo(f"mirror: {config.db}", err=True)
    report = sync_vault(config, workers=workers)
    if as_json:
        data = report.as_dict()
        data["db"] = str(config.db)
        data["vault"] = str(config.vault)
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(report.summary())


@cli.command()
@vault_options
@user_errors
def where(config: Config) -> None:
    """Print where the vault's mirror is."""
    click.echo(str(config.db))


# --- watch (issue 3) ---------------------------------------------------------------

def setup_logging(verbose: int, quiet: bool) -> None:
    import logging

    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # we log our own line per batch


def run_until_signalled(target: Callable[[Any], None]) -> None:
    """Run `target(stop_event)` until SIGINT or SIGTERM sets the event."""
    import signal
    import threading

    stop = threading.Event()

    def handle(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    target(stop)


@cli.command()
@vault_options
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option("-v", "--verbose", count=True, help="Also log no-op reconciles and details.")
@click.option("--no-metrics", is_flag=True, help="Do not recompute graph metrics after batches.")
@user_errors
def watch(config: Config, quiet: bool, verbose: int, no_metrics: bool) -> None:
    """Keep the mirror live: reconcile, then apply every save, rename and delete."""
    from .watch import Daemon, DaemonRunning

    setup_logging(verbose, quiet)
    click.echo(f"mirror: {config.db}", err=True)
    if not quiet:
        click.echo(f"watching {config.vault} (Ctrl-C stops)", err=True)
    try:
        run_until_signalled(Daemon(config, metrics=not no_metrics).run)
    except DaemonRunning as exc:
        raise UserError(str(exc)) from None


@cli.command()
@vault_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@user_errors
def status(config: Config, as_json: bool) -> None:
    """Is a daemon keeping this mirror, and what does the mirror hold?"""
    from .mirror import Mirror
    from .watch import read_status

    if not config.db.exists():
        raise UserError(f"no mirror yet at {config.db}: run `vaultsync sync` first")
    daemon = read_status(config.db) or {}
    with Mirror(config.db) as mirror:
        counts = mirror.counts()
        last_sync = mirror.get_meta("last_sync_at")
    data = {"db": str(config.db), "vault": str(config.vault), "last_sync_at": last_sync,
            **counts, "daemon": daemon}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    alive = "running" if daemon.get("alive") else "not running"
    click.echo(f"mirror: {config.db}")
    click.echo(f"{counts['pages']} pages, {counts['links']} links ({counts['unresolved']} "
               f"unresolved), {counts['problems']} problems; last sync {last_sync}")
    click.echo(f"daemon: {alive}" + (f" (pid {daemon.get('pid')}, last batch "
                                     f"{daemon.get('last_batch_at')})" if daemon else ""))



# --- report (issue 4) --------------------------------------------------------------


# --- serve, token (issue 5) --------------------------------------------------------


# --- datasette (issue 7) -----------------------------------------------------------


def main() -> None:  # pragma: no cover - the console script calls cli()
    cli(prog_name="vaultsync")
    sys.exit(0)
