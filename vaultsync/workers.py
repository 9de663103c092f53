"""The processes that parse pages in parallel during a large sync.

They are forked (the cheapest start for the short syncs a daemon runs, and no slower for
long ones: see BENCHMARKS.md), so what a fork would carry over is dealt with here
and where it is held: a worker resets the signal handlers it inherited (a stop request
is its owner's business), exits as soon as its owner does (even after `kill -9`), and
never holds the daemon's lock (DaemonLock closes its descriptor in every forked child).
Forking is only safe while the owner has no other Python thread, so callers that run
threads parse in-process instead (see Daemon).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import select
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

_PR_SET_PDEATHSIG = 1


def context() -> BaseContext:
    """The start method for parsing processes, explicit on every platform."""
    return multiprocessing.get_context("fork")


def pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=context(), initializer=_init_worker,
                               initargs=(os.getpid(),))


def _init_worker(owner: int) -> None:
    # Ctrl-C reaches the whole process group, and the owner's own SIGTERM handler would
    # only set a flag in this copy of it: both are the owner's business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != owner:  # the owner died before the line above took effect
            os._exit(1)
    else:
        threading.Thread(target=_exit_with, args=(owner,), name="vaultsync-owner-watch",
                         daemon=True).start()


def _exit_with(owner: int) -> None:
    """Where there is no parent-death signal: wait for the owner to go, then go."""
    try:
        fd = os.pidfd_open(owner)
    except (AttributeError, OSError):
        while os.getppid() == owner:
            threading.Event().wait(0.5)
    else:
        select.select([fd], [], [])  # readable once the owner has exited
    os._exit(1)
