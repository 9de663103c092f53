"""One daemon per mirror: a lock on `<db>.lock`, beside the mirror, outside the vault.

The operating system drops the lock when the process dies, even by SIGKILL (flock on
POSIX, msvcrt.locking on Windows: see platform.py), and a forked child never keeps it
(see workers.py). The file's first line names the holder; the second is
the daemon's state as JSON, rewritten in place so that it can be written even when the
database cannot (a full disk): `vaultsync status` reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from . import platform
from .mirror import MirrorError, create_private_file
from .scan import inode_at

# The state line is rewritten in place within this size, so that it can still be
# written on a full disk.
LOCK_FILE_SIZE = 4096


class DaemonRunning(Exception):
    """Another daemon already keeps this mirror."""


class DaemonLock:
    """One daemon per database: a lock on `<db>.lock`, beside the mirror, outside the
    vault. The operating system drops the lock when the process dies, even by SIGKILL; the
    parsing processes never hold it (see workers.py). Its first line names the holder;
    the second is the daemon's state as JSON, readable even when the database is not
    writable (a full disk)."""

    def __init__(self, db: Path) -> None:
        self.path = Path(str(db) + ".lock")
        self._fd: int | None = None
        self._inode: tuple[int, int] | None = None
        self._holder = ""

    def acquire(self, *, quiet: bool = False) -> None:
        """Take the lock or raise DaemonRunning. `quiet`: a short hold by a command
        (moving a damaged mirror aside, `sync --rebuild`) that leaves the state line."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = create_private_file(self.path, os.O_RDWR)
        except OSError as exc:
            raise MirrorError(f"cannot create the daemon's lock file {self.path}: "
                              f"{exc.strerror}") from None
        if not platform.try_lock(fd):
            os.lseek(fd, 0, os.SEEK_SET)
            with open(fd, encoding="utf-8", errors="replace") as fh:
                holder = fh.readline().strip() or "unknown"
            raise DaemonRunning(
                f"another vaultsync watch is already keeping {self.path.with_suffix('')} "
                f"({holder}); stop it first"
            ) from None
        self._fd = fd
        # A forked child (a parsing process) must never keep the lock alive.
        platform.after_fork_in_child(self._forget)
        st = os.fstat(fd)
        self._inode = (st.st_dev, st.st_ino)
        self._holder = (f"pid {os.getpid()} on {socket.gethostname()}, started "
                        f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        if not quiet:
            self.write_state({"state": "starting"})

    def _forget(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closes this process's copy only: the lock stays
            self._fd = None

    def write_state(self, state: dict[str, Any]) -> None:
        """Rewrite the state line in place (never growing the file past its first size)."""
        if self._fd is None:
            return
        text = f"{self._holder}\n{json.dumps({'pid': os.getpid(), **state})}\n"
        data = text.encode("utf-8")[:LOCK_FILE_SIZE - 1].ljust(LOCK_FILE_SIZE - 1) + b"\n"
        with contextlib.suppress(OSError):
            platform.write_at(self._fd, data, 0)

    def still_ours(self) -> bool:
        """False when the lock file was deleted or replaced (its folder removed, say)."""
        return inode_at(self.path) == self._inode

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                platform.unlock(self._fd)
            os.close(self._fd)
            self._fd = None


def read_lock_state(db: Path) -> dict[str, Any] | None:
    """The state line a running daemon keeps in `<db>.lock`, or None."""
    try:
        with open(str(db) + ".lock", encoding="utf-8", errors="replace") as fh:
            fh.readline()
            line = fh.readline().strip()
        value = json.loads(line) if line else None
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
