"""Installing vaultsync's Obsidian plugin into a vault: the one place vaultsync writes
into a vault, only into `.obsidian/plugins/vaultsync/`, and only when asked.

The built plugin (manifest.json, main.js, styles.css) is package data, built from
plugin/ by scripts/build_plugin.sh, so installing needs no Node.js.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent / "obsidian_plugin"
PLUGIN_FILES = ("manifest.json", "main.js", "styles.css")
PLUGIN_ID = "vaultsync"


class InstallError(Exception):
    """A vault the plugin cannot be installed into, said in one line."""


@dataclass(frozen=True)
class Installed:
    folder: Path
    version: str
    replaced: str | None  # the version that was there before, if any


def plugin_version() -> str:
    manifest = json.loads((PLUGIN_DIR / "manifest.json").read_text(encoding="utf-8"))
    return str(manifest["version"])


def install(vault: Path) -> Installed:
    """Copy the built plugin into `vault/.obsidian/plugins/vaultsync/`.

    Refuses a folder that is not an Obsidian vault (no `.obsidian` folder: Obsidian makes
    it when it first opens the vault), and never touches anything else in the vault.
    """
    if not vault.is_dir():
        raise InstallError(f"no vault at {vault}: not a folder")
    config = vault / ".obsidian"
    if not config.is_dir():
        raise InstallError(f"{vault} is not an Obsidian vault (it has no .obsidian folder); "
                           "open it in Obsidian once, then install again")
    missing = [name for name in PLUGIN_FILES if not (PLUGIN_DIR / name).is_file()]
    if missing:
        raise InstallError(f"this vaultsync has no built plugin ({', '.join(missing)} missing "
                           f"in {PLUGIN_DIR}); run: bash scripts/build_plugin.sh")
    folder = config / "plugins" / PLUGIN_ID
    replaced: str | None = None
    try:
        old = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        replaced = str(old.get("version"))
    except (OSError, ValueError):
        pass
    folder.mkdir(parents=True, exist_ok=True)
    for name in PLUGIN_FILES:
        shutil.copyfile(PLUGIN_DIR / name, folder / name)
    return Installed(folder=folder, version=plugin_version(), replaced=replaced)


def enable_hint(vault: Path) -> str:
    """How to turn the plugin on, once it is installed."""
    return ("Enable it in Obsidian: Settings → Community plugins → turn off Restricted mode "
            "if it is on → Installed plugins → vaultsync (reload Obsidian, or use the "
            "refresh button there, if Obsidian was open). It finds or starts "
            f"`vaultsync serve {vault} --watch` by itself.")
