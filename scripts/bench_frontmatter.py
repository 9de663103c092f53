#!/usr/bin/env python3
"""vaultsync's frontmatter reader against python-frontmatter's, µs per page.

Usage::

    .venv/bin/python scripts/bench_frontmatter.py --vault vault            # the sample vault
    .venv/bin/python scripts/bench_frontmatter.py --pages 2000 --seed 42   # a generated one

python-frontmatter is not a dependency of vaultsync; install it beside this script's
interpreter (`pip install python-frontmatter`) or name a folder holding it with
`--frontmatter-path`. Every page is read into memory once; each reader then runs over
every page `--runs` times after a warm-up, the readers interleaved round by round, and
the median per-page CPU time (time.process_time) of the rounds is printed, with the
pages whose data differ (dates compared as the ISO text the mirror stores). The
readers: vaultsync's (split_frontmatter + read_frontmatter: the budgeted, lenient YAML
of vaultsync.parse.frontmatter); python-frontmatter's
`frontmatter.loads` with its own YAML handler (PyYAML's SafeLoader, C if built); and
python-frontmatter's `loads` with vaultsync's reader as its YAML handler (what adopting
it for its TOML and JSON handlers would cost on the YAML every Obsidian page has).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vaultsync.parse.frontmatter import jsonable, read_frontmatter, split_frontmatter


def ours(text: str) -> dict[str, Any]:
    block, _, _ = split_frontmatter(text)
    return {} if block is None else read_frontmatter(block).data


def theirs_plain() -> Callable[[str], dict[str, Any]]:
    import frontmatter

    def load(text: str) -> dict[str, Any]:
        try:
            return dict(frontmatter.loads(text).metadata)
        except Exception:  # a block PyYAML rejects: python-frontmatter raises
            return {"<error>": True}

    return load


def theirs_with_our_yaml() -> Callable[[str], dict[str, Any]]:
    import frontmatter
    from frontmatter.default_handlers import YAMLHandler

    class LenientYAML(YAMLHandler):  # type: ignore[misc]
        def load(self, fm: str, **kwargs: object) -> dict[str, Any]:
            return read_frontmatter(fm).data

    handler = LenientYAML()

    def load(text: str) -> dict[str, Any]:
        return dict(frontmatter.loads(text, handler=handler).metadata)

    return load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vault", type=Path, help="an existing vault (default: generate one)")
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frontmatter-path", type=Path,
                    help="a folder holding python-frontmatter (pip install --target)")
    args = ap.parse_args()
    if args.frontmatter_path:
        sys.path.insert(0, str(args.frontmatter_path))
    with tempfile.TemporaryDirectory() as tmp:
        vault = args.vault
        if vault is None:
            sys.path.insert(0, str(Path(__file__).parent))
            import gen_vault

            vault = Path(tmp) / "vault"
            gen_vault.generate(vault, args.pages, seed=args.seed)
        texts = [p.read_text(encoding="utf-8", errors="replace")
                 for p in sorted(vault.rglob("*.md"))
                 if not any(part.startswith(".") for part in p.relative_to(vault).parts)]
    readers = {"vaultsync (split + lenient YAML)": ours,
               "python-frontmatter (its YAML handler)": theirs_plain(),
               "python-frontmatter + vaultsync's YAML": theirs_with_our_yaml()}
    times: dict[str, list[float]] = {name: [] for name in readers}
    for read in readers.values():  # warm-up
        for text in texts:
            read(text)
    for run in range(args.runs):
        order = list(readers.items())
        for name, read in order if run % 2 == 0 else reversed(order):
            start = time.process_time()
            for text in texts:
                read(text)
            times[name].append((time.process_time() - start) / len(texts) * 1e6)
    print(f"{len(texts):,} pages from {args.vault or f'gen_vault --pages {args.pages}'}; "
          f"{args.runs} runs")
    for name, values in times.items():
        print(f"  {name:<40} {statistics.median(values):7.1f} µs/page "
              f"(min {min(values):.1f}, max {max(values):.1f})")
    plain = readers["python-frontmatter (its YAML handler)"]
    # Dates as ISO text on both sides (the mirror stores JSON).
    differ = sum(1 for text in texts if ours(text) != jsonable(plain(text)))
    print(f"  pages whose data differ (vaultsync vs python-frontmatter): {differ:,}")


if __name__ == "__main__":
    main()
