"""`vaultsync report`: its help made from the reports' declarations."""

from __future__ import annotations

import click

from ..config import Config
from .base import UserError, cli, usable_mirror, user_errors, vault_options

# --- reports -------------------------------------------------------------------------



def report_help() -> str:
    """`vaultsync report --help`, made from the reports' declarations."""
    from ..read.reports import REPORTS

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

    from .. import read, render
    from ..console import SyncProgress, interactive, spinner
    from ..vault import Vault

    if name not in read.REPORTS:
        raise UserError(f"no report named {name!r}; the reports: "
                        f"{', '.join(read.REPORT_NAMES)}")
    vault = Vault(config=config)
    usable_mirror(vault)
    if not vault.synced:
        click.echo(f"vaultsync: syncing {config.vault} first (mirror: {config.db})", err=True)
        with SyncProgress(f"syncing {config.vault.name}") as progress:
            vault.sync(progress=progress, metrics=False)
    stale = vault.stale_pages(name)
    shown = render.TABLE_DEFAULT_LIMIT if limit is None and fmt == "table" else limit
    try:
        # unlinked-mentions reads every page: a progress bar of its own, not a spinner.
        with spinner(f"computing graph metrics of {stale:,} pages…",
                     enabled=stale > 0 and interactive() and name != "unlinked-mentions"), \
                SyncProgress("reading pages", finishing=False) as reading:
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
