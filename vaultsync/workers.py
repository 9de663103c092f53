"""The processes that parse pages in parallel during a large sync.

They are started by a fork server (a clean interpreter that imports the parser once
and forks each worker from itself), never forked from the syncing process: a worker
then holds none of its descriptors (the daemon's lock file, the mirror's database),
none of its threads' locks, and none of its signal handlers. Each worker exits as soon
as the process that started the pool does: after a `kill -9` of the daemon nothing is
left running or holding anything.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

_PRELOAD = ["vaultsync.sync"]


def context() -> BaseContext:
    """The start method for parsing processes, explicit on every platform."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


def pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=context(), initializer=_init_worker,
                               initargs=(os.getpid(),))


def _init_worker(owner: int) -> None:
    # Ctrl-C reaches the whole process group: the owner decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The worker's parent is the fork server, which outlives a killed owner (the
    # workers themselves keep it alive), so the worker watches the owner directly.
    threading.Thread(target=_exit_with, args=(owner,), name="vaultsync-owner-watch",
                     daemon=True).start()


def _exit_with(owner: int) -> None:
    try:
        fd = os.pidfd_open(owner)
    except (AttributeError, OSError):  # not Linux 5.3+: poll instead
        while _running(owner):
            threading.Event().wait(0.5)
    else:
        select.select([fd], [], [])  # readable once the owner has exited
    os._exit(1)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
