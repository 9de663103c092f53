"""Fixtures that build small real vaults in tmp_path, and the one bounded wait on state."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

from vaultsync import Vault, platform
from vaultsync.config import Config, load_config
from vaultsync.graph import ensure_metrics
from vaultsync.mirror import Mirror
from vaultsync.read import dump
from vaultsync.server.app import create_app
from vaultsync.server.run import AppServer, bind_socket
from vaultsync.server.security import ensure_token
from vaultsync.sync import Syncer, sync_vault
from vaultsync.watch import Daemon, read_status

REPO = Path(__file__).resolve().parent.parent

# Property tests: the full count of examples in CI (which sets CI=true), fewer on a
# developer's machine so the README's test command stays quick; HYPOTHESIS_PROFILE picks
# one explicitly.
# (The Datasette 1.0 environment runs tests/test_datasette.py only, without hypothesis.)
try:
    from hypothesis import HealthCheck, settings
except ImportError:
    pass
else:
    settings.register_profile("ci", max_examples=250, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", max_examples=40, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or (
        "ci" if os.environ.get("CI", "").lower() in ("true", "1") else "dev"))
SAMPLE_VAULT = REPO / "vault"

T = TypeVar("T")


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
def synced_vault(make_vault: Callable[[dict[str, str | bytes]], Path],
                 tmp_path: Path) -> Callable[[dict[str, str | bytes]], Vault]:
    """synced_vault({"a.md": "..."}) → a `Vault` of those files, synced once in-process."""

    def make(files: dict[str, str | bytes]) -> Vault:
        vault = Vault(make_vault(files), db=tmp_path / "mirror.db")
        vault.sync(workers=1)
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


def copy_fixture_mirror(version: int, tmp_path: Path) -> tuple[Path, Path]:
    """tests/data/v<version>/: its vault and the mirror an older release made of it, copied
    into tmp_path as (vault, db). The mirror names the vault where it was made; it is
    pointed at the copy, as a user's mirror names the user's vault wherever that is."""
    data = REPO / "tests" / "data" / f"v{version}"
    vault, db = tmp_path / "vault", tmp_path / "mirror.db"
    shutil.copytree(data / "vault", vault)
    shutil.copy(data / f"mirror-v{version}.db", db)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'vault'", (str(vault.resolve()),))
    return vault, db


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# --- waiting on state: the one bounded-wait helper ------------------------------------

TIMEOUT = 60.0  # generous: CI machines are small and may be busy
POLL = 0.02  # seconds between checks


def wait_for(check: Callable[[], T], timeout: float = TIMEOUT,
             what: str | Callable[[], str] = "") -> T:
    """Poll `check` until it returns something truthy, and return that; fail after
    `timeout` seconds with "timed out waiting for <what>" (`what` may be a function, called
    then, for a message that shows the state at that moment, e.g. a process's log). A
    locked or half-made mirror (sqlite3.OperationalError) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if result := check():
                return result
        except sqlite3.OperationalError:
            pass
        if time.monotonic() > deadline:
            shown = what() if callable(what) else what
            raise AssertionError(f"timed out waiting for {shown or check}")
        time.sleep(POLL)


class ProcessOutput:
    """What a child process prints on one stream, read by a thread of its own, so that a
    test waits for a line with a bound (wait_for) instead of blocking on the pipe."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None, "start the process with stdout/stderr=PIPE"
        self.lines: list[str] = []
        self.ended = False  # the stream reached its end: the process closed it or exited
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line)
        self.ended = True

    @property
    def text(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def wait_line(self, match: Callable[[str], bool], timeout: float = TIMEOUT,
                  what: str = "a line") -> str:
        """The first line that `match`es; fails when the stream ends without one, or
        after `timeout` seconds."""
        def found() -> str | None:
            ended = self.ended  # read first: lines seen after this are all there
            with self._lock:
                hit = next((line for line in self.lines if match(line)), None)
            if hit is None and ended:
                raise AssertionError(f"the output ended before {what}:\n{self.text}")
            return hit

        return wait_for(found, timeout, lambda: f"{what}:\n{self.text}")


@contextlib.contextmanager
def serving(config: Config, **app_options: Any) -> Iterator[tuple[AppServer, str, str]]:
    """`vaultsync serve` of `config` in a thread, on 127.0.0.1 and a free port:
    (the server, its base URL, the token). `app_options` go to create_app."""
    token, _ = ensure_token(config.db)
    server = AppServer(create_app(config, token=token, **app_options),
                       bind_socket("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="the server to start")
    try:
        yield server, f"http://127.0.0.1:{server.port}", token
    finally:
        server.stop()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "the server did not stop"


def interrupt(proc: subprocess.Popen[str], output: ProcessOutput | None = None,
              timeout: float = TIMEOUT, *, group: bool = False) -> int:
    """Ctrl-C for a child process (with `group`: its process group, started with
    platform.new_group_options()), and its exit code once it has exited (and `output`
    has ended); one that does not stop is killed and fails the test."""
    platform.interrupt(proc, group=group)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        platform.kill(proc, group=group)
        proc.wait(timeout)
        shown = f":\n{output.text}" if output is not None else ""
        raise AssertionError(f"{proc.args!r} did not stop on Ctrl-C{shown}") from None
    if output is not None:
        wait_for(lambda: output.ended, timeout, "the process's output to end")
    return code


@pytest.fixture(scope="session")
def sample_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full sync of the sample vault with its graph metrics, every table filled; made
    once per run, so tests only read it."""
    config = load_config(SAMPLE_VAULT, tmp_path_factory.mktemp("sample") / "mirror.db")
    sync_vault(config, workers=1)
    with Mirror(config.db) as mirror:
        ensure_metrics(mirror)
    return config.db


def converged(vault: Path, db: Path, tmp_path: Path) -> bool:
    return db_dump(db) == fresh_dump(vault, tmp_path)


def wait_converged(vault: Path, db: Path, tmp_path: Path) -> None:
    wait_for(lambda: converged(vault, db, tmp_path), what="mirror == fresh sync")


# --- the daemon, in a thread or as a real process ------------------------------------

class RunningDaemon:
    """The daemon in a thread of the test process; `options` go to Daemon."""

    def __init__(self, vault: Path, db: Path, **options: object) -> None:
        self.config = load_config(vault, db)
        settings: dict[str, object] = {"metrics": False, "reconcile_every": 3600}
        settings.update(options)
        self.daemon = Daemon(self.config, **settings)  # type: ignore[arg-type]
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.daemon.run(self.stop)
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def start(self) -> RunningDaemon:
        self.thread.start()
        return self

    def __enter__(self) -> RunningDaemon:
        if not self.thread.is_alive():
            self.start()
        wait_for(lambda: self.daemon.ready.is_set() or self.error, what="daemon ready")
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=TIMEOUT)
        assert not self.thread.is_alive(), "daemon did not stop"


def start_process(vault: Path, db: Path, *args: str) -> subprocess.Popen[str]:
    """`vaultsync watch` as a real process; its log goes to `<db>.log` (a pipe nobody
    reads could fill up and stall it)."""
    log = open(str(db) + ".log", "a", encoding="utf-8")  # noqa: SIM115 - the child's
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "vaultsync", "watch", str(vault), "--db", str(db),
             "--no-metrics", *args],
            stdout=subprocess.DEVNULL, stderr=log, text=True)
    finally:
        log.close()


def process_log(db: Path) -> str:
    path = Path(str(db) + ".log")
    return path.read_text("utf-8") if path.exists() else ""


def wait_watching(db: Path, proc: subprocess.Popen[str]) -> None:
    def watching() -> bool:
        assert proc.poll() is None, process_log(db)
        status = read_status(db) or {}
        return status.get("state") == "watching" and status.get("pid") == proc.pid
    wait_for(watching, what="daemon watching")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """tmpfs("6m") → a folder on a tmpfs of that size (a disk that fills up, or one to
    remount read-only). Needs root and a kernel that allows it; skipped otherwise."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        if os.name != "posix" or os.geteuid() != 0:
            pytest.skip("mounting a file system needs root")
        folder = tmp_path / f"tmpfs{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                               str(folder)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def in_user_namespace(limit: str, value: int) -> list[str] | None:
    """A command prefix that runs a process in a user namespace of its own whose inotify
    `limit` (max_inotify_instances or max_inotify_watches) is `value`: the limits are
    counted per user namespace, so this exhausts them for that process alone, never for
    the machine's other processes. None where user namespaces are not allowed."""
    script = f"echo {value} > /proc/sys/user/{limit} && exec \"$@\""
    prefix = ["unshare", "--user", "--map-root-user", "sh", "-c", script, "sh"]
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return prefix if probe.returncode == 0 else None
