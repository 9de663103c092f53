"""`vaultsync sync`, `where` and `status`: the mirror."""

from __future__ import annotations

import json

import click

from ..config import Config
from .base import UserError, cli, usable_mirror, user_errors, vault_options


@cli.command()
@vault_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes that parse pages (default: one per core).")
@click.option("-q", "--quiet", is_flag=True, help="No mirror line and no progress bar.")
@click.option("--rebuild", is_flag=True, help="Discard the mirror (even another vault's) "
              "and sync this vault into it anew; refused while a daemon keeps it.")
@user_errors
def sync(config: Config, as_json: bool, workers: int | None, quiet: bool,
         rebuild: bool) -> None:
    """Bring the mirror in line with the vault, once."""
    import contextlib

    from ..console import SyncProgress
    from ..lock import DaemonRunning
    from ..vault import Vault

    vault = Vault(config=config)
    with contextlib.ExitStack() as stack:
        # First: a refusal is the only line (a repair is one of the report's warnings).
        if rebuild:
            try:
                stack.enter_context(vault.rebuilding())
            except DaemonRunning as exc:
                raise UserError(f"not rebuilding: {exc}") from None
        else:
            vault.check_mirror()
        if not as_json and not quiet:
            click.echo(f"mirror: {config.db}", err=True)
        with SyncProgress(f"syncing {config.vault.name}",
                          enabled=False if quiet else None) as progress:
            report = vault.sync(workers=workers, progress=progress)
    if as_json:
        data = report.as_dict()
        data["db"] = str(config.db)
        data["vault"] = str(config.vault)
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(report.summary())
    for warning in report.warnings:
        click.echo(warning, err=True)


@cli.command()
@vault_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the vault, the mirror, and the files where a running `vaultsync "
                   "serve` of it writes its address and keeps its token, as JSON.")
@user_errors
def where(config: Config, as_json: bool) -> None:
    """Print where the vault's mirror is."""
    if not as_json:
        click.echo(str(config.db))
        return
    from ..server.address import address_path
    from ..server.security import token_path

    click.echo(json.dumps({"vault": str(config.vault), "db": str(config.db),
                           "address_file": str(address_path(config.db)),
                           "token_file": str(token_path(config.db))}, indent=2))


@cli.command()
@vault_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@user_errors
def status(config: Config, as_json: bool) -> None:
    """Is a daemon keeping this mirror, and what does the mirror hold?"""
    from ..lock import read_lock_state
    from ..read import building_status
    from ..vault import Vault

    if not config.db.exists():
        building = building_status(read_lock_state(config.db))
        if building is None:
            raise UserError(f"no mirror yet at {config.db}: run `vaultsync sync` first")
        # A daemon's first build: the mirror appears whole once complete.
        if as_json:
            click.echo(json.dumps({"db": str(config.db), "vault": str(config.vault),
                                   "last_sync_at": None, "daemon": building}, indent=2))
            return
        click.echo(f"mirror: {config.db} (not there yet: the daemon is building it; it "
                   "appears once complete)")
        click.echo(f"daemon: running (pid {building['pid']}, building the mirror)")
        if building.get("error"):
            click.echo(f"daemon: cannot build the mirror since {building.get('error_since')}: "
                       f"{building['error']}; retrying")
        return
    vault = Vault(config=config)
    usable_mirror(vault, repair=False)
    state = vault.status()  # read-only: status never migrates
    daemon = state["daemon"] or {}
    counts = state["counts"]
    last_sync = state["mirror"]["last_sync_at"]
    data = {"db": str(config.db), "vault": str(config.vault), "last_sync_at": last_sync,
            **counts, "daemon": daemon}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    alive = "running" if daemon.get("alive") else "not running"
    click.echo(f"mirror: {config.db}")
    click.echo(f"{counts['pages']} pages ({counts['sources']} sources), {counts['links']} "
               f"links ({counts['links_between_pages']} between pages, "
               f"{counts['unresolved']} unresolved), {counts['edges']} edges, "
               f"{counts['problems']} problems; last sync {last_sync or 'never'}")
    if daemon:
        click.echo(f"daemon: {alive} (pid {daemon.get('pid')}, last batch "
                   f"{daemon.get('last_batch_at') or 'none yet'})")
    else:
        click.echo(f"daemon: {alive}")
    if daemon.get("alive") and daemon.get("polling"):
        click.echo(f"daemon: polling the vault, not watching it: {daemon['polling']}")
    if daemon.get("alive") and daemon.get("error"):
        click.echo(f"daemon: cannot write the mirror since {daemon.get('error_since')}: "
                   f"{daemon['error']}; retrying")
