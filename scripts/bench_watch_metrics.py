"""Daemon save-to-row latency with graph metrics on (the default `vaultsync watch`).

scripts/bench.py measures the daemon with --no-metrics; this checks that the metrics
recomputed after every batch (core) and in the background (heavy) do not hold batches
up. Each of 40 edits changes a system page's title and links, so the graph changes
every time and the heavy metrics restart.

    cp -r WORKDIR/vault-10000 WORKDIR/lat10k   # a scratch copy: its pages are edited
    .venv/bin/python scripts/bench_watch_metrics.py WORKDIR/lat10k WORKDIR/lat.db
"""

from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

EDITS = 40


def query(db: str, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def wait_until(check: Callable[[], bool], timeout: float, pause: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except sqlite3.Error:
            pass  # the mirror may not exist yet
        time.sleep(pause)
    raise SystemExit("timed out")


def main(vault: str, db: str) -> None:
    daemon = subprocess.Popen([sys.executable, "-m", "vaultsync", "watch", vault, "--db", db,
                               "-q"])
    try:
        wait_until(lambda: query(db, "SELECT state FROM daemon_status") == [("watching",)],
                   300, 0.1)
        pages = query(db, "SELECT count(*) FROM pages")[0][0]
        wait_until(lambda: query(db, "SELECT count(*) FROM page_metrics WHERE community IS "
                                     "NOT NULL")[0][0] >= pages * 0.9, 300, 0.2)
        names = sorted(os.listdir(os.path.join(vault, "systems")))[:EDITS]
        latencies = []
        for i, name in enumerate(names):
            path = os.path.join(vault, "systems", name)
            title = f"edit-{i}-{time.time()}"
            text = open(path, encoding="utf-8").read()
            text = text.replace("title:", f"title: {title}\nold_title:", 1)
            text += f"\n[[link-{i}]] [[{names[(i + 1) % len(names)][:-3]}]]\n"
            started = time.perf_counter()
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            rel = f"systems/{name}"
            wait_until(lambda rel=rel, title=title: bool(query(
                db, "SELECT 1 FROM pages WHERE path = ? AND title = ?", rel, title)),
                60, 0.0005)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.3)
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95)]
        print(f"{pages} pages, metrics on, {len(latencies)} edits: median "
              f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
              f"max {latencies[-1] * 1000:.0f} ms")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
