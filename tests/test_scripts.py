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
