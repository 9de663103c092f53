"""The read-only `query` tool against the statements that outran its bounds: each runs
through `vaultsync.read.run_query` (what MCP's `query` runs) in a fresh child process,
which reports its wall time, its peak memory (max RSS) and the answer.

    python scripts/query_bounds.py VAULT WORKDIR   # WORKDIR gets the mirror
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROW = " + ".join(["length(randomblob(15000000))"] * 20)
CASES: dict[str, tuple[str, int]] = {
    "one 900 MB value": ("select length(randomblob(900000000))", 100),
    "a recursive CTE of 250 MB values": (
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 100) "
        "select sum(length(randomblob(250000000))) from r", 100),
    "rows of twenty 15 MB values": (
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 2000) "
        f"select sum({ROW}) from r", 100),
    "a 15 MB value per page, limit 1": ("select zeroblob(15000000) from pages", 1),
    "a 15 MB value per page, limit 100": ("select zeroblob(15000000) from pages", 100),
}


def run_one(db: Path, sql: str, limit: int) -> dict[str, object]:
    from vaultsync import read

    started = time.monotonic()
    with read.open_mirror(db) as conn:
        try:
            result = read.run_query(conn, sql, limit=limit)
            answer = (f"{len(result['rows'])} rows, {result['more_rows']} more "
                      f"({'exact' if result['more_rows_exact'] else 'at least'})")
        except read.QueryRefused as exc:
            answer = f"refused: {exc}"
    return {"seconds": round(time.monotonic() - started, 2),
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "answer": answer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("vault", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--one", nargs=3, metavar=("DB", "SQL", "LIMIT"),
                        help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.one:
        db, sql, limit = args.one
        print(json.dumps(run_one(Path(db), sql, int(limit))))
        return
    from vaultsync.config import load_config
    from vaultsync.sync import sync_vault

    args.workdir.mkdir(parents=True, exist_ok=True)
    config = load_config(args.vault, args.workdir / "query_bounds.db")
    sync_vault(config)
    for name, (sql, limit) in CASES.items():
        done = subprocess.run([sys.executable, __file__, str(args.vault), str(args.workdir),
                               "--one", str(config.db), sql, str(limit)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode:
            print(f"{name}: exit {done.returncode}: {done.stderr.strip()[-200:]}")
            continue
        got = json.loads(done.stdout)
        print(f"{name}: {got['seconds']} s, max RSS {got['max_rss_mb']} MB: "
              f"{str(got['answer'])[:90]}")


if __name__ == "__main__":
    main()
