"""Write the HTTP API's OpenAPI document (what /api/openapi.json serves) to a file, for
the Obsidian plugin's generated TypeScript types (plugin/openapi.json).

    python scripts/dump_openapi.py plugin/openapi.json

The package version is left out (info.version is "see server"), so a release bump does
not change the file; any change of paths or shapes does, and the plugin's check fails
until the types are regenerated (bash scripts/build_plugin.sh).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vaultsync.server.openapi import openapi_document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("out", type=Path, help="where to write the JSON document")
    args = parser.parse_args(argv)
    document = openapi_document("see server")
    args.out.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
