"""Search ranks like a person would: the evaluation set (tests/data/search_eval.json,
queries over the sample vault, each with the page wanted first) keeps its mean
reciprocal rank and hit@3 at or above what was measured (BENCHMARKS.md: 0.917 and
0.938 before ranking by names, text and graph together; 0.979 and 0.979 after), and
every hit says why it ranked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaultsync import read

EVAL_SET = Path(__file__).resolve().parent / "data" / "search_eval.json"
MRR_FLOOR = 0.95
HIT3_FLOOR = 0.95


def test_the_set_is_big_enough_and_its_pages_exist(sample_mirror: Path) -> None:
    queries = json.loads(EVAL_SET.read_text("utf-8"))["queries"]
    assert len(queries) >= 30
    with read.open_mirror(sample_mirror) as conn:
        for item in queries:
            read.page_id(conn, item["want"])  # NotFound if the set names a missing page


def test_mrr_and_hit_at_3_stay_above_their_floor(sample_mirror: Path) -> None:
    queries = json.loads(EVAL_SET.read_text("utf-8"))["queries"]
    ranks = []
    with read.open_mirror(sample_mirror) as conn:
        for item in queries:
            found = [h["path"] for h in read.search(conn, item["query"], limit=10)["results"]]
            ranks.append(found.index(item["want"]) + 1 if item["want"] in found else 0)
    mrr = sum(1 / r for r in ranks if r) / len(ranks)
    hit3 = sum(1 for r in ranks if 0 < r <= 3) / len(ranks)
    misses = [(q["query"], r) for q, r in zip(queries, ranks, strict=True) if r != 1]
    assert mrr >= MRR_FLOOR, (mrr, misses)
    assert hit3 >= HIT3_FLOOR, (hit3, misses)


@pytest.mark.parametrize(("query", "first", "how"), [
    ("kafka", "systems/apache-kafka.md", "alias exact (Kafka)"),
    ("Change Data Capture", "concepts/change-data-capture.md", "title exact"),
    ("exactly once", "concepts/exactly-once-semantics.md", "alias exact (Exactly once)"),
])
def test_each_hit_says_why_it_ranked(sample_mirror: Path, query: str, first: str,
                                     how: str) -> None:
    with read.open_mirror(sample_mirror) as conn:
        results = read.search(conn, query)["results"]
    top = results[0]
    assert top["path"] == first
    assert top["why"]["summary"].startswith(how)
    assert top["why"]["pagerank"] and "PageRank" in top["why"]["summary"]
    assert [h["score"] for h in results] == sorted((h["score"] for h in results),
                                                   reverse=True)
    for h in results:
        assert set(h["why"]["fields"]) <= {"title", "alias", "path", "text"}
