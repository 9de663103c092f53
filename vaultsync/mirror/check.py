"""Whether a mirror file can be used for a vault: a SQLite database, undamaged, of a
schema this vaultsync knows, and the mirror of this vault and no other.

The mirror is a cache of the vault, so a damaged file is moved aside (kept, for a
look) and rebuilt from the vault by the commands that write it; a file of another
vault is never taken over silently: `vaultsync sync --rebuild` does that on purpose.

A mirror belongs to the vault named in `meta.vault` (the vault folder's resolved
path, symlinks followed) and `meta.vault_id` (the folder's device and inode). The
same resolved path is the same vault. A vault moved or renamed on the same file
system keeps its folder's inode: when the folder named in the mirror is no longer
there and the inode matches (or the mirror is older than `vault_id`), the mirror
follows the vault to its new path.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from .schema import SCHEMA_VERSION, MetaKey
from .writer import MirrorError, connect

SQLITE_HEADER = b"SQLite format 3\0"
# The errors SQLite gives for a damaged file, as opposed to a busy or read-only one.
_DAMAGE = ("malformed", "not a database", "file is encrypted", "disk image")


class WrongVault(MirrorError):
    """The mirror holds another vault."""


class MirrorDamaged(MirrorError):
    """The file is not a usable SQLite database (damaged, truncated, something else)."""


def is_damage(exc: BaseException) -> bool:
    """SQLite says the file is damaged (not merely locked or read-only)."""
    return isinstance(exc, sqlite3.DatabaseError) and any(
        word in str(exc) for word in _DAMAGE)


def vault_id(vault: Path) -> str:
    """The vault folder's identity across renames: device and inode."""
    st = os.stat(vault)
    return f"{st.st_dev}:{st.st_ino}"


def owner_error(db: Path, vault: Path, owner: str | None, owner_id: str | None
                ) -> WrongVault | None:
    """The refusal for a mirror `db` whose meta names `owner` (and `owner_id`) when it
    is not `vault`'s mirror, or None."""
    if owner is None or owner == str(vault):
        return None
    if not os.path.isdir(owner) and owner_id in (None, vault_id(vault)):
        return None  # the same folder, moved (or from before vault_id was kept)
    return WrongVault(f"refusing {db}: it is the mirror of another vault, {owner}, not "
                      f"{vault}; use another --db, or `vaultsync sync {vault} --db {db} "
                      "--rebuild` to make it this vault's mirror (discarding the other's)")


def damage_reason(db: Path) -> str | None:
    """Why `db` (which exists) is not a usable SQLite database, or None. Reads the header,
    then asks SQLite's `quick_check` (every page of the file, not the index contents)."""
    try:
        with open(db, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise MirrorError(f"cannot read the mirror {db}: {exc.strerror}") from None
    if header and header != SQLITE_HEADER[:len(header)] or 0 < len(header) < 16:
        return "not a SQLite database"
    if not header:
        return None  # an empty file: SQLite makes a new database in it
    try:
        conn = connect(db, readonly=True, timeout=5)
        try:
            result = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        # Not readable now (locked, a read-only folder without its -shm): the command's
        # own open says why; this is not damage.
        return str(exc) if is_damage(exc) else None
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if result != ["ok"]:
        return "; ".join(result)[:200]
    return None


def check_mirror(db: Path, vault: Path, *, integrity: bool = True) -> None:
    """Raise MirrorError (one line) when `db` cannot be used as `vault`'s mirror: a
    damaged or foreign file (MirrorDamaged), a newer schema, another vault's
    (WrongVault). A missing file is fine: it will be made."""
    if not db.exists():
        return
    if integrity:
        reason = damage_reason(db)
        if reason is not None:
            raise MirrorDamaged(f"the mirror {db} is damaged ({reason}); `vaultsync sync` "
                                "moves it aside and rebuilds it from the vault")
    try:
        conn = connect(db, readonly=True, timeout=5)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            meta: dict[str, str] = {}
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                meta = dict(conn.execute(
                    "SELECT key, value FROM meta WHERE key IN (?, ?)",
                    (MetaKey.VAULT.value, MetaKey.VAULT_ID.value)).fetchall())
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise MirrorDamaged(f"the mirror {db} is damaged ({exc}); `vaultsync sync` "
                                "moves it aside and rebuilds it from the vault") from None
        return  # not readable now: the command's own open says why
    if version > SCHEMA_VERSION:
        raise MirrorError(f"the mirror {db} has schema version {version}; this vaultsync "
                          f"knows {SCHEMA_VERSION}: upgrade vaultsync or use another --db")
    wrong = owner_error(db, vault, meta.get(MetaKey.VAULT.value),
                        meta.get(MetaKey.VAULT_ID.value))
    if wrong is not None:
        raise wrong


def damaged_owner(db: Path) -> tuple[str | None, str | None]:
    """meta.vault and meta.vault_id of a damaged mirror, as far as they can be read."""
    try:
        conn = connect(db, readonly=True, timeout=5)
        try:
            found = dict(conn.execute(
                "SELECT key, value FROM meta WHERE key IN (?, ?)",
                (MetaKey.VAULT.value, MetaKey.VAULT_ID.value)).fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return None, None
    return found.get(MetaKey.VAULT.value), found.get(MetaKey.VAULT_ID.value)


def move_aside(db: Path) -> Path:
    """Move a damaged mirror (and its WAL) out of the way, keeping it; its new path.
    The caller holds the daemon lock, so no vaultsync process is writing it."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = db.with_name(f"{db.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = db.with_name(f"{db.name}.damaged-{stamp}-{n}")
    os.replace(db, aside)
    for suffix in ("-wal", "-journal"):
        side = Path(str(db) + suffix)
        if side.exists():
            os.replace(side, Path(str(aside) + suffix))
    shm = Path(str(db) + "-shm")
    if shm.exists():
        shm.unlink()
    return aside


def unfinished_mirror(db: Path) -> bool:
    """`db` is a file no sync has completed: a first build killed in place by an older
    vaultsync, or the empty file a reader's SQLite makes by opening a path where no
    mirror was. It is no mirror of the vault, and may be replaced by one. False when
    there is no file, or when it cannot be read now (busy): such a file is left alone."""
    if not db.exists():
        return False
    try:
        conn = connect(db, readonly=True, timeout=5)
        try:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                return True
            return conn.execute("SELECT 1 FROM meta WHERE key = ?",
                                (MetaKey.LAST_SYNC_AT.value,)).fetchone() is None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def remove_mirror(db: Path) -> None:
    """Delete a mirror and its side files (`sync --rebuild`)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        side = Path(str(db) + suffix)
        if side.exists():
            side.unlink()


def repair_mirror(db: Path, vault: Path, *, locked: bool = False) -> Path | None:
    """`check_mirror`, moving a damaged file aside so that the caller syncs a new one;
    where the damaged file went, or None. `locked`: the caller holds the daemon lock;
    else it is taken for the move, and a mirror a running daemon holds is only refused
    (that daemon repairs it itself)."""
    from ..lock import DaemonLock, DaemonRunning

    try:
        check_mirror(db, vault)
        return None
    except MirrorDamaged:
        # Another vault's damaged mirror is that vault's to rebuild, not this one's.
        wrong = owner_error(db, vault, *damaged_owner(db))
        if wrong is not None:
            raise wrong from None
        if locked:
            return move_aside(db)
    lock = DaemonLock(db)
    try:
        lock.acquire(quiet=True)
    except DaemonRunning as exc:
        raise MirrorDamaged(f"the mirror {db} is damaged; {exc}") from None
    try:
        if damage_reason(db) is None:
            return None  # repaired meanwhile
        return move_aside(db)
    finally:
        lock.release()
