"""The processes that parse pages in parallel during a large sync.

They are started by a fork server (a clean interpreter that imports the parser once
and forks each worker from itself), never forked from the syncing process: a worker
then holds none of its descriptors (the daemon's lock file, the mirror's database),
none of its threads' locks, and none of its signal handlers. Each worker dies with
its parent: after a `kill -9` of the daemon nothing is left holding anything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1
_PRELOAD = ["vaultsync.sync"]


def context() -> multiprocessing.context.BaseContext:
    """The start method for parsing processes, explicit on every platform."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def start_server() -> None:
    """Start the fork server now, so its start-up overlaps the caller's own work."""
    from multiprocessing import forkserver

    context()
    forkserver.ensure_running()


def pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=context(), initializer=_init_worker)


def _init_worker() -> None:
    # Ctrl-C reaches the whole process group: the parent decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    parent = os.getppid()
    if parent == 1:  # the parent died before the line above took effect
        os._exit(0)
    if not sys.platform.startswith("linux"):
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        threading.Event().wait(1.0)
    os._exit(0)
