#!/usr/bin/env python3
"""A full sync with parsing processes forked against the same sync with other start methods.

Usage::

    .venv/bin/python scripts/bench_start_method.py VAULT --rounds 6
    .venv/bin/python scripts/bench_start_method.py VAULT --methods fork,forkserver,spawn

vaultsync forks its parsing processes on Linux and spawns them elsewhere
(`vaultsync/platform.py`). This measures the difference: each round syncs VAULT into a
fresh mirror once per start method, interleaved and timed as
scripts/bench_sync_against.py does (the whole process: wall time, and CPU time of it and
its parsing processes). VAULTSYNC_START_METHOD chooses the method in the child.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from pathlib import Path

# this script's neighbour: its folder is sys.path[0]
from bench_sync_against import REPO, interleaved, median_difference, print_table, timed_sync

CHILD = """
import sys
from vaultsync.cli import cli
cli(["sync", sys.argv[1], "--db", sys.argv[2], "--quiet"])
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vault", type=Path, help="a vault, e.g. one made by gen_vault.py")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--methods", default="fork,forkserver",
                    help="comma-separated start methods (default fork,forkserver)")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    vault = args.vault.resolve()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mirror.db"
        runs = {method: functools.partial(
                    timed_sync, [sys.executable, "-c", CHILD, str(vault), str(db)], db,
                    dict(os.environ, PYTHONPATH=str(REPO), VAULTSYNC_START_METHOD=method))
                for method in methods}
        times, loads = interleaved(runs, args.rounds)

    print(f"full sync of {args.vault} ({args.rounds} rounds, interleaved); load average "
          f"{min(loads):.2f} – {max(loads):.2f}\n")
    print_table("start method", times)
    if "forkserver" in times:
        print("\n(forkserver's CPU leaves out its parsing processes: they are the fork "
              "server's children, which the sync never waits for)")
    for method in methods[1:]:
        wall, _ = median_difference(times[methods[0]], times[method])
        print(f"\n{method} minus {methods[0]}, median of the rounds: wall {wall:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
