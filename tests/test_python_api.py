"""The Python entry point for notebooks and scripts: `vaultsync.open_mirror`."""

from __future__ import annotations

import sqlite3

import pytest

import vaultsync
from vaultsync.config import load_config
from vaultsync.sync import sync_vault


def test_open_mirror_gives_a_read_only_sqlite_utils_database(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A\n[[b]]", "b.md": "# B"})
    db = tmp_path / "m.db"
    sync_vault(load_config(vault, db), workers=1)
    mirror = vaultsync.open_mirror(vault, db=db)
    assert {row["path"]: row["title"] for row in mirror["pages"].rows} == {
        "a.md": "A", "b.md": "B"}
    assert list(mirror.query("SELECT target_path FROM links")) == [{"target_path": "b.md"}]
    assert "wanted_pages" in mirror.view_names()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        mirror.execute("DELETE FROM pages")


def test_open_mirror_of_a_vault_never_synced_says_what_to_do(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    with pytest.raises(FileNotFoundError, match="vaultsync sync"):
        vaultsync.open_mirror(vault, db=tmp_path / "none.db")


def test_each_public_read_name_is_one_thing():
    # A module and a function of the read package must not share a name: the name
    # `vaultsync.read.graph` would mean the function here and the module to
    # `from vaultsync.read.graph import ...` or `importlib`.
    import importlib
    import inspect
    import pkgutil

    from vaultsync import read

    modules = {info.name for info in pkgutil.iter_modules(read.__path__)}
    assert {name for name in modules & set(read.__all__)
            if not inspect.ismodule(getattr(read, name))} == set()
    assert callable(read.graph)
    assert read.graph is importlib.import_module("vaultsync.read.network").graph
