"""Write the licences of the npm packages bundled into the graph view.

    python scripts/view_licenses.py META_JSON NODE_MODULES OUT

META_JSON is esbuild's --metafile of the bundle; every package with bytes in the
output is listed with its version, its licence field and the text of its LICENSE
file, sorted by name, so the same lock file always gives the same file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def bundled_packages(meta: dict[str, Any]) -> list[str]:
    """Package names (`name` or `@scope/name`) that put bytes into any output."""
    names: set[str] = set()
    for output in meta["outputs"].values():
        for source, info in output.get("inputs", {}).items():
            parts = source.split("/")
            if info.get("bytesInOutput", 0) <= 0 or "node_modules" not in parts:
                continue
            i = len(parts) - 1 - parts[::-1].index("node_modules")  # the innermost one
            name = parts[i + 1]
            if name.startswith("@"):
                name += "/" + parts[i + 2]
            names.add(name)
    return sorted(names)


def licence_text(package_dir: Path) -> str:
    for candidate in sorted(package_dir.iterdir()):
        if candidate.name.upper().startswith(("LICENSE", "LICENCE", "COPYING")):
            return candidate.read_text(encoding="utf-8").strip()
    raise SystemExit(f"view_licenses: {package_dir.name} ships no LICENSE file")


def main(meta_path: str, node_modules: str, out: str) -> None:
    meta = json.loads(Path(meta_path).read_text(encoding="utf-8"))
    modules = Path(node_modules)
    parts = ["Third-party code bundled into vaultsync/server/static/bundle.js (the graph",
             "view), with its licences. vaultsync itself is Apache-2.0 (LICENSE).", ""]
    for name in bundled_packages(meta):
        package = json.loads((modules / name / "package.json").read_text(encoding="utf-8"))
        parts += ["=" * 78, f"{name} {package['version']} ({package.get('license', '?')})",
                  "=" * 78, "", licence_text(modules / name), ""]
    Path(out).write_text("\n".join(parts), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
