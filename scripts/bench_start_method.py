#!/usr/bin/env python3
"""A full sync with parsing processes forked against the same sync with other start methods.

Usage::

    .venv/bin/python scripts/bench_start_method.py VAULT --rounds 6
    .venv/bin/python scripts/bench_start_method.py VAULT --methods fork,forkserver,spawn

vaultsync forks its parsing processes (`vaultsync/workers.py`). This measures why: each
round syncs VAULT into a fresh mirror once per start method, the order reversed every
other round so that a change in the machine's load falls on all, timing the whole
process (wall time, and CPU time of it and its parsing processes). A method other than
fork is chosen by replacing `workers.pool` in the child before `vaultsync sync` runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Other start methods get a plain pool: the workers' own set-up (signals, dying with
# their owner) assumes fork, whose parent is the owner, and costs next to nothing.
CHILD = """
import multiprocessing, sys
from concurrent.futures import ProcessPoolExecutor
import vaultsync.workers
method = sys.argv[1]
if method != "fork":
    vaultsync.workers.pool = lambda workers: ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context(method))
from vaultsync.cli import cli
cli(["sync", sys.argv[2], "--db", sys.argv[3], "--quiet"])
"""


def sync_once(method: str, vault: Path, db: Path) -> tuple[float, float]:
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", CHILD, method, str(vault), str(db)], env=env,
                   cwd=db.parent, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vault", type=Path, help="a vault, e.g. one made by gen_vault.py")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--methods", default="fork,forkserver",
                    help="comma-separated start methods (default fork,forkserver)")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    vault = args.vault.resolve()

    times: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        order = list(methods)
        for _ in range(args.rounds):
            for method in order:
                loads.append(os.getloadavg()[0])
                times[method].append(sync_once(method, vault, Path(tmp) / "mirror.db"))
            order.reverse()

    print(f"full sync of {args.vault} ({args.rounds} rounds, interleaved); load average "
          f"{min(loads):.2f} – {max(loads):.2f}\n")
    print("| start method | wall s | CPU s (with parsing processes) |")
    print("|---|---|---|")
    for method, runs in times.items():
        wall, cpu = [w for w, _ in runs], [c for _, c in runs]
        print(f"| {method} | {statistics.median(wall):.2f} ({min(wall):.2f} – "
              f"{max(wall):.2f}) | {statistics.median(cpu):.2f} ({min(cpu):.2f} – "
              f"{max(cpu):.2f}) |")
    if "forkserver" in times:
        print("\n(forkserver's CPU leaves out its parsing processes: they are the fork "
              "server's children, which the sync never waits for)")
    base = times[methods[0]]
    for method in methods[1:]:
        diff = statistics.median(t[0] - b[0] for b, t in zip(base, times[method], strict=True))
        print(f"\n{method} minus {methods[0]}, median of the rounds: wall {diff:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
