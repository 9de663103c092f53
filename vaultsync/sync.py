"""Scan the vault and bring the mirror to match it.

One path for everything: `sync` is `Syncer.sync()` over the whole vault, and
the daemon calls `Syncer.sync(paths)` with the paths its watcher reported.
Each call looks at the disk (never trusts an event's kind), re-parses only
files whose identity and then hash changed, re-resolves only the links whose
answer can change, and writes all of it in one transaction.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import platform, read
from . import workers as worker_pool
from .batch import BatchWriter, delete_pages
from .config import Config
from .index import VaultIndex
from .load import Loaded, LoadStatus, LoadWork, load_batch_pickled, load_page
from .mirror import (
    AnchoredLink,
    KnownFile,
    MetaKey,
    Mirror,
    MirrorError,
    publish_scratch,
    remove_mirror,
    remove_stale_scratch,
    scratch_path,
    unfinished_mirror,
)
from .mirror.check import owner_error, vault_id
from .parse import PageAnchors, Problem
from .parse.canvas import ParsedCanvas, is_canvas_path, parse_canvas
from .resolve import is_page_path, name_key
from .scan import Blocked, FileStat, FullScanNeeded, Scan, SymlinkInfo, VaultScanner

# From this many pages written in one batch, index in bulk (see Mirror.bulk_load).
BULK_THRESHOLD = 500
# Below this many pages to parse, a process pool costs more than it saves.
PARALLEL_THRESHOLD = 400
# A file changed this close to our scan may change again within the same timestamp
# tick after we read it (the "racy git" problem): its identity is stored as untrusted
# (mtime_ns = -1) so the next sync hashes it again instead of believing the stat.
RACY_NS = 2_000_000_000

ProgressCallback = Callable[[int, int], None]


class SyncCancelled(Exception):  # noqa: N818 - the caller asked for it
    """`cancel()` turned true: the batch was rolled back, the mirror is as it was."""


def no_pages_warning(vault: os.PathLike[str] | str) -> str:
    """The line for a vault folder with no page in it: a mistyped path, most likely."""
    return (f"warning: {vault} holds no Markdown pages (.md files); is this the vault? "
            "(give the folder that holds your notes)")


@dataclass
class BatchOutcome:
    """What one batch changed in the mirror: `Syncer.sync` makes its report of it."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    renamed: int = 0
    unchanged: int = 0  # pages read again and found with the same bytes
    attachments_added: int = 0
    attachments_removed: int = 0
    links_retargeted: int = 0
    skipped: int = 0
    changed_paths: list[str] = field(default_factory=list)
    removed_paths: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.renamed
                    or self.attachments_added or self.attachments_removed
                    or self.links_retargeted or self.skipped)


@dataclass
class SyncReport(BatchOutcome):
    """What one sync did (the batch's outcome, and the mirror after it); `summary()` is
    the line the CLI prints."""

    pages: int = 0
    links: int = 0
    unresolved: int = 0
    problems: int = 0
    seconds: float = 0.0
    # Things the user should look at though the sync succeeded (one line each).
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.pages} pages: {self.added} added, {self.updated} updated, "
            f"{self.removed} removed, {self.renamed} renamed; {self.links} links, "
            f"{self.unresolved} unresolved; {self.problems} problems; {self.seconds:.2f}s"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    """What one sync must do, decided from the scan and the mirror's state before any
    file is read."""

    scan: Scan
    covered: set[str]
    force: bool
    to_load: list[tuple[str, str | None]] = field(default_factory=list)  # (path, known hash)
    gone_pages: list[str] = field(default_factory=list)
    attachment_writes: list[tuple[str, FileStat]] = field(default_factory=list)
    gone_attachments: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)  # problem or skip rows to drop
    blocked: dict[str, Blocked] = field(default_factory=dict)  # new or changed since last
    unchanged: int = 0  # pages whose identity matched: not read at all
    racy_after: int = 0

    def trusted(self, stat: FileStat) -> FileStat:
        """The identity later scans compare: untrusted (never equal) when the file
        changed too recently to rule out a second change in the same tick."""
        if max(stat.mtime_ns, stat.ctime_ns) < self.racy_after:
            return stat
        return stat._replace(mtime_ns=-1)

    @property
    def nothing_to_do(self) -> bool:
        """Nothing but pages to read again, which may turn out unchanged."""
        return not (self.gone_pages or self.attachment_writes or self.gone_attachments
                    or self.cleared or self.force or self.blocked)


class Syncer:
    """Keeps one mirror in step with one vault. Not thread-safe: one owner at a time."""

    def __init__(self, config: Config, mirror: Mirror, *, workers: int | None = None) -> None:
        self.config = config
        self.mirror = mirror
        self.vault = str(config.vault)
        self.scanner = VaultScanner(config)
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.reload()

    def reload(self) -> None:
        """Read the mirror's idea of the vault (after start-up or another writer).
        WrongVault when the mirror holds another vault (see mirror/check.py)."""
        self.check_owner()
        if self.mirror.get_meta(MetaKey.VAULT) is None:
            # A new mirror is claimed at once, not at the end of its first sync: another
            # vault's sync started meanwhile then finds it taken.
            with self.mirror.transaction(keep_journal=True):
                self.check_owner()
                self.mirror.set_meta(MetaKey.VAULT, self.vault)
                self.mirror.set_meta(MetaKey.VAULT_ID, vault_id(self.config.vault))
        self.index = VaultIndex.of(self.mirror)
        # Which symlinks are followed is known after a full walk; until then a partial
        # sync cannot judge one, so it walks everything.
        self.symlinks: dict[str, SymlinkInfo] | None = None
        self.force_reparse = (
            self.mirror.get_meta(MetaKey.PARSE_OPTIONS) != self.config.parse_fingerprint()
            and bool(self.index.pages)
        )

    @property
    def pages(self) -> dict[str, KnownFile]:
        """The pages the mirror holds (the index's)."""
        return self.index.pages

    def check_owner(self) -> None:
        """WrongVault when the mirror holds another vault (see mirror/check.py)."""
        wrong = owner_error(self.mirror.path, self.config.vault,
                            self.mirror.get_meta(MetaKey.VAULT),
                            self.mirror.get_meta(MetaKey.VAULT_ID))
        if wrong is not None:
            raise wrong

    # --- scanning -----------------------------------------------------------------------

    def _scan(self, paths: Iterable[str] | None) -> tuple[Scan, set[str]]:
        """The files on disk under `paths` (None: the whole vault), and the known paths
        that those paths cover."""
        index = self.index
        if paths is not None and self.symlinks is not None and \
                not self.scanner.symlinks_changed(self.symlinks) and \
                not self._case_needs_walk(paths := list(paths)):
            try:
                scan, prefixes, exact = self.scanner.scan_paths(paths, self.symlinks)
            except FullScanNeeded:
                pass
            else:
                covered = {p for p in exact if index.known(p)}
                if prefixes:  # a folder, or a path that may have been one
                    starts = tuple(prefixes)
                    covered.update(p for p in index.paths() if p.startswith(starts))
                if scan.hard_linked:
                    covered.update(self.scanner.add_hard_links(scan, index.sharing_inode(
                        {ino for _, ino in scan.hard_linked})))
                return scan, covered
        scan = self.scanner.walk()
        self.symlinks = scan.symlinks
        return scan, set(index.paths())

    def _case_needs_walk(self, paths: list[str]) -> bool:
        """On a case-insensitive file system a path the watcher reports may name a file
        listed under other case (`note.md` after `mv note.md Note.md` opens `Note.md`),
        or be a new spelling of a known file whose old one went unreported: only a
        listing tells, so a reported path there that is not a known file listed as
        spelt sends the sync to a full walk. Elsewhere this costs one `lstat` a path."""
        listings: dict[str, frozenset[str]] = {}
        for raw in paths:
            rel = raw.strip("/")
            if rel and platform.case_insensitive_at(self.vault, rel) and not (
                    self.index.known(rel)
                    and platform.listed_as_named(self.vault, rel, listings)):
                return True
        return False

    def vault_paths(self, abs_path: str) -> set[str]:
        """Vault paths a watcher's event path stands for (see VaultScanner.vault_paths)."""
        return self.scanner.vault_paths(abs_path, self.symlinks or {})

    def _plan(self, paths: Iterable[str] | None) -> Plan:
        force = self.force_reparse
        racy_after = time.time_ns() - RACY_NS
        scan, covered = self._scan(None if force else paths)
        plan = Plan(scan, covered, force, racy_after=racy_after)
        disk = scan.files
        pages, attachments, skipped = self.index.pages, self.index.attachments, self.index.skipped
        problem_paths = self.index.problem_paths
        for rel, stat in disk.items():
            if is_page_path(rel):
                known = pages.get(rel)
                if known is not None and not force and known.stat == stat:
                    plan.unchanged += 1
                    continue
                if known is None and skipped.get(rel) == stat:
                    continue
                plan.to_load.append((rel, None if force or known is None else known.hash))
            else:
                known_file = attachments.get(rel)
                if known_file is None or known_file.stat != stat:
                    plan.attachment_writes.append((rel, stat))
        plan.gone_pages = [p for p in covered if p in pages and
                           (p not in disk or not is_page_path(p))]
        plan.gone_attachments = [p for p in covered if p in attachments and p not in disk]
        plan.cleared = [p for p in covered if p not in disk and p not in scan.blocked and
                        (p in problem_paths or p in skipped)]
        # A name the scan blocked that was blocked the same way before needs nothing.
        plan.blocked = {p: b for p, b in scan.blocked.items()
                        if skipped.get(p) != b.stat or p not in problem_paths}
        return plan

    # --- syncing ------------------------------------------------------------------------

    def sync(self, paths: Iterable[str] | None = None, *, origin: str = "sync",
             progress: ProgressCallback | None = None,
             cancel: Callable[[], bool] | None = None) -> SyncReport:
        """Bring the mirror in line with the disk for `paths` (vault-relative files or
        folders), or for the whole vault when `paths` is None. `progress(done, total)`
        is called as pages are read, when there are pages to read; `cancel()` is polled
        as they are read and written, and True abandons the batch (SyncCancelled)."""
        started = time.perf_counter()
        if not os.path.isdir(self.vault):
            raise FileNotFoundError(f"vault folder is gone: {self.vault}")
        plan = self._plan(paths)
        # A bulk load keeps millions of small records alive; the cyclic collector would
        # walk them again and again (7 s of 68 s CPU at 100,000 pages). They hold no
        # cycles, so it pauses until the batch is written.
        pause_gc = len(plan.to_load) >= BULK_THRESHOLD and gc.isenabled()
        if pause_gc:
            gc.disable()
        try:
            outcome = self._sync_planned(plan, origin,
                                         _LoadProgress(progress, cancel, len(plan.to_load)))
        finally:
            if pause_gc:
                gc.enable()
        report = SyncReport(**asdict(outcome))
        report.unchanged += plan.unchanged  # not read at all: the identity matched
        report.pages = len(self.pages)
        if paths is None and not report.pages:
            report.warnings.append(no_pages_warning(self.vault))
        self._fill_counts(report)
        report.seconds = time.perf_counter() - started
        return report

    def _vault_noted(self) -> bool:
        """The mirror names this vault's path and folder (see mirror/check.py)."""
        return self.mirror.get_meta(MetaKey.VAULT) == self.vault and \
            self.mirror.get_meta(MetaKey.VAULT_ID) is not None

    def _parallel(self, plan: Plan) -> bool:
        return len(plan.to_load) >= PARALLEL_THRESHOLD and self.workers > 1

    def _sync_planned(self, plan: Plan, origin: str, loading: _LoadProgress) -> BatchOutcome:
        # Many pages and nothing gone: parse on every core while this process writes
        # what is already parsed. Otherwise load first, to pair renames by content.
        stream = self._parallel(plan) and not plan.gone_pages
        with contextlib.ExitStack() as stack:
            renamed_from: dict[str, str] = {}
            skipped: set[str] = set()
            if stream:
                batches: Iterable[list[Loaded]] = self._parse_in_pool(plan, stack, loading)
            else:
                loaded = self._load(plan, stack, loading)
                plan.gone_pages += [i.path for i in loaded if i.path in self.pages and
                                    i.status in (LoadStatus.GONE, LoadStatus.SKIPPED)]
                renamed_from = self._pair_renames(loaded, plan.gone_pages)
                skipped = {i.path for i in loaded if i.status is LoadStatus.SKIPPED}
                if plan.nothing_to_do and not self._changed(loaded, plan) and \
                        self.mirror.get_meta(MetaKey.PARSE_OPTIONS) is not None and \
                        self._vault_noted():
                    return BatchOutcome(unchanged=len(loaded))  # re-hashed, same bytes
                batches = [loaded]
            try:
                with self.mirror.transaction():
                    self.check_owner()  # under the write lock: no other vault's sync between
                    outcome = self._apply(plan, origin, batches, renamed_from, skipped)
            except BaseException:
                self.reload()  # the in-memory view may be ahead of the rolled-back rows
                raise
        self.force_reparse = False
        return outcome

    def _changed(self, loaded: list[Loaded], plan: Plan) -> bool:
        """Whether pages read again differ from the mirror: new bytes, or the same bytes
        with a new identity worth writing."""
        return any(i.status is not LoadStatus.SAME or i.stat is None or
                   plan.trusted(i.stat) != self.pages[i.path].stat for i in loaded)

    def _pair_renames(self, loaded: list[Loaded], gone_pages: list[str]) -> dict[str, str]:
        """A page that vanished and a new one with its exact bytes, or with the same
        path but for case (`note.md` → `Note.md`, what a case-insensitive file system
        reports as the same file, edited or not): a rename {new: old}."""
        gone = list(dict.fromkeys(gone_pages))
        by_case = {path.casefold(): path for path in gone}
        renamed: dict[str, str] = {}
        for item in loaded:
            old = by_case.get(item.path.casefold())
            if item.status is LoadStatus.PARSED and item.path not in self.pages and old is not None:
                renamed[item.path] = old
                del by_case[item.path.casefold()]
        paired = set(renamed.values())
        vanished: dict[str, list[str]] = {}
        for path in gone:
            h = self.pages[path].hash
            if h and path not in paired:
                vanished.setdefault(h, []).append(path)
        for item in loaded:
            if item.path in renamed:
                continue
            if item.status is LoadStatus.PARSED and item.path not in self.pages and \
                    vanished.get(item.hash or ""):
                renamed[item.path] = vanished[item.hash or ""].pop()
        return renamed

    def _apply(self, plan: Plan, origin: str, batches: Iterable[list[Loaded]],
               renamed_from: dict[str, str], skipped: set[str]) -> BatchOutcome:
        """Write one batch, inside its transaction; the in-memory view follows the rows.
        `skipped`: pages already read and found unreadable (they stay in the resolver)."""
        mirror, index, pages = self.mirror, self.index, self.index.pages
        index.resolver  # noqa: B018 - built before this batch changes what is known
        was_empty = not pages
        started = time.perf_counter()

        renamed_old = set(renamed_from.values())
        deleted = [p for p in dict.fromkeys(plan.gone_pages) if p not in renamed_old]
        ids = self._remove_gone(deleted, renamed_from, skipped)
        added_files = self._write_attachments(plan)
        new_paths = [rel for rel, _ in plan.to_load if rel not in pages and rel not in ids]
        next_id = mirror.next_page_id()
        ids.update((path, next_id + i) for i, path in enumerate(new_paths))
        # Every file about to be written or skipped is known to the resolver, with its
        # page id if it gets one, before the first link is resolved (a renamed page's
        # new path already is).
        index.expect([*new_paths, *plan.blocked, *skipped])

        writer = BatchWriter(index, mirror, ids, renamed_from, plan.trusted, plan.scan.files)
        bulk = mirror.bulk_load() if len(plan.to_load) >= BULK_THRESHOLD \
            else contextlib.nullcontext()
        with bulk:
            for batch in batches:
                writer.write(batch)
            deleted += writer.finish()
        written = writer.written
        new_set = set(new_paths)
        canvases_changed = self._write_canvases(plan, writer.problems)
        skipped_new, skipped_gone = self._write_problems(plan, writer.problems,
                                                         writer.skipped_now, set(written))
        added_files += [p for p in written if p in new_set or p in renamed_from]
        added_files += skipped_new
        removed_files = [p for p in [*deleted, *renamed_old, *plan.gone_attachments,
                                     *skipped_gone] if p not in index.resolver]
        written_ids = {pages[p].id for p in written}
        retargeted: list[tuple[str | None, int | None, int]] = []
        touched = self._retarget(writer.page_id, written_ids,
                                 {name_key(p) for p in [*added_files, *removed_files]},
                                 was_empty, retargeted)
        if canvases_changed or added_files or removed_files or renamed_from:
            self._resolve_canvas_links(writer.page_id)
        mirror.refresh_citations(None if was_empty or plan.force else touched)
        if was_empty or plan.force:
            self._check_anchors(mirror.anchored_links(), [])
        else:
            self._check_anchors(
                [*mirror.anchored_links("target_id", writer.anchors_changed),
                 *mirror.anchored_links("source_id", written_ids),
                 *mirror.anchored_links("id", [i for _, new, i in retargeted if new])],
                [link_id for _, new_id, link_id in retargeted if new_id is None])
        if plan.force or mirror.get_meta(MetaKey.PARSE_OPTIONS) is None:
            mirror.set_meta(MetaKey.PARSE_OPTIONS, self.config.parse_fingerprint())
            mirror.set_meta(MetaKey.VAULT, self.vault)
        if not self._vault_noted():
            # A vault moved on its file system (see mirror/check.py), or a mirror from
            # before vault_id was kept: note where and which folder it is now.
            mirror.set_meta(MetaKey.VAULT, self.vault)
            mirror.set_meta(MetaKey.VAULT_ID, vault_id(self.config.vault))
        if written or deleted or plan.attachment_writes or plan.gone_attachments:
            mirror.bump_meta_counter(MetaKey.GRAPH_VERSION)
        mirror.set_meta(MetaKey.LAST_SYNC_AT, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

        renamed = sum(1 for p in written if p in renamed_from)
        added = sum(1 for p in written if p in new_set)
        outcome = BatchOutcome(
            added=added, updated=len(written) - added - renamed, removed=len(deleted),
            renamed=renamed, unchanged=writer.unchanged,
            attachments_added=sum(1 for p in added_files if not is_page_path(p)),
            attachments_removed=len(plan.gone_attachments),
            links_retargeted=len(retargeted), skipped=len(writer.skipped_now),
            changed_paths=sorted(written), removed_paths=sorted([*deleted, *renamed_old]))
        if outcome.changed:
            mirror.log_batch(origin, outcome.added, outcome.updated, outcome.removed,
                             outcome.renamed, outcome.changed_paths, outcome.removed_paths,
                             time.perf_counter() - started,
                             added_paths=[p for p in written if p in new_set],
                             renamed_from={p: renamed_from[p] for p in written
                                           if p in renamed_from})
        return outcome

    def _remove_gone(self, deleted: list[str], renamed_from: dict[str, str],
                     skipped: set[str]) -> dict[str, int]:
        """Delete vanished pages (a page now skipped stays in the resolver); a renamed
        page's id moves to its new path (returned)."""
        index = self.index
        delete_pages(self.mirror, [index.pages[p].id for p in deleted])
        ids = {new: index.rename_page(old, new, keep_old_name=old in skipped)
               for new, old in renamed_from.items()}
        for path in deleted:
            index.remove_page(path, keep_name=path in skipped)
        return ids

    def _check_anchors(self, links: list[AnchoredLink], unresolved: list[int]) -> None:
        """Set `links.anchor_ok` of `links`: whether the heading or block each names
        exists in its target page. `unresolved` links name no page any more."""
        self.mirror.clear_anchor_ok(unresolved)
        if not links:
            return
        targets = {target_id: PageAnchors(headings, blocks) for target_id, (headings, blocks)
                   in self.mirror.anchor_targets({link.target_id for link in links}).items()}
        empty = PageAnchors([], [])
        rows = []
        for link in links:
            ok = targets.get(link.target_id, empty).has(link.anchor)
            rows.append((None if ok is None else int(ok), link.id))
        self.mirror.set_anchor_ok(rows)

    def _write_canvases(self, plan: Plan, problems: dict[str, list[Problem]]) -> bool:
        """Read new and changed canvases (every one when pages are parsed again) into
        their tables, with their problems; drop vanished ones. Whether any changed."""
        paths = [p for p, _ in plan.attachment_writes if is_canvas_path(p)]
        if plan.force:
            paths = [p for p in self.index.attachments if is_canvas_path(p)]
        gone = [p for p in plan.gone_attachments if is_canvas_path(p)]
        self.mirror.delete_canvases(gone)
        for path in paths:
            canvas = self._read_canvas(path)
            self.mirror.write_canvas(path, canvas)
            problems[path] = canvas.problems
        return bool(paths or gone)

    def _read_canvas(self, path: str) -> ParsedCanvas:
        try:
            with open(os.path.join(self.vault, path), "rb") as f:
                data = f.read(self.config.max_page_bytes + 1)
        except OSError as exc:
            return ParsedCanvas(problems=[Problem(None, f"canvas not read: {exc.strerror}")])
        if len(data) > self.config.max_page_bytes:
            return ParsedCanvas(problems=[Problem(None, (
                f"canvas larger than max_page_bytes ({self.config.max_page_bytes:,} "
                "bytes): its nodes and edges are not read"))])
        return parse_canvas(path, data)

    def _resolve_canvas_links(self, page_id: Callable[[str | None], int | None]) -> None:
        """Resolve every canvas reference again (a few per canvas): files came or went."""
        rows = []
        for link in self.mirror.canvas_links():
            new_path = self.index.resolver.resolve(link.target, link.canvas_path,
                                                   link.relative)
            new_id = page_id(new_path)
            if (new_path, new_id) != (link.target_path, link.target_id):
                rows.append((new_path, new_id, link.id))
        self.mirror.retarget_canvas_links(rows)

    def _write_attachments(self, plan: Plan) -> list[str]:
        """Write new and changed attachments, drop vanished ones; the new paths."""
        self.mirror.write_attachments([(p, s, plan.trusted(s)) for p, s in plan.attachment_writes])
        self.mirror.delete_attachments(plan.gone_attachments)
        index = self.index
        added = [p for p, _ in plan.attachment_writes if p not in index.attachments]
        for path in plan.gone_attachments:
            index.remove_attachment(path)
        for path, stat in plan.attachment_writes:
            state = index.attachments.get(path)
            index.add_attachment(path, KnownFile(state.id if state else 0, plan.trusted(stat)))
        return added

    def _retarget(self, page_id: Callable[[str | None], int | None],
                  written_ids: set[int], keys: set[str], was_empty: bool,
                  retarget: list[tuple[str | None, int | None, int]]) -> set[int]:
        """Re-resolve links elsewhere whose answer a new or vanished file can change
        (appended to `retarget` as (path, page id, link id)); the ids of every page
        whose links changed."""
        touched = set(written_ids)
        if not keys or was_empty:
            return touched
        for link in self.mirror.links_naming(keys):
            if link.source_id in written_ids:
                continue  # resolved just now, against the vault as it is
            new_path = self.index.resolver.resolve(link.target, link.source_path,
                                                   link.relative)
            new_id = page_id(new_path)
            if (new_path, new_id) != (link.target_path, link.target_id):
                retarget.append((new_path, new_id, link.id))
                touched.add(link.source_id)
        self.mirror.retarget_links(retarget)
        return touched

    def _write_problems(self, plan: Plan, problems: dict[str, list[Problem]],
                        skipped_now: dict[str, FileStat], written: set[str]
                        ) -> tuple[list[str], list[str]]:
        """Problem rows and skipped files of this batch, the scan's blocked names
        included: the paths skipped now that were not before, and those no longer
        skipped (each leaves the resolver unless it is a page or attachment now)."""
        for path in plan.cleared:
            problems.setdefault(path, [])
        for path, blocked in plan.blocked.items():
            problems[path] = [Problem(None, blocked.message, blocked.severity)]
            skipped_now[path] = blocked.stat
        index = self.index
        problems = {p: v for p, v in problems.items() if v or p in index.problem_paths}
        skipped_gone = [p for p in index.skipped if p in plan.covered and
                        ((p not in plan.scan.files and p not in plan.scan.blocked)
                         or p in written)]
        self.mirror.replace_problems(problems)
        self.mirror.write_skipped(skipped_now, skipped_gone)
        newly = [p for p in skipped_now if p not in index.skipped]
        for path in skipped_gone:
            index.unskip(path)
        for path, stat in skipped_now.items():
            index.skip(path, stat)
        index.note_problems(problems)
        return newly, skipped_gone

    def _chunks(self, plan: Plan) -> list[LoadWork]:
        """Work for the parsing processes: small enough that writing starts early, and
        each a run of `to_load` in its order, so that new pages arrive in the order
        of the ids they were given (see Mirror.bulk_load)."""
        items = plan.to_load
        options, cap = self.config.parse, self.config.max_page_bytes
        n = max(self.workers * 4, len(items) // 200)
        size = -(-len(items) // n)
        return [(self.vault, items[i:i + size], cap, options)
                for i in range(0, len(items), size)]

    def _fill_counts(self, report: SyncReport) -> None:
        counts = read.counts(self.mirror.conn)
        report.links, report.unresolved = counts["links"], counts["unresolved"]
        report.problems = counts["problems"]

    def _load(self, plan: Plan, stack: contextlib.ExitStack, loading: _LoadProgress
              ) -> list[Loaded]:
        options, cap = self.config.parse, self.config.max_page_bytes
        if not self._parallel(plan):
            loaded = []
            for rel, known in plan.to_load:
                loaded.append(load_page(self.vault, rel, known, cap, options))
                loading.step(1)
            return loaded
        return [item for batch in self._parse_in_pool(plan, stack, loading) for item in batch]

    def _parse_in_pool(self, plan: Plan, stack: contextlib.ExitStack, loading: _LoadProgress
                       ) -> Iterator[list[Loaded]]:
        """Pages loaded by the parsing processes, chunk by chunk; leaving `stack` (a stop,
        an error) drops the chunks not started rather than waiting for them."""
        pool = stack.enter_context(worker_pool.pool(self.workers))
        stack.callback(pool.shutdown, cancel_futures=True)
        pickled = pool.map(load_batch_pickled, self._chunks(plan))
        return loading.follow(pickle.loads(batch) for batch in pickled)


class _LoadProgress:
    """Progress reports and cancellation checks while pages are read."""

    def __init__(self, progress: ProgressCallback | None, cancel: Callable[[], bool] | None,
                 total: int) -> None:
        self.progress = progress
        self.cancel = cancel
        self.total = total
        self.done = 0
        self._reported = 0.0

    def step(self, pages: int) -> None:
        self.done += pages
        if self.cancel is not None and self.cancel():
            raise SyncCancelled("sync cancelled")
        if self.progress is not None:
            now = time.monotonic()
            if now - self._reported >= 0.1 or self.done == self.total:
                self._reported = now
                self.progress(self.done, self.total)

    def follow(self, batches: Iterable[list[Loaded]]) -> Iterator[list[Loaded]]:
        for batch in batches:
            self.step(len(batch))
            yield batch


def build_aside(config: Config, *, workers: int | None = None,
                progress: ProgressCallback | None = None,
                cancel: Callable[[], bool] | None = None, origin: str = "sync",
                replace_unfinished: bool = False) -> SyncReport | None:
    """A first sync: build the mirror of the whole vault in a scratch file beside
    `config.db` and move it into place when complete, so a crash or kill meanwhile
    leaves no mirror rather than a part of one a reader could take for the vault.

    None when a mirror was made at `config.db` meanwhile (another sync, a daemon): it
    is never overwritten, the caller syncs into it. With `replace_unfinished` (the
    caller holds the daemon lock) a file there that no sync completed is replaced
    (see unfinished_mirror). SyncCancelled when `cancel()` turns true: no mirror is made."""
    db = Path(config.db)
    scratch = scratch_path(db)
    try:
        with Mirror(scratch, scratch=True) as mirror:
            report = Syncer(config, mirror, workers=workers).sync(
                origin=origin, progress=progress, cancel=cancel)
        if publish_scratch(scratch, db):
            return report
        if replace_unfinished and unfinished_mirror(db):
            remove_mirror(db)
            if publish_scratch(scratch, db):
                return report
        return None
    except MirrorError as exc:  # the user knows the mirror's name, not the scratch's
        raise MirrorError(str(exc).replace(str(scratch), str(db))) from exc
    finally:
        for leftover in (scratch, Path(f"{scratch}-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def sync_vault(config: Config, *, workers: int | None = None,
               progress: ProgressCallback | None = None) -> SyncReport:
    """Open the mirror, sync the whole vault, close: what `vaultsync sync` does. A
    first sync builds the mirror aside and moves it into place whole (build_aside)."""
    db = Path(config.db)
    remove_stale_scratch(db)
    if not db.exists():
        report = build_aside(config, workers=workers, progress=progress)
        if report is not None:
            return report
    with Mirror(db) as mirror:
        return Syncer(config, mirror, workers=workers).sync(progress=progress)
