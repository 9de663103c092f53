#!/usr/bin/env python3
"""A full sync by this checkout against a full sync by another git revision, interleaved.

Usage::

    .venv/bin/python scripts/bench_sync_against.py main VAULT --rounds 8
    .venv/bin/python scripts/bench_sync_against.py main VAULT --rounds 4 --workers 1

The revision's tree is exported with `git archive` into a temporary folder and run with
this checkout's interpreter (`python -m vaultsync` with PYTHONPATH pointing at it), so
that the two differ only in their code. Each round syncs VAULT once with each, into a
fresh mirror (the order reversed every other round, so that a change in the machine's
load falls on both), timing the whole process: wall time, and CPU time (user + sys) of
it and its parsing processes. The table gives medians with min and max, the median of
the per-round differences (rounds pair runs made seconds apart, which a shared machine's
load disturbs least), and the load average.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import REPO, export_rev  # this script's neighbour: its folder is sys.path[0]

Timing = tuple[float, float]  # wall seconds, CPU seconds of the process and its children


def timed_sync(argv: list[str], db: Path, env: dict[str, str]) -> Timing:
    """Run one sync process (`argv`) into a fresh mirror at `db`; its wall and CPU time."""
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, cwd=db.parent, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def interleaved(runs: dict[str, Callable[[], Timing]], rounds: int
                ) -> tuple[dict[str, list[Timing]], list[float]]:
    """Each round runs every entry once, the order reversed every other round, so that a
    change in the machine's load falls on all; the timings, and the load before each."""
    times: dict[str, list[Timing]] = {name: [] for name in runs}
    loads = []
    order = list(runs)
    for _ in range(rounds):
        for name in order:
            loads.append(os.getloadavg()[0])
            times[name].append(runs[name]())
        order.reverse()
    return times, loads


def print_table(column: str, times: dict[str, list[Timing]]) -> None:
    print(f"| {column} | wall s | CPU s (with parsing processes) |")
    print("|---|---|---|")
    for name, runs in times.items():
        wall, cpu = [w for w, _ in runs], [c for _, c in runs]
        print(f"| {name} | {statistics.median(wall):.2f} ({min(wall):.2f} – {max(wall):.2f}) "
              f"| {statistics.median(cpu):.2f} ({min(cpu):.2f} – {max(cpu):.2f}) |")


def median_difference(base: list[Timing], other: list[Timing]) -> Timing:
    """Medians of the per-round differences, wall and CPU (other minus base)."""
    return (statistics.median(o[0] - b[0] for b, o in zip(base, other, strict=True)),
            statistics.median(o[1] - b[1] for b, o in zip(base, other, strict=True)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev", help="the git revision to compare with, e.g. main")
    ap.add_argument("vault", type=Path)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--workers", type=int, help="passed to vaultsync sync")
    args = ap.parse_args(argv)
    extra = [] if args.workers is None else ["--workers", str(args.workers)]

    vault = args.vault.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mirror.db"
        codes = {args.rev: export_rev(args.rev, Path(tmp)), "this checkout": REPO}
        # No -q: older revisions lack it; the output is thrown away either way.
        runs = {name: functools.partial(
                    timed_sync, [sys.executable, "-m", "vaultsync", "sync", str(vault),
                                 "--db", str(db), *extra],
                    db, dict(os.environ, PYTHONPATH=str(code)))
                for name, code in codes.items()}
        times, loads = interleaved(runs, args.rounds)

    print(f"full sync of {args.vault} ({args.rounds} rounds, interleaved"
          f"{', ' + ' '.join(extra) if extra else ''}); load average "
          f"{min(loads):.2f} – {max(loads):.2f}\n")
    print_table("code", times)
    wall_diff, cpu_diff = median_difference(times[args.rev], times["this checkout"])
    print(f"\nthis checkout minus {args.rev}, median of the rounds: wall {wall_diff:+.2f} s, "
          f"CPU {cpu_diff:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
