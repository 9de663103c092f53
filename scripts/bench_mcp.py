#!/usr/bin/env python3
"""Time each MCP tool of `vaultsync mcp` on a vault, through the SDK's in-process client.

Usage::

    python scripts/gen_vault.py /tmp/v10k --pages 10000
    .venv/bin/python scripts/bench_mcp.py /tmp/v10k /tmp/v10k.db --runs 7

The vault is synced into DB first (if it is not yet) and its graph metrics computed, so
the times are those of answering, not of catching up. Each call is made --runs times;
the table gives the median and the range of the wall time per call (the client, the
SDK's dispatch, the tool and its JSON), and the size of the answer's JSON. The in-process
client skips the stdio pipe and its JSON-RPC framing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anyio.from_thread import start_blocking_portal  # noqa: E402
from mcp import Client  # noqa: E402

from vaultsync import graph  # noqa: E402
from vaultsync.config import load_config  # noqa: E402
from vaultsync.graph import MetricsOnDemand  # noqa: E402
from vaultsync.mcp import Vault, build_server  # noqa: E402
from vaultsync.mirror import Mirror  # noqa: E402
from vaultsync.sync import sync_vault  # noqa: E402


def calls(db: Path) -> list[tuple[str, dict[str, Any]]]:
    """The calls to time, on the vault's most central page and a median one."""
    conn = sqlite3.connect(db)
    try:
        ranked = [p for (p,) in conn.execute(
            "SELECT p.path FROM pages p JOIN page_metrics m ON m.page_id = p.id "
            "WHERE m.pagerank IS NOT NULL ORDER BY m.pagerank DESC, p.path")]
        word = conn.execute("SELECT title FROM pages ORDER BY id LIMIT 1").fetchone()[0]
    finally:
        conn.close()
    hub, middle = ranked[0], ranked[len(ranked) // 2]
    name = hub.rpartition("/")[2].removesuffix(".md")
    return [
        ("search", {"query": word.split()[0]}),
        ("get_page", {"path": hub}),
        ("get_page", {"path": f"[[{name}]]"}),
        ("get_page", {"path": middle, "include_body": True}),
        ("neighbors", {"path": middle, "depth": 1}),
        ("neighbors", {"path": middle, "depth": 2}),
        ("neighbors", {"path": hub, "depth": 3, "limit": 200}),
        ("report", {"name": "central"}),
        ("report", {"name": "wanted"}),
        ("report", {"name": "summary"}),
        ("query", {"sql": "select kind, count(*) from pages group by kind"}),
        ("query", {"sql": "select path, title from pages order by path", "limit": 1000}),
        ("status", {}),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vault", type=Path)
    ap.add_argument("db", type=Path)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    config = load_config(args.vault, args.db)
    if not config.db.exists():
        sync_vault(config)
    with Mirror(config.db) as mirror:
        graph.ensure_metrics(mirror)
        pages = mirror.counts()["pages"]
    server = build_server(Vault(config, MetricsOnDemand(config.db)))
    load_before = os.getloadavg()
    rows = []
    with start_blocking_portal() as portal, \
            portal.wrap_async_context_manager(Client(server)) as client:
        for tool, arguments in calls(config.db):
            times, size = [], 0
            for _ in range(args.runs):
                start = time.perf_counter()
                result = portal.call(functools.partial(client.call_tool, tool, arguments))
                times.append(time.perf_counter() - start)
                assert not result.is_error, result.content[0].text
                size = len(json.dumps(result.structured_content))
            rows.append((tool, arguments, statistics.median(times), min(times), max(times),
                         size))
    load_after = os.getloadavg()
    print(f"{pages:,} pages; {args.runs} runs per call; Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores; load average "
          f"{' / '.join(f'{x:.2f}' for x in load_before)} at start, "
          f"{' / '.join(f'{x:.2f}' for x in load_after)} at end\n")
    print("| tool | arguments | median | min – max | answer (JSON chars) |")
    print("|---|---|---|---|---|")
    for tool, arguments, median, low, high, size in rows:
        shown = json.dumps(arguments, ensure_ascii=False)
        print(f"| `{tool}` | `{shown}` | {median * 1000:.1f} ms | {low * 1000:.1f} – "
              f"{high * 1000:.1f} ms | {size:,} |")


if __name__ == "__main__":
    main()
