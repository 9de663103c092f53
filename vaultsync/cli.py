"""The `vaultsync` command: a thin click layer over the library."""

from __future__ import annotations

import functools
import json
import os
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


vault_argument = click.argument("vault", required=False, type=click.Path(file_okay=False))
db_option = click.option(
    "--db", "db", type=click.Path(dir_okay=False),
    help="Mirror database (default: one per vault in the user data dir; or $VAULTSYNC_DB).")
config_option = click.option("--config", "config_file", type=click.Path(dir_okay=False),
                             help="TOML settings (or $VAULTSYNC_CONFIG).")


def vault_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """[VAULT] --db --config, shared by every command that opens a mirror."""

    @vault_argument
    @db_option
    @config_option
    @functools.wraps(func)
    def wrapper(vault: str | None, db: str | None, config_file: str | None, **kw: Any) -> Any:
        try:
            config = load_config(vault, db, config_file)
        except ConfigError as exc:
            raise UserError(str(exc)) from None
        return func(config, **kw)

    return wrapper


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the failures a user can cause into one line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kw: Any) -> Any:
        try:
            return func(*args, **kw)
        except (ConfigError, MirrorError) as exc:
            raise UserError(str(exc)) from None
        except sqlite3.OperationalError as exc:
            raise UserError(f"mirror database error: {exc}") from None
        except sqlite3.DatabaseError as exc:  # a file damaged under a command
            raise UserError(f"the mirror is damaged ({exc}); `vaultsync sync` moves it "
                            "aside and rebuilds it from the vault") from None
        except FileNotFoundError as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:  # a read-only or full disk, a folder we may not write
            where = f": {exc.filename}" if exc.filename else ""
            raise UserError(f"{exc.strerror or exc}{where}") from None

    return wrapper


def usable_mirror(config: Config, *, repair: bool = True) -> None:
    """Refuse (one line, exit 2) a mirror this command cannot use: another vault's, a
    newer schema, a damaged file. With `repair` a damaged file is moved aside (kept) and
    the command goes on to sync a new mirror from the vault."""
    from .mirror import check_mirror, repair_mirror

    if not repair:
        check_mirror(config.db, config.vault)
        return
    aside = repair_mirror(config.db, config.vault)
    if aside is not None:
        click.echo(f"vaultsync: the mirror {config.db} was damaged; moved it to {aside} "
                   "and rebuilding it from the vault", err=True)


class OneLineUsageError(UserError):
    """A bad command line, as one line naming the help to read (not click's usage block)."""

    def __init__(self, exc: click.UsageError) -> None:
        where = exc.ctx.command_path if exc.ctx is not None else "vaultsync"
        super().__init__(f"{exc.format_message().rstrip('.')}; see `{where} --help`")


class Group(click.Group):
    """click's group, with usage errors as one line and exit code 2."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise OneLineUsageError(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise OneLineUsageError(exc) from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaultsync")
def cli() -> None:
    """Mirror an Obsidian-style vault into SQLite and explore it as a knowledge graph.

    VAULT defaults to $VAULTSYNC_VAULT, else ./vault. The mirror lives outside the
    vault; `vaultsync where` prints it.
    """
    if "VAULTSYNC_START_METHOD" in os.environ:
        from .platform import PlatformError, start_method

        try:
            start_method()
        except PlatformError as exc:
            raise UserError(str(exc)) from None


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

    from .console import SyncProgress
    from .lock import DaemonLock, DaemonRunning
    from .mirror import remove_mirror
    from .vault import Vault

    with contextlib.ExitStack() as stack:
        if rebuild:
            # Held through the sync: no daemon starts on the file half made.
            lock = DaemonLock(config.db)
            try:
                lock.acquire(quiet=True)
            except DaemonRunning as exc:
                raise UserError(f"not rebuilding: {exc}") from None
            stack.callback(lock.release)
            remove_mirror(config.db)
        else:
            usable_mirror(config)
        if not as_json and not quiet:
            click.echo(f"mirror: {config.db}", err=True)
        with SyncProgress(f"syncing {config.vault.name}",
                          enabled=False if quiet else None) as progress:
            report = Vault(config=config).sync(workers=workers, progress=progress)
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
@user_errors
def where(config: Config) -> None:
    """Print where the vault's mirror is."""
    click.echo(str(config.db))


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

    from .platform import stop_signals

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
    from .console import SyncProgress
    from .lock import DaemonRunning
    from .sync import SyncReport
    from .watch import Daemon

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
        click.echo(f"vaultsync: interrupted during the first reconcile; the mirror "
                   f"{config.db} is not complete: run `vaultsync watch` again", err=True)
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

    from .config import default_db_path

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


@cli.command()
@vault_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@user_errors
def status(config: Config, as_json: bool) -> None:
    """Is a daemon keeping this mirror, and what does the mirror hold?"""
    from .vault import Vault

    if not config.db.exists():
        raise UserError(f"no mirror yet at {config.db}: run `vaultsync sync` first")
    usable_mirror(config, repair=False)
    state = Vault(config=config).status()  # read-only: status never migrates
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


# --- reports -------------------------------------------------------------------------



def report_help() -> str:
    """`vaultsync report --help`, made from the reports' declarations."""
    from .read.reports import REPORTS

    width = max(len(name) for name in REPORTS)
    lines = "\n".join(f"  {name:<{width}}  {spec.description}"
                      for name, spec in REPORTS.items())
    return ("What the vault's graph says: central pages, orphans, wanted pages, ...\n\n"
            f"NAME is one of:\n\n\b\n{lines}\n\n"
            "Syncs first if the mirror was never synced, and computes the graph metrics "
            "when they are missing or older than the last change.")


class ReportCommand(click.Command):
    """`report`, whose help is made from the reports' declarations when it is shown (so
    that `vaultsync --help` does not load the read layer)."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.help = report_help()
        super().format_help_text(ctx, formatter)


@cli.command(cls=ReportCommand,
             short_help="What the vault's graph says: central pages, orphans, wanted pages, ...")
@click.argument("name", metavar="NAME")
@vault_options
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json", "csv"]),
              default="table", show_default=True, help="Output format.")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="Rows to show (0: all; default: 25 for table, all otherwise; "
                   "summary: top entries per section, 10).")
@click.option("--kind", default=None, help="Only pages of this kind (central: any kind, "
                                           "sources included).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of stdout.")
@user_errors
def report(config: Config, name: str, fmt: str, limit: int | None, kind: str | None,
           output: str | None) -> None:
    import os
    from pathlib import Path

    from . import read, render
    from .console import SyncProgress, interactive, spinner
    from .vault import Vault

    if name not in read.REPORTS:
        raise UserError(f"no report named {name!r}; the reports: "
                        f"{', '.join(read.REPORT_NAMES)}")
    usable_mirror(config)
    vault = Vault(config=config)
    if not vault.synced:
        click.echo(f"vaultsync: syncing {config.vault} first (mirror: {config.db})", err=True)
        with SyncProgress(f"syncing {config.vault.name}") as progress:
            vault.sync(progress=progress, metrics=False)
    with vault.connection() as conn:
        state = read.metrics_state(conn)
        stale = not state.core_current or (read.REPORTS[name].heavy and
                                           not state.heavy_current)
        pages = read.counts(conn)["pages"]
    shown = render.TABLE_DEFAULT_LIMIT if limit is None and fmt == "table" else limit
    try:
        with spinner(f"computing graph metrics of {pages:,} pages…",
                     enabled=stale and interactive() and name != "unlinked-mentions"), \
                SyncProgress(f"reading {pages:,} pages", finishing=False) as reading:
            result = vault.report(name, kind=kind, limit=limit if name == "summary" else shown,
                                  progress=reading)
    except read.BadRequest as exc:
        raise UserError(str(exc)) from None
    for note in result.notes:
        click.echo(f"vaultsync: note: {note}", err=True)
    link_base = ""
    if output:
        out_dir = Path(output).resolve().parent
        if config.vault == out_dir or config.vault in out_dir.parents:
            click.echo("vaultsync: note: the report is inside the vault; its links will "
                       "count in the graph once synced", err=True)
        link_base = os.path.relpath(config.vault, out_dir).replace(os.sep, "/") + "/"
        link_base = "" if link_base == "./" else link_base
    text = render.render(result, fmt, vault_name=config.vault.name, link_base=link_base)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {output}: {exc.strerror}") from None
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


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
    from .console import SyncProgress
    from .server import ServeError
    from .server import serve as run_server

    usable_mirror(config)
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
    from .server.security import ensure_token

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

    from .console import SyncProgress
    from .mcp import serve_stdio

    setup_logging(0, False)
    logging.getLogger("mcp").setLevel(logging.WARNING)  # no line per request
    usable_mirror(config)
    with SyncProgress(f"syncing {config.vault.name}") as progress:
        serve_stdio(config, watch=watch, say=lambda line: click.echo(line, err=True),
                    progress=progress)


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
    from .console import SyncProgress
    from .datasette_plugin import launch

    extra = list(datasette_args)
    if vault is not None and vault.startswith("-"):  # `vaultsync datasette -- --opt`
        extra.insert(0, vault)
        vault = None
    config = load_config(vault, db, config_file)
    if print_metadata:
        from .datasette_plugin import metadata_for

        click.echo(json.dumps(metadata_for(config.db.stem, config.vault.name), indent=2,
                              ensure_ascii=False))
        return
    if not launch.datasette_installed():
        raise UserError(launch.not_installed_message())
    usable_mirror(config)
    with SyncProgress(f"syncing {config.vault.name}") as progress:
        summary = launch.ensure_mirror(config, progress=progress)
    if summary is not None:
        click.echo(f"synced: {summary}", err=True)
    try:
        launch.run(config, port, extra)
    except launch.LaunchError as exc:
        raise UserError(str(exc)) from None
