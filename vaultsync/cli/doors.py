"""`vaultsync serve`, `token`, `mcp`, `obsidian install` and `datasette`: starting the
other doors over the same mirror."""

from __future__ import annotations

import json

import click

from ..config import Config, load_config
from .base import (
    Group,
    UserError,
    cli,
    config_option,
    db_option,
    user_errors,
    vault_argument,
    vault_options,
)
from .daemon import setup_logging

# --- the HTTP API and graph view, its token -----------------------------------------


@cli.command()
@vault_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --allow-remote.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              envvar="VAULTSYNC_PORT", help="Port (0: any free one; or $VAULTSYNC_PORT).")
@click.option("--watch", is_flag=True, help="Run the watch daemon in this process too: "
              "one command for a live backend.")
@click.option("--allow-remote", is_flag=True,
              help="Allow a non-loopback --host and any Host header (the page then asks "
                   "for the token).")
@user_errors
def serve(config: Config, host: str, port: int, watch: bool, allow_remote: bool) -> None:
    """Serve the HTTP API and the graph view at http://127.0.0.1:8765/."""
    from ..console import SyncProgress
    from ..server import ServeError
    from ..server import serve as run_server

    try:
        with SyncProgress(f"syncing {config.vault.name}") as progress:
            run_server(config, host=host, port=port, watch=watch, allow_remote=allow_remote,
                       echo=lambda line: click.echo(line, err=True), progress=progress)
    except ServeError as exc:
        raise UserError(str(exc)) from None


@cli.command()
@vault_options
@click.option("--rotate", is_flag=True, help="Make a new token (the old one stops working "
              "when the server restarts).")
@user_errors
def token(config: Config, rotate: bool) -> None:
    """Print the API token (made on first use, kept in <db>.token, mode 0600)."""
    from ..server.security import ensure_token

    value, _ = ensure_token(config.db, rotate=rotate)
    click.echo(value)


# --- mcp ---------------------------------------------------------------------------


@cli.command()
@vault_options
@click.option("--watch", is_flag=True, help="Run the watch daemon in this process too, so "
              "the answers follow every save.")
@user_errors
def mcp(config: Config, watch: bool) -> None:
    """Serve the vault's graph to AI assistants over MCP, on stdin/stdout.

    An assistant app starts it: add `vaultsync mcp /path/to/vault --watch` to its MCP
    servers. Tools: search, get_page, neighbors, report, query, status (all
    read-only); resources vault://page/{path} and vault://schema. Syncs first if the
    mirror was never made. Logs go to stderr.
    """
    import logging

    from ..console import SyncProgress
    from ..mcp import serve_stdio

    setup_logging(0, False)
    logging.getLogger("mcp").setLevel(logging.WARNING)  # no line per request
    with SyncProgress(f"syncing {config.vault.name}") as progress:
        serve_stdio(config, watch=watch, say=lambda line: click.echo(line, err=True),
                    progress=progress)


# --- Obsidian ------------------------------------------------------------------------


@cli.group(cls=Group)
def obsidian() -> None:
    """vaultsync's Obsidian plugin."""


@obsidian.command("install")
@click.argument("vault", required=False, type=click.Path(file_okay=False))
@user_errors
def obsidian_install(vault: str | None) -> None:
    """Copy the plugin into VAULT/.obsidian/plugins/vaultsync/ (VAULT: as for the other
    commands). The only command that writes into a vault, and only there."""
    import os
    from pathlib import Path

    from ..obsidian import InstallError, enable_hint, install

    folder = Path(vault if vault is not None else os.environ.get("VAULTSYNC_VAULT", "vault"))
    try:
        done = install(folder)
    except InstallError as exc:
        raise UserError(str(exc)) from None
    was = f" (replaced {done.replaced})" if done.replaced else ""
    click.echo(f"installed vaultsync {done.version}{was} in {done.folder}")
    click.echo(enable_hint(folder.resolve()))


# --- Datasette -----------------------------------------------------------------------


@cli.command(context_settings={"ignore_unknown_options": True})
@vault_argument
@db_option
@config_option
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True,
              envvar="VAULTSYNC_DATASETTE_PORT",
              help="Port on 127.0.0.1 (0: any free one; or $VAULTSYNC_DATASETTE_PORT).")
@click.option("--print-metadata", is_flag=True,
              help="Print Datasette metadata JSON for this mirror (for `datasette <db> "
                   "--metadata FILE`) and exit.")
@click.argument("datasette_args", nargs=-1, type=click.UNPROCESSED)
@user_errors
def datasette(vault: str | None, db: str | None, config_file: str | None, port: int,
              print_metadata: bool, datasette_args: tuple[str, ...]) -> None:
    """Browse the mirror in Datasette: canned queries, search, page graph links.

    Syncs first if the mirror is missing or empty, then serves it on 127.0.0.1.
    Arguments after `--` go to `datasette serve` (e.g. -- --setting sql_time_limit_ms 5000).
    """
    from ..console import SyncProgress
    from ..datasette_plugin import launch

    extra = list(datasette_args)
    if vault is not None and vault.startswith("-"):  # `vaultsync datasette -- --opt`
        extra.insert(0, vault)
        vault = None
    config = load_config(vault, db, config_file)
    if print_metadata:
        from ..datasette_plugin import metadata_for

        click.echo(json.dumps(metadata_for(config.db.stem, config.vault.name), indent=2,
                              ensure_ascii=False))
        return
    if not launch.datasette_installed():
        raise UserError(launch.not_installed_message())
    with SyncProgress(f"syncing {config.vault.name}") as progress:
        first = launch.ensure_mirror(config, progress=progress)
    if first is not None:
        click.echo(f"synced: {first.summary()}", err=True)
        for warning in first.warnings:
            click.echo(warning, err=True)
    try:
        launch.run(config, port, extra)
    except launch.LaunchError as exc:
        raise UserError(str(exc)) from None
