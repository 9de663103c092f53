"""What differs between Linux, macOS and Windows, in one place: how parsing processes
start, how a file is locked, how a process is asked to stop, whether one is alive.

Modules that exist on one platform only (`fcntl`, `msvcrt`) are imported inside the
function that needs them, so that every other module imports everywhere.

- **Start method.** `fork` on Linux, where it is safe before threads start and the
  cheapest (see BENCHMARKS.md); `spawn` elsewhere: Windows has no fork, and on macOS
  system libraries may start threads that a fork would break (Python's own default
  there is spawn). `VAULTSYNC_START_METHOD` (fork, forkserver or spawn) forces one.
- **Lock.** `flock` on POSIX, `msvcrt.locking` on Windows: both are dropped by the
  operating system when the process dies, however it dies. Windows' lock is
  mandatory, so it covers one byte past the end of the lock file, where nobody reads.
- **Stopping.** Ctrl-C is SIGINT to a POSIX process group; on Windows, a console
  process group started with CREATE_NEW_PROCESS_GROUP gets CTRL_BREAK_EVENT (SIGBREAK
  in the child), the only console event that can be sent to one group.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess
    from multiprocessing.context import BaseContext

WINDOWS = sys.platform == "win32"
LINUX = sys.platform.startswith("linux")

START_METHOD_VARIABLE = "VAULTSYNC_START_METHOD"
START_METHODS = ("fork", "forkserver", "spawn")

# The byte Windows' mandatory lock covers: past the holder and state lines (lock.py
# keeps the file within this size), so that other processes can still read them.
LOCK_OFFSET = 1 << 20


class PlatformError(Exception):
    """A setting asks for something this platform cannot do."""


# --- start method ---------------------------------------------------------------------

def default_start_method() -> str:
    return "fork" if LINUX else "spawn"


def start_method() -> str:
    """The start method for parsing processes: VAULTSYNC_START_METHOD, or the
    platform's default."""
    forced = os.environ.get(START_METHOD_VARIABLE, "").strip().lower()
    if not forced:
        return default_start_method()
    if forced not in START_METHODS:
        raise PlatformError(f"{START_METHOD_VARIABLE}={forced!r}: expected one of "
                            f"{', '.join(START_METHODS)}")
    import multiprocessing

    if forced not in multiprocessing.get_all_start_methods():
        raise PlatformError(f"{START_METHOD_VARIABLE}={forced!r}: this platform has "
                            f"{', '.join(multiprocessing.get_all_start_methods())}")
    return forced


def mp_context() -> BaseContext:
    import multiprocessing

    return multiprocessing.get_context(start_method())


# --- file lock ------------------------------------------------------------------------

def try_lock(fd: int) -> bool:
    """Take the exclusive lock on the open file `fd` without waiting; False when another
    process holds it. Dropped when `fd` is closed or the process dies."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def write_at(fd: int, data: bytes, offset: int) -> None:
    """Write `data` at `offset` (pwrite where there is one)."""
    if hasattr(os, "pwrite"):
        os.pwrite(fd, data, offset)
    else:
        os.lseek(fd, offset, os.SEEK_SET)
        os.write(fd, data)


def after_fork_in_child(callback: Any) -> None:
    """Call `callback` in every forked child; nothing where processes are never forked."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=callback)


# --- file names -----------------------------------------------------------------------

def case_insensitive_at(root: str, rel: str) -> bool:
    """Whether `rel` (a vault path that exists) is also found under other case: a
    case-insensitive file system (macOS' and Windows' defaults) somewhere along it."""
    swapped = rel.swapcase()
    if swapped == rel:
        return False
    try:
        return os.path.samestat(os.lstat(os.path.join(root, rel)),
                                os.lstat(os.path.join(root, swapped)))
    except OSError:
        return False


def listed_as_named(root: str, rel: str,
                    listings: dict[str, frozenset[str]] | None = None) -> bool:
    """Whether each part of vault path `rel` is spelt as its folder lists it (on a
    case-insensitive file system `note.md` also opens `Note.md`, listed as such).
    `listings` keeps the folders listed, for the next call."""
    listings = {} if listings is None else listings
    folder = root
    for part in rel.split("/"):
        if folder not in listings:
            try:
                listings[folder] = frozenset(os.listdir(folder))
            except OSError:
                listings[folder] = frozenset()
        if part not in listings[folder]:
            return False
        folder = os.path.join(folder, part)
    return True


# --- processes ------------------------------------------------------------------------

def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        # os.kill(pid, 0) would terminate the process on Windows: ask for a handle.
        import ctypes

        kernel32 = ctypes.windll.kernel32
        query_limited_information, still_active = 0x1000, 259
        handle = kernel32.OpenProcess(query_limited_information, False, pid)
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return bool(code.value == still_active)
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_exit(pid: int) -> None:
    """Windows: block until process `pid` has exited (at once if it has already)."""
    if sys.platform != "win32":
        raise NotImplementedError("wait_for_exit is for Windows")
    import ctypes

    kernel32 = ctypes.windll.kernel32
    synchronize, infinite = 0x00100000, 0xFFFFFFFF
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        return
    try:
        kernel32.WaitForSingleObject(handle, infinite)
    finally:
        kernel32.CloseHandle(handle)


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that ask this process to stop: Ctrl-C, a service manager's SIGTERM,
    and on Windows Ctrl-Break (what `interrupt` sends to a process group there)."""
    signals = [signal.SIGINT, signal.SIGTERM]
    if sys.platform == "win32":
        signals.append(signal.SIGBREAK)
    return tuple(signals)


def new_group_options() -> dict[str, Any]:
    """subprocess.Popen options that start a child in a process group of its own, so
    that `interrupt` and `kill_group` reach it and its children, not this process."""
    if sys.platform == "win32":
        import subprocess

        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def interrupt(proc: subprocess.Popen[Any], *, group: bool = False) -> None:
    """Ctrl-C for a child process (with `group`: for the process group it leads, started
    with `new_group_options`). On Windows a console event reaches a whole group only,
    so a child there always gets Ctrl-Break to its group."""
    if sys.platform == "win32":
        proc.send_signal(signal.CTRL_BREAK_EVENT)
    elif group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)


def kill(proc: subprocess.Popen[Any], *, group: bool = False) -> None:
    """Stop a child at once (with `group`: its whole process group on POSIX; on Windows
    the child, whose parsing processes exit with it)."""
    if group and not WINDOWS:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        proc.kill()
