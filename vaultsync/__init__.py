"""vaultsync: a live SQLite mirror and knowledge graph of an Obsidian-style vault.

For notebooks and scripts, `Vault(path)` is the front door: `.sync()`, `.status()`,
`.page(ref)`, `.report(name)`, `.search(q)`, `.neighbors(ref)`, `.graph()`,
`.changes(cursor=)`, `.unlinked_mentions(ref)`, `.related(ref)` and `.db`.
`open_mirror(vault)` gives the mirror as a read-only sqlite-utils Database:
`db["pages"].rows`, `db.query(sql)`, or pandas' `read_sql(sql, db.conn)`.
`to_rows`, `to_json`, `to_csv` and `to_dataframe` convert any of Vault's answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

__version__ = "0.1.0"


def open_mirror(vault: str | Path | None = None, *, db: str | Path | None = None
                ) -> sqlite_utils.Database:
    """The mirror of `vault` (its default place, or `db`), opened read-only as a
    sqlite-utils Database, its core graph metrics made current first (`Vault.db`).
    FileNotFoundError when the vault was never synced: run `vaultsync sync VAULT` (or
    keep `vaultsync watch VAULT` running) first."""
    from .config import load_config
    from .vault import Vault

    config = load_config(vault, db)
    if not config.db.exists():
        raise FileNotFoundError(f"no mirror of {config.vault} at {config.db} yet: "
                                f"run `vaultsync sync {config.vault}` first")
    return Vault(config=config).db


def __getattr__(name: str) -> object:
    # Vault loads the read layer: imported on first use, so `vaultsync --help` stays quick.
    if name in ("Vault", "Liveness", "open"):
        from . import vault

        return getattr(vault, name)
    if name in ("to_rows", "to_json", "to_csv", "to_dataframe"):
        from .read import formats

        return getattr(formats, name)
    raise AttributeError(f"module 'vaultsync' has no attribute {name!r}")


if TYPE_CHECKING:
    from .read.formats import to_csv, to_dataframe, to_json, to_rows
    from .vault import Liveness, Vault, open  # noqa: A004

__all__ = ["Liveness", "Vault", "__version__", "open", "open_mirror", "to_csv",
           "to_dataframe", "to_json", "to_rows"]
