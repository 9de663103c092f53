"""Soak test: the daemon against a seeded random mix of real file operations.

    python scripts/soak.py WORKDIR [--pages 2000] [--minutes 10] [--seed 1]

Generates a vault (scripts/gen_vault.py) in WORKDIR, makes it a git repository with
two branches that differ in a few hundred pages, and prepares a second version of the
vault for rsync. Then runs `vaultsync watch` as a real process while a seeded mix of
operations hits the vault: edits, atomic saves (write a temporary file, rename it over
the page), page renames, folder renames, deletes and restores, git checkouts between
the branches, rsync of the other version, kill -9 of the daemon with a restart, hard
links edited through one name, a damaged mirror (4 KiB of garbage mid-file, daemon
restarted: it must move the file aside and rebuild), a second vault's `sync` given
this mirror (refused: exit 2, nothing changed), and a daemon restarted with no inotify
instance left (in a user namespace of its own, so only it is short: it must poll).
After every round of operations it stops, waits for the mirror to settle, and
compares it with a fresh sync of the same files (the convergence property): a
mirror that does not equal the fresh sync within --settle seconds is a divergence.

Prints one line per round and a summary: operations, minutes, divergences, the worst
and median time to converge. Exit status 1 if any round diverged.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gen_vault  # this script's neighbour: its folder is sys.path[0]

from vaultsync.config import load_config
from vaultsync.mirror import Mirror
from vaultsync.read.status import dump
from vaultsync.sync import Syncer


def run(*cmd: str, cwd: Path | None = None) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class Soak:
    def __init__(self, workdir: Path, pages: int, seed: int, settle: float) -> None:
        self.workdir = workdir
        self.vault = workdir / "vault"
        self.other = workdir / "other-version"
        self.db = workdir / "mirror.db"
        self.fresh = workdir / "fresh.db"
        self.log = workdir / "daemon.log"
        self.rng = random.Random(seed)
        self.settle = settle
        self.pages = pages
        self.proc: subprocess.Popen[bytes] | None = None
        self.ops: dict[str, int] = {}
        self.restored: list[tuple[Path, bytes]] = []
        # A user namespace of its own with no inotify instance: the limit is counted
        # per namespace, so no other process on the machine runs short.
        self.no_inotify: list[str] | None = [
            "unshare", "--user", "--map-root-user", "sh", "-c",
            'echo 0 > /proc/sys/user/max_inotify_instances && exec "$@"', "sh"]
        if shutil.which("unshare") is None or subprocess.run(
                [*self.no_inotify, "true"], capture_output=True).returncode != 0:
            self.no_inotify = None

    # --- set-up -------------------------------------------------------------------------

    def prepare(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        gen_vault.generate(self.vault, self.pages, seed=self.rng.randrange(1 << 30))
        git = ["git", "-c", "user.email=soak@example.invalid", "-c", "user.name=soak"]
        run("git", "init", "-q", "-b", "main", cwd=self.vault)
        run(*git, "add", "-A", cwd=self.vault)
        run(*git, "commit", "-q", "-m", "main", cwd=self.vault)
        run("git", "checkout", "-q", "-b", "other", cwd=self.vault)
        for _ in range(max(10, self.pages // 10)):  # the other branch: edits, renames, deletes
            self.edit(self.rng.choice(self.page_files()))
        for _ in range(max(3, self.pages // 100)):
            self.rename_page()
        for _ in range(max(3, self.pages // 100)):
            self.rng.choice(self.page_files()).unlink()
        run(*git, "add", "-A", cwd=self.vault)
        run(*git, "commit", "-q", "-m", "other", cwd=self.vault)
        shutil.copytree(self.vault, self.other, ignore=shutil.ignore_patterns(".git"))
        for _ in range(max(10, self.pages // 20)):
            self.edit(self.rng.choice(sorted(self.other.rglob("*.md"))))
        run("git", "checkout", "-q", "main", cwd=self.vault)
        self.ops.clear()

    def page_files(self) -> list[Path]:
        return sorted(p for p in self.vault.rglob("*.md") if ".git" not in p.parts)

    # --- operations -----------------------------------------------------------------------

    def count(self, name: str) -> None:
        self.ops[name] = self.ops.get(name, 0) + 1

    def edit(self, page: Path) -> None:
        words = ["alpha", "beta", "gamma", "delta", "[[Kafka]]", "[[missing page]]", "#tag"]
        with open(page, "a", encoding="utf-8") as fh:
            fh.write("\n" + " ".join(self.rng.choice(words) for _ in range(12)) + "\n")
        self.count("edit")

    def atomic_save(self) -> None:
        page = self.rng.choice(self.page_files())
        text = page.read_text("utf-8") + f"\nsaved {self.rng.random()}\n"
        tmp = page.with_name(page.name + ".tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, page)
        self.count("atomic save")

    def hard_link_edit(self) -> None:
        """A second name for a page, then an edit in place through one of the two: the
        watcher hears of that name only, the mirror must change under both."""
        page = self.rng.choice(self.page_files())
        twin = page.with_name(f"hard-{self.rng.randrange(10**6)}-{page.name}")
        os.link(page, twin)
        self.edit(self.rng.choice([page, twin]))
        self.count("hard link edit")

    def rename_page(self) -> None:
        page = self.rng.choice(self.page_files())
        page.rename(page.with_name(f"renamed-{self.rng.randrange(10**6)}-{page.name}"))
        self.count("rename page")

    def rename_folder(self) -> None:
        folders = sorted({p.parent for p in self.page_files() if p.parent != self.vault})
        if not folders:
            return
        folder = self.rng.choice(folders)
        folder.rename(folder.with_name(f"{folder.name}-moved{self.rng.randrange(1000)}"))
        self.count("rename folder")

    def delete(self) -> None:
        page = self.rng.choice(self.page_files())
        self.restored.append((page, page.read_bytes()))
        page.unlink()
        self.count("delete")

    def restore(self) -> None:
        if not self.restored:
            return self.delete()
        page, data = self.restored.pop(self.rng.randrange(len(self.restored)))
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_bytes(data)
        self.count("restore")
        return None

    def git_checkout(self) -> None:
        run("git", "add", "-A", cwd=self.vault)  # keep local edits out of the way
        run("git", "stash", "-q", cwd=self.vault)
        branch = subprocess.run(["git", "branch", "--show-current"], cwd=self.vault,
                                capture_output=True, text=True).stdout.strip()
        run("git", "checkout", "-q", "other" if branch == "main" else "main", cwd=self.vault)
        self.count("git checkout")

    def rsync(self) -> None:
        if shutil.which("rsync") is None:
            return self.edit(self.rng.choice(self.page_files()))
        run("rsync", "-a", "--delete", "--exclude", ".git", f"{self.other}/", f"{self.vault}/")
        self.count("rsync")
        return None

    def kill_and_restart(self) -> None:
        self.kill()
        self.start()
        self.count("kill -9 and restart")

    def damage_mirror(self) -> None:
        """Garbage in the middle of the mirror, as a bad disk block leaves, under a
        killed daemon; the restarted one must move the file aside and rebuild."""
        self.kill()
        with sqlite3.connect(self.db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = self.db.stat().st_size
        with open(self.db, "r+b") as fh:
            fh.seek((size // 2) // 4096 * 4096)
            fh.write(os.urandom(4096))
        self.start()
        deadline = time.monotonic() + self.settle
        while not list(self.workdir.glob("mirror.db.damaged-*")):
            if time.monotonic() > deadline or (self.proc and self.proc.poll() is not None):
                raise SystemExit("the restarted daemon did not move the damaged mirror aside")
            time.sleep(0.1)  # polling for the daemon's move, bounded by --settle
        for aside in self.workdir.glob("mirror.db.damaged-*"):
            aside.unlink()  # kept by the daemon for a look; the soak has no use for them
        self.count("damaged mirror")

    def second_vault_sync(self) -> None:
        """Another vault's sync given this mirror: refused, and the mirror unchanged."""
        other = self.workdir / "second-vault"
        other.mkdir(exist_ok=True)
        (other / "intruder.md").write_text("# Not this vault's page\n", "utf-8")
        done = subprocess.run([sys.executable, "-m", "vaultsync", "sync", str(other), "--db",
                               str(self.db), "-q"], capture_output=True, text=True)
        if done.returncode != 2 or "another vault" not in done.stderr:
            raise SystemExit(f"a second vault's sync was not refused: {done.returncode} "
                             f"{done.stderr.strip()}")
        self.count("second vault's sync")

    def restart_without_inotify(self) -> None:
        """The daemon restarted where no inotify instance is left: it must poll."""
        if self.no_inotify is None:
            return self.kill_and_restart()
        self.kill()
        self.start(prefix=self.no_inotify)
        self.count("restart without inotify")
        return None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    # --- the daemon and the yardstick ------------------------------------------------------

    def start(self, prefix: list[str] | None = None) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*(prefix or []), sys.executable, "-m", "vaultsync", "watch", str(self.vault),
                 "--db", str(self.db), "-q"], stdout=subprocess.DEVNULL, stderr=log)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def fresh_dump(self) -> dict[str, list[tuple[object, ...]]]:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.fresh}{suffix}").unlink(missing_ok=True)
        config = load_config(self.vault, self.fresh)
        with Mirror(config.db) as mirror:
            Syncer(config, mirror).sync()
            return dump(mirror.conn)

    def mirror_dump(self) -> dict[str, list[tuple[object, ...]]] | None:
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
            try:
                return dump(conn)
            finally:
                conn.close()
        except sqlite3.Error:
            return None

    def converge(self) -> tuple[bool, float, float, str]:
        """Wait for the mirror to equal a fresh sync: (converged, seconds since the last
        operation, of which computing the fresh sync took, what differs). Converging
        during the fresh sync shows as the fresh sync's own time: an upper bound."""
        started = time.monotonic()
        expected = self.fresh_dump()
        fresh_seconds = time.monotonic() - started
        got = None
        while time.monotonic() - started < self.settle:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False, time.monotonic() - started, fresh_seconds, "the daemon exited"
            got = self.mirror_dump()
            if got == expected:
                return True, time.monotonic() - started, fresh_seconds, ""
            time.sleep(0.1)  # polling the mirror's state, not waiting for an event
        differs = [t for t in expected if got is None or got.get(t) != expected[t]]
        return (False, time.monotonic() - started, fresh_seconds,
                f"tables differ: {differs}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path, help="scratch folder (emptied first)")
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ops-per-round", type=int, default=12)
    parser.add_argument("--settle", type=float, default=120.0,
                        help="seconds a round may take to converge before it counts as "
                             "a divergence")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--without", nargs="*", default=[], metavar="OPERATION",
                        help="leave out these operations (e.g. hard_link_edit damage_mirror)")
    args = parser.parse_args(argv)

    soak = Soak(args.workdir.resolve(), args.pages, args.seed, args.settle)
    soak.prepare()
    operations: list[tuple[Callable[[], None], int]] = [
        (lambda: soak.edit(soak.rng.choice(soak.page_files())), 30),
        (soak.atomic_save, 20), (soak.rename_page, 10), (soak.rename_folder, 3),
        (soak.delete, 8), (soak.restore, 8), (soak.git_checkout, 3), (soak.rsync, 2),
        (soak.kill_and_restart, 3), (soak.hard_link_edit, 4), (soak.damage_mirror, 1),
        (soak.second_vault_sync, 1), (soak.restart_without_inotify, 1),
    ]
    operations = [(action, weight) for action, weight in operations
                  if getattr(action, "__name__", "edit") not in args.without]
    actions, weights = zip(*operations, strict=True)
    soak.start()
    began = time.monotonic()
    times: list[float] = []
    beyond: list[float] = []  # waited after the fresh sync was ready
    divergences = 0
    rounds = 0
    try:
        ok, seconds, fresh, why = soak.converge()
        print(f"start: converged={ok} in {seconds:.2f}s {why}", flush=True)
        while time.monotonic() - began < args.minutes * 60:
            rounds += 1
            burst = soak.rng.randint(1, args.ops_per_round)
            for action in soak.rng.choices(actions, weights, k=burst):
                action()
            ok, seconds, fresh, why = soak.converge()
            times.append(seconds)
            beyond.append(seconds - fresh)
            if not ok:
                divergences += 1
            print(f"round {rounds}: {burst} ops, converged={ok} in {seconds:.2f}s "
                  f"(fresh sync {fresh:.2f}s) {why}", flush=True)
    finally:
        soak.stop()
    summary = {
        "pages": args.pages, "seed": args.seed, "minutes": round((time.monotonic() - began) / 60,
                                                                 1),
        "rounds": rounds, "operations": sum(soak.ops.values()), "by_kind": soak.ops,
        "divergences": divergences,
        "worst_converge_s": round(max(times), 2) if times else None,
        "median_converge_s": round(statistics.median(times), 2) if times else None,
        "worst_wait_after_fresh_sync_s": round(max(beyond), 2) if beyond else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 1 if divergences else 0


if __name__ == "__main__":
    sys.exit(main())
