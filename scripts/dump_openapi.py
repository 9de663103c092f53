"""Write the HTTP API's OpenAPI document to docs/openapi.json (or --check that the
committed one is current): the view's and the Obsidian plugin's TypeScript types are
generated from that file, so it changes whenever an answer's shape does.

    .venv/bin/python scripts/dump_openapi.py            rewrite docs/openapi.json
    .venv/bin/python scripts/dump_openapi.py --check    exit 1 when it is out of date
    .venv/bin/python scripts/dump_openapi.py --out F    write it to F instead
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vaultsync.server.openapi import openapi_document

OPENAPI_JSON = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
# The committed document names no release: it changes with shapes, not with versions.
DOCUMENT_VERSION = "current"


def document_text() -> str:
    return json.dumps(openapi_document(DOCUMENT_VERSION), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="fail when docs/openapi.json differs from the generated one")
    parser.add_argument("--out", type=Path, default=OPENAPI_JSON,
                        help="where to write the document (default: docs/openapi.json)")
    args = parser.parse_args(argv)
    text = document_text()
    if args.check:
        current = OPENAPI_JSON.read_text("utf-8") if OPENAPI_JSON.exists() else ""
        if current != text:
            print(f"{OPENAPI_JSON.name} is out of date: run "
                  "`.venv/bin/python scripts/dump_openapi.py`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, "utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
