"""`python -m vaultsync`: the same as the `vaultsync` command."""

from .cli import cli

cli(prog_name="vaultsync")
