"""Fixtures that build small real vaults in tmp_path."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from vaultsync.config import Config, load_config
from vaultsync.mirror import Mirror, dump
from vaultsync.sync import Syncer

REPO = Path(__file__).resolve().parent.parent
SAMPLE_VAULT = REPO / "vault"


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def make_vault(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    """make_vault({"a.md": "..."}) → the vault folder, with those files written."""

    def make(files: dict[str, str | bytes]) -> Path:
        vault = tmp_path / "vault"
        vault.mkdir(exist_ok=True)
        write_files(vault, files)
        return vault

    return make


@pytest.fixture
def config_for(tmp_path: Path) -> Callable[..., Config]:
    def make(vault: Path, name: str = "mirror.db") -> Config:
        return load_config(vault, tmp_path / name)

    return make


def fresh_dump(vault: Path, tmp_path: Path, name: str = "fresh.db") -> dict:
    """What a fresh full sync of the same files gives: the convergence yardstick."""
    db = tmp_path / name
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    config = load_config(vault, db)
    with Mirror(config.db) as mirror:
        Syncer(config, mirror, workers=1).sync()
        return dump(mirror.conn)


def db_dump(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        return dump(conn)
    finally:
        conn.close()


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
