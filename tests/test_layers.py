"""The house reads top to bottom (README's "Architecture"): data flows parse →
scan/sync → mirror → read → graph → Vault → doors, and a module imports only from its
own layer or the ones listed below it here, wherever the import is (a function-level
import counts too): the read layer, say, never reaches up into the renderers or a
door."""

from __future__ import annotations

import ast
from pathlib import Path

import vaultsync

PACKAGE = Path(vaultsync.__file__).parent

# Lower first. The names are the package's top-level modules and subpackages.
LAYERS: list[set[str]] = [
    {"config", "names", "platform", "console", "resolve", "parse", "workers", "obsidian"},
    {"scan", "load"},
    {"mirror", "lock"},  # the only writer, and the lock that says who may write
    {"read"},  # the only reader, typed answers and their formats
    {"sync", "batch", "index"},  # writes through the mirror; index: what it holds, in memory
    {"graph"},
    {"watch", "watcher", "vault"},  # the daemon and its watcher, and the front door
    {"render"},  # reports for a terminal
    {"cli", "server", "mcp", "datasette_plugin", "__main__"},  # the doors
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def layer_of(module: str) -> str | None:
    """`vaultsync.read.pages` → "read"; the root package itself → None (it only holds
    the version and lazy names)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imports(path: Path) -> set[str]:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    package = parts if parts[-1] == "__init__" else parts[:-1]
    package = [p for p in package if p != "__init__"]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
                names = [f"{module}.{alias.name}" for alias in node.names] \
                    if node.module is None else [module]
            else:
                names = [node.module or ""]
            found.update(n for n in names if n.startswith("vaultsync"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("vaultsync"))
    return found


def test_every_module_has_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if (p.suffix == ".py" and p.stem != "__init__")
            or (p.is_dir() and (p / "__init__.py").exists())}
    assert tops - set(RANK) == set()


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = layer_of(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if here is None or here == "__init__":
            continue
        for target in imports(path):
            there = layer_of(target)
            if there not in RANK or there == here:  # the root package (__version__)
                continue
            if RANK[there] > RANK[here]:
                upward.append(f"{path.relative_to(PACKAGE.parent)} imports {target}")
    assert upward == []
