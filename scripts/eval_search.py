#!/usr/bin/env python3
"""Measure search ranking on the sample vault: mean reciprocal rank (MRR) and hit@3 of
`read.search` over tests/data/search_eval.json (queries a person would type, each with
the page they want first).

Usage::

    .venv/bin/python scripts/eval_search.py [--db WORKDIR/sample.db] [--misses]

The sample vault (vault/) is synced into --db first (a temporary file by default).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vaultsync import Vault, read  # noqa: E402

EVAL_SET = ROOT / "tests" / "data" / "search_eval.json"


def evaluate(vault: Vault, limit: int = 10) -> tuple[float, float, list[tuple[str, str, int]]]:
    """(MRR, hit@3, [(query, wanted, rank or 0)]) over the evaluation set."""
    queries = json.loads(EVAL_SET.read_text("utf-8"))["queries"]
    ranks = []
    with vault.connection() as conn:
        for item in queries:
            found = [hit["path"] for hit in read.search(conn, item["query"],
                                                         limit=limit)["results"]]
            rank = found.index(item["want"]) + 1 if item["want"] in found else 0
            ranks.append((item["query"], item["want"], rank))
    mrr = sum(1 / r for _, _, r in ranks if r) / len(ranks)
    hit3 = sum(1 for _, _, r in ranks if 0 < r <= 3) / len(ranks)
    return mrr, hit3, ranks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, help="the sample vault's mirror (default: a temp file)")
    ap.add_argument("--misses", action="store_true", help="list queries not ranked first")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        vault = Vault(ROOT / "vault", db=args.db or Path(tmp) / "sample.db")
        vault.sync(workers=1, metrics=True)  # PageRank is one of the signals
        mrr, hit3, ranks = evaluate(vault)
    print(f"queries: {len(ranks)}; MRR {mrr:.3f}; hit@3 {hit3:.3f}")
    if args.misses:
        for query, want, rank in ranks:
            if rank != 1:
                print(f"  {rank or '-':>2}  {query!r} → {want}")


if __name__ == "__main__":
    main()
