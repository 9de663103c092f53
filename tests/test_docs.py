"""The README stays true, as sqlite-utils' test_docs.py keeps its docs true: every CLI
command and option is in the command reference, every public table, view and column of
a freshly synced mirror is documented, and the tour's commands run as written."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import httpx
import pytest
from conftest import REPO, SAMPLE_VAULT, ProcessOutput, wait_for

from vaultsync import platform
from vaultsync.cli import cli
from vaultsync.mirror import SCHEMA_VERSION
from vaultsync.read import INTERNAL_COLUMNS, INTERNAL_TABLES  # not public API

README = (REPO / "README.md").read_text(encoding="utf-8")
TIMEOUT = 120.0
SHARED_OPTIONS = {"--db", "--config", "--help"}


# --- the command reference -----------------------------------------------------------


def reference_rows() -> dict[str, str]:
    """`vaultsync NAME` → its row of the README's command reference table."""
    section = README.split("## Command reference", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `vaultsync (\w[\w-]*)[^`]*` \|", line)
        if match:
            rows[match.group(1)] = line
    return rows


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_and_option_is_in_the_reference(name: str) -> None:
    rows = reference_rows()
    assert name in rows, f"README's command reference has no row for `vaultsync {name}`"
    for param in cli.commands[name].params:
        if not isinstance(param, click.Option):
            continue
        for flag in param.opts + param.secondary_opts:
            if flag not in SHARED_OPTIONS:
                assert re.search(rf"`{re.escape(flag)}[ `]", rows[name]), \
                    f"`vaultsync {name} {flag}` is not in README's command reference"


def test_the_reference_lists_no_command_that_does_not_exist() -> None:
    assert set(reference_rows()) == set(cli.commands)


def test_every_environment_variable_is_documented() -> None:
    """Each `VAULTSYNC_*` name the package's code spells out, quoted, is in README."""
    names = {name for path in (REPO / "vaultsync").rglob("*.py")
             for name in re.findall(r"[\"'](VAULTSYNC_[A-Z_]*[A-Z])[\"']", path.read_text("utf-8"))}
    assert {"VAULTSYNC_DB", "VAULTSYNC_BUSY_TIMEOUT"} <= names
    missing = sorted(name for name in names if f"`${name}`" not in README)
    assert not missing, "environment variables not in README: " + ", ".join(missing)


# --- the schema -----------------------------------------------------------------------


def documentation_of(name: str) -> str:
    """Where README documents table or view `name`: sections whose heading names it,
    table rows whose first cell names it, paragraphs that open with it."""
    mark = f"`{name}`"
    found = []
    for section in re.split(r"\n(?=#{2,4} )", README):
        heading, _, _ = section.partition("\n")
        if heading.startswith("#") and mark in heading:
            found.append(section)
    for line in README.splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and mark in cells[0]:
            found.append(line)
    for paragraph in README.split("\n\n"):
        if paragraph.startswith(mark):
            found.append(paragraph)
    return "\n".join(found)


def schema(db: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(db)
    try:
        names = [n for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        fts = [n for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%fts5%'")]
        shadow = {n for n in names for f in fts if n.startswith(f + "_")}
        return {n: [row[1] for row in conn.execute(f'PRAGMA table_info("{n}")')]
                for n in names if n not in shadow and n not in INTERNAL_TABLES}
    finally:
        conn.close()


def test_every_public_table_view_and_column_is_documented(sample_mirror: Path) -> None:
    missing = []
    tables = schema(sample_mirror)
    assert {"pages", "links", "page_metrics", "wanted_pages"} <= set(tables)
    for table, columns in tables.items():
        doc = documentation_of(table)
        if not doc:
            missing.append(f"table or view `{table}`")
            continue
        missing += [f"`{table}.{column}`" for column in columns
                    if (table, column) not in INTERNAL_COLUMNS and f"`{column}`" not in doc]
    assert not missing, "not documented in README: " + ", ".join(missing)


# --- the tour ---------------------------------------------------------------------------


def console_commands() -> list[tuple[str, list[str]]]:
    """(command, the output README shows for it) for every `$ ` line of the console
    blocks: the tour first, then the reports."""
    out: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif line.strip() and out:
                out[-1][1].append(line)
    return out


LONG_RUNNING = ("watch", "serve", "datasette")


def normalised(lines: list[str], db: str) -> list[str]:
    out = []
    for line in lines:
        line = line.replace(db, "<mirror>")
        line = re.sub(r"^mirror: /\S+\.db", "mirror: <mirror>", line)
        out.append(re.sub(r"\d+\.\d\ds$", "<seconds>s", line))
    return out


def first_answer(url: str, proc: subprocess.Popen[str], output: ProcessOutput
                 ) -> httpx.Response:
    """GET `url` once it answers: a server may need a moment after printing its address."""

    def answer() -> httpx.Response | None:
        try:
            return httpx.get(url, timeout=10)
        except httpx.TransportError:
            assert proc.poll() is None, output.text
            return None

    return wait_for(answer, TIMEOUT, lambda: f"{url} to answer: {output.text}")


# The line a long-running tour command prints once it serves: its address.
SERVING = re.compile(r"(?:serving .* at|Datasette:) (http://\S+?)[/;]?(?: |$)")


def run_until_ready(command: str, cwd: Path, env: dict[str, str]) -> str:
    """Start a long-running tour command, wait until it serves (or watches), check it
    answers, then stop it with Ctrl-C as the reader would."""
    proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **platform.new_group_options())
    output = ProcessOutput(proc.stdout)
    try:
        ready = output.wait_line(  # watch: its last hint line; a server: its address
            lambda line: "# browse and query the mirror" in line or bool(SERVING.search(line)),
            TIMEOUT, f"`{command}` to be ready")
        url = SERVING.search(ready)
        if url:
            base = url.group(1)
            response = first_answer(base, proc, output)
            assert response.status_code == 200, (command, response.text[:300])
            if "serving" in ready:  # the graph view, built, with its script
                assert "/static/bundle.js" in response.text
                assert httpx.get(base.rstrip("/") + "/static/bundle.js",
                                 timeout=10).status_code == 200
    finally:
        if proc.poll() is None:
            platform.interrupt(proc, group=True)
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            platform.kill(proc, group=True)
            raise
    wait_for(lambda: output.ended, TIMEOUT, f"`{command}`'s output to end")
    text = output.text
    assert proc.returncode in (0, -signal.SIGINT), text
    assert "Traceback" not in text
    return text


def test_the_schema_version_and_its_changelog_are_current() -> None:
    assert f"**Schema version: {SCHEMA_VERSION}**" in README
    assert f"- **{SCHEMA_VERSION}**" in README  # the changelog has an entry for it


def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    assert shutil.which("vaultsync", path=str(bin_dir)), "run the suite from the venv"
    shutil.copytree(SAMPLE_VAULT, tmp_path / "vault")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTSYNC_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               XDG_DATA_HOME=str(tmp_path / "data"), COLUMNS="80",
               # Free ports, so the tour runs beside other servers on this machine.
               VAULTSYNC_PORT="0", VAULTSYNC_DATASETTE_PORT="0")
    # The quick start's first command ran the daemon: the tour starts after it.
    run_until_ready("vaultsync watch vault/", tmp_path, env)
    db = subprocess.run(["vaultsync", "where", "vault/"], cwd=tmp_path, env=env,
                        capture_output=True, text=True, check=True).stdout.strip()
    commands = console_commands()
    assert len(commands) >= 10
    for command, shown in commands:
        words = command.split()
        if words[0] == "vaultsync" and words[1] in LONG_RUNNING:
            run_until_ready(command, tmp_path, env)
            continue
        proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=TIMEOUT)
        assert proc.returncode == 0, f"`{command}` failed:\n{proc.stdout}"
        if shown:
            got = [line for line in proc.stdout.splitlines() if line.strip()]
            assert normalised(got, db) == normalised(shown, db), command


# --- the Python section ------------------------------------------------------------------


def python_blocks(heading: str) -> list[str]:
    """The ```python blocks of README's section `heading`."""
    section = README.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_python(code: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"README's Python failed:\n{code}\n{proc.stderr}"
    return proc.stdout


def readme_python_env(tmp_path: Path) -> dict[str, str]:
    shutil.copytree(SAMPLE_VAULT, tmp_path / "vault")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTSYNC_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    return env


def test_every_vault_method_has_a_running_example(tmp_path: Path) -> None:
    """The Python section's examples run in order, as notebook cells do, and between
    them call every public method of Vault."""
    import vaultsync

    blocks = python_blocks("## From Python: `vaultsync.Vault`")
    code = "\n".join(blocks)
    methods = ("sync", "status", "page", "report", "search", "neighbors", "graph", "db")
    for method in methods:
        assert f"vault.{method}" in code, f"README has no example of Vault.{method}"
        assert hasattr(vaultsync.Vault, method)
    out = run_python(code, tmp_path, readme_python_env(tmp_path))
    assert "71 pages: 71 added" in out
    assert "## Central pages" in out
    assert "systems/apache-kafka.md 1 of 52" in out


def test_the_notebook_example_returns_rows_after_a_plain_sync(tmp_path: Path) -> None:
    env = readme_python_env(tmp_path)
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "vaultsync"), "sync", "vault/"], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=TIMEOUT)
    (example,) = python_blocks("## The mirror, table by table")
    out = run_python(example, tmp_path, env)
    assert len(out.splitlines()) == 5 and "apache-kafka.md" in out
