"""The Obsidian plugin: `vaultsync obsidian install`, `vaultsync where --json`, the API
types the plugin is built from, and the built plugin itself, loaded from an installed
plugin folder into a mock of the `obsidian` module and a DOM (happy-dom) by Node's test
runner, against real `vaultsync serve` processes on a copy of the sample vault
(plugin/test/plugin.test.cjs says what it drives). Then the pane it drew, in Obsidian's
default theme, in headless Chromium.

The Node tests are skipped, with the reason, when Node.js or plugin/node_modules
(`bash scripts/build_plugin.sh` installs it) is missing. Set
VAULTSYNC_PLUGIN_SCREENSHOT=docs/obsidian-pane.png to save the screenshot for the README.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import REPO, SAMPLE_VAULT, TIMEOUT, serving

from vaultsync.cli import cli
from vaultsync.config import Config
from vaultsync.obsidian import PLUGIN_DIR, PLUGIN_FILES
from vaultsync.server.address import address_path
from vaultsync.server.openapi import openapi_document
from vaultsync.server.security import token_path
from vaultsync.sync import sync_vault

PLUGIN_SRC = REPO / "plugin"
NODE = shutil.which("node")
VAULTSYNC = Path(sys.executable).with_name("vaultsync")


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


# --- install -----------------------------------------------------------------------------

def test_install_copies_the_built_plugin_into_the_plugin_folder_only(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, vault)
    (vault / ".obsidian").mkdir(exist_ok=True)  # the sample vault has one
    before = files_under(vault)
    result = CliRunner().invoke(cli, ["obsidian", "install", str(vault)])
    assert result.exit_code == 0, result.output
    folder = vault / ".obsidian" / "plugins" / "vaultsync"
    assert f"installed vaultsync 0.1.0 in {folder.resolve()}" in result.output
    assert "Community plugins" in result.output
    assert files_under(vault) - before == {".obsidian/plugins", ".obsidian/plugins/vaultsync",
                                           *(f".obsidian/plugins/vaultsync/{n}"
                                             for n in PLUGIN_FILES)}
    for name in PLUGIN_FILES:
        assert (folder / name).read_bytes() == (PLUGIN_DIR / name).read_bytes()
    again = CliRunner().invoke(cli, ["obsidian", "install", str(vault)])
    assert again.exit_code == 0 and "(replaced 0.1.0)" in again.output


def test_install_refuses_a_folder_that_is_not_an_obsidian_vault(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("# A\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["obsidian", "install", str(tmp_path / "notes")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"vaultsync: {tmp_path / 'notes'} is not an Obsidian vault (it has no .obsidian "
        "folder); open it in Obsidian once, then install again"]
    assert files_under(tmp_path / "notes") == {"a.md"}
    missing = CliRunner().invoke(cli, ["obsidian", "install", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a folder" in missing.output


def test_the_built_plugin_follows_obsidian_conventions() -> None:
    manifest = json.loads((PLUGIN_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == json.loads((PLUGIN_SRC / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["id"] == "vaultsync" and manifest["isDesktopOnly"] is True
    versions = json.loads((PLUGIN_SRC / "versions.json").read_text(encoding="utf-8"))
    assert versions[manifest["version"]] == manifest["minAppVersion"]
    main = (PLUGIN_DIR / "main.js").read_text(encoding="utf-8")
    assert main.startswith("/*! vaultsync Obsidian plugin")
    assert 'require("obsidian")' in main
    assert "innerHTML" not in main  # text only: note titles never become markup


# --- finding the backend -----------------------------------------------------------------

def test_where_json_names_the_address_and_token_files(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    result = CliRunner().invoke(cli, ["where", str(SAMPLE_VAULT), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "vault": str(SAMPLE_VAULT.resolve()), "db": str(db),
        "address_file": str(address_path(db)), "token_file": str(token_path(db))}
    assert not address_path(db).is_relative_to(SAMPLE_VAULT.resolve())


def test_a_page_carries_its_open_tasks_and_broken_anchors(
        make_vault: Callable[[dict[str, str | bytes]], Path],
        config_for: Callable[..., Config]) -> None:
    vault = make_vault({
        "a.md": "# A\n\n- [ ] write the intro\n- [x] pick a title\n- [ ] cite [[b#Nope]]\n"
                "\nSee [[b#Real]] and [[b#Gone]].\n",
        "b.md": "# B\n\n## Real\n",
    })
    config = config_for(vault)
    sync_vault(config, workers=1)
    with serving(config, compute_metrics=False) as (_, url, token):
        page = httpx.get(f"{url}/api/pages/a.md", headers={
            "authorization": f"Bearer {token}", "origin": "app://obsidian.md"})
    assert page.headers["access-control-allow-origin"] == "app://obsidian.md"
    data = page.json()
    assert data["tasks"] == [{"line": 3, "status": " ", "text": "write the intro"},
                             {"line": 5, "status": " ", "text": "cite [[b#Nope]]"}]
    assert data["broken_anchors"] == [
        {"line": 5, "target": "b", "anchor": "Nope", "target_path": "b.md"},
        {"line": 7, "target": "b", "anchor": "Gone", "target_path": "b.md"}]


def test_the_plugins_api_types_come_from_the_current_openapi_document() -> None:
    committed = json.loads((REPO / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(openapi_document("current"))), \
        "the server's shapes changed: run bash scripts/build_plugin.sh and commit the result"
    types = (PLUGIN_SRC / "src" / "api-types.ts").read_text(encoding="utf-8")
    for field in ("pagerank_rank", "community_name", "broken_anchors", "tasks"):
        assert re.search(rf"\b{field}\??:", types), field


# --- the plugin in a mock Obsidian, against real servers ---------------------------------

def node_skip_reason() -> str | None:
    if NODE is None:
        return "Node.js is not installed (apt-get install -y nodejs npm)"
    if not (PLUGIN_SRC / "node_modules" / "happy-dom").is_dir():
        return "plugin/node_modules is missing (bash scripts/build_plugin.sh installs it)"
    return None


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    reason = node_skip_reason()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("plugin")
    vault = tmp / "vault"
    shutil.copytree(SAMPLE_VAULT, vault)
    (vault / ".obsidian").mkdir(exist_ok=True)  # the sample vault has one
    installed = subprocess.run([str(VAULTSYNC), "obsidian", "install", str(vault)],
                               capture_output=True, text=True, timeout=TIMEOUT)
    assert installed.returncode == 0, installed.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTSYNC_")}
    pane_html = tmp / "pane.html"
    env.update(VAULTSYNC_EXE=str(VAULTSYNC), VAULT=str(vault),
               VAULTSYNC_DB=str(tmp / "mirror.db"),
               PLUGIN_DIR=str(vault / ".obsidian" / "plugins" / "vaultsync"),
               PANE_HTML=str(pane_html))
    proc = subprocess.run([str(NODE), "--test", "test/plugin.test.cjs"], cwd=PLUGIN_SRC,
                          env=env, capture_output=True, text=True, timeout=600)
    return {"returncode": str(proc.returncode), "output": proc.stdout + proc.stderr,
            "pane_html": pane_html.read_text(encoding="utf-8") if pane_html.exists() else ""}


def test_the_installed_plugin_passes_its_node_tests(plugin_run: dict[str, str]) -> None:
    output = plugin_run["output"]
    assert plugin_run["returncode"] == "0", output
    counts = dict(re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", output, re.M))
    assert counts == {"pass": "3", "fail": "0", "skipped": "0", "cancelled": "0"}, output
    measured = re.search(r"save-to-pane ms: (\d+)", output)
    assert measured, output
    print(f"save in the vault to the pane: {measured.group(1)} ms")


def test_the_pane_renders_in_chromium_with_obsidians_theme(plugin_run: dict[str, str]) -> None:
    chromium = os.environ.get("VAULTSYNC_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.skip(f"no Chromium at {chromium}")
    sync_api = pytest.importorskip("playwright.sync_api")
    assert plugin_run["pane_html"], plugin_run["output"]
    page_html = ("<!doctype html><html><head><meta charset='utf-8'><style>"
                 + (PLUGIN_SRC / "test" / "obsidian-theme.css").read_text(encoding="utf-8")
                 + (PLUGIN_DIR / "styles.css").read_text(encoding="utf-8")
                 + "</style></head><body><div class='workspace-leaf'>"
                 + plugin_run["pane_html"] + "</div></body></html>")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 360, "height": 640})
            page.set_content(page_html)
            caveat = page.locator(".vaultsync-caveat")
            assert caveat.inner_text().startswith("Rests on a single source")
            # The theme's colours reached the pane: the caveat's orange rule, the badge.
            assert caveat.evaluate("e => getComputedStyle(e).borderLeftColor") == \
                "rgb(236, 117, 0)"
            assert page.locator(".vaultsync-kind").evaluate(
                "e => getComputedStyle(e).backgroundColor") == "rgb(138, 92, 245)"
            out = os.environ.get("VAULTSYNC_PLUGIN_SCREENSHOT")
            if out:
                page.locator(".workspace-leaf").screenshot(path=str(REPO / out))
        finally:
            browser.close()
