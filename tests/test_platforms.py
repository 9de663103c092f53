"""Portability: the start method, the lock, stopping a process, names Windows cannot
hold, case-only renames; and vaultsync run with Windows' missing `fcntl` simulated."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import (
    REPO,
    TIMEOUT,
    ProcessOutput,
    db_dump,
    fresh_dump,
    interrupt,
    rows,
    wait_for,
    write_files,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultsync import platform, workers
from vaultsync.config import Config
from vaultsync.lock import DaemonLock, DaemonRunning, read_lock_state
from vaultsync.mirror import Mirror
from vaultsync.names import part_by_part, windows_name_problem
from vaultsync.sync import PARALLEL_THRESHOLD, Syncer

# --- the start method ------------------------------------------------------------------


def test_start_method_is_fork_on_linux_and_spawn_elsewhere(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(platform.START_METHOD_VARIABLE, raising=False)
    expected = "fork" if sys.platform.startswith("linux") else "spawn"
    assert platform.start_method() == expected


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_start_method_forced_by_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                method: str) -> None:
    monkeypatch.setenv(platform.START_METHOD_VARIABLE, method.upper())
    assert platform.start_method() == method
    assert platform.mp_context().get_start_method() == method


def test_an_unknown_start_method_is_one_clear_line(
        make_vault: Callable[[dict[str, str]], Path], tmp_path: Path) -> None:
    vault = make_vault({"a.md": "a"})
    env = dict(os.environ, **{platform.START_METHOD_VARIABLE: "thread"})
    done = subprocess.run([sys.executable, "-m", "vaultsync", "sync", str(vault), "--db",
                           str(tmp_path / "m.db")], env=env, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "VAULTSYNC_START_METHOD='thread': expected one of fork, forkserver, spawn" \
        in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_parsing_processes_work_under_every_start_method(
        monkeypatch: pytest.MonkeyPatch, make_vault: Callable[[dict[str, str]], Path],
        config_for: Callable[..., Config], tmp_path: Path, method: str) -> None:
    monkeypatch.setenv(platform.START_METHOD_VARIABLE, method)
    assert workers.pool(1)._mp_context.get_start_method() == method  # type: ignore[attr-defined]
    vault = make_vault({f"p{i}.md": f"# P{i}\n[[p{i + 1}]] #tag\n"
                        for i in range(PARALLEL_THRESHOLD + 10)})
    config = config_for(vault)
    with Mirror(config.db) as mirror:
        report = Syncer(config, mirror, workers=2).sync()
    assert report.added == PARALLEL_THRESHOLD + 10
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


# --- the lock --------------------------------------------------------------------------

def test_the_lock_is_held_once_and_readable_while_held(tmp_path: Path) -> None:
    first, second = DaemonLock(tmp_path / "m.db"), DaemonLock(tmp_path / "m.db")
    first.acquire()
    try:
        first.write_state({"state": "watching"})
        with pytest.raises(DaemonRunning, match=f"pid {os.getpid()} on "):
            second.acquire()
        assert read_lock_state(tmp_path / "m.db") == {"pid": os.getpid(),
                                                       "state": "watching"}
    finally:
        first.release()
    second.acquire()
    second.release()


def test_the_lock_is_dropped_when_its_holder_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom pathlib import Path\n"
         "from vaultsync.lock import DaemonLock\n"
         "DaemonLock(Path(sys.argv[1])).acquire()\nprint('held', flush=True)\n"
         "sys.stdin.read()\n", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    output = ProcessOutput(holder.stdout)
    output.wait_line(lambda line: line.startswith("held"))
    with pytest.raises(DaemonRunning):
        DaemonLock(db).acquire()
    platform.kill(holder)
    holder.wait()
    lock = DaemonLock(db)
    wait_for(lambda: _acquired(lock), what="the lock to be free")
    lock.release()


def _acquired(lock: DaemonLock) -> bool:
    try:
        lock.acquire()
    except DaemonRunning:
        return False
    return True


def test_pid_alive() -> None:
    assert platform.pid_alive(os.getpid())
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert not platform.pid_alive(done.pid)
    assert not platform.pid_alive(0)


# --- stopping a process group ----------------------------------------------------------

def test_interrupt_stops_a_process_group_with_ctrl_c(tmp_path: Path) -> None:
    """The child and the child's child both get Ctrl-C: the whole group stops."""
    script = ("import subprocess, sys\n"
              "child = subprocess.Popen([sys.executable, '-c', "
              "'import time\\ntry:\\n    print(\"ready\", flush=True)\\n    time.sleep(600)\\n"
              "except KeyboardInterrupt:\\n    print(\"child stopped\", flush=True)'])\n"
              "print('started', child.pid, flush=True)\n"
              "try:\n    child.wait()\nexcept KeyboardInterrupt:\n"
              "    child.wait()\n    print('parent stopped', flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            text=True, **platform.new_group_options())
    output = ProcessOutput(proc.stdout)
    output.wait_line(lambda line: line.startswith("ready"))  # inside its try
    interrupt(proc, output, group=True)
    assert "child stopped" in output.text and "parent stopped" in output.text, output.text


# --- names Windows cannot hold ---------------------------------------------------------

@pytest.mark.parametrize(("path", "why"), [
    ("CON.md", "'CON.md' is a device name on Windows (CON)"),
    ("notes/aux.md", "'aux.md' is a device name on Windows (AUX)"),
    ("nul.tar.md", "'nul.tar.md' is a device name on Windows (NUL)"),
    ("com1.md", "'com1.md' is a device name on Windows (COM1)"),
    ("lpt9 .md", "'lpt9 .md' is a device name on Windows (LPT9)"),
    ("Prn/a.md", "'Prn' is a device name on Windows (PRN)"),
    ("a: b.md", "'a: b.md' holds a character Windows reserves (:)"),
    ('why?<"x">.md', "holds a character Windows reserves (\" < > ?)"),
    ("a|b*.md", "holds a character Windows reserves (* |)"),
    ("tab\there.md", "holds a character Windows reserves (U+0009)"),
    ("back\\slash.md", "holds a character Windows reserves (\\\\)"),
    ("folder./a.md", "'folder.' ends with a dot"),
    ("folder /a.md", "'folder ' ends with a space"),
])
def test_names_windows_cannot_hold(path: str, why: str) -> None:
    problem = windows_name_problem(path)
    assert problem is not None and problem.startswith("cannot be synced to Windows: ")
    assert why in problem


@pytest.mark.parametrize("path", ["console.md", "Aux files/a.md", "con-notes.md",
                                  "com10.md", "lpt.md", "a.b.md", "über/Ärger.md",
                                  "nul_/x.md", ".md"])
def test_names_windows_holds(path: str) -> None:
    assert windows_name_problem(path) is None


@settings(max_examples=2000)
@given(st.lists(st.text(alphabet='aAcCoOnNuUxXlLpPtTmMrR123¹. :/|"\t.-', max_size=8),
                min_size=1, max_size=3))
def test_the_quick_pass_over_names_misses_no_problem(parts: list[str]) -> None:
    path = "/".join(parts) + ".md"
    assert windows_name_problem(path) == part_by_part(path)


def test_a_name_windows_cannot_hold_is_indexed_with_a_problem(
        make_vault: Callable[[dict[str, str]], Path], config_for: Callable[..., Config],
        tmp_path: Path) -> None:
    vault = make_vault({"CON.md": "# Con\n[[a: b]]\n", "a: b.md": "back to [[CON]]",
                        "fine.md": "[[CON]]"})
    config = config_for(vault)
    with Mirror(config.db) as mirror:
        Syncer(config, mirror, workers=1).sync()
        assert rows(config.db, "SELECT path FROM pages ORDER BY path") == [
            ("CON.md",), ("a: b.md",), ("fine.md",)]
        assert rows(config.db, "SELECT target_path FROM links ORDER BY 1") == [
            ("CON.md",), ("CON.md",), ("a: b.md",)]
        assert rows(config.db, "SELECT path, severity, message FROM problems ORDER BY 1") == [
            ("CON.md", "warning",
             "cannot be synced to Windows: 'CON.md' is a device name on Windows (CON)"),
            ("a: b.md", "warning", "cannot be synced to Windows: 'a: b.md' holds a "
                                   "character Windows reserves (:)")]
        # An edit keeps the problem; a rename to a name Windows holds clears it.
        (vault / "CON.md").write_text("# Con, edited\n", encoding="utf-8")
        (vault / "a: b.md").rename(vault / "a b.md")
        Syncer(config, mirror, workers=1).sync()
    assert rows(config.db, "SELECT path FROM problems") == [("CON.md",)]
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


# --- case-only renames -----------------------------------------------------------------

def test_a_case_only_rename_is_a_rename_even_with_an_edit(
        make_vault: Callable[[dict[str, str]], Path], config_for: Callable[..., Config],
        tmp_path: Path) -> None:
    """What a case-insensitive file system (macOS', Windows') shows after `note.md` is
    saved as `Note.md`: the old name gone, the new one there, its bytes maybe changed
    by the same save. The page keeps its id: a rename, not a delete and an add."""
    vault = make_vault({"note.md": "# Note\n", "other.md": "[[note]]\n",
                        "twin-a.md": "same", "twin-b.md": "same"})
    config = config_for(vault)
    with Mirror(config.db) as mirror:
        syncer = Syncer(config, mirror, workers=1)
        syncer.sync()
        before = dict(rows(config.db, "SELECT path, id FROM pages"))
        (vault / "note.md").rename(vault / "Note.md")
        (vault / "Note.md").write_text("# Note\nedited while renamed\n", encoding="utf-8")
        # Twins with the same bytes: each is paired with its own case variant.
        (vault / "twin-b.md").rename(vault / "Twin-B.md")
        (vault / "twin-a.md").rename(vault / "TWIN-A.md")
        report = syncer.sync(["note.md", "Note.md", "twin-a.md", "TWIN-A.md", "twin-b.md",
                              "Twin-B.md"])
    assert (report.renamed, report.added, report.removed) == (3, 0, 0)
    after = dict(rows(config.db, "SELECT path, id FROM pages"))
    assert after["Note.md"] == before["note.md"]
    assert after["TWIN-A.md"] == before["twin-a.md"]
    assert after["Twin-B.md"] == before["twin-b.md"]
    assert rows(config.db, "SELECT target_path FROM links") == [("Note.md",)]
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


@pytest.fixture
def case_insensitive_vault(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An empty vault folder on a case-insensitive, case-preserving file system (as
    macOS' and Windows' are), tests/casefs.py mounted through FUSE, and the folder
    behind it: (vault, backing). Skipped where it cannot be mounted. A case-only rename
    is made in the backing folder: through the mount, Linux sees both spellings as one
    file and skips the rename (a rename onto itself), where APFS and NTFS rename."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a FUSE file system here needs root on Linux")
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        pytest.skip("no /dev/fuse or fusermount3 (apt-get install fuse3)")
    try:
        import mfusepy  # noqa: F401 - loads libfuse
    except (ImportError, OSError) as exc:
        pytest.skip(f"no mfusepy with libfuse here: {exc}")
    backing, vault = tmp_path / "backing", tmp_path / "vault"
    backing.mkdir()
    vault.mkdir()
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "casefs.py"), str(backing),
                             str(vault)], stderr=subprocess.PIPE, text=True)
    errors = ProcessOutput(proc.stderr)

    def mounted() -> bool:
        if proc.poll() is not None:
            pytest.skip(f"cannot mount a FUSE file system here: {errors.text.strip()}")
        return os.path.ismount(vault)

    wait_for(mounted, what="the case-insensitive file system")
    try:
        yield vault, backing
    finally:
        subprocess.run(["fusermount3", "-u", str(vault)], capture_output=True)
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_case_only_renames_on_a_case_insensitive_file_system(
        case_insensitive_vault: tuple[Path, Path], config_for: Callable[..., Config],
        tmp_path: Path) -> None:
    """On a real case-insensitive file system, with the paths a watcher reports: the
    old spelling still opens the file, and only the listing says which spelling it
    has. Each case-only rename is a rename; nothing is doubled or lost."""
    vault, backing = case_insensitive_vault
    write_files(vault, {"note.md": "# Note\n", "other.md": "[[note]] and [[Folder/x]]\n",
                        "Folder/x.md": "x"})
    assert (vault / "NOTE.MD").read_text("utf-8") == "# Note\n"  # it is case-insensitive
    config = config_for(vault)
    with Mirror(config.db) as mirror:
        syncer = Syncer(config, mirror, workers=1)
        syncer.sync()
        before = dict(rows(config.db, "SELECT path, id FROM pages"))

        def pages() -> list[str]:
            return [p for p, in rows(config.db, "SELECT path FROM pages ORDER BY path")]

        (backing / "note.md").rename(backing / "Note.md")
        report = syncer.sync(["note.md", "Note.md"])  # both spellings reported
        assert (report.renamed, report.added, report.removed) == (1, 0, 0)
        assert pages() == ["Folder/x.md", "Note.md", "other.md"]
        (backing / "Note.md").rename(backing / "NOTE.md")
        report = syncer.sync(["NOTE.md"])  # only the new spelling reported
        assert (report.renamed, report.added, report.removed) == (1, 0, 0)
        (vault / "NOTE.md").write_text("# Note\nedited\n", encoding="utf-8")
        report = syncer.sync(["NOTE.md"])  # an edit, under the current spelling
        assert (report.updated, report.added, report.removed) == (1, 0, 0)
        (backing / "Folder").rename(backing / "folder")
        report = syncer.sync(["Folder", "folder"])
        assert (report.renamed, report.added, report.removed) == (1, 0, 0)
        (backing / "NOTE.md").rename(backing / "note.md")
        report = syncer.sync()  # a full sync
        assert (report.renamed, report.added, report.removed) == (1, 0, 0)
    assert pages() == ["folder/x.md", "note.md", "other.md"]
    after = dict(rows(config.db, "SELECT path, id FROM pages"))
    assert after["note.md"] == before["note.md"]
    assert after["folder/x.md"] == before["Folder/x.md"]
    assert db_dump(config.db) == fresh_dump(vault, tmp_path)


# --- Windows' standard library, as far as Python allows --------------------------------

# Installed as sitecustomize in every process of the run, parsing processes included:
# `import fcntl` from vaultsync's code fails as on Windows (libraries that import it on
# POSIX only, as MCP's stdio transport does, take another path on Windows), and each
# process notes how it was started.
HIDE_FCNTL = """
import json, os, sys

class NoFcntl:
    def find_spec(self, name, path=None, target=None):
        if name != "fcntl":
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
            frame = frame.f_back
        if frame is not None and frame.f_globals.get("__name__", "").startswith("vaultsync"):
            raise ImportError("No module named 'fcntl' (hidden: Windows simulation)")
        return None

sys.modules.pop("fcntl", None)
sys.meta_path.insert(0, NoFcntl())
with open(os.environ["VAULTSYNC_TEST_PROCESSES"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(sys.argv) + "\\n")
"""

IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import vaultsync
names = [m.name for m in pkgutil.walk_packages(vaultsync.__path__, "vaultsync.")]
for name in names:
    importlib.import_module(name)
print(len(names), "modules")
"""


def test_without_fcntl_and_with_spawn(tmp_path: Path,
                                      make_vault: Callable[[dict[str, str]], Path]) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HIDE_FCNTL, encoding="utf-8")
    started = tmp_path / "processes.jsonl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]),
               VAULTSYNC_TEST_PROCESSES=str(started),
               **{platform.START_METHOD_VARIABLE: "spawn"})
    env.pop("VAULTSYNC_DB", None)
    env.pop("VAULTSYNC_CONFIG", None)

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], env=env, capture_output=True,
                              text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout

    hidden = subprocess.run([sys.executable, "-c", "__name__ = 'vaultsync.x'\nimport fcntl"],
                            env=env, capture_output=True, text=True)
    assert "hidden: Windows simulation" in hidden.stderr, hidden.stderr
    assert int(run("-c", IMPORT_EVERYTHING).split()[0]) > 40
    assert "Mirror an Obsidian-style vault" in run("-m", "vaultsync", "--help")

    pages = PARALLEL_THRESHOLD + 50  # enough for parsing processes
    vault = make_vault({f"notes/n{i}.md": f"---\ntype: {'source' if i % 7 == 0 else 'note'}"
                        f"\n---\n# N{i}\nSee [[n{(i * 3) % pages}]] and [[n{i + 1}]].\n"
                        for i in range(pages)})
    db = tmp_path / "mirror.db"
    summary = run("-m", "vaultsync", "sync", str(vault), "--db", str(db), "--quiet")
    assert f"{pages} pages: {pages} added" in summary
    central = json.loads(run("-m", "vaultsync", "report", "central", str(vault), "--db",
                             str(db), "--format", "json", "--limit", "3"))
    assert len(central) == 3
    assert db_dump(db) == fresh_dump(vault, tmp_path)
    argvs = [json.loads(line) for line in started.read_text("utf-8").splitlines()]
    assert any("--multiprocessing-fork" in argv for argv in argvs), \
        "the sync started no spawned parsing process"
