"""What every install carries: the built graph view, the built Obsidian plugin and
the licence."""

from __future__ import annotations

import subprocess
import tomllib

from conftest import REPO

from vaultsync.server.app import BUNDLE, STATIC_DIR


def test_the_view_bundle_is_in_the_package_and_committed() -> None:
    assert BUNDLE.is_file() and BUNDLE.stat().st_size > 10_000
    assert BUNDLE.read_text(encoding="utf-8").startswith("/*! vaultsync graph view")
    assert (STATIC_DIR / "THIRD-PARTY-LICENSES.txt").is_file()
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(BUNDLE)], cwd=REPO,
                             capture_output=True, text=True)
    assert tracked.returncode == 0, "bundle.js must be committed: wheels and sdists ship it"


def test_package_data_and_licence_are_declared() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "Apache-2.0"
    assert project["project"]["license-files"] == ["LICENSE"]
    assert "Apache License" in (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "server/static/*" in project["tool"]["setuptools"]["package-data"]["vaultsync"]
    assert "obsidian_plugin/*" in project["tool"]["setuptools"]["package-data"]["vaultsync"]


def test_the_obsidian_plugin_is_in_the_package_and_committed() -> None:
    from vaultsync.obsidian import PLUGIN_DIR, PLUGIN_FILES

    for name in PLUGIN_FILES:
        path = PLUGIN_DIR / name
        assert path.is_file(), name
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=REPO,
                                 capture_output=True, text=True)
        assert tracked.returncode == 0, f"{name} must be committed: wheels and sdists ship it"
    ignored = subprocess.run(["git", "check-ignore", "-q", "plugin/node_modules/x"], cwd=REPO)
    assert ignored.returncode == 0, "plugin/node_modules must never be committed"
