"""One batch of a sync written to the mirror: loaded pages, their links, and the
pages that could not be written after all.

The writer gets the vault's index and the mirror, not the `Syncer`: the
rows it writes and the index's picture of them change together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .index import VaultIndex
from .load import Loaded, LoadStatus
from .mirror import KnownFile, LinkRow, Mirror, PageWrite
from .names import windows_name_problem
from .parse import Problem
from .scan import FileStat


class BatchWriter:
    """Writes loaded pages and their links during one batch of a sync, keeping `index`
    in step with the rows it writes to `mirror`.

    `ids`: the row ids given to new and renamed pages before the batch; `renamed_from`:
    {new path: old path}; `trusted`: the identity a later scan compares for a file's
    stat (see sync.Plan.trusted); `scanned`: the identities the scan saw."""

    def __init__(self, index: VaultIndex, mirror: Mirror, ids: dict[str, int],
                 renamed_from: dict[str, str], trusted: Callable[[FileStat], FileStat],
                 scanned: Mapping[str, FileStat]) -> None:
        self.index = index
        self.mirror = mirror
        self.trusted = trusted
        self.scanned = scanned
        self.ids = ids
        self.renamed_from = renamed_from
        self.written: list[str] = []
        self.unwritten: list[Loaded] = []
        self.links: list[LinkRow] = []  # written by finish()
        self.links_written = False  # links of new pages written with their batch
        self.rewritten: list[int] = []  # known pages written again: their links are diffed
        self.link_sources: list[str] = []
        self.problems: dict[str, list[Problem]] = {}
        self.skipped_now: dict[str, FileStat] = {}
        # Written pages whose headings or block ids changed: links into them are
        # checked again.
        self.anchors_changed: set[int] = set()
        self.unchanged = 0  # pages read again with the same bytes (a new identity at most)

    def page_id(self, path: str | None) -> int | None:
        if path is None:
            return None
        state = self.index.pages.get(path)
        return state.id if state is not None else self.ids.get(path)

    def write(self, batch: list[Loaded]) -> None:
        trusted, index, mirror = self.trusted, self.index, self.mirror
        pages, resolver = index.pages, index.resolver
        writes: list[PageWrite] = []
        for item in batch:
            if item.status is not LoadStatus.SAME:
                self.problems[item.path] = item.problems + _name_problems(item.path)
            if item.status is LoadStatus.PARSED and item.parsed is not None and \
                    item.stat is not None:
                known = pages.get(item.path)
                writes.append(PageWrite(
                    item.path, item.stat, item.hash or "", item.parsed,
                    known.id if known else self.ids[item.path], trusted(item.stat),
                    new=known is None and item.path not in self.renamed_from))
            elif item.status is LoadStatus.SAME and item.stat is not None:
                state = pages[item.path]
                compare = trusted(item.stat)
                if compare != state.stat:
                    mirror.touch_page(state.id, item.stat, compare)
                    state.stat = compare
                self.unchanged += 1  # re-hashed, same bytes: not parsed
            else:
                self.unwritten.append(item)
                if item.status is LoadStatus.SKIPPED:
                    # Remember the scan's identity: that is what the next scan compares.
                    stat = self.scanned.get(item.path) or item.stat
                    if stat is not None:
                        self.skipped_now[item.path] = stat
        self._note_anchor_changes(writes)
        mirror.write_pages(writes)
        self.rewritten.extend(w.id for w in writes if not w.new)
        # A new page's links need no comparing with rows before: when the mirror takes
        # links before the pages they name, they go in now, with their page; else
        # they wait for finish(), when every page row exists.
        now = mirror.links_before_pages
        links_now: list[LinkRow] = []
        for w in writes:
            at_once = now and w.new
            rows = links_now if at_once else self.links
            for link in w.parsed.links:
                target_path = resolver.resolve(link.target, w.path, link.relative)
                rows.append(LinkRow(
                    w.id, link.target, link.anchor, link.display, int(link.embed), link.line,
                    link.form, target_path, self.page_id(target_path), int(link.relative)))
                if not at_once:
                    self.link_sources.append(w.path)
            index.add_page(w.path, KnownFile(w.id, w.compare, w.hash))
            self.written.append(w.path)
        if links_now:
            mirror.insert_links(links_now)
            self.links_written = True

    def _note_anchor_changes(self, writes: list[PageWrite]) -> None:
        """Before pages are rewritten: which of them name other headings or blocks than
        before (a new page has no links into it yet but retargeted ones)."""
        known = [w.id for w in writes if not w.new]
        before = self.mirror.anchor_targets(known) if known else {}
        for w in writes:
            if w.new:
                continue
            now = ([(h.level, h.text) for h in w.parsed.headings],
                   [b.block_id for b in w.parsed.blocks])
            if before.get(w.id, ([], [])) != now:
                self.anchors_changed.add(w.id)

    def finish(self) -> list[str]:
        """Pages that could not be written after all (vanished or skipped while
        loading): a known one is deleted; a vanished one leaves the resolver and the
        links resolved to it meanwhile are resolved again; a skipped one stays (the
        file exists) but has no page row for links to name. Links go in last, when
        every page row they name exists. Returns the known pages deleted."""
        index = self.index
        deleted: list[str] = []
        lost: set[str] = set()
        rowless: set[str] = set()
        for item in self.unwritten:
            still_there = item.status is LoadStatus.SKIPPED
            state = index.remove_page(item.path, keep_name=still_there)
            if state is not None:
                delete_pages(self.mirror, [state.id])
                deleted.append(item.path)
            rowless.add(item.path)
            if not still_there:
                lost.add(item.path)
        for path in rowless:
            self.ids.pop(path, None)  # no row: never a link's target_id
        if rowless:
            for i, row in enumerate(self.links):
                if row.target_path in rowless:
                    target_path, target_id = self._retarget(row.target, self.link_sources[i],
                                                            bool(row.relative),
                                                            row.target_path, rowless, lost)
                    self.links[i] = row._replace(target_path=target_path, target_id=target_id)
            if self.links_written:
                retarget = []
                for named in self.mirror.links_resolved_to(rowless):
                    target_path, target_id = self._retarget(named.target, named.source_path,
                                                            named.relative,
                                                            named.target_path, rowless, lost)
                    retarget.append((target_path, target_id, named.id))
                self.mirror.retarget_links(retarget)
        self.mirror.replace_links(self.rewritten, self.links)
        return deleted

    def _retarget(self, target: str, source_path: str, relative: bool,
                  target_path: str | None, rowless: set[str], lost: set[str]
                  ) -> tuple[str | None, int | None]:
        """Where a link resolved to a page without a row goes now: elsewhere if that file
        is gone, else to the file (skipped: no page id)."""
        if target_path in lost:
            target_path = self.index.resolver.resolve(target, source_path, relative)
        return target_path, None if target_path in rowless else self.page_id(target_path)


def delete_pages(mirror: Mirror, ids: list[int]) -> None:
    """Delete page rows; the links that pointed at them have no anchor to check."""
    mirror.clear_anchor_ok(link.id for link in mirror.anchored_links("target_id", ids))
    mirror.delete_pages(ids)


def _name_problems(path: str) -> list[Problem]:
    why = windows_name_problem(path)
    return [] if why is None else [Problem(None, why, "warning")]
