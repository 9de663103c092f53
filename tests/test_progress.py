"""What long work shows: a progress bar with pages/s on a terminal, nothing extra in a
pipe or with --quiet; the CLI as a real process on a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from conftest import wait_for

from vaultsync.console import PROGRESS_MIN_PAGES

TIMEOUT = 120.0


def big_vault(root: Path, pages: int = PROGRESS_MIN_PAGES + 100) -> Path:
    vault = root / "big"
    vault.mkdir()
    for i in range(pages):
        (vault / f"p{i}.md").write_text(f"# Page {i}\n\n[[p{(i + 1) % pages}]] [[p{i // 2}]]\n")
    return vault


def on_terminal(*args: str) -> str:
    """Run vaultsync with stdout and stderr on one pseudo-terminal; all it printed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "vaultsync", *args], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, close_fds=True,
                            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
    os.close(follower)
    chunks: list[bytes] = []

    def closed() -> bool:
        """Read what the terminal holds now; True once the process has closed it."""
        while select.select([leader], [], [], 0)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                return True
            if not chunk:
                return True
            chunks.append(chunk)
        return False

    try:
        wait_for(closed, TIMEOUT, lambda: f"{args} to finish: {b''.join(chunks)!r}")
    except AssertionError:
        proc.kill()
        raise
    finally:
        os.close(leader)
    assert proc.wait(timeout=TIMEOUT) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_first_sync_on_a_terminal_shows_pages_per_second(tmp_path: Path) -> None:
    vault = big_vault(tmp_path)
    out = on_terminal("sync", str(vault), "--db", str(tmp_path / "m.db"), "--workers", "1")
    assert "pages/s" in out and f"/{PROGRESS_MIN_PAGES + 100}" in out
    assert f"{PROGRESS_MIN_PAGES + 100} pages: {PROGRESS_MIN_PAGES + 100} added" in out


def test_quiet_or_a_pipe_shows_no_progress(tmp_path: Path) -> None:
    vault = big_vault(tmp_path)
    quiet = on_terminal("sync", str(vault), "--db", str(tmp_path / "q.db"), "--quiet")
    assert "pages/s" not in quiet and "mirror:" not in quiet
    assert quiet.strip().startswith(f"{PROGRESS_MIN_PAGES + 100} pages:")
    piped = subprocess.run([sys.executable, "-m", "vaultsync", "sync", str(vault), "--db",
                            str(tmp_path / "p.db")], capture_output=True, text=True,
                           timeout=TIMEOUT)
    assert piped.returncode == 0
    assert piped.stderr == f"mirror: {tmp_path / 'p.db'}\n"  # nothing else, no escapes
    assert piped.stdout.startswith(f"{PROGRESS_MIN_PAGES + 100} pages:")


def test_report_on_a_terminal_spins_while_metrics_are_computed(tmp_path: Path) -> None:
    vault = big_vault(tmp_path)
    db = str(tmp_path / "m.db")
    subprocess.run([sys.executable, "-m", "vaultsync", "sync", str(vault), "--db", db],
                   capture_output=True, check=True, timeout=TIMEOUT)
    out = on_terminal("report", "communities", str(vault), "--db", db)
    assert "computing graph metrics of" in out
    again = on_terminal("report", "central", str(vault), "--db", db)
    assert "computing graph metrics" not in again  # fresh: nothing to wait for
