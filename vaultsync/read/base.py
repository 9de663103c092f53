"""What every reader of the mirror shares: its errors, row helpers, one read snapshot,
and a read-only connection.

The mirror is written by `vaultsync.mirror` alone and read through this package alone:
the HTTP API, the reports, the MCP tools and the graph metrics ask their questions here,
one function each, so they answer them the same way.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..mirror import connect

if TYPE_CHECKING:
    import sqlite_utils


class BadRequest(ValueError):
    """A parameter the caller got wrong; the message says what to change."""


class NotFound(LookupError):
    """No such page (or other named thing); the message says what was looked for."""


class MirrorMissing(LookupError):
    """There is no mirror database yet."""


def rows(conn: sqlite3.Connection, sql: str, *params: object) -> list[dict[str, Any]]:
    """The rows of a query as dicts (sqlite-utils' row form: Datasette's too)."""
    return list(database(conn).query(sql, params))


def database(conn: sqlite3.Connection) -> sqlite_utils.Database:
    """A sqlite-utils view of an open connection (no plugins, no pragmas set). Imported
    here, not at the top: sqlite-utils imports numpy, which `vaultsync sync` never needs."""
    import sqlite_utils

    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


@contextlib.contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read snapshot across several SELECTs (WAL), unless a transaction is open."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        yield
    finally:
        if own:
            conn.execute("COMMIT")


@contextlib.contextmanager
def open_mirror(db: Path) -> Iterator[sqlite3.Connection]:
    """A short read-only connection to the mirror; MirrorMissing when there is none."""
    if not db.exists():
        raise MirrorMissing(f"no mirror at {db} yet: run `vaultsync sync` (or serve --watch)")
    conn = connect(db, readonly=True)
    try:
        yield conn
    finally:
        conn.close()
