"""The daemon's watcher: watchfiles' Rust watcher on the vault, behind the small
`Watcher` interface the daemon (watch.py) uses, so that the daemon can be given
another one (a test's fake). Falls back to polling when the kernel's inotify limits
are reached, and says how to raise them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from watchfiles._rust_notify import RustNotify

from .scan import inode_at

# How often the vault is walked when it must be polled (no inotify to be had).
POLL_DELAY_MS = 1000


def inotify_shortage(exc: BaseException) -> str | None:
    """What an error from making the watcher says about inotify's limits, with the fix,
    or None when it is about something else."""
    text = str(exc)
    if "watch limit" in text or "MaxFilesWatch" in text:
        return ("the inotify watch limit is reached (fs.inotify.max_user_watches); raise "
                "it, e.g. `sudo sysctl fs.inotify.max_user_watches=524288`")
    if "Too many open files" in text or "os error 24" in text:
        return ("no inotify instance is left (fs.inotify.max_user_instances, or open "
                "files); raise it, e.g. `sudo sysctl fs.inotify.max_user_instances=512`")
    return None


class Notify(Protocol):
    """What the daemon uses of watchfiles' Rust watcher (`RustNotify`)."""

    def watch(self, debounce_ms: int, step_ms: int, timeout_ms: int,
              stop_event: threading.Event | None) -> set[tuple[int, str]] | str: ...

    def close(self) -> None: ...


class NotifyFactory(Protocol):
    def __call__(self, paths: list[str], *, force_polling: bool,
                 ignore_permission_denied: bool) -> Notify: ...


def rust_notify(paths: list[str], *, force_polling: bool,
                ignore_permission_denied: bool) -> Notify:
    """The one place watchfiles' Rust watcher is made. Its public `watch()` cannot be
    used: it drops the error a full inotify table raises, which the daemon must see
    to fall back to polling, and it cannot be stopped from another thread mid-wait."""
    return RustNotify(watch_paths=paths, debug=False, force_polling=force_polling,
                      poll_delay_ms=POLL_DELAY_MS, recursive=True,
                      ignore_permission_denied=ignore_permission_denied)


class Watcher(Protocol):
    """What the daemon needs of a watcher: the next batch of changed paths, and what it
    was made for (to know when it must be made anew)."""

    links: frozenset[tuple[str, str]]  # the followed symlinks it was made for
    files: dict[str, tuple[int, int] | None]  # files outside the vault, by inode
    polling: str | None  # why the vault is polled rather than watched, with the fix

    def next(self, stop: threading.Event, *, debounce_ms: int, step_ms: int,
             timeout_ms: int) -> set[str] | None: ...

    def close(self) -> None: ...


# How the daemon makes its watcher (VaultWatcher; a test passes a fake).
WatcherFactory = Callable[[list[str], frozenset[tuple[str, str]]], Watcher]


class VaultWatcher:
    """watchfiles' Rust watcher on the vault (and on the targets of followed symlinked
    files, which it cannot reach through the vault). It collects events from the moment
    it is made, so making it before a scan loses nothing written during the scan.
    `notify` makes the Rust watcher (`rust_notify`)."""

    def __init__(self, paths: list[str], links: frozenset[tuple[str, str]], *,
                 notify: NotifyFactory = rust_notify) -> None:
        self.paths = paths
        self.links = links  # the followed symlinks it was made for (it follows them itself)
        # A file or folder is watched by its inode: once replaced (an atomic save, a
        # folder made again), it must be watched anew.
        self.files = {path: inode_at(path) for path in [*paths[1:],
                                                          *(target for _, target in links)]}
        self.polling: str | None = None  # why the vault is polled, with the fix
        self._make = notify
        try:
            # Asked to report errors first: a full inotify table must not pass in
            # silence (watchfiles ignores it along with permission errors).
            self._notify = notify(paths, force_polling=False, ignore_permission_denied=False)
        except PermissionError:
            # Unreadable folders are skipped by the scan too; they must not stop the
            # watcher. (A watch limit met after one is then not seen: see README.)
            self._notify = self._inotify_or_poll(paths)
        except (OSError, RuntimeError) as exc:
            self._notify = self._poll(paths, exc)

    def _inotify_or_poll(self, paths: list[str]) -> Notify:
        try:
            return self._make(paths, force_polling=False, ignore_permission_denied=True)
        except (OSError, RuntimeError) as exc:
            return self._poll(paths, exc)

    def _poll(self, paths: list[str], exc: BaseException) -> Notify:
        """The kernel would not watch the vault: poll it instead. Other errors (the vault
        gone) are raised."""
        reason = inotify_shortage(exc)
        if reason is None:
            raise exc
        self.polling = reason
        return self._make(paths, force_polling=True, ignore_permission_denied=True)

    def next(self, stop: threading.Event, *, debounce_ms: int, step_ms: int,
             timeout_ms: int) -> set[str] | None:
        """The paths changed in the next batch; None on a timeout or when `stop` is set."""
        raw = self._notify.watch(debounce_ms, step_ms, timeout_ms, stop)
        if isinstance(raw, str):  # 'timeout', 'stop' or 'signal'
            return None
        return {path for _, path in raw}

    def close(self) -> None:
        self._notify.close()

    def __enter__(self) -> VaultWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
