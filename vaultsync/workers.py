"""The processes that parse pages in parallel during a large sync.

They start by the platform's method (`platform.start_method`: forked on Linux, spawned
elsewhere or when VAULTSYNC_START_METHOD says so), and get everything they need as
arguments: the owner's pid here, a vault path and parse options with each chunk of work
(sync.py), never module state a fork happens to carry over. What a fork would carry
over is dealt with all the same: a worker resets the signal handlers it inherited (a
stop request is its owner's business), exits as soon as its owner does (even after
`kill -9`), and never holds the daemon's lock (DaemonLock closes its descriptor in
every forked child; a spawned one never had it). Forking is only safe while the owner
has no other Python thread, so callers that run threads parse in-process instead (see
Daemon).
"""

from __future__ import annotations

import os
import select
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

from . import platform

_PR_SET_PDEATHSIG = 1


def context() -> BaseContext:
    """The start method for parsing processes, explicit on every platform."""
    return platform.mp_context()


def pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=context(), initializer=_init_worker,
                               initargs=(os.getpid(),))


def _init_worker(owner: int) -> None:
    # Ctrl-C reaches the whole process group, and the owner's own SIGTERM handler would
    # only set a flag in this copy of it: both are the owner's business.
    for sig in platform.stop_signals():
        signal.signal(sig, signal.SIG_IGN if sig != signal.SIGTERM else signal.SIG_DFL)
    if platform.LINUX:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The owner died before the line above took effect: this process was adopted.
        # (Under forkserver the parent is the fork server, never the owner: there, ask
        # whether the owner still runs; elsewhere a dead owner may linger as a zombie
        # that still answers a signal, so adoption alone decides.)
        if os.getppid() != owner and (platform.start_method() != "forkserver"
                                      or not platform.pid_alive(owner)):
            os._exit(1)
    else:
        threading.Thread(target=_exit_with, args=(owner,), name="vaultsync-owner-watch",
                         daemon=True).start()


def _exit_with(owner: int) -> None:
    """Where there is no parent-death signal: wait for the owner to go, then go."""
    if platform.WINDOWS:
        platform.wait_for_exit(owner)
        os._exit(1)
    try:
        fd = os.pidfd_open(owner)
    except (AttributeError, OSError):
        # A POSIX orphan is adopted by another process (Windows keeps the old parent id,
        # hence the handle above).
        while os.getppid() == owner:
            threading.Event().wait(0.5)
    else:
        select.select([fd], [], [])  # readable once the owner has exited
    os._exit(1)
