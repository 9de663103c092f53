"""The benchmark and maintenance scripts stay runnable as the package under them changes.

Each script is started as a real process with --help: that imports everything it uses,
so a renamed or moved function in vaultsync fails here rather than on the next benchmark.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
PYTHON_SCRIPTS = sorted(p for p in SCRIPTS.glob("*.py") if p.name != "__init__.py")


def test_every_script_is_listed() -> None:
    assert {p.name for p in PYTHON_SCRIPTS} >= {"bench.py", "soak.py", "gen_vault.py"}


@pytest.mark.parametrize("script", PYTHON_SCRIPTS, ids=lambda p: p.name)
def test_script_imports_and_prints_its_usage(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SCRIPTS.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "no usage text"
    assert "Traceback" not in done.stderr


def test_the_benchmark_suite_runs_end_to_end_on_a_small_vault(tmp_path: Path) -> None:
    # Its sections copy a mirror to use with a copy of the vault: what a mirror check
    # refuses unless the copy names its vault, as only a real run shows.
    out = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench.py"), "--pages", "60", "--runs", "1",
         "--only", "sync,edit,daemon", "--no-peer", "--latency-edits", "3",
         "--edit-samples", "3", "--workdir", str(tmp_path), "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=SCRIPTS.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    assert "one edit in-process" in text and "daemon save-to-row latency" in text
    # A committed file names no machine path: neither the work folder nor the checkout.
    assert str(tmp_path) not in text and str(SCRIPTS.parent) not in text
