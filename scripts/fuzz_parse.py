#!/usr/bin/env python3
"""Fuzz vaultsync's parser for time: the worst parse time per page, and how it scales.

Usage::

    .venv/bin/python scripts/fuzz_parse.py                      # seed 1, sizes up to 2 MB
    .venv/bin/python scripts/fuzz_parse.py --seed 7 --max-mb 4 --random 200

A seeded corpus of adversarial families (long runs of spaces, backticks, brackets, `[[`,
`>` and list nesting, emphasis, math, tables, `%%`, Dataview brackets, YAML aliases and
huge keys, and pages dense in links, headings, tasks, block ids and fields) at sizes
doubling from 16 KB to --max-mb, plus --random pages that mix every kind of Markdown
token at random sizes. Each page is parsed once (CPU time); the
report gives the worst page overall with its size, the worst per megabyte, and for
each family the time at each size with the growth factor per doubling (about 2 is
linear, 4 quadratic).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vaultsync.parse import parse_page  # noqa: E402


def _bomb(n: int) -> str:
    names = [f"a{i}" for i in range(max(2, min(12, n.bit_length() - 8)))]
    lines = [f"{names[0]}: &{names[0]} [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip(names, names[1:], strict=False):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "---\n" + "\n".join(lines) + "\n---\n" + "x " * (n // 2)


FAMILIES: dict[str, Callable[[int], str]] = {
    "heading of spaces": lambda n: "# x" + " " * n + "y",
    "spaces then text": lambda n: " " * n + "[[a]]",
    "backtick run": lambda n: "`" * n,
    "backtick ladder": lambda n: "".join("`" * (i % 13 + 1) + "a " for i in range(n // 8)),
    "tick-a pairs": lambda n: "`a" * (n // 2),
    "open brackets": lambda n: "[" * n,
    "wikilink openers": lambda n: "[[" * (n // 2),
    "unclosed wikilinks": lambda n: "[[a " * (n // 4),
    "link openers": lambda n: "[a](" * (n // 4),
    "nested quotes": lambda n: ">" * n,
    "quoted lists": lambda n: "> - " * (n // 4),
    "nested lists": lambda n: "".join("  " * (i % 300) + "- [ ] a ^b\n" for i in range(n // 300)),
    "emphasis": lambda n: "*a" * (n // 2),
    "dollars": lambda n: "$a" * (n // 2),
    "html openers": lambda n: "<a" * (n // 2),
    "percent comments": lambda n: "%%a" * (n // 3),
    "dataview brackets": lambda n: "[k:: (" * (n // 6),
    "table rows": lambda n: "|a|b|\n|-|-|\n" + "|`a`|[[b]]|\n" * (n // 12),
    "closed link openers": lambda n: "[a](" * (n // 4) + ")",
    "html comments": lambda n: "<!--a-->" * (n // 8),
    "escaped percents": lambda n: "\\%%a" * (n // 4),
    # Pages dense in records: every one is a Python object, so budgets bound them.
    "wikilinks": lambda n: "[[a]] " * (n // 6),
    "markdown links": lambda n: "[a](b.md) " * (n // 10),
    "heading lines": lambda n: "# a\n" * (n // 4),
    "task lines": lambda n: "- [ ] a\n" * (n // 8),
    "block ids": lambda n: "a ^b\n\n" * (n // 6),
    "field lines": lambda n: "k:: v\n" * (n // 6),
    "long field lines": lambda n: ("[k:: (" * (min(n, 30_000) // 6) + "\n") * max(1, n // 30_001),
    "short lines": lambda n: "a\n" * (n // 2),
    "hashtags": lambda n: "#a " * (n // 3),
    "urls": lambda n: "https://a.b/" * (n // 12),
    "frontmatter keys with links": lambda n: "---\n" + "".join(
        f"k{i}: '[[L{i}]]'\n" for i in range(n // 16)) + "---\n",
    "frontmatter invalid keys": lambda n: "---\n" + "".join(
        f"k{i}: {{{{date}}}}\n" for i in range(n // 16)) + "---\n",
    "frontmatter huge key": lambda n: "---\n" + "k" * n + ": v\n---\n",
    "yaml alias bomb": _bomb,
}

TOKENS = ["[[a]]", "[[", "]]", "[", "]", "(", ")", "`", "``", "```\n", "~~~\n", "$", "$$",
          "%%", "<!--", "-->", "<div>", "> ", "- ", "1. ", "- [ ] ", "# ", "\n", "\n\n",
          "    ", "\t", "|", "|---|\n", "*", "_", "\\", "^id", "k:: v", "[k:: v]", "#tag",
          "https://x.y/", "![[e]]", "[t](p.md)", "é", "😀", "\r\n", " "]


def random_page(rng: random.Random, size: int) -> str:
    out: list[str] = []
    total = 0
    while total < size:
        tok = rng.choice(TOKENS) * rng.choice((1, 1, 1, 2, 5, 50))
        out.append(tok)
        total += len(tok)
    return "".join(out)


def timed(text: str) -> float:
    gc.disable()  # as in sync's parsing processes, which pause the cyclic GC
    try:
        t0 = time.process_time()
        parse_page("fuzz.md", text)
        return time.process_time() - t0
    finally:
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-mb", type=float, default=2.0)
    ap.add_argument("--random", type=int, default=100, help="random mixed pages")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    sizes = []
    size = 16_000
    while size <= args.max_mb * 1_000_000:
        sizes.append(size)
        size *= 2
    worst: tuple[float, int, str] = (0.0, 0, "")
    worst_per_mb: tuple[float, int, str] = (0.0, 0, "")
    print(f"seed {args.seed}; sizes {', '.join(f'{s / 1e6:g} MB' for s in sizes)}; "
          "CPU ms per page (growth per doubling)\n")
    print("| family | " + " | ".join(f"{s / 1e6:g} MB" for s in sizes) + " |")
    print("|---" * (len(sizes) + 1) + "|")
    for name, make in FAMILIES.items():
        cells = []
        prev = None
        for size in sizes:
            text = make(size)
            seconds = timed(text)
            n = len(text.encode("utf-8"))
            worst = max(worst, (seconds, n, name))
            if n >= 100_000:
                worst_per_mb = max(worst_per_mb, (seconds / n * 1e6, n, name))
            growth = f" (x{seconds / prev:.1f})" if prev and prev > 0.002 else ""
            cells.append(f"{seconds * 1000:.0f}{growth}")
            prev = seconds
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    for i in range(args.random):
        size = int(rng.choice(sizes) * rng.random()) + 1
        text = random_page(rng, size)
        seconds = timed(text)
        n = len(text.encode("utf-8"))
        worst = max(worst, (seconds, n, f"random #{i}"))
        if n >= 100_000:
            worst_per_mb = max(worst_per_mb, (seconds / n * 1e6, n, f"random #{i}"))
    print(f"\n{args.random} random mixed pages (seed {args.seed}) included in the worst cases.")
    print(f"worst page: {worst[0] * 1000:.0f} ms for {worst[1] / 1e6:.2f} MB ({worst[2]})")
    print(f"worst per MB (pages of 0.1 MB and more): {worst_per_mb[0] * 1000:.0f} ms/MB, "
          f"at {worst_per_mb[1] / 1e6:.2f} MB ({worst_per_mb[2]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
