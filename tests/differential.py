"""The differential test's corpus and yardstick: three vaults (the sample vault, a
generated one, a fuzzed one) and, for each, a digest per table of the mirror a full
sync makes (`vaultsync.read.dump`: rows keyed by paths, no row ids or timestamps).

tests/data/mirror_digests.json holds the digests the reference code made; a faster
sync must make the same mirror, row for row. Written again only when the mirror is
meant to change (a parser fix, a new column), from the code before the speed work:

    .venv/bin/python tests/differential.py --write WORKDIR
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import fuzz_parse  # noqa: E402
import gen_vault  # noqa: E402

DIGESTS = REPO / "tests" / "data" / "mirror_digests.json"
# Above the sync's bulk and parallel thresholds, so the first sync takes its fast path.
GENERATED_PAGES = 700
FUZZ_PAGES = 560

# Frontmatter shapes a fast YAML path must agree with PyYAML on, or leave to it.
FRONTMATTER = [
    "title: Plain\ntags: [a, b]\n",
    "title: 'quoted: colon'\naliases:\n  - One\n  - \"Two\"\n",
    "type: source\ncreated: 2024-01-02\nupdated: 2024-01-02T10:20:30Z\n",
    "n: 12\nf: 1.5e3\nb: yes\nnull: ~\nempty:\n",
    "tags: plain string tag\nrelated: \"[[Some Page]]\"\n",
    "nested:\n  a: 1\n  b: [x, y]\n",
    "anchor: &a [1, 2]\nref: *a\n",
    "multi: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
    "title: # comment only\nkey: value # trailing\n",
    "bad: [unclosed\n",
    "- a list\n- at the top\n",
    "dup: 1\ndup: 2\n",
    "'quoted key': 0x1F\noct: 0o17\ninf: .inf\n",
    "title: \"esc \\u00e9 \\\" q\"\ndate: 2024-13-45\n",
    "tab:\tvalue\nkey:value\n",
    "key: 'it''s'\nlong: " + "w " * 300 + "\n",
    "Title: Upper\nTAGS: [X]\nAliases: y\n",
    "? complex\n: key\n",
    "emoji: 😀\naccent: é\n",
    "tags:\n- a\n- b\ncssclasses: [wide]\n",
]


def fuzz_vault(root: Path, pages: int = FUZZ_PAGES, seed: int = 11) -> Path:
    """Pages of random Markdown tokens (scripts/fuzz_parse.py), most with frontmatter of
    a shape from FRONTMATTER, a few from its adversarial families."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    families = list(fuzz_parse.FAMILIES.items())
    for i in range(pages):
        if i < len(families):
            body = families[i][1](2048)
        else:
            body = fuzz_parse.random_page(rng, rng.choice((50, 300, 1500, 4000)))
        head = ""
        if rng.random() < 0.8:
            head = "---\n" + rng.choice(FRONTMATTER) + "---\n"
        folder = rng.choice(("", "a/", "a/b/", "sources/", "C/"))
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / f"{folder}p{i % 97}-{i}.md").write_text(head + body, encoding="utf-8",
                                                       newline="")
    (root / "e.md").write_text("# E\n[[a]] [[p1-1]]\n", encoding="utf-8")
    return root


def corpus(workdir: Path) -> dict[str, Path]:
    """The three vaults, built under `workdir` (the sample vault is copied)."""
    sample = workdir / "sample"
    if not sample.exists():
        shutil.copytree(REPO / "vault", sample)
    generated = workdir / "generated"
    if not generated.exists():
        gen_vault.generate(generated, pages=GENERATED_PAGES, seed=7)
    fuzzed = workdir / "fuzzed"
    if not fuzzed.exists():
        fuzz_vault(fuzzed)
    return {"sample": sample, "generated": generated, "fuzzed": fuzzed}


def table_digests(db: Path) -> dict[str, str]:
    """One digest per table of the mirror's dump, and its row count."""
    import sqlite3

    from vaultsync.read import dump

    conn = sqlite3.connect(db)
    try:
        tables = dump(conn)
    finally:
        conn.close()
    return {table: f"{len(rows)}:{hashlib.sha256(repr(rows).encode()).hexdigest()[:24]}"
            for table, rows in tables.items()}


def integrity_faults(db: Path) -> list[str]:
    """What is wrong with the mirror beneath its rows: rows that name missing rows
    (foreign keys), a search index that does not match the pages it indexes."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        faults = [f"{table} row {rowid} names a missing {parent} row"
                  for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")]
        try:
            conn.execute("INSERT INTO pages_fts (pages_fts, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            faults.append(f"pages_fts: {exc}")
        return faults
    finally:
        conn.close()


def mirror_digests(vault: Path, db: Path, workers: int | None = None) -> dict[str, str]:
    from vaultsync.config import load_config
    from vaultsync.sync import sync_vault

    sync_vault(load_config(vault, db), workers=workers)
    return table_digests(db)


def main(argv: list[str]) -> int:
    import json

    if len(argv) != 2 or argv[0] != "--write":
        print(__doc__)
        return 2
    workdir = Path(argv[1])
    out = {name: mirror_digests(vault, workdir / f"{name}.db", workers=1)
           for name, vault in corpus(workdir).items()}
    DIGESTS.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {DIGESTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
