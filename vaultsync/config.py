"""Where the vault and its mirror are, and the vault's conventions."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .parse import TITLE_RULES, ParseOptions

DEFAULT_MAX_PAGE_BYTES = 8 * 1024 * 1024
# Bumped when the parser reads pages differently (new records, fixed rules): an older
# mirror is then parsed again at its next sync.
PARSER_VERSION = 3
# Editors' temporary, swap and backup files: never pages or attachments.
DEFAULT_IGNORE = ("*~", "*.swp", "*.swx", "*.swo", "*.tmp", "*.part", "*.crdownload",
                  "4913", "#*#", ".#*")


class ConfigError(Exception):
    """A user's mistake in options or configuration: one clear line."""


@dataclass(frozen=True)
class Config:
    vault: Path
    db: Path
    parse: ParseOptions = field(default_factory=ParseOptions)
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES
    ignore: tuple[str, ...] = DEFAULT_IGNORE

    def is_ignored_name(self, name: str) -> bool:
        return name.startswith(".") or self._ignore_pattern.match(name) is not None

    @cached_property
    def _ignore_pattern(self) -> re.Pattern[str]:
        # One regex for every pattern: the scan asks this of every name in the vault.
        return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in self.ignore) or "(?!)")

    def parse_fingerprint(self) -> str:
        """Changes when a setting, or the parser itself, changes what parsing gives: then
        every page is re-parsed."""
        return json.dumps({**asdict(self.parse), "parser": PARSER_VERSION}, sort_keys=True)


def default_db_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("vaultsync", appauthor=False)) / "mirrors"


def default_db_path(vault: Path) -> Path:
    """One mirror per vault path, in the user's data directory, outside the vault."""
    resolved = str(vault.resolve())
    digest = hashlib.sha1(resolved.encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", vault.resolve().name).strip("-") or "vault"
    return default_db_dir() / f"{slug}-{digest}.db"


def _title_rule(value: Any, config_file: str | Path | None) -> str:
    if value not in TITLE_RULES:
        raise ConfigError(f"title in {config_file} must be one of "
                          f"{', '.join(repr(r) for r in TITLE_RULES)}, not {value!r}")
    return str(value)


def load_config(vault: str | Path | None, db: str | Path | None = None,
                config_file: str | Path | None = None) -> Config:
    """Build the Config from options, the environment and an optional TOML file."""
    vault_path = Path(vault if vault is not None else os.environ.get("VAULTSYNC_VAULT", "vault"))
    if not vault_path.exists():
        raise ConfigError(f"no such vault: {vault_path}")
    if not vault_path.is_dir():
        raise ConfigError(f"not a folder: {vault_path}")
    vault_path = vault_path.resolve()
    db_value = db if db is not None else os.environ.get("VAULTSYNC_DB") or None
    db_path = Path(db_value).expanduser().resolve() if db_value else default_db_path(vault_path)
    if db_path == vault_path or vault_path in db_path.parents:
        raise ConfigError(
            f"the mirror {db_path} would be inside the vault; vaultsync never writes into "
            "the vault: choose a --db outside it"
        )
    settings: dict[str, Any] = {}
    config_file = config_file or os.environ.get("VAULTSYNC_CONFIG") or None
    if config_file:
        try:
            settings = tomllib.loads(Path(config_file).read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {config_file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {config_file} is not valid TOML: {exc}") from exc
        settings = settings.get("vaultsync", settings)
    known = {"source_folders", "source_types", "folder_kinds", "max_page_bytes", "ignore",
             "title"}
    unknown = set(settings) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in {config_file}: {', '.join(sorted(unknown))}")
    parse = ParseOptions(
        source_folders=tuple(s.strip("/") for s in settings.get("source_folders", ["sources"])),
        source_types=tuple(s.lower() for s in settings.get("source_types", ["source"])),
        folder_kinds=tuple(sorted(settings.get("folder_kinds", {}).items())),
        title=_title_rule(settings.get("title", TITLE_RULES[0]), config_file),
    )
    return Config(
        vault=vault_path,
        db=db_path,
        parse=parse,
        max_page_bytes=int(settings.get("max_page_bytes", DEFAULT_MAX_PAGE_BYTES)),
        ignore=tuple(settings.get("ignore", DEFAULT_IGNORE)),
    )
