"""Where the vault and its mirror are, and the vault's conventions."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .parse import TITLE_RULES, ParseOptions

DEFAULT_MAX_PAGE_BYTES = 8 * 1024 * 1024
# Bumped when the parser reads pages differently (new records, fixed rules, new link
# keys): an older mirror is then parsed again at its next sync.
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
    # Real paths outside the vault that its symlinks may lead into (see scan.py).
    follow_symlinks_outside: tuple[str, ...] = ()

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


# Every setting of the config file, with the type it must have: (what the user reads,
# the check).
def _is_list_of_str(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_table_of_str(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


SETTINGS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "source_folders": ("a list of folder names, e.g. [\"sources\"]", _is_list_of_str),
    "source_types": ("a list of frontmatter types, e.g. [\"source\"]", _is_list_of_str),
    "folder_kinds": ("a table of folder = \"kind\"", _is_table_of_str),
    "max_page_bytes": ("a whole number of bytes above 0, e.g. 8388608", _is_positive_int),
    "ignore": ("a list of file name patterns, e.g. [\"*.tmp\"]", _is_list_of_str),
    "follow_symlinks_outside": ("a list of folders outside the vault, e.g. [\"~/shared\"]",
                                _is_list_of_str),
    "title": ("one of " + ", ".join(f'"{r}"' for r in TITLE_RULES),
              lambda value: value in TITLE_RULES),
}
_TOML_TYPES = {str: "a string", int: "a number", float: "a number", bool: "true/false",
               list: "a list", dict: "a table"}


def _describe(value: Any) -> str:
    """What a TOML value is, for an error: the offending item of a list or table."""
    shown = json.dumps(value, default=str)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    items = value if isinstance(value, list) else \
        list(value.values()) if isinstance(value, dict) else []
    kind = _TOML_TYPES.get(type(value), type(value).__name__)
    bad = [v for v in items if not isinstance(v, str)]
    if bad:
        return f"{kind} holding {_TOML_TYPES.get(type(bad[0]), 'a value')} ({shown})"
    return f"{kind} ({shown})"


def check_settings(settings: dict[str, Any], config_file: str | Path | None
                   ) -> dict[str, Any]:
    """`settings` if every one is known and of its type, else ConfigError naming the
    key, the type it needs and the file, in one line."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ConfigError(f"unknown setting(s) in {config_file}: {', '.join(sorted(unknown))}")
    for key, value in settings.items():
        expected, valid = SETTINGS[key]
        if not valid(value):
            raise ConfigError(f"{key} in {config_file} must be {expected}, not "
                              f"{_describe(value)}")
    return settings


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
        if not isinstance(settings, dict):
            raise ConfigError(f"[vaultsync] in {config_file} must be a table of settings")
    settings = check_settings(settings, config_file)
    parse = ParseOptions(
        source_folders=tuple(s.strip("/") for s in settings.get("source_folders", ["sources"])),
        source_types=tuple(s.lower() for s in settings.get("source_types", ["source"])),
        folder_kinds=tuple(sorted(settings.get("folder_kinds", {}).items())),
        title=str(settings.get("title", TITLE_RULES[0])),
    )
    return Config(
        vault=vault_path,
        db=db_path,
        parse=parse,
        max_page_bytes=settings.get("max_page_bytes", DEFAULT_MAX_PAGE_BYTES),
        ignore=tuple(settings.get("ignore", DEFAULT_IGNORE)),
        follow_symlinks_outside=tuple(
            os.path.realpath(vault_path / Path(p).expanduser())
            for p in settings.get("follow_symlinks_outside", [])),
    )
