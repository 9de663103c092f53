"""The CLI through click's runner, and as a real process where it matters."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import SAMPLE_VAULT, ProcessOutput, interrupt, rows, wait_for

from vaultsync.cli import cli
from vaultsync.mirror import SCHEMA_VERSION, Mirror


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env, prog_name="vaultsync")


def test_sync_json_summary(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[b]] [[nowhere]]", "b.md": "# B"})
    result = run("sync", str(vault), "--db", str(tmp_path / "m.db"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["added"], data["pages"], data["links"], data["unresolved"]) == (2, 2, 2, 1)
    assert data["db"] == str(tmp_path / "m.db")


def test_sync_prints_mirror_and_one_line_summary(make_vault, tmp_path):
    vault = make_vault({"a.md": "x"})
    result = run("sync", str(vault), "--db", str(tmp_path / "m.db"))
    assert result.exit_code == 0
    assert result.stderr.strip() == f"mirror: {tmp_path / 'm.db'}"
    assert result.stdout.startswith("1 pages: 1 added")


def test_where_default_is_outside_the_vault_and_env_overrides(make_vault, tmp_path):
    vault = make_vault({"a.md": "x"})
    result = run("where", str(vault), env={"XDG_DATA_HOME": str(tmp_path / "data")})
    path = result.stdout.strip()
    assert path.startswith(str(tmp_path / "data" / "vaultsync" / "mirrors"))
    assert path.endswith(".db") and str(vault) not in path
    assert run("where", str(vault), env={"VAULTSYNC_DB": str(tmp_path / "x.db")}).stdout \
        .strip() == str(tmp_path / "x.db")


def test_missing_vault_is_one_line_and_exit_2(tmp_path):
    result = run("sync", str(tmp_path / "nope"), "--db", str(tmp_path / "m.db"))
    assert result.exit_code == 2
    assert result.stderr == f"vaultsync: no such vault: {tmp_path / 'nope'}\n"


def test_mirror_inside_the_vault_is_refused(make_vault):
    vault = make_vault({"a.md": "x"})
    result = run("sync", str(vault), "--db", str(vault / "m.db"))
    assert result.exit_code == 2 and "inside the vault" in result.stderr
    assert not (vault / "m.db").exists()


def test_unwritable_mirror_is_one_line(make_vault, tmp_path):
    vault = make_vault({"a.md": "x"})
    (tmp_path / "file").write_text("not a folder")
    result = run("sync", str(vault), "--db", str(tmp_path / "file" / "m.db"))
    assert result.exit_code == 2
    last = result.stderr.splitlines()[-1]
    assert last.startswith("vaultsync: cannot create mirror") and "Traceback" not in result.output


def test_a_read_only_mirror_folder_is_one_line_for_every_command(make_vault, tmpfs):
    read_only_folder = tmpfs("1m")
    vault = make_vault({"a.md": "x"})
    db = read_only_folder / "m.db"
    assert run("sync", str(vault), "--db", str(db)).exit_code == 0
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_folder)], check=True)
    for args in (["watch", "--no-metrics"], ["serve", "--port", "0"], ["token"],
                 ["sync", "--db", str(read_only_folder / "new.db")]):
        command = [args[0], str(vault), "--db", str(db), *args[1:]]
        if args[0] == "sync":
            command = [args[0], str(vault), *args[1:]]
        result = run(*command)
        assert result.exit_code == 2, (args, result.output)
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("vaultsync: ") and "Read-only" in last, (args, last)
        assert "Traceback" not in result.output


def test_locked_mirror_is_one_line(make_vault, tmp_path):
    vault = make_vault({"a.md": "x"})
    db = tmp_path / "m.db"
    assert run("sync", str(vault), "--db", str(db)).exit_code == 0
    (vault / "b.md").write_text("y")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:  # locked once the busy timeout has passed: a tenth of a second, not 5
        result = run("sync", str(vault), "--db", str(db), env={"VAULTSYNC_BUSY_TIMEOUT": "0.1"})
    finally:
        holder.execute("ROLLBACK")
    assert result.exit_code == 2
    assert "database is locked" in result.stderr and "Traceback" not in result.output


def test_busy_timeout_comes_from_the_environment(make_vault, tmp_path, monkeypatch):
    db = tmp_path / "m.db"
    with Mirror(db) as mirror:
        assert mirror.conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)
    monkeypatch.setenv("VAULTSYNC_BUSY_TIMEOUT", "0.25")
    with Mirror(db) as mirror:
        assert mirror.conn.execute("PRAGMA busy_timeout").fetchone() == (250,)
    vault = make_vault({"a.md": "x"})
    for bad in ("soon", "-1", "inf"):
        result = run("sync", str(vault), "--db", str(db), env={"VAULTSYNC_BUSY_TIMEOUT": bad})
        assert result.exit_code == 2
        assert result.stderr.splitlines()[-1] == (
            f"vaultsync: VAULTSYNC_BUSY_TIMEOUT must be a number of seconds, not {bad!r}")


def test_mirror_from_a_newer_vaultsync_is_refused(make_vault, tmp_path):
    vault = make_vault({"a.md": "x"})
    db = tmp_path / "m.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    result = run("sync", str(vault), "--db", str(db))
    assert result.exit_code == 2 and "upgrade vaultsync" in result.stderr


def test_bad_option_and_bad_config_are_one_line(make_vault, tmp_path):
    vault = make_vault({"a.md": "x"})
    assert run("sync", str(vault), "--workers", "0").exit_code == 2
    (tmp_path / "c.toml").write_text("source_folder = ['x']\n")
    result = run("sync", str(vault), "--db", str(tmp_path / "m.db"),
                 "--config", str(tmp_path / "c.toml"))
    assert result.exit_code == 2 and "unknown setting" in result.stderr


@pytest.mark.parametrize("setting, says", [
    ("source_folders = 3", "source_folders in {file} must be a list of folder names"),
    ('source_folders = "sources"', "source_folders in {file} must be a list of folder "
                                   'names, e.g. ["sources"], not a string ("sources")'),
    ('max_page_bytes = "big"', "max_page_bytes in {file} must be a whole number of bytes"),
    ("max_page_bytes = 0", "max_page_bytes in {file} must be a whole number of bytes"),
    ("source_types = [1]", "source_types in {file} must be a list of frontmatter types"),
    ("[vaultsync]\nfolder_kinds = { people = 1 }",
     "folder_kinds in {file} must be a table of folder = \"kind\", not a table holding a "
     "number"),
    ('ignore = "*.tmp"', "ignore in {file} must be a list of file name patterns"),
])
def test_a_setting_of_the_wrong_type_is_one_line(make_vault, tmp_path, setting, says):
    vault = make_vault({"a.md": "x", "sources/s.md": "y"})
    config = tmp_path / "c.toml"
    config.write_text(setting + "\n")
    for command in ("sync", "status"):
        result = run(command, str(vault), "--db", str(tmp_path / "m.db"),
                     "--config", str(config))
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"vaultsync: {says.format(file=config)}")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_status_reports_counts_and_no_daemon(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[b]]"})
    db = str(tmp_path / "m.db")
    assert run("status", str(vault), "--db", db).exit_code == 2  # no mirror yet
    run("sync", str(vault), "--db", db)
    result = run("status", str(vault), "--db", db, "--json")
    data = json.loads(result.stdout)
    assert data["pages"] == 1 and data["unresolved"] == 1 and data["daemon"] == {}


def test_real_process_syncs_the_sample_vault(tmp_path):
    db = tmp_path / "sample.db"
    proc = subprocess.run([sys.executable, "-m", "vaultsync", "sync", str(SAMPLE_VAULT),
                           "--db", str(db), "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["pages"] >= 60 and data["problems"] == 0


def test_real_process_error_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vaultsync", "sync", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"vaultsync: no such vault: {tmp_path / 'nope'}"


def test_usage_mistakes_are_one_line_naming_the_help(make_vault, tmp_path):
    vault = make_vault({"a.md": "x"})
    for args, message in [
        (["sync", str(vault), "--bogus"], "No such option '--bogus'; see `vaultsync sync --help`"),
        (["nosuch"], "No such command 'nosuch'; see `vaultsync --help`"),
        (["sync", str(vault), "--workers", "0"], "Invalid value for '--workers'"),
    ]:
        result = run(*args)
        assert result.exit_code == 2, args
        assert len(result.stderr.splitlines()) == 1 and message in result.stderr, result.stderr
        assert result.stderr.startswith("vaultsync: ")


def test_unknown_report_and_kind_list_what_exists(make_vault, tmp_path):
    vault = make_vault({"concepts/a.md": "[[b]]", "people/b.md": "x"})
    db = str(tmp_path / "m.db")
    result = run("report", "nosuch", str(vault), "--db", db)
    assert result.exit_code == 2
    assert result.stderr == ("vaultsync: no report named 'nosuch'; the reports: central, "
                             "orphans, isolated, dead-ends, single-source, unsourced, wanted, "
                             "broken-anchors, communities, unlinked-mentions, summary\n")
    result = run("report", "central", str(vault), "--db", db, "--kind", "nosuch")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "vaultsync: no page has kind 'nosuch'; the kinds in this vault: concept, people")
    assert run("report", "orphans", str(vault), "--db", db, "--kind", "people").exit_code == 0


def test_watch_says_it_watches_then_what_to_try_next_once(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[b]]", "b.md": "x"})
    db = tmp_path / "m.db"
    proc = subprocess.Popen([sys.executable, "-m", "vaultsync", "watch", str(vault), "--db",
                             str(db), "--no-metrics"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err = ProcessOutput(proc.stderr)
    try:
        err.wait_line(lambda line: "datasette" in line, what="the hint lines")
        (vault / "c.md").write_text("more")  # a batch after the hint: no second hint
        wait_for(lambda: rows(db, "SELECT 1 FROM pages WHERE path = 'c.md'"),
                 what="the daemon to take the edit")
    finally:
        interrupt(proc, err)
    text = err.text
    watching = [line for line in text.splitlines(keepends=True)
                if line.startswith("watching ")]
    assert watching == [f"watching {vault} (2 pages; Ctrl-C stops)\n"]
    assert text.count("next, in another terminal:") == 1
    assert f"mirror: {db}" in text
    for command in ("report central", "serve", "datasette"):
        assert f"-m vaultsync {command} " in text and f"--db {db}" in text


@pytest.mark.parametrize("files", [{}, {"photo.png": b"\x89PNG", "notes.txt": "not markdown"}],
                         ids=["empty", "no-markdown"])
def test_a_folder_with_no_pages_is_synced_with_a_warning(make_vault, tmp_path, files):
    vault = make_vault(files)
    said = f"warning: {vault} holds no Markdown pages (.md files); is this the vault?"
    result = run("sync", str(vault), "--db", str(tmp_path / "m.db"))
    assert result.exit_code == 0
    assert result.stdout.startswith("0 pages: ")
    assert said in result.stderr
    data = json.loads(run("sync", str(vault), "--db", str(tmp_path / "m.db"),
                          "--json").stdout)
    assert data["pages"] == 0 and data["warnings"][0].startswith(said)
    # A vault with pages has no such warning.
    (vault / "a.md").write_text("x")
    result = run("sync", str(vault), "--db", str(tmp_path / "m.db"), "--json")
    assert json.loads(result.stdout)["warnings"] == [] and "warning" not in result.stderr


def test_watch_of_a_folder_with_no_pages_warns_once(make_vault, tmp_path):
    vault = make_vault({"readme.txt": "x"})
    db = tmp_path / "m.db"
    proc = subprocess.Popen([sys.executable, "-m", "vaultsync", "watch", str(vault), "--db",
                             str(db), "--no-metrics", "-q"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err = ProcessOutput(proc.stderr)
    try:
        err.wait_line(lambda line: "holds no Markdown pages" in line, what="the warning")
    finally:
        interrupt(proc, err)
    assert err.text.count(f"warning: {vault} holds no Markdown pages") == 1


def test_a_refused_watch_prints_only_the_refusal(make_vault, tmp_path):
    from vaultsync.lock import DaemonLock

    vault = make_vault({"a.md": "x"})
    db = tmp_path / "m.db"
    lock = DaemonLock(db)
    lock.acquire()
    try:
        proc = subprocess.run([sys.executable, "-m", "vaultsync", "watch", str(vault), "--db",
                               str(db)], capture_output=True, text=True, timeout=60)
    finally:
        lock.release()
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("vaultsync: another vaultsync watch is already keeping")


def test_ctrl_c_during_the_first_reconcile_says_so_and_exits_130(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[b]]", "b.md": "x"})
    db = tmp_path / "m.db"
    assert run("sync", str(vault), "--db", str(db)).exit_code == 0
    (vault / "c.md").write_text("new")
    # The test holds the mirror's write lock: the first reconcile waits on it, for as
    # long as the test likes, and Ctrl-C arrives while it waits.
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    proc = subprocess.Popen([sys.executable, "-m", "vaultsync", "watch", str(vault), "--db",
                             str(db), "--no-metrics"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "VAULTSYNC_BUSY_TIMEOUT": "0.1"})
    err = ProcessOutput(proc.stderr)
    try:
        err.wait_line(lambda line: "locked by another writer" in line,
                      what="the first reconcile waiting on the lock")
    finally:
        code = interrupt(proc, err)
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 130, err.text
    assert "interrupted during the first reconcile" in err.text
    assert "watching " not in err.text and "next, in another terminal" not in err.text
    assert rows(db, "SELECT 1 FROM pages WHERE path = 'c.md'") == []
