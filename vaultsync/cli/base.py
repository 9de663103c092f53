"""The `vaultsync` group and what every command shares: the [VAULT] --db --config
options, user errors as one line and exit code 2, the mirror check."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..config import ConfigError, load_config
from ..mirror import MirrorError

if TYPE_CHECKING:
    from ..vault import Vault


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


def usable_mirror(vault: Vault, *, repair: bool = True) -> None:
    """Vault.check_mirror, its refusal one line and exit 2 (user_errors), a damaged
    file moved aside said in one line."""
    from ..vault import moved_aside_line

    aside = vault.check_mirror(repair=repair)
    if aside is not None:
        click.echo(moved_aside_line(vault.db_path, aside), err=True)


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
        from ..platform import PlatformError, start_method

        try:
            start_method()
        except PlatformError as exc:
            raise UserError(str(exc)) from None
