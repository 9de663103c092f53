"""Scan the vault and bring the mirror to match it.

One path for everything: `sync` is `Syncer.sync()` over the whole vault, and
the daemon calls `Syncer.sync(paths)` with the paths its watcher reported.
Each call looks at the disk (never trusts an event's kind), re-parses only
files whose stat and then hash changed, re-resolves only the links whose
answer can change, and writes all of it in one transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat as stat_mod
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from .config import Config
from .mirror import FileState, Mirror, PageWrite
from .parse import ParsedPage, ParseOptions, Problem, decode_page, parse_page
from .resolve import Resolver, is_page_path, name_key

# From this many pages written in one batch, index in bulk (see Mirror.bulk_load).
BULK_THRESHOLD = 500
# Below this many pages to parse, a process pool costs more than it saves.
PARALLEL_THRESHOLD = 400
BINARY_SNIFF_BYTES = 8192
# A file modified this close to our scan may change again within the same mtime
# tick after we read it (the "racy git" problem): its stat is stored as untrusted
# (mtime_ns = -1) so the next sync hashes it again instead of believing the stat.
RACY_NS = 2_000_000_000


@dataclass
class SyncReport:
    """What one sync did; `summary()` is the line the CLI prints."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    renamed: int = 0
    unchanged: int = 0
    attachments_added: int = 0
    attachments_removed: int = 0
    links_retargeted: int = 0
    skipped: int = 0
    pages: int = 0
    links: int = 0
    unresolved: int = 0
    problems: int = 0
    seconds: float = 0.0
    changed_paths: list[str] = field(default_factory=list)
    removed_paths: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.renamed
                    or self.attachments_added or self.attachments_removed
                    or self.links_retargeted or self.skipped)

    def summary(self) -> str:
        return (
            f"{self.pages} pages: {self.added} added, {self.updated} updated, "
            f"{self.removed} removed, {self.renamed} renamed; {self.links} links, "
            f"{self.unresolved} unresolved; {self.problems} problems; {self.seconds:.2f}s"
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Loaded:
    path: str
    status: str  # parsed, same, skipped, gone
    size: int = 0
    mtime_ns: int = 0
    hash: str | None = None
    parsed: ParsedPage | None = None
    problems: list[Problem] = field(default_factory=list)


def load_page(vault: str, rel: str, known_hash: str | None, max_bytes: int,
              options: ParseOptions) -> _Loaded:
    """Read, hash and parse one page. Never raises: every failure is a status or a problem."""
    try:
        # O_NONBLOCK: a FIFO named like a page must not hang the sync.
        fd = os.open(os.path.join(vault, rel), os.O_RDONLY | os.O_NONBLOCK)
        with open(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat_mod.S_ISREG(st.st_mode):
                return _Loaded(rel, "gone")
            if st.st_size > max_bytes:
                return _Loaded(rel, "skipped", st.st_size, st.st_mtime_ns, problems=[Problem(
                    None, f"skipped: {st.st_size} bytes is over the {max_bytes}-byte page limit",
                    "error")])
            data = fh.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return _Loaded(rel, "gone")
    except OSError as exc:
        return _Loaded(rel, "skipped", problems=[Problem(
            None, f"skipped: cannot read ({exc.strerror or exc})", "error")])
    size, mtime_ns = st.st_size, st.st_mtime_ns
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return _Loaded(rel, "skipped", size, mtime_ns, problems=[Problem(
            None, "skipped: binary content (NUL bytes) in a .md file", "error")])
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if digest == known_hash:
        return _Loaded(rel, "same", size, mtime_ns, digest)
    text, decode_problem = decode_page(data)
    try:
        parsed = parse_page(rel, text, options)
    except Exception as exc:  # a parser bug must not drop the page or stop the daemon
        stem = os.path.splitext(os.path.basename(rel))[0]
        parsed = ParsedPage(stem, None, False, {}, text, problems=[Problem(
            None, f"parser failed ({type(exc).__name__}: {exc}); indexed as plain text", "error")])
    problems = ([decode_problem] if decode_problem else []) + parsed.problems
    return _Loaded(rel, "parsed", size, mtime_ns, digest, parsed, problems)


def _load_batch(args: tuple[str, list[tuple[str, str | None]], int, ParseOptions]) -> list[_Loaded]:
    vault, items, max_bytes, options = args
    return [load_page(vault, rel, known, max_bytes, options) for rel, known in items]


class Syncer:
    """Keeps one mirror in step with one vault. Not thread-safe: one owner at a time."""

    def __init__(self, config: Config, mirror: Mirror, *, workers: int | None = None) -> None:
        self.config = config
        self.mirror = mirror
        self.vault = str(config.vault)
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.reload()

    def reload(self) -> None:
        """Read the mirror's idea of the vault (after start-up or another writer)."""
        self.pages: dict[str, FileState] = self.mirror.page_states()
        self.attachments: dict[str, FileState] = self.mirror.attachment_states()
        self.skipped: dict[str, tuple[int, int]] = self.mirror.skipped_states()
        self.problem_paths: set[str] = self.mirror.problem_paths()
        self.resolver = Resolver([*self.pages, *self.attachments])
        self.force_reparse = (
            self.mirror.get_meta("parse_options") != self.config.parse_fingerprint()
            and bool(self.pages)
        )

    # --- scanning ---------------------------------------------------------------

    def _ignored(self, rel: str) -> bool:
        return any(self.config.is_ignored_name(part) for part in rel.split("/"))

    def _walk(self, rel_dir: str, found: dict[str, tuple[int, int]]) -> None:
        stack = [rel_dir]
        while stack:
            current = stack.pop()
            try:
                entries = os.scandir(os.path.join(self.vault, current) if current else self.vault)
            except OSError:
                continue  # vanished or unreadable folder: its files count as gone
            with entries:
                for entry in entries:
                    if self.config.is_ignored_name(entry.name):
                        continue
                    rel = f"{current}/{entry.name}" if current else entry.name
                    try:
                        if entry.is_dir():
                            stack.append(rel)
                        elif entry.is_file():
                            st = entry.stat()
                            found[rel] = (st.st_size, st.st_mtime_ns)
                    except OSError:
                        if is_page_path(rel):
                            found[rel] = (-1, -1)  # a page we cannot stat: load says why

    def _scan(self, paths: Iterable[str] | None) -> tuple[dict[str, tuple[int, int]], set[str]]:
        """Files on disk under the given paths, and the known files those paths cover."""
        known_all = [*self.pages, *self.attachments, *self.skipped, *self.problem_paths]
        if paths is None:
            found: dict[str, tuple[int, int]] = {}
            self._walk("", found)
            return found, set(known_all)
        found = {}
        prefixes: list[str] = []
        exact: set[str] = set()
        for raw in paths:
            rel = raw.strip("/")
            if not rel:
                return self._scan(None)
            if self._ignored(rel):
                continue
            exact.add(rel)
            full = os.path.join(self.vault, rel)
            try:
                st = os.stat(full)
            except OSError:
                if os.path.islink(full) and is_page_path(rel):
                    found[rel] = (-1, -1)  # a page we cannot follow: load says why
                else:
                    prefixes.append(rel + "/")  # gone: it may have been a folder
                continue
            if stat_mod.S_ISDIR(st.st_mode):
                prefixes.append(rel + "/")
                self._walk(rel, found)
            elif stat_mod.S_ISREG(st.st_mode):
                found[rel] = (st.st_size, st.st_mtime_ns)
        covered = {p for p in known_all if p in exact or p.startswith(tuple(prefixes))} \
            if prefixes else {p for p in known_all if p in exact}
        return found, covered

    # --- syncing ------------------------------------------------------------------

    def sync(self, paths: Iterable[str] | None = None, *, origin: str = "sync") -> SyncReport:
        """Bring the mirror in line with the disk for `paths` (vault-relative files or
        folders), or for the whole vault when `paths` is None."""
        started = time.perf_counter()
        report = SyncReport()
        if not os.path.isdir(self.vault):
            raise FileNotFoundError(f"vault folder is gone: {self.vault}")
        force = self.force_reparse
        if force:
            paths = None
        racy_after = time.time_ns() - RACY_NS
        disk, covered = self._scan(paths)

        def trusted(mtime_ns: int) -> int:
            return mtime_ns if mtime_ns < racy_after else -1

        to_load: list[tuple[str, str | None]] = []
        attachment_writes: list[tuple[str, int, int]] = []
        for rel, (size, mtime_ns) in disk.items():
            if is_page_path(rel):
                known = self.pages.get(rel)
                if known is not None and not force and \
                        (known.size, known.mtime_ns) == (size, mtime_ns):
                    report.unchanged += 1
                    continue
                if known is None and self.skipped.get(rel) == (size, mtime_ns):
                    continue
                to_load.append((rel, None if force or known is None else known.hash))
            else:
                known = self.attachments.get(rel)
                if known is None or (known.size, known.mtime_ns) != (size, mtime_ns):
                    attachment_writes.append((rel, size, mtime_ns))
                    if known is None:
                        report.attachments_added += 1
        loaded = self._load(to_load)

        gone_pages = [p for p in covered if p in self.pages and
                      (p not in disk or not is_page_path(p))]
        gone_pages += [item.path for item in loaded
                       if item.status in ("gone", "skipped") and item.path in self.pages]
        gone_attachments = [p for p in covered if p in self.attachments and p not in disk]
        report.attachments_removed = len(gone_attachments)
        parsed = [item for item in loaded if item.status == "parsed"]
        same = [item for item in loaded if item.status == "same"]
        report.unchanged += len(same)  # re-hashed, same bytes: not parsed
        skipped = [item for item in loaded if item.status == "skipped"]

        # A page that vanished and one with its exact bytes that appeared: a rename.
        vanished_by_hash: dict[str, list[str]] = {}
        for path in gone_pages:
            h = self.pages[path].hash
            if h:
                vanished_by_hash.setdefault(h, []).append(path)
        writes: list[PageWrite] = []
        renamed_from: dict[str, str] = {}
        for item in parsed:
            known = self.pages.get(item.path)
            page_id = known.id if known else None
            if known is None and item.hash in vanished_by_hash and vanished_by_hash[item.hash]:
                old = vanished_by_hash[item.hash].pop()
                renamed_from[item.path] = old
                page_id = self.pages[old].id
            writes.append(PageWrite(item.path, item.size, item.mtime_ns, item.hash or "",
                                    item.parsed, page_id,  # type: ignore[arg-type]
                                    trusted(item.mtime_ns)))
        deleted = [p for p in dict.fromkeys(gone_pages) if p not in renamed_from.values()]

        problems: dict[str, list[Problem]] = {}
        for item in loaded:
            if item.status != "same":
                problems[item.path] = item.problems
        for path in covered:
            if path not in disk and (path in self.problem_paths or path in self.skipped):
                problems.setdefault(path, [])
        problems = {p: v for p, v in problems.items() if v or p in self.problem_paths}

        added_files = [w.path for w in writes if w.path not in self.pages]
        added_files += [path for path, _, _ in attachment_writes if path not in self.attachments]
        removed_files = deleted + list(renamed_from.values()) + gone_attachments
        # Remember the scan's stat: that is what the next scan compares.
        skipped_now = {i.path: disk.get(i.path, (i.size, i.mtime_ns)) for i in skipped}
        skipped_gone = [p for p in self.skipped if p in covered and
                        (p not in disk or any(w.path == p for w in writes))]
        touched_stats = [i for i in same if (i.size, trusted(i.mtime_ns)) !=
                         (self.pages[i.path].size, self.pages[i.path].mtime_ns)]

        if not (writes or deleted or attachment_writes or gone_attachments or problems
                or skipped_now or skipped_gone or touched_stats or force
                or self.mirror.get_meta("parse_options") is None):
            report.seconds = time.perf_counter() - started
            report.pages = len(self.pages)
            self._fill_counts(report)
            return report

        was_empty = not self.pages
        try:
            with self.mirror.transaction():
                self.mirror.delete_pages([self.pages[p].id for p in deleted])
                bulk = self.mirror.bulk_load() if len(writes) >= BULK_THRESHOLD \
                    else contextlib.nullcontext()
                bulk.__enter__()
                self.mirror.write_pages(writes)
                for item in touched_stats:
                    self.mirror.touch_page(self.pages[item.path].id, item.size, item.mtime_ns,
                                           trusted(item.mtime_ns))
                self.mirror.write_attachments(attachment_writes)
                self.mirror.delete_attachments(gone_attachments)

                # The in-memory view follows the rows just written.
                for path in deleted:
                    del self.pages[path]
                for old in renamed_from.values():
                    del self.pages[old]
                for w in writes:
                    self.pages[w.path] = FileState(w.id, w.size, w.compare_ns, w.hash)  # type: ignore[arg-type]
                for item in touched_stats:
                    state = self.pages[item.path]
                    state.size, state.mtime_ns = item.size, trusted(item.mtime_ns)
                for path in gone_attachments:
                    del self.attachments[path]
                for path, size, mtime_ns in attachment_writes:
                    self.attachments[path] = FileState(0, size, mtime_ns)
                for path in removed_files:
                    self.resolver.remove(path)
                for path in added_files:
                    self.resolver.add(path)

                # Links of rewritten pages, resolved against the vault as it now is.
                written_ids = {w.id for w in writes}
                link_rows = []
                for w in writes:
                    for link in w.parsed.links:
                        target_path = self.resolver.resolve(link.target, w.path, link.relative)
                        target = self.pages.get(target_path) if target_path else None
                        link_rows.append((w.id, link.target, link.anchor, link.display,
                                          int(link.embed), link.line, link.form, target_path,
                                          target.id if target else None, int(link.relative)))
                self.mirror.insert_links(link_rows)
                bulk.__exit__(None, None, None)  # on error the rollback restores the schema

                # Links elsewhere whose answer a new or vanished file can change.
                touched_ids = set(written_ids)
                keys = {name_key(p) for p in [*added_files, *removed_files]}
                if keys and not was_empty:
                    retarget = []
                    for link_id, source_id, source_path, target, relative, old_path, old_id in \
                            self.mirror.links_naming(keys):
                        if source_id in written_ids:
                            continue
                        new_path = self.resolver.resolve(target, source_path, bool(relative))
                        new_state = self.pages.get(new_path) if new_path else None
                        new_id = new_state.id if new_state else None
                        if (new_path, new_id) != (old_path, old_id):
                            retarget.append((new_path, new_id, link_id))
                            touched_ids.add(source_id)
                    self.mirror.retarget_links(retarget)
                    report.links_retargeted = len(retarget)
                self.mirror.refresh_citations(None if was_empty or force else touched_ids)

                self.mirror.replace_problems(problems)
                self.mirror.write_skipped(skipped_now, skipped_gone)
                for path in skipped_gone:
                    self.skipped.pop(path, None)
                self.skipped.update(skipped_now)
                self.problem_paths |= {p for p, v in problems.items() if v}
                self.problem_paths -= {p for p, v in problems.items() if not v}
                if force or self.mirror.get_meta("parse_options") is None:
                    self.mirror.set_meta("parse_options", self.config.parse_fingerprint())
                    self.mirror.set_meta("vault", self.vault)
                if writes or deleted or attachment_writes or gone_attachments:
                    self.mirror.bump_meta_counter("graph_version")
                self.mirror.set_meta("last_sync_at", time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                   time.gmtime()))
                report.renamed = len(renamed_from)
                new_paths = set(added_files)
                report.added = sum(1 for w in writes if w.path in new_paths) - report.renamed
                report.updated = len(writes) - report.added - report.renamed
                report.removed = len(deleted)
                report.skipped = len(skipped_now)
                report.changed_paths = sorted(w.path for w in writes)
                report.removed_paths = sorted([*deleted, *renamed_from.values()])
                if report.changed:
                    self.mirror.log_batch(
                        origin, report.added, report.updated, report.removed, report.renamed,
                        report.changed_paths, report.removed_paths,
                        time.perf_counter() - started)
        except BaseException:
            self.reload()  # the in-memory view may be ahead of the rolled-back rows
            raise
        self.force_reparse = False
        report.pages = len(self.pages)
        self._fill_counts(report)
        report.seconds = time.perf_counter() - started
        return report

    def _fill_counts(self, report: SyncReport) -> None:
        counts = self.mirror.counts()
        report.links, report.unresolved = counts["links"], counts["unresolved"]
        report.problems = counts["problems"]

    def _load(self, items: list[tuple[str, str | None]]) -> list[_Loaded]:
        options, cap = self.config.parse, self.config.max_page_bytes
        if self.workers <= 1 or len(items) < PARALLEL_THRESHOLD:
            return [load_page(self.vault, rel, known, cap, options) for rel, known in items]
        # Fork keeps start-up cheap; the pool lives only for this call.
        n = self.workers * 4
        batches = [(self.vault, items[i::n], cap, options) for i in range(n)]
        with ProcessPoolExecutor(self.workers, mp_context=get_context("fork")) as pool:
            return [item for batch in pool.map(_load_batch, batches) for item in batch]


def sync_vault(config: Config, *, workers: int | None = None) -> SyncReport:
    """Open the mirror, sync the whole vault, close: what `vaultsync sync` does."""
    with Mirror(config.db) as mirror:
        return Syncer(config, mirror, workers=workers).sync()


def vault_path(config: Config, absolute: str | Path) -> str | None:
    """The vault-relative POSIX path of an absolute path, or None when outside the vault."""
    try:
        rel = Path(absolute).resolve(strict=False).relative_to(config.vault)
    except ValueError:
        try:
            rel = Path(os.path.abspath(absolute)).relative_to(config.vault)
        except ValueError:
            return None
    return rel.as_posix() if str(rel) != "." else ""
