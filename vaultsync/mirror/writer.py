"""The SQLite mirror's only writer: opening (and migrating) it, and every write the
sync engine, the daemon and the graph metrics make, each batch in one transaction.
The schema itself is in schema.py; reading is `vaultsync.read`'s."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..parse import ParsedPage, Problem
from ..parse.canvas import ParsedCanvas, canvas_title
from ..resolve import name_key
from ..scan import FileStat
from .schema import MIGRATIONS, PAGE_CHILD_TABLES, SCHEMA_VERSION, MetaKey, split_sql


class AnchoredLink(NamedTuple):
    """A link with an anchor, to the page whose headings and blocks it must name."""

    id: int
    target_id: int
    anchor: str


class CoreMetrics(NamedTuple):
    """One page's row of core figures in page_metrics."""

    page_id: int
    in_degree: int
    out_degree: int
    pagerank: float
    component: int
    citation_count: int
    orphan: int
    isolated: int
    dead_end: int


class HeavyMetrics(NamedTuple):
    page_id: int
    betweenness: float | None
    community: int | None


class LayoutPosition(NamedTuple):
    page_id: int
    x: float
    y: float


class MirrorError(Exception):
    """A mirror that cannot be opened or written: one clear line for the user."""


@dataclass(slots=True)
class KnownFile:
    """What the mirror knows of one file: its row id, its identity when last synced
    (mtime_ns -1: too recent to trust) and, for a page, the hash of its bytes."""

    id: int
    stat: FileStat
    hash: str | None = None


class PageWrite(NamedTuple):
    """One page to insert or rewrite; `id` set when it keeps an existing row."""

    path: str
    stat: FileStat
    hash: str
    parsed: ParsedPage
    id: int
    compare: FileStat  # the identity later syncs compare (mtime_ns -1 when untrusted)
    new: bool = False  # insert a row with this id, rather than rewrite it


class LinkRow(NamedTuple):
    """One row of `links`, as the sync engine writes it."""

    source_id: int
    target: str
    anchor: str | None
    display: str | None
    embed: int
    line: int
    form: str
    target_path: str | None
    target_id: int | None
    relative: int


class CanvasLinkRow(NamedTuple):
    """A canvas's reference to a file, as resolution needs it."""

    id: int
    canvas_path: str
    target: str
    relative: bool
    target_path: str | None
    target_id: int | None


class NamedLink(NamedTuple):
    """A link whose target names a given file name, with its source page's path."""

    id: int
    source_id: int
    source_path: str
    target: str
    relative: bool
    target_path: str | None
    target_id: int | None


def create_private_file(path: Path, flags: int) -> int:
    """Open `path` (made if missing, mode 0600: the owner's only); a file descriptor."""
    # O_CLOEXEC is POSIX's; Windows' descriptors are not inherited by default.
    return os.open(path, flags | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)


def scratch_path(db: Path) -> Path:
    """Where a first sync builds the mirror `db` before it is moved into place: named
    by process (remove_stale_scratch) and thread (a daemon in a thread of a process
    that syncs too)."""
    return db.with_name(f".{db.name}.{os.getpid()}.{threading.get_ident()}.new")


_SCRATCH_ENDINGS = (".new", ".new-journal", ".new-wal", ".new-shm")


def remove_stale_scratch(db: Path) -> None:
    """Drop scratch files of first syncs whose process died (killed mid-build)."""
    from ..platform import pid_alive

    prefix = f".{db.name}."
    try:
        names = os.listdir(db.parent)
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].partition(".")[0]
        if name.startswith(prefix) and name.endswith(_SCRATCH_ENDINGS) and pid.isdigit() \
                and int(pid) != os.getpid() and not pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(db.parent / name)


def publish_scratch(scratch: Path, db: Path) -> bool:
    """Move a finished, closed scratch mirror to `db` at once: a reader finds no mirror
    or the whole one. False (the scratch file left as it is) when a mirror appeared at
    `db` meanwhile: it is never overwritten."""
    fd = os.open(scratch, os.O_RDONLY)
    try:
        os.fsync(fd)  # the build never waited for the disk: its bytes are there now
    finally:
        os.close(fd)
    try:
        os.link(scratch, db)  # unlike a rename, never replaces a file made meanwhile
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: a rename, after a last look
        if db.exists():
            return False
        os.replace(scratch, db)
        return True
    os.unlink(scratch)
    if hasattr(os, "O_DIRECTORY"):
        dfd = os.open(db.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return True


def replace_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` as a whole (a reader sees the old file or the new one,
    never half), mode 0600."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
            os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# Bytes the WAL file is cut back to after a checkpoint (PRAGMA journal_size_limit), and
# the size above which the daemon, when idle, checkpoints it to empty.
WAL_SIZE_LIMIT = 4 * 1024 * 1024
# FTS5's `hashsize` setting: its default, and the one a bulk load uses (see bulk_load).
_FTS_HASHSIZE = "INSERT INTO pages_fts (pages_fts, rank) VALUES ('hashsize', ?)"
_FTS_DEFAULT_HASHSIZE = 1024 * 1024
_BULK_FTS_HASHSIZE = 16 * 1024 * 1024


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"


def busy_timeout() -> float:
    """Seconds a connection waits for another's lock before "database is locked":
    $VAULTSYNC_BUSY_TIMEOUT, else 5."""
    value = os.environ.get("VAULTSYNC_BUSY_TIMEOUT", "").strip() or "5"
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        raise MirrorError(f"VAULTSYNC_BUSY_TIMEOUT must be a number of seconds, not {value!r}")
    return seconds


def chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """`items` in slices small enough for one `IN (?, ?, …)` list."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def marks(items: Sequence[Any]) -> str:
    """The `?, ?, …` of an `IN` list for `items`."""
    return ",".join("?" * len(items))


def connect(db_path: Path | str, *, readonly: bool = False,
            timeout: float | None = None) -> sqlite3.Connection:
    """A connection with vaultsync's pragmas; autocommit, transactions are explicit.
    `timeout`: seconds to wait for a lock (default: busy_timeout())."""
    if timeout is None:
        timeout = busy_timeout()
    if readonly:
        uri = Path(db_path).absolute().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(db_path, isolation_level=None, timeout=timeout,
                               check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


class Mirror:
    """An open mirror database. Every write vaultsync makes goes through here."""

    def __init__(self, db_path: Path | str, *, timeout: float | None = None,
                 scratch: bool = False) -> None:
        """`scratch`: a new file no reader opens until it is moved into place whole
        (see publish_scratch): its first load keeps no journal on disk and never waits
        for the disk, since a crash loses only the scratch file."""
        self.path = Path(db_path)
        self._migrating = False
        self._fts_by_batch = False  # set during a bulk load (see bulk_load)
        self._keys_off = False
        try:
            # The mirror holds the vault's text: readable by its owner only. SQLite gives
            # the -wal and -shm files the database file's mode.
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # A new mirror takes its first (bulk) load in rollback-journal mode, which
            # writes each page of the file once instead of to the WAL and then back;
            # it switches to WAL as soon as that transaction commits.
            self._fresh = not self.path.exists()
            if self._fresh:
                os.close(create_private_file(self.path, os.O_RDWR))
            self._timeout = busy_timeout() if timeout is None else timeout
            self.conn = connect(self.path, timeout=self._timeout)
            if not self._fresh:
                self.conn.execute("PRAGMA journal_mode = WAL")
            if scratch and self._fresh:
                # The journal is kept in memory, not off: a cancelled sync rolls back.
                self.conn.execute("PRAGMA journal_mode = MEMORY")
                self.conn.execute("PRAGMA synchronous = OFF")
                # Until its first load commits, links may be written before the pages
                # they name, as pages arrive from the parsing processes (see
                # links_before_pages); foreign keys are on again after it. Checking
                # every key at the end would cost a tenth of a first sync: the batch
                # writer gives each link the id of a page it writes, or none
                # (BatchWriter.finish); the differential tests check the keys of the
                # mirrors they make this way (PRAGMA foreign_key_check).
                self.conn.execute("PRAGMA foreign_keys = OFF")
                self._keys_off = True
            else:
                self.conn.execute("PRAGMA synchronous = NORMAL")
            # Once readers let go and a checkpoint restarts the WAL, the file is cut back
            # to this size (it grows while a reader holds an old snapshot).
            self.conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            self.conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: index builds stay in memory
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise MirrorError(f"cannot open mirror {self.path}: {exc}") from exc
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise MirrorError(f"cannot create mirror {self.path}: {exc.strerror}{where}") from exc

    def close(self) -> None:
        if self._fresh:
            self._to_wal()
        self.conn.close()

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema -------------------------------------------------------------

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise MirrorError(
                f"mirror {self.path} has schema version {current}; this vaultsync knows "
                f"{SCHEMA_VERSION}: upgrade vaultsync or sync into a new --db"
            )
        if current == SCHEMA_VERSION:
            return
        self._migrating = True  # a new mirror stays in rollback mode for its first load
        with self.transaction():
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in split_sql(MIGRATIONS[version]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {version}")
            self.conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                (MetaKey.SCHEMA_VERSION.value, str(SCHEMA_VERSION)),
            )
        self._migrating = False

    @contextmanager
    def transaction(self, *, keep_journal: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction; taken at once so a second writer waits, not deadlocks.
        `keep_journal`: a new mirror stays in rollback mode after it (its first load
        is still to come)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
            if self._fresh and not self._migrating and not keep_journal:
                if self._keys_off:
                    self.conn.execute("PRAGMA foreign_keys = ON")
                    self._keys_off = False
                self._to_wal()

    @property
    def links_before_pages(self) -> bool:
        """Whether links may be written before the pages they name, in this
        transaction (the first load of a scratch mirror: see __init__)."""
        return self._keys_off

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it, if no reader still needs it;
        never waits for one. True when the WAL is empty now."""
        if self._fresh or self.conn.in_transaction:
            return False
        self.conn.execute("PRAGMA busy_timeout = 0")
        try:
            busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:
            return False
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        return not busy

    def wal_size(self) -> int:
        try:
            return os.stat(str(self.path) + "-wal").st_size
        except OSError:
            return 0

    def _to_wal(self) -> None:
        try:
            self.conn.execute("PRAGMA journal_mode = WAL")
            self._fresh = False
        except sqlite3.OperationalError:
            pass  # a reader has the file open: the next commit or close tries again

    # --- reads the sync engine needs ------------------------------------------

    def page_states(self) -> dict[str, KnownFile]:
        rows = self.conn.execute(
            "SELECT path, id, size, mtime_ns, ctime_ns, inode, hash FROM pages")
        return {r[0]: KnownFile(r[1], _stat(r[2:6]), r[6]) for r in rows}

    def attachment_states(self) -> dict[str, KnownFile]:
        rows = self.conn.execute(
            "SELECT path, id, size, mtime_ns, ctime_ns, inode FROM attachments")
        return {r[0]: KnownFile(r[1], _stat(r[2:6])) for r in rows}

    def problem_paths(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT DISTINCT path FROM problems")}

    def skipped_states(self) -> dict[str, FileStat]:
        return {r[0]: _stat(r[1:5]) for r in self.conn.execute(
            "SELECT path, size, mtime_ns, ctime_ns, inode FROM skipped_files")}

    def get_meta(self, key: MetaKey) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?",
                                (key.value,)).fetchone()
        return row[0] if row else None

    def links_naming(self, keys: Iterable[str]) -> list[NamedLink]:
        """Links whose target names one of `keys` (see resolve.name_key)."""
        return self._named_links("target_key", keys)

    def links_resolved_to(self, paths: Iterable[str]) -> list[NamedLink]:
        """Links resolved to one of the files `paths`."""
        return self._named_links("target_path", paths)

    def _named_links(self, column: str, values: Iterable[str]) -> list[NamedLink]:
        assert column in ("target_key", "target_path")
        out: list[NamedLink] = []
        for chunk in chunks(list(values)):
            out.extend(NamedLink(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6])
                       for r in self.conn.execute(
                "SELECT l.id, l.source_id, p.path, l.target, l.relative, l.target_path, "
                "l.target_id FROM links l JOIN pages p ON p.id = l.source_id "
                f"WHERE l.{column} IN ({marks(chunk)})",
                chunk))
        return out

    # --- writes (call inside transaction()) -------------------------------------

    def set_meta(self, key: MetaKey, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                          (key.value, value))

    def bump_meta_counter(self, key: MetaKey) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (key.value,),
        )

    def delete_pages(self, ids: Sequence[int]) -> None:
        for chunk in chunks(list(ids)):
            self.conn.execute(f"DELETE FROM pages WHERE id IN ({marks(chunk)})", chunk)

    def touch_page(self, page_id: int, stat: FileStat, compare: FileStat) -> None:
        """Same bytes, new identity (a `touch`, a copy): keep every row, note the stat."""
        self.conn.execute(
            "UPDATE pages SET size = ?, mtime = ?, mtime_ns = ?, ctime_ns = ?, inode = ? "
            "WHERE id = ?",
            (stat.size, stat.mtime_ns / 1e9, compare.mtime_ns, compare.ctime_ns,
             compare.inode, page_id),
        )

    def next_page_id(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM pages").fetchone()[0])

    def write_pages(self, pages: Sequence[PageWrite]) -> None:
        """Insert new pages (with the ids chosen by the caller) or rewrite existing ones,
        dropping their old child rows."""
        now = _now()
        updates = [p for p in pages if not p.new]
        inserts = [p for p in pages if p.new]

        def values(p: PageWrite) -> tuple[object, ...]:
            parsed = p.parsed
            return (
                p.path, parsed.title, parsed.kind, int(parsed.is_source),
                p.path.rpartition("/")[0],
                json.dumps(parsed.frontmatter, ensure_ascii=False, sort_keys=False),
                parsed.body, p.stat.mtime_ns / 1e9, p.stat.size, p.hash, p.compare.mtime_ns,
                p.compare.ctime_ns, p.compare.inode, now,
            )

        if updates:
            self.conn.executemany(
                "UPDATE pages SET path = ?, title = ?, kind = ?, is_source = ?, folder = ?, "
                "frontmatter = ?, body = ?, mtime = ?, size = ?, hash = ?, mtime_ns = ?, "
                "ctime_ns = ?, inode = ?, synced_at = ? WHERE id = ?",
                [(*values(p), p.id) for p in updates],
            )
        if inserts:
            self.conn.executemany(
                "INSERT INTO pages (path, title, kind, is_source, folder, frontmatter, body, "
                "mtime, size, hash, mtime_ns, ctime_ns, inode, synced_at, id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(*values(p), p.id) for p in inserts],
            )
            if self._fts_by_batch:  # the row trigger is off (see bulk_load)
                self.conn.executemany(
                    "INSERT INTO pages_fts (rowid, title, body) VALUES (?,?,?)",
                    [(p.id, p.parsed.title, p.parsed.body) for p in inserts])
        children: dict[str, list[tuple[object, ...]]] = {
            "external_links": [(p.id, e.url, e.display, e.line)
                               for p in pages for e in p.parsed.external_links],
            "tags": list(dict.fromkeys((p.id, t) for p in pages for t in p.parsed.tags)),
            "aliases": list(dict.fromkeys((p.id, a) for p in pages for a in p.parsed.aliases)),
            "headings": [(p.id, h.level, h.text, h.line) for p in pages for h in p.parsed.headings],
            "tasks": [(p.id, t.line, t.status, int(t.done), t.text, t.block_id)
                      for p in pages for t in p.parsed.tasks],
            "blocks": [(p.id, b.block_id, b.line) for p in pages for b in p.parsed.blocks],
            "fields": [(p.id, f.key, f.value, f.line) for p in pages for f in p.parsed.fields],
        }
        rewritten = [p.id for p in updates]
        for table, new_rows in children.items():
            self._replace_rows(table, rewritten, new_rows)

    def _replace_rows(self, table: str, page_ids: Sequence[int],
                      new_rows: Sequence[tuple[object, ...]]) -> None:
        """Make `table`'s rows of `page_ids` (and of new pages) equal `new_rows`, writing
        only the rows that differ: an edit writes what it changed, not the whole page's
        rows again (each row rewritten costs index pages in the WAL)."""
        columns = _CHILD_COLUMNS[table]
        key = "source_id" if table == "links" else "page_id"
        has_id = table not in ("tags", "aliases")
        names = ", ".join((key, *columns))
        extra = ", target_key" if table == "links" else ""
        # Tags and aliases are one row per name, compared case-insensitively for tags.
        insert = (f"INSERT {'' if has_id else 'OR IGNORE '}INTO {table} ({names}{extra}) "
                  f"VALUES ({marks((key, *columns, *(['k'] if extra else [])))})")

        def with_key(rows: Iterable[tuple[object, ...]]) -> Iterable[tuple[object, ...]]:
            if table != "links":
                return rows
            return ((*row, name_key(str(row[1]))) for row in rows)

        if not page_ids:  # new pages only (a first sync): nothing to compare
            self.conn.executemany(insert, with_key(new_rows))
            return
        wanted: dict[tuple[object, ...], int] = {}
        for row in new_rows:
            wanted[row] = wanted.get(row, 0) + 1
        stale: list[tuple[object, ...]] = []
        select = f"SELECT {'id, ' if has_id else ''}{key}, {', '.join(columns)} FROM {table}"
        for chunk in chunks(list(page_ids)):
            for found in self.conn.execute(f"{select} WHERE {key} IN ({marks(chunk)})", chunk):
                content = tuple(found[1:]) if has_id else tuple(found)
                if wanted.get(content, 0) > 0:
                    wanted[content] -= 1  # kept as it is
                else:
                    stale.append((found[0],) if has_id else content)
        if has_id:
            self.conn.executemany(f"DELETE FROM {table} WHERE id = ?", stale)
        else:
            self.conn.executemany(
                f"DELETE FROM {table} WHERE {key} = ? AND {columns[0]} = ?", stale)
        missing = [row for row, n in wanted.items() for _ in range(n)]
        self.conn.executemany(insert, with_key(missing))

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Inside a transaction, for many new rows at once: drop the secondary indexes of
        the bulk tables and build them again in one pass at the end (three to four times
        faster than row by row), and index new pages for search a batch at a time rather
        than by the row trigger (see write_pages)."""
        saved = self.conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND "
            f"((type = 'index' AND tbl_name IN ({','.join('?' * len(PAGE_CHILD_TABLES))})) "
            "OR (type = 'trigger' AND name = 'pages_ai'))", PAGE_CHILD_TABLES
        ).fetchall()
        for kind, name, _ in saved:
            self.conn.execute(f"DROP {kind.upper()} {name}")
        trigger_dropped = any(name == "pages_ai" for _, name, _ in saved)
        if trigger_dropped:
            # FTS5 writes its pending terms out as a segment whenever they pass `hashsize`
            # (1 MiB) and merges segments as they pile up: with 16 MiB a bulk load writes
            # and merges fewer (a quarter less work). FTS5 also writes them out when a
            # row id is lower than the last one: new pages arrive in rising id order
            # (sync.py gives ids in the order of its list and parses runs of it).
            self.conn.execute(_FTS_HASHSIZE, (_BULK_FTS_HASHSIZE,))
            self._fts_by_batch = True
        try:
            yield
        finally:
            self._fts_by_batch = False
        if trigger_dropped:
            self.conn.execute(_FTS_HASHSIZE, (_FTS_DEFAULT_HASHSIZE,))
        for _, _, sql in saved:
            self.conn.execute(sql)

    def insert_links(self, rows: Iterable[LinkRow]) -> None:
        self.conn.executemany(
            "INSERT INTO links (source_id, target, anchor, display, embed, line, form, "
            "target_path, target_id, relative, target_key) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            ((*row, name_key(row.target)) for row in rows),
        )

    def replace_links(self, source_ids: Sequence[int], rows: Sequence[LinkRow]) -> None:
        """Make the links of `source_ids` (rewritten pages; new pages have none) equal
        `rows`, writing only the links that changed."""
        self._replace_rows("links", source_ids, rows)

    def anchored_links(self, column: str | None = None,
                       values: Iterable[int] = ()) -> list[AnchoredLink]:
        """Links with an anchor to a page: all, or those whose `column` (target_id,
        source_id or id) is one of `values`."""
        sql = ("SELECT id, target_id, anchor FROM links WHERE anchor IS NOT NULL "
               "AND target_id IS NOT NULL")
        if column is None:
            return [AnchoredLink(*r) for r in self.conn.execute(sql)]
        assert column in ("target_id", "source_id", "id")
        out: list[AnchoredLink] = []
        for chunk in chunks(list(values)):
            out.extend(AnchoredLink(*r) for r in self.conn.execute(
                f"{sql} AND {column} IN ({marks(chunk)})", chunk))
        return out

    def anchor_targets(self, page_ids: Iterable[int]
                       ) -> dict[int, tuple[list[tuple[int, str]], list[str]]]:
        """Each page's headings (level, text) in order and its block ids."""
        out: dict[int, tuple[list[tuple[int, str]], list[str]]] = {}
        for chunk in chunks(list(page_ids)):
            for page, level, text in self.conn.execute(
                    f"SELECT page_id, level, text FROM headings WHERE page_id IN ({marks(chunk)}) "
                    "ORDER BY page_id, line, id", chunk):
                out.setdefault(page, ([], []))[0].append((level, text))
            for page, block in self.conn.execute(
                    f"SELECT page_id, block_id FROM blocks WHERE page_id IN ({marks(chunk)}) "
                    "ORDER BY page_id, line, id", chunk):
                out.setdefault(page, ([], []))[1].append(block)
        return out

    def set_anchor_ok(self, rows: Iterable[tuple[int | None, int]]) -> None:
        """Rows of (anchor_ok 1/0/None, link id)."""
        self.conn.executemany("UPDATE links SET anchor_ok = ? WHERE id = ?", rows)

    def clear_anchor_ok(self, link_ids: Iterable[int]) -> None:
        """Links that no longer name a page have no anchor to check."""
        self.conn.executemany("UPDATE links SET anchor_ok = NULL WHERE id = ?",
                              ((i,) for i in link_ids))

    def retarget_links(self, rows: Iterable[tuple[str | None, int | None, int]]) -> None:
        """Rows of (target_path, target_id, link id)."""
        self.conn.executemany(
            "UPDATE links SET target_path = ?, target_id = ? WHERE id = ?", rows
        )

    def write_attachments(self, rows: Iterable[tuple[str, FileStat, FileStat]]) -> None:
        """Rows of (path, identity, identity to compare): insert or update."""
        self.conn.executemany(
            "INSERT INTO attachments (path, size, mtime, mtime_ns, ctime_ns, inode) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, "
            "mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, "
            "inode = excluded.inode",
            ((path, st.size, st.mtime_ns / 1e9, cmp.mtime_ns, cmp.ctime_ns, cmp.inode)
             for path, st, cmp in rows),
        )

    def write_canvas(self, path: str, canvas: ParsedCanvas) -> None:
        """Replace one canvas's rows (its references unresolved: see retarget_canvas_links)."""
        self.conn.execute("DELETE FROM canvases WHERE path = ?", (path,))
        canvas_id = self.conn.execute(
            "INSERT INTO canvases (path, title, nodes, edges) VALUES (?, ?, ?, ?)",
            (path, canvas_title(path), len(canvas.nodes), len(canvas.edges))).lastrowid
        self.conn.executemany(
            "INSERT INTO canvas_nodes (canvas_id, node_id, type, x, y, width, height, color, "
            "label, text, file, subpath, url) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(canvas_id, *node) for node in canvas.nodes])
        self.conn.executemany(
            "INSERT INTO canvas_edges (canvas_id, edge_id, from_node, from_side, from_end, "
            "to_node, to_side, to_end, color, label) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(canvas_id, *edge) for edge in canvas.edges])
        self.conn.executemany(
            "INSERT INTO canvas_links (canvas_id, node_id, target, anchor, display, embed, "
            "form, relative) VALUES (?,?,?,?,?,?,?,?)",
            [(canvas_id, r.node_id, r.target, r.anchor, r.display, int(r.embed), r.form,
              int(r.relative)) for r in canvas.refs])

    def delete_canvases(self, paths: Iterable[str]) -> None:
        self.conn.executemany("DELETE FROM canvases WHERE path = ?", ((p,) for p in paths))

    def canvas_paths(self) -> set[str]:
        return {p for (p,) in self.conn.execute("SELECT path FROM canvases")}

    def canvas_links(self) -> list[CanvasLinkRow]:
        return [CanvasLinkRow(*row) for row in self.conn.execute(
            "SELECT cl.id, c.path, cl.target, cl.relative, cl.target_path, cl.target_id "
            "FROM canvas_links cl JOIN canvases c ON c.id = cl.canvas_id")]

    def retarget_canvas_links(self, rows: Iterable[tuple[str | None, int | None, int]]
                              ) -> None:
        """Rows of (target_path, target_id, canvas link id)."""
        self.conn.executemany(
            "UPDATE canvas_links SET target_path = ?, target_id = ? WHERE id = ?", rows)

    def delete_attachments(self, paths: Iterable[str]) -> None:
        self.conn.executemany("DELETE FROM attachments WHERE path = ?", ((p,) for p in paths))

    def write_skipped(self, skipped: dict[str, FileStat], gone: Iterable[str]) -> None:
        """Remember files left out (binary, huge, unreadable, badly named) by identity,
        so an unchanged one is not read again on every sync."""
        self.conn.executemany("DELETE FROM skipped_files WHERE path = ?", ((p,) for p in gone))
        self.conn.executemany(
            "INSERT OR REPLACE INTO skipped_files (path, size, mtime_ns, ctime_ns, inode) "
            "VALUES (?,?,?,?,?)",
            [(p, *st) for p, st in skipped.items()],
        )

    def replace_problems(self, problems: dict[str, list[Problem]]) -> None:
        """Set the problems of each path given (an empty list clears them)."""
        now = _now()
        self.conn.executemany("DELETE FROM problems WHERE path = ?", ((p,) for p in problems))
        self.conn.executemany(
            "INSERT INTO problems (path, line, message, severity, detected_at) VALUES (?,?,?,?,?)",
            [(path, pr.line, pr.message, pr.severity, now)
             for path, items in problems.items() for pr in items],
        )

    def refresh_citations(self, page_ids: Iterable[int] | None) -> None:
        """Recompute every citation pair that involves one of `page_ids` (None: all).

        A pair joins a non-source page and a source page linked either way; the pairs a
        page is in change only when its links or its source status change."""
        pair = (
            "SELECT CASE WHEN a.is_source THEN b.id ELSE a.id END, "
            "CASE WHEN a.is_source THEN a.id ELSE b.id END "
            "FROM {links} JOIN pages a ON a.id = l.source_id JOIN pages b ON b.id = l.target_id "
            "WHERE a.is_source != b.is_source"
        )
        insert = "INSERT OR IGNORE INTO citations (page_id, source_page_id) "
        if page_ids is None:
            # Every link at once: joining each to its two pages' rows (bodies and all,
            # a random read each) costs three times what one scan for the source pages
            # and a small table of their ids do (2.7 against 1.0 s for a million links).
            self.conn.execute("DELETE FROM citations")
            self.conn.execute("DROP TABLE IF EXISTS temp._sources")
            self.conn.execute("CREATE TEMP TABLE _sources (id INTEGER PRIMARY KEY)")
            self.conn.execute("INSERT INTO temp._sources SELECT id FROM pages WHERE is_source")
            self.conn.execute(
                insert + "SELECT CASE WHEN a.id IS NULL THEN l.source_id ELSE l.target_id END, "
                "CASE WHEN a.id IS NULL THEN l.target_id ELSE l.source_id END FROM links l "
                "LEFT JOIN temp._sources a ON a.id = l.source_id "
                "LEFT JOIN temp._sources b ON b.id = l.target_id "
                "WHERE l.target_id IS NOT NULL AND (a.id IS NULL) != (b.id IS NULL)")
            self.conn.execute("DROP TABLE temp._sources")
            return
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _touched (id INTEGER PRIMARY KEY)")
        self.conn.execute("DELETE FROM _touched")
        self.conn.executemany("INSERT OR IGNORE INTO _touched (id) VALUES (?)",
                              ((i,) for i in page_ids))
        self.conn.execute("DELETE FROM citations WHERE page_id IN (SELECT id FROM _touched)")
        self.conn.execute(
            "DELETE FROM citations WHERE source_page_id IN (SELECT id FROM _touched)")
        # CROSS JOIN keeps the few touched pages on the outside of the loop.
        for column in ("source_id", "target_id"):
            self.conn.execute(insert + pair.format(
                links=f"_touched t CROSS JOIN links l ON l.{column} = t.id"))

    def log_batch(self, origin: str, added: int, updated: int, removed: int, renamed: int,
                  changed_paths: Sequence[str], removed_paths: Sequence[str],
                  seconds: float, keep: int = 1000, *, added_paths: Sequence[str],
                  renamed_from: Mapping[str, str]) -> None:
        """One row per committed batch, so readers in other processes (the HTTP API's
        event stream, `changes`) learn what changed; only the last `keep` rows are kept.
        `added_paths`: the changed paths that are new pages; `renamed_from`: each renamed
        page's new path → its old path (the other changed paths are edits)."""
        cur = self.conn.execute(
            "INSERT INTO sync_log (at, origin, added, updated, removed, renamed, changed_paths, "
            "removed_paths, seconds, added_paths, renamed_from) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (_now(), origin, added, updated, removed, renamed,
             json.dumps(list(changed_paths)), json.dumps(list(removed_paths)), seconds,
             json.dumps(sorted(added_paths)), json.dumps(dict(sorted(renamed_from.items())))),
        )
        self.conn.execute("DELETE FROM sync_log WHERE id <= ?", ((cur.lastrowid or 0) - keep,))

    def write_core_metrics(self, rows: Sequence[CoreMetrics], info: Mapping[MetaKey, str]
                           ) -> None:
        """Each page's core figures (keeping its last betweenness and community) and how
        and for which graph they were computed; a page gone since is left out. Only rows
        whose figures changed are written (their computed_at with them): a recomputation
        writes what moved, not the whole table."""
        now = _now()
        self.conn.execute(
            "DELETE FROM page_metrics WHERE page_id NOT IN (SELECT id FROM pages)")
        known = {r[0]: tuple(r[1:]) for r in self.conn.execute(
            "SELECT page_id, in_degree, out_degree, pagerank, component, citation_count, "
            "orphan, isolated, dead_end FROM page_metrics")}
        changed = [row for row in rows if known.get(row.page_id) != tuple(row[1:])]
        self.conn.executemany(
            "INSERT INTO page_metrics (page_id, in_degree, out_degree, pagerank, component, "
            "citation_count, orphan, isolated, dead_end, computed_at) "
            "SELECT ?,?,?,?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM pages WHERE id = ?) "
            "ON CONFLICT(page_id) DO UPDATE SET "
            "in_degree = excluded.in_degree, out_degree = excluded.out_degree, "
            "pagerank = excluded.pagerank, component = excluded.component, "
            "citation_count = excluded.citation_count, orphan = excluded.orphan, "
            "isolated = excluded.isolated, dead_end = excluded.dead_end, "
            "computed_at = excluded.computed_at",
            [(*row, now, row.page_id) for row in changed],
        )
        self.set_meta(MetaKey.METRICS_COMPUTED_AT, now)
        for key, value in info.items():
            self.set_meta(key, value)

    def write_heavy_metrics(self, rows: Sequence[HeavyMetrics],
                            info: Mapping[MetaKey, str]) -> None:
        """Each page's betweenness and community (the rows that changed), and how they
        were computed."""
        known = {r[0]: (r[1], r[2]) for r in self.conn.execute(
            "SELECT page_id, betweenness, community FROM page_metrics")}
        self.conn.executemany(
            "UPDATE page_metrics SET betweenness = ?, community = ? WHERE page_id = ?",
            [(r.betweenness, r.community, r.page_id) for r in rows
             if known.get(r.page_id, (r.betweenness, r.community)) !=
             (r.betweenness, r.community)])
        for key, value in info.items():
            self.set_meta(key, value)

    def write_layout(self, rows: Iterable[LayoutPosition], info: Mapping[MetaKey, str]
                     ) -> None:
        """Replace the stored layout (writing the positions that moved), and note how it
        was made. Pages deleted meanwhile are left out."""
        wanted = {r.page_id: (r.x, r.y) for r in rows}
        known = {r[0]: (r[1], r[2]) for r in self.conn.execute(
            "SELECT page_id, x, y FROM page_layout")}
        self.conn.executemany("DELETE FROM page_layout WHERE page_id = ?",
                              [(i,) for i in known if i not in wanted])
        self.conn.executemany(
            "INSERT INTO page_layout (page_id, x, y) SELECT ?, ?, ? "
            "WHERE EXISTS (SELECT 1 FROM pages WHERE id = ?) "
            "ON CONFLICT(page_id) DO UPDATE SET x = excluded.x, y = excluded.y",
            [(i, x, y, i) for i, (x, y) in wanted.items() if known.get(i) != (x, y)])
        for key, value in info.items():
            self.set_meta(key, value)

    def write_status(self, **fields: object) -> None:
        """Upsert the single daemon_status row."""
        if not fields:
            return
        cols = ", ".join(fields)
        updates = ", ".join(f"{k} = excluded.{k}" for k in fields)
        self.conn.execute(
            f"INSERT INTO daemon_status (id, {cols}) VALUES (1, {marks(tuple(fields))}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}",
            tuple(fields.values()),
        )


# The columns of each page child table that write_pages and replace_links compare,
# after the page's id.
_CHILD_COLUMNS: dict[str, tuple[str, ...]] = {
    "links": ("target", "anchor", "display", "embed", "line", "form", "target_path",
              "target_id", "relative"),
    "external_links": ("url", "display", "line"),
    "tags": ("tag",),
    "aliases": ("alias",),
    "headings": ("level", "text", "line"),
    "tasks": ("line", "status", "done", "text", "block_id"),
    "blocks": ("block_id", "line"),
    "fields": ("key", "value", "line"),
}
assert set(_CHILD_COLUMNS) == set(PAGE_CHILD_TABLES)


def _stat(values: Sequence[Any]) -> FileStat:
    """A stored identity; a column still NULL (a mirror from before inodes were kept)
    never equals a real stat, so the file is hashed again once."""
    if None in values:
        return FileStat(*(-2 if v is None else v for v in values))
    return FileStat(*values)
