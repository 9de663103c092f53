"""Save-to-pane latency of the Obsidian plugin: a copy of the sample vault in WORKDIR,
the built plugin in its test harness (plugin/test/bench.cjs: a mock of the `obsidian`
module and happy-dom) with the `vaultsync serve --watch` it starts itself, SAVES saves
of the open note, each timed from the write to the change showing in the note pane.

    .venv/bin/python scripts/bench_plugin.py --workdir /tmp/bp [--saves 30]

Needs Node.js and plugin/node_modules (bash scripts/build_plugin.sh). Prints JSON and a
Markdown row for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--saves", type=int, default=30)
    args = parser.parse_args(argv)
    node = shutil.which("node")
    if node is None or not (REPO / "plugin" / "node_modules").is_dir():
        print("bench_plugin: needs Node.js and plugin/node_modules "
              "(bash scripts/build_plugin.sh)", file=sys.stderr)
        return 2
    vault = args.workdir / "vault"
    if vault.exists():
        shutil.rmtree(vault)
    shutil.copytree(REPO / "vault", vault)
    for stale in args.workdir.glob("mirror.db*"):
        stale.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTSYNC_")}
    env.update(VAULTSYNC_EXE=str(Path(sys.executable).with_name("vaultsync")),
               VAULT=str(vault), VAULTSYNC_DB=str(args.workdir / "mirror.db"),
               BENCH_SAVES=str(args.saves))
    proc = subprocess.run(["node", "test/bench.cjs"], cwd=REPO / "plugin", env=env,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    load = os.getloadavg()[0]
    print(json.dumps(result, indent=2))
    print(f"| sample vault (71 pages) | {result['saves']} saves | {result['median_ms']:.0f} ms "
          f"| {result['p95_ms']:.0f} ms | {result['max_ms']:.0f} ms | {load:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
