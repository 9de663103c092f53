"""The `vaultsync` command: a thin click layer over `vaultsync.Vault`. One module per
group of commands; importing them registers them on the group."""

from . import daemon, doors, mirror, reports  # noqa: F401 - they register the commands
from .base import UserError, cli

__all__ = ["UserError", "cli"]
