"""`python -m vaultsync`: the same as the `vaultsync` command."""

from .cli import cli

if __name__ == "__main__":  # a spawned parsing process imports the main module too
    cli(prog_name="vaultsync")
