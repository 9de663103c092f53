"""Write the HTTP API's OpenAPI document (what /api/openapi.json serves) to a file, for
the Obsidian plugin's generated TypeScript types (plugin/openapi.json).

    python scripts/dump_openapi.py plugin/openapi.json

The package version is left out (info.version is "see server"), so a release bump does
not change the file; any change of paths or shapes does, and the plugin's check fails
until the types are regenerated (bash scripts/build_plugin.sh).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vaultsync.server.openapi import openapi_document


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/dump_openapi.py OUT.json", file=sys.stderr)
        return 2
    document = openapi_document("see server")
    Path(argv[0]).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
