#!/usr/bin/env python3
"""Time unlinked mentions on a vault: the answer for one page (`Vault.unlinked_mentions`)
over a sample of pages, and the report over the whole vault.

Usage::

    python scripts/gen_vault.py /tmp/v10k --pages 10000
    .venv/bin/python scripts/bench_mentions.py /tmp/v10k /tmp/v10k.db --sample 200

The vault is synced into DB first (if it is not yet). Pages are sampled with a fixed
seed; each is asked --repeat times (the fastest counts) after one warm-up call. It
prints the median, 95th percentile and slowest page, and the most mentions one page had.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vaultsync import Vault, read  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vault", type=Path)
    ap.add_argument("db", type=Path)
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3,
                    help="calls per page; the fastest counts (a shared machine's pauses)")
    ap.add_argument("--no-report", action="store_true", help="skip the whole-vault report")
    args = ap.parse_args()
    vault = Vault(args.vault, db=args.db)
    if not vault.synced:
        started = time.perf_counter()
        vault.sync()
        print(f"synced in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    with vault.connection() as conn:
        paths = [p for (p,) in conn.execute("SELECT path FROM pages ORDER BY path")]
        sample = random.Random(args.seed).sample(paths, min(args.sample, len(paths)))
        read.unlinked_mentions(conn, sample[0])  # warm the page cache
        times, most = [], 0
        for path in sample:
            best = float("inf")
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                found = read.unlinked_mentions(conn, path)
                best = min(best, (time.perf_counter() - started) * 1000)
            times.append(best)
            most = max(most, found["total"])
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}")
    print(f"pages: {len(paths):,}; sampled: {len(sample)}")
    print(f"unlinked_mentions(page): median {statistics.median(times):.1f} ms, "
          f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms; most mentions of one page: {most}")
    if not args.no_report:
        started = time.perf_counter()
        report = vault.report("unlinked-mentions")
        seconds = time.perf_counter() - started
        print(f"report unlinked-mentions: {report.total:,} mentions in {seconds:.1f} s"
              + (f" ({report.notes[0]})" if report.notes else ""))


if __name__ == "__main__":
    main()
