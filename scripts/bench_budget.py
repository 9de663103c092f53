#!/usr/bin/env python3
"""Where a first sync's time goes: a step-by-step CPU budget of one full sync.

Usage::

    .venv/bin/python scripts/bench_budget.py VAULT WORKDIR [--runs 3]
    PYTHONPATH=OTHER_TREE .venv/bin/python scripts/bench_budget.py VAULT WORKDIR

Runs `Syncer.sync()` in this process with one worker (no parsing processes: each step
is on one clock) into a new mirror in WORKDIR, several times, and prints a Markdown
table of the median CPU time (process_time) of each step: scan, read (open, read,
hash, decode), parse by part (frontmatter, Markdown structure, token scan, inline
fields, the rest of page assembly), link resolution, each SQL statement kind by table
(inserts, the FTS index, secondary indexes, citations, anchor checks, commit), and the
rest (planning, building rows, bookkeeping). Steps are timed by wrapping the functions
that do them, so a step's figure includes a little wrapping cost; an `executemany`
includes the Python that generates its rows. PYTHONPATH may point at another tree
(for a before/after budget): only names both have are wrapped.

Standard library and vaultsync only.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

Steps = Counter[str]


def timed(steps: Steps, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            steps[name] += time.process_time() - start
    return wrapper


def sql_step(sql: str) -> str:
    """The budget line of one SQL statement."""
    text = " ".join(sql.split())
    if "pages_fts" in text:
        return "write: FTS index (the search index of new pages)"
    if text.startswith("CREATE INDEX"):
        return "write: secondary indexes (created after the load)"
    if text.startswith(("COMMIT", "BEGIN")):
        return "write: " + text.split()[0].lower()
    if "citations" in text:
        return "write: citations"
    if "anchor_ok" in text:
        return "write: anchor checks"
    m = re.match(r"INSERT (?:OR \w+ )?INTO (\w+)", text)
    if m:
        return f"write: {m.group(1)} rows"
    return "write: other statements (reads, meta, log)"


class TimedConnection:
    """A sqlite3 connection whose statements are timed by budget line."""

    def __init__(self, conn: Any, steps: Steps) -> None:
        self._conn = conn
        self._steps = steps

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, sql: str, *args: Any) -> Any:
        start = time.process_time()
        try:
            return self._conn.execute(sql, *args)
        finally:
            self._steps[sql_step(sql)] += time.process_time() - start

    def executemany(self, sql: str, rows: Any) -> Any:
        start = time.process_time()
        try:
            return self._conn.executemany(sql, rows)
        finally:
            self._steps[sql_step(sql)] += time.process_time() - start


def one_run(vault: Path, db: Path) -> tuple[Steps, float]:
    import vaultsync.load as load
    import vaultsync.parse.page as page
    import vaultsync.scan as scan
    import vaultsync.sync as sync
    from vaultsync.config import load_config
    from vaultsync.mirror import Mirror
    from vaultsync.resolve import Resolver

    steps: Steps = Counter()
    saved: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, attr: str, name: str) -> None:
        if hasattr(owner, attr):
            saved.append((owner, attr, getattr(owner, attr)))
            setattr(owner, attr, timed(steps, name, getattr(owner, attr)))

    wrap(scan.VaultScanner, "walk", "scan (walk and stat)")
    wrap(sync, "load_page", "read + parse (whole)")
    wrap(load, "parse_page", "parse (whole)")
    wrap(page, "read_frontmatter", "parse: frontmatter (YAML)")
    wrap(page, "read_structure", "parse: Markdown structure")
    wrap(page, "scan_tokens", "parse: token scan (links, tags, URLs)")
    wrap(page, "read_fields", "parse: inline fields")
    wrap(Resolver, "resolve", "resolve links")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    gc.collect()
    start = time.process_time()
    try:
        try:
            mirror = Mirror(db, scratch=True)  # type: ignore[call-arg]
        except TypeError:  # a tree from before scratch mirrors
            mirror = Mirror(db)
        mirror.conn = TimedConnection(mirror.conn, steps)  # type: ignore[assignment]
        with mirror:
            sync.Syncer(load_config(vault, db), mirror, workers=1).sync()
            mirror.conn = mirror.conn._conn  # type: ignore[attr-defined]
    finally:
        for owner, attr, fn in reversed(saved):
            setattr(owner, attr, fn)
    total = time.process_time() - start
    parts = [k for k in steps if k.startswith("parse: ")]
    steps["parse: the rest (page assembly)"] = steps.pop("parse (whole)") - sum(
        steps[k] for k in parts)
    steps["read (open, read, hash, decode)"] = steps.pop("read + parse (whole)") - sum(
        steps[k] for k in steps if k.startswith("parse"))
    steps["the rest (plan, rows, bookkeeping, close)"] = total - sum(steps.values())
    return steps, total


ORDER = ["scan", "read", "parse: front", "parse: Mark", "parse: tok", "parse: inl",
         "parse: the", "resolve", "write: pages ", "write: links", "write: headings",
         "write: tags", "write: FTS", "write: sec", "write: cit", "write: anc", "write: ",
         "write: other", "write: commit", "the rest"]
SMALL = 0.0005  # seconds: a table this cheap goes under "other tables' rows"


def rank(name: str) -> tuple[int, str]:
    for i, prefix in enumerate(ORDER):
        if name.startswith(prefix):
            return i, name
    return len(ORDER), name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vault", type=Path)
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / f"budget-{os.getpid()}.db"
    runs = [one_run(args.vault, db) for _ in range(args.runs)]
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    for steps, _ in runs:
        for name in [k for k, v in steps.items() if v < SMALL and k.endswith(" rows")]:
            steps["write: other tables' rows"] += steps.pop(name)
        steps.pop("write: begin", None)
    names = sorted({k for steps, _ in runs for k in steps}, key=rank)
    total = statistics.median(t for _, t in runs)
    import vaultsync

    print(f"vaultsync from {Path(vaultsync.__file__).parent.parent}; {args.runs} runs; "
          f"load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| step | CPU s (median) | share |")
    print("|---|---|---|")
    for name in names:
        value = statistics.median(steps.get(name, 0.0) for steps, _ in runs)
        print(f"| {name} | {value:.3f} | {100 * value / total:.0f}% |")
    print(f"| **total (in-process, one worker)** | **{total:.3f}** | 100% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
