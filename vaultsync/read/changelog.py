"""What changed in the mirror since a cursor or a time, from `sync_log`.

`sync_log` keeps one row per committed batch (the last 1,000): its counts (added,
updated, removed, renamed), the paths it wrote and the paths it removed, which of the
written paths are new pages (`added_paths`) and where each renamed page came from
(`renamed_from`); the other written paths are edits. A batch's cursor is its row id; the
answer's `cursor` is the last batch read, to pass next time.

Rows written before schema 3 hold NULL in `added_paths` and `renamed_from`: they say
which paths changed, not always how. For those, a batch that both added and edited
pages, or both renamed and deleted, is worked out from the counts (a batch with one kind
of change is exact), from page ids (a new page's id is above every id before it; a
renamed page keeps its id), and from names (a rename keeps the file name or changes only
its case); `exact` is False, with a note, when some path's kind was a best guess.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from .answers import ChangedPage, Changes, RenamedPage
from .base import BadRequest

KEPT_BATCHES = 1000  # mirror.writer's log_batch keeps this many rows


@dataclass
class _Batch:
    id: int
    at: str
    added: int
    updated: int
    removed: int
    renamed: int
    changed: list[str]
    gone: list[str]
    added_paths: list[str] | None  # None: logged before sync_log recorded them
    renamed_from: dict[str, str] | None  # new path → old path


def _stem(path: str) -> str:
    name = posixpath.basename(path)
    return name[:-3] if name.lower().endswith(".md") else name


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.casefold(), b.casefold()).ratio()


def _classify(batch: _Batch, ids: dict[str, int], live: set[str], floor: int
              ) -> tuple[list[str], list[str], list[tuple[str, str]], list[str], bool]:
    """One batch's (added, edited, [(old, new) renamed], deleted, exact). `live`: paths
    known to hold a page before this batch; `floor`: an id some page held before it
    (ids only grow, so a page with a lower id is not new)."""
    if batch.added_paths is not None and batch.renamed_from is not None:
        return _recorded(batch, batch.added_paths, batch.renamed_from)
    exact = True
    changed = list(batch.changed)
    if batch.added == 0:
        added: list[str] = []
    elif batch.added >= len(changed):
        added = changed
    else:
        candidates = [p for p in changed if p not in live and ids.get(p, floor + 1) > floor]
        if len(candidates) == batch.added:
            added = candidates
        else:
            # The newest ids are the new pages; a path gone since may have been one.
            known = sorted((p for p in candidates if p in ids), key=lambda p: -ids[p])
            unknown = [p for p in candidates if p not in ids]
            added = (unknown + known)[:batch.added] if unknown else known[:batch.added]
            exact = not unknown
    added_set = set(added)
    rest = [p for p in changed if p not in added_set]
    renames: list[tuple[str, str]] = []
    gone = list(batch.gone)
    if batch.renamed:
        unpaired_old = list(gone)
        candidates = list(rest)
        # A rename that keeps the path but for case, then one that keeps the file name.
        for key in (str.casefold, lambda p: posixpath.basename(p).casefold()):
            for new in list(candidates):
                if len(renames) >= batch.renamed:
                    break
                match = [old for old in unpaired_old if key(old) == key(new)]
                if len(match) == 1:
                    renames.append((match[0], new))
                    unpaired_old.remove(match[0])
                    candidates.remove(new)
        missing = batch.renamed - len(renames)
        if missing:
            # Exact only when the rest are all renames from all the rest removed.
            if batch.updated == 0 and batch.removed == 0 and \
                    len(candidates) == missing == len(unpaired_old):
                renames += zip(sorted(unpaired_old), sorted(candidates), strict=True)
                if missing > 1:
                    exact = False  # which went where is a guess
                unpaired_old, candidates = [], []
            elif batch.updated == 0 and len(candidates) == missing <= len(unpaired_old):
                # Every remaining path is a rename's new path; which removed path each
                # came from is not recorded: the most similar name is a best guess.
                for new in sorted(candidates):
                    old = max(unpaired_old, key=lambda o: _similarity(o, new))
                    renames.append((old, new))
                    unpaired_old.remove(old)
                exact = False
            else:
                exact = False
        moved_old = {old for old, _ in renames}
        gone = [p for p in gone if p not in moved_old]
        if missing and unpaired_old and batch.removed < len(gone):
            # Some of these were renamed away, not deleted: their new paths are
            # counted as edited below.
            exact = False
        renamed_new = {new for _, new in renames}
        rest = [p for p in rest if p not in renamed_new]
    return added, rest, renames, gone, exact


def _recorded(batch: _Batch, added_paths: list[str], renamed_from: dict[str, str]
              ) -> tuple[list[str], list[str], list[tuple[str, str]], list[str], bool]:
    """A batch as its row records it: exact."""
    added = set(added_paths)
    edited = [p for p in batch.changed if p not in added and p not in renamed_from]
    renames = [(old, new) for new, old in renamed_from.items()]
    moved_old = set(renamed_from.values())
    deleted = [p for p in batch.gone if p not in moved_old]
    return [p for p in batch.changed if p in added], edited, renames, deleted, True


def changes(conn: sqlite3.Connection, *, cursor: int | None = None,
            since: str | None = None) -> Changes:
    """The net change since batch `cursor` (a sync_log id, from a previous answer) or
    since time `since` (ISO 8601, UTC, e.g. 2026-12-07T10:00:00Z); with neither, since
    the oldest batch the log holds. A page added then edited is added; edited then
    removed is removed; added then removed is left out; renamed twice is one rename."""
    if cursor is not None and since is not None:
        raise BadRequest("give a cursor or a time to look back to (since), not both")
    if cursor is not None and cursor < 0:
        raise BadRequest(f"cursor must be 0 or more, not {cursor}")
    since_key = None
    if since is not None:
        try:
            when = datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"since must be a UTC time such as 2026-12-07T10:00:00Z, "
                             f"not {since!r}") from None
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        since_key = when.strftime("%Y-%m-%dT%H:%M:%S")  # sync_log's `at`, without its Z
    oldest_id, last_id = conn.execute(
        "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM sync_log").fetchone()
    oldest_cursor = max(oldest_id - 1, 0)
    notes: list[str] = []
    complete = True
    if cursor is not None:
        start = cursor
        if cursor < oldest_cursor:
            complete = False
            notes.append(f"cursor {cursor} is older than the log's horizon: it keeps the "
                         f"last {KEPT_BATCHES:,} batches, from cursor {oldest_cursor}; "
                         "pages changed in between are missing (compare whole pages, or "
                         "start again from this answer's cursor)")
        elif cursor > last_id:
            complete = False
            notes.append(f"cursor {cursor} is past the log's last batch ({last_id}): it "
                         "comes from another mirror or one made anew; start again from "
                         "this answer's cursor")
    else:
        start = oldest_cursor
        if since_key is not None:
            # `at` is second-precise: a batch in the same second as `since` is included.
            row = conn.execute("SELECT min(id) - 1 FROM sync_log WHERE at >= ?",
                               (since_key,)).fetchone()
            start = last_id if row[0] is None else row[0]
            if oldest_id > 1 and start <= oldest_cursor:
                first_at = conn.execute("SELECT at FROM sync_log WHERE id = ?",
                                        (oldest_id,)).fetchone()[0]
                complete = False
                notes.append(f"the log's oldest batch is from {first_at}, after {since}: "
                             f"it keeps the last {KEPT_BATCHES:,} batches, so older "
                             "changes are missing")
        elif oldest_id > 1:
            complete = False
            notes.append(f"without a cursor or time: the changes of the last "
                         f"{KEPT_BATCHES:,} batches the log keeps")
    batches = [
        _Batch(i, at, a, u, r, n, json.loads(c), json.loads(g),
               None if ap is None else json.loads(ap), None if rf is None else json.loads(rf))
        for i, at, a, u, r, n, c, g, ap, rf in conn.execute(
            "SELECT id, at, added, updated, removed, renamed, changed_paths, removed_paths, "
            "added_paths, renamed_from FROM sync_log WHERE id > ? ORDER BY id", (start,))]
    touched = {p for b in batches for p in b.changed}
    titles: dict[str, str] = {}
    ids: dict[str, int] = {}
    paths = sorted(touched)
    for offset in range(0, len(paths), 500):
        chunk = paths[offset:offset + 500]
        for pid, path, title in conn.execute(
                f"SELECT id, path, title FROM pages WHERE path IN "
                f"({','.join('?' * len(chunk))})", chunk):
            ids[path], titles[path] = pid, title

    # The path each touched page had at the start (None: new since), and the starting
    # paths whose page is gone.
    origin: dict[str, str | None] = {}
    gone: set[str] = set()
    exact = True
    last_removed = {p: n for n, b in enumerate(batches) for p in b.gone}
    floor = 0  # the newest id of a page untouched since the start: it was there then
    for pid, path in conn.execute("SELECT id, path FROM pages ORDER BY id DESC"):
        if path not in touched:
            floor = pid
            break
    for n, batch in enumerate(batches):
        live = set(origin)
        batch_floor = max([floor, *(ids[p] for p in live
                                    if p in ids and last_removed.get(p, -1) < n)])
        added, edited, renames, deleted, batch_exact = _classify(batch, ids, live,
                                                                 batch_floor)
        exact = exact and batch_exact
        for old, new in renames:
            origin[new] = origin.pop(old, old)
        for path in deleted:
            first = origin.pop(path, path)
            if first is not None:
                gone.add(first)
        for path in added:
            if path in gone:  # removed, then a page at the same path again
                gone.discard(path)
                origin[path] = path
            else:
                origin[path] = None
        for path in edited:
            if path not in origin:
                gone.discard(path)
                origin[path] = path
    if not exact:
        notes.append("some batches logged before schema 3 mixed kinds of change (added "
                     "with edited, renamed with removed) without recording which page had "
                     "which kind, so that was worked out from page ids and names: a page "
                     "listed as edited may have been added or renamed")
    out_added: list[ChangedPage] = []
    out_edited: list[ChangedPage] = []
    out_renamed: list[RenamedPage] = []
    for path, first in sorted(origin.items()):
        if path not in titles:
            continue  # gone since (a later batch removed it)
        page: ChangedPage = {"path": path, "title": titles[path]}
        if first is None:
            out_added.append(page)
        elif first == path:
            out_edited.append(page)
        else:
            out_renamed.append({"path": path, "title": titles[path], "old_path": first})
    still_there = {p for p in gone if p in titles or _exists(conn, p)}
    removed = [{"path": p, "title": _stem(p)} for p in sorted(gone - still_there)]
    return {
        "cursor": batches[-1].id if batches else min(start, last_id),
        "since_cursor": cursor, "since": since, "batches": len(batches),
        "first_at": batches[0].at if batches else None,
        "last_at": batches[-1].at if batches else None,
        "complete": complete, "oldest_cursor": oldest_cursor, "exact": exact,
        "notes": notes, "added": out_added, "edited": out_edited, "renamed": out_renamed,
        "removed": [ChangedPage(path=r["path"], title=r["title"]) for r in removed],
    }


def _exists(conn: sqlite3.Connection, path: str) -> bool:
    return conn.execute("SELECT 1 FROM pages WHERE path = ?", (path,)).fetchone() is not None
