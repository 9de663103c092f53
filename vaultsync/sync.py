"""Scan the vault and bring the mirror to match it.

One path for everything: `sync` is `Syncer.sync()` over the whole vault, and
the daemon calls `Syncer.sync(paths)` with the paths its watcher reported.
Each call looks at the disk (never trusts an event's kind), re-parses only
files whose stat and then hash changed, re-resolves only the links whose
answer can change, and writes all of it in one transaction.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import stat as stat_mod
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context

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
    gc.disable()  # a short-lived parsing process: no cycles worth collecting
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
        gone_pages = [p for p in covered if p in self.pages and
                      (p not in disk or not is_page_path(p))]
        gone_attachments = [p for p in covered if p in self.attachments and p not in disk]
        cleared = [p for p in covered if p not in disk and
                   (p in self.problem_paths or p in self.skipped)]

        # A bulk load keeps millions of small records alive; the cyclic collector would
        # walk them again and again (7 s of 68 s CPU at 100,000 pages). They hold no
        # cycles, so it pauses until the batch is written.
        pause_gc = len(to_load) >= BULK_THRESHOLD and gc.isenabled()
        if pause_gc:
            gc.disable()
        try:
            return self._sync_loaded(report, origin, started, force, trusted, to_load,
                                     gone_pages, attachment_writes, gone_attachments,
                                     cleared, disk, covered)
        finally:
            if pause_gc:
                gc.enable()

    def _sync_loaded(
        self, report: SyncReport, origin: str, started: float, force: bool,
        trusted: Callable[[int], int], to_load: list[tuple[str, str | None]],
        gone_pages: list[str], attachment_writes: list[tuple[str, int, int]],
        gone_attachments: list[str], cleared: list[str],
        disk: dict[str, tuple[int, int]], covered: set[str],
    ) -> SyncReport:
        # Many pages and nothing gone: parse on every core while this process writes
        # what is already parsed. Otherwise load first, to pair renames by content.
        stream = len(to_load) >= PARALLEL_THRESHOLD and self.workers > 1 and not gone_pages
        pool = None
        renamed_from: dict[str, str] = {}
        if stream:
            pool = ProcessPoolExecutor(self.workers, mp_context=get_context("fork"))
            batches: Iterable[list[_Loaded]] = pool.map(_load_batch, self._chunks(to_load))
        else:
            loaded = self._load(to_load)
            gone_pages += [i.path for i in loaded
                           if i.status in ("gone", "skipped") and i.path in self.pages]
            renamed_from = self._pair_renames(loaded, gone_pages)
            changed = [i for i in loaded if i.status != "same" or
                       (i.size, trusted(i.mtime_ns)) != (self.pages[i.path].size,
                                                          self.pages[i.path].mtime_ns)]
            if not (changed or gone_pages or attachment_writes or gone_attachments or cleared
                    or force or self.mirror.get_meta("parse_options") is None):
                report.unchanged += len(loaded)  # re-hashed, same bytes: not parsed
                report.seconds = time.perf_counter() - started
                report.pages = len(self.pages)
                self._fill_counts(report)
                return report
            batches = [loaded]
        try:
            with self.mirror.transaction():
                self._apply(report, origin, started, force, trusted, to_load, batches,
                            gone_pages, renamed_from, attachment_writes, gone_attachments,
                            cleared, disk, covered)
        except BaseException:
            self.reload()  # the in-memory view may be ahead of the rolled-back rows
            raise
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        self.force_reparse = False
        report.pages = len(self.pages)
        self._fill_counts(report)
        report.seconds = time.perf_counter() - started
        return report

    def _pair_renames(self, loaded: list[_Loaded], gone_pages: list[str]) -> dict[str, str]:
        """A page that vanished and a new one with its exact bytes: a rename {new: old}."""
        vanished: dict[str, list[str]] = {}
        for path in dict.fromkeys(gone_pages):
            h = self.pages[path].hash
            if h:
                vanished.setdefault(h, []).append(path)
        renamed: dict[str, str] = {}
        for item in loaded:
            if item.status == "parsed" and item.path not in self.pages and \
                    vanished.get(item.hash or ""):
                renamed[item.path] = vanished[item.hash or ""].pop()
        return renamed

    def _apply(
        self, report: SyncReport, origin: str, started: float, force: bool,
        trusted: Callable[[int], int], to_load: list[tuple[str, str | None]],
        batches: Iterable[list[_Loaded]], gone_pages: list[str],
        renamed_from: dict[str, str], attachment_writes: list[tuple[str, int, int]],
        gone_attachments: list[str], cleared: list[str],
        disk: dict[str, tuple[int, int]], covered: set[str],
    ) -> None:
        """Write one batch, inside its transaction; the in-memory view follows the rows."""
        mirror, pages, resolver = self.mirror, self.pages, self.resolver
        was_empty = not pages

        # Removals known before any page is read.
        renamed_old = set(renamed_from.values())
        deleted = [p for p in dict.fromkeys(gone_pages) if p not in renamed_old]
        mirror.delete_pages([pages[p].id for p in deleted])
        ids: dict[str, int] = {new: pages[old].id for new, old in renamed_from.items()}
        for path in [*deleted, *renamed_old]:
            del pages[path]
            resolver.remove(path)
        mirror.write_attachments(attachment_writes)
        mirror.delete_attachments(gone_attachments)
        added_files = [p for p, _, _ in attachment_writes if p not in self.attachments]
        for path in gone_attachments:
            del self.attachments[path]
            resolver.remove(path)
        for path, size, mtime_ns in attachment_writes:
            self.attachments[path] = FileState(0, size, mtime_ns)
            resolver.add(path)

        # Every page about to be written is known to the resolver, with its id, before
        # the first link is resolved.
        new_paths = [rel for rel, _ in to_load if rel not in pages and rel not in ids]
        new_set = set(new_paths)
        next_id = mirror.next_page_id()
        ids.update((path, next_id + i) for i, path in enumerate(new_paths))
        for path in [*new_paths, *renamed_from]:
            resolver.add(path)

        def page_id(path: str | None) -> int | None:
            if path is None:
                return None
            state = pages.get(path)
            return state.id if state is not None else ids.get(path)

        written: list[str] = []
        unwritten: list[_Loaded] = []
        link_rows: list[tuple] = []
        link_sources: list[str] = []
        problems: dict[str, list[Problem]] = {p: [] for p in cleared}
        skipped_now: dict[str, tuple[int, int]] = {}
        bulk = mirror.bulk_load() if len(to_load) >= BULK_THRESHOLD else contextlib.nullcontext()
        with bulk:
            for batch in batches:
                writes: list[PageWrite] = []
                for item in batch:
                    if item.status != "same":
                        problems[item.path] = item.problems
                    if item.status == "parsed":
                        known = pages.get(item.path)
                        writes.append(PageWrite(
                            item.path, item.size, item.mtime_ns, item.hash or "",
                            item.parsed, known.id if known else ids[item.path],  # type: ignore[arg-type]
                            trusted(item.mtime_ns),
                            new=known is None and item.path not in renamed_from))
                    elif item.status == "same":
                        state = pages[item.path]
                        if (item.size, trusted(item.mtime_ns)) != (state.size, state.mtime_ns):
                            mirror.touch_page(state.id, item.size, item.mtime_ns,
                                              trusted(item.mtime_ns))
                            state.size, state.mtime_ns = item.size, trusted(item.mtime_ns)
                        report.unchanged += 1  # re-hashed, same bytes: not parsed
                    else:
                        unwritten.append(item)
                        if item.status == "skipped":
                            # Remember the scan's stat: that is what the next scan compares.
                            skipped_now[item.path] = disk.get(item.path, (item.size, item.mtime_ns))
                mirror.write_pages(writes)
                for w in writes:
                    for link in w.parsed.links:
                        target_path = resolver.resolve(link.target, w.path, link.relative)
                        link_rows.append((w.id, link.target, link.anchor, link.display,
                                          int(link.embed), link.line, link.form, target_path,
                                          page_id(target_path), int(link.relative)))
                        link_sources.append(w.path)
                    pages[w.path] = FileState(w.id, w.size, w.compare_ns, w.hash)  # type: ignore[arg-type]
                    written.append(w.path)

            # Pages that could not be written after all (vanished or skipped while
            # loading): a known one is deleted, a new one leaves the resolver, and the
            # links resolved to it meanwhile are resolved again. Links go in last, when
            # every page row they name exists.
            lost: set[str] = set()
            for item in unwritten:
                if item.path in pages:
                    mirror.delete_pages([pages.pop(item.path).id])
                    deleted.append(item.path)
                lost.add(item.path)
                resolver.remove(item.path)
            if lost:
                for i, row in enumerate(link_rows):
                    if row[7] in lost:
                        target_path = resolver.resolve(row[1], link_sources[i], bool(row[9]))
                        link_rows[i] = (*row[:7], target_path, page_id(target_path), row[9])
            mirror.insert_links(link_rows)
        written_set = set(written)
        added_files += [p for p in written if p in new_set or p in renamed_from]
        removed_files = [*deleted, *renamed_old, *gone_attachments]

        # Links elsewhere whose answer a new or vanished file can change.
        written_ids = {pages[p].id for p in written}
        touched_ids = set(written_ids)
        keys = {name_key(p) for p in [*added_files, *removed_files]}
        if keys and not was_empty:
            retarget = []
            for link_id, source_id, source_path, target, relative, old_path, old_id in \
                    mirror.links_naming(keys):
                if source_id in written_ids:
                    continue  # resolved just now, against the vault as it is
                new_path = resolver.resolve(target, source_path, bool(relative))
                new_id = page_id(new_path)
                if (new_path, new_id) != (old_path, old_id):
                    retarget.append((new_path, new_id, link_id))
                    touched_ids.add(source_id)
            mirror.retarget_links(retarget)
            report.links_retargeted = len(retarget)
        mirror.refresh_citations(None if was_empty or force else touched_ids)

        problems = {p: v for p, v in problems.items() if v or p in self.problem_paths}
        skipped_gone = [p for p in self.skipped if p in covered and
                        (p not in disk or p in written_set)]
        mirror.replace_problems(problems)
        mirror.write_skipped(skipped_now, skipped_gone)
        for path in skipped_gone:
            self.skipped.pop(path, None)
        self.skipped.update(skipped_now)
        self.problem_paths |= {p for p, v in problems.items() if v}
        self.problem_paths -= {p for p, v in problems.items() if not v}
        if force or mirror.get_meta("parse_options") is None:
            mirror.set_meta("parse_options", self.config.parse_fingerprint())
            mirror.set_meta("vault", self.vault)
        if written or deleted or attachment_writes or gone_attachments:
            mirror.bump_meta_counter("graph_version")
        mirror.set_meta("last_sync_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

        report.renamed = sum(1 for p in written if p in renamed_from)
        report.added = sum(1 for p in written if p in new_set)
        report.updated = len(written) - report.added - report.renamed
        report.removed = len(deleted)
        report.skipped = len(skipped_now)
        report.attachments_added = sum(1 for p in added_files if not is_page_path(p))
        report.attachments_removed = len(gone_attachments)
        report.changed_paths = sorted(written)
        report.removed_paths = sorted([*deleted, *renamed_old])
        if report.changed:
            mirror.log_batch(origin, report.added, report.updated, report.removed,
                             report.renamed, report.changed_paths, report.removed_paths,
                             time.perf_counter() - started)

    def _chunks(self, items: list[tuple[str, str | None]]) -> list[tuple]:
        """Work for the parsing processes: small enough that writing starts early."""
        options, cap = self.config.parse, self.config.max_page_bytes
        n = max(self.workers * 4, len(items) // 200)
        return [(self.vault, items[i::n], cap, options) for i in range(n)]

    def _fill_counts(self, report: SyncReport) -> None:
        counts = self.mirror.counts()
        report.links, report.unresolved = counts["links"], counts["unresolved"]
        report.problems = counts["problems"]

    def _load(self, items: list[tuple[str, str | None]]) -> list[_Loaded]:
        options, cap = self.config.parse, self.config.max_page_bytes
        if self.workers <= 1 or len(items) < PARALLEL_THRESHOLD:
            return [load_page(self.vault, rel, known, cap, options) for rel, known in items]
        # Fork keeps start-up cheap; the pool lives only for this call.
        with ProcessPoolExecutor(self.workers, mp_context=get_context("fork")) as pool:
            return [item for batch in pool.map(_load_batch, self._chunks(items))
                    for item in batch]


def sync_vault(config: Config, *, workers: int | None = None) -> SyncReport:
    """Open the mirror, sync the whole vault, close: what `vaultsync sync` does."""
    with Mirror(config.db) as mirror:
        return Syncer(config, mirror, workers=workers).sync()
