"""Unlinked mentions, as Obsidian's backlinks pane shows them: other pages whose text
names a page (its title or an alias, whole words, any case) without linking to it.

Text inside code, math, comments (`%%…%%`, `<!-- -->`) and links (`[[…]]`, `[…](…)`,
URLs) does not count: the page parser's own masking blanks code, math and comments,
and links are blanked here. A page that already links to the named page is not listed;
nor is the page itself.

For one page the search index (FTS5) finds the few pages holding its names first, so
only those are read; the report over the whole vault reads every page once, looking up
its word sequences among every page's names, within a time budget.

Snippets mark the mention with ⟦ and ⟧ (U+27E6, U+27E7), which Markdown gives no
meaning, so a mark cannot be mistaken for the page's own text.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..parse import read_structure
from .answers import Mention, UnlinkedMentions
from .pages import page_id

MARK_OPEN, MARK_CLOSE = "\u27e6", "\u27e7"
SNIPPET_CHARS = 60  # either side of a mention
MAX_NAME_WORDS = 8  # names longer than this many words are not looked for
CANDIDATES = 500  # one page: at most this many pages holding its names are looked at
READ_PAGES = 50  # and at most this many of them read in full (parsed, ~0.5 ms each)

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
# Links and URLs, on the masked text (code and comments are blank already).
_LINKS = re.compile(r"!?\[\[[^\]\n]*\]\]|!?\[[^\]\n]*\]\([^)\n]*\)|<?[a-zA-Z][\w+.-]*://[^\s>)]*>?")


def words(text: str) -> tuple[str, ...]:
    return tuple(w.casefold() for w in _WORD.findall(text))


def _exact(text: str) -> str:
    return _SPACE.sub(" ", text.strip()).casefold()


@dataclass(frozen=True)
class Name:
    page_id: int
    text: str  # the title or alias as written


def readable(body: str) -> str:
    """`body` with what cannot mention a page blanked (offsets kept): code, math,
    comments (the parser's masking), links and URLs."""
    masked = read_structure(body).masked
    return _LINKS.sub(lambda m: " " * len(m.group()), masked)


def scan(body: str, names: dict[tuple[str, ...], list[Name]], longest: int
         ) -> Iterable[tuple[int, int, Name]]:
    """(start, end, name) of each mention of `names` in `body`: the longest name that
    its words start, whole words, the text equal to the name but for case and spacing."""
    text = readable(body)
    found = list(_WORD.finditer(text))
    folded = [m.group().casefold() for m in found]
    firsts = {key[0] for key in names}
    lengths = sorted({len(key) for key in names if len(key) <= longest}, reverse=True)
    i = 0
    while i < len(found):
        step = 1
        if folded[i] in firsts:
            for n in lengths:
                if i + n > len(found):
                    continue
                candidates = names.get(tuple(folded[i:i + n]))
                if not candidates:
                    continue
                start, end = found[i].start(), found[i + n - 1].end()
                said = _exact(text[start:end])
                match = [c for c in candidates if _exact(c.text) == said]
                if match:
                    for name in match:
                        yield start, end, name
                    step = n
                    break
        i += step


def _snippet(body: str, start: int, end: int) -> str:
    line_start = body.rfind("\n", 0, start) + 1
    line_end = body.find("\n", end)
    line_end = len(body) if line_end < 0 else line_end
    left = max(line_start, start - SNIPPET_CHARS)
    right = min(line_end, end + SNIPPET_CHARS)
    return ("…" if left > line_start else "") + body[left:start].lstrip() + MARK_OPEN + \
        body[start:end] + MARK_CLOSE + body[end:right].rstrip() + \
        ("…" if right < line_end else "")


def _first_line(conn: sqlite3.Connection, pid: int, body: str) -> int | None:
    """The file line the body starts on: the mirror keeps the body without its
    frontmatter, and headings with their file lines, so one heading tells."""
    row = conn.execute("SELECT line FROM headings WHERE page_id = ? AND line IS NOT NULL "
                       "ORDER BY line, id LIMIT 1", (pid,)).fetchone()
    if row is not None:
        headings = read_structure(body).headings
        if headings:
            return int(row[0]) - body.count("\n", 0, headings[0].offset)
    fm = conn.execute("SELECT frontmatter FROM pages WHERE id = ?", (pid,)).fetchone()
    return 1 if fm is not None and fm[0] in (None, "", "{}") else None


def _names_of(conn: sqlite3.Connection, pid: int) -> list[str]:
    title = conn.execute("SELECT title FROM pages WHERE id = ?", (pid,)).fetchone()[0]
    aliases = [a for (a,) in conn.execute(
        "SELECT alias FROM aliases WHERE page_id = ? ORDER BY alias", (pid,))]
    return [n for n in dict.fromkeys([title, *aliases])
            if 0 < len(words(n)) <= MAX_NAME_WORDS]


def _mentions_in(conn: sqlite3.Connection, pid: int, path: str, title: str, body: str,
                 names: dict[tuple[str, ...], list[Name]], longest: int,
                 targets: dict[int, tuple[str, str]], linked: set[int]) -> list[Mention]:
    """The mentions in one page's body, but of itself and of the pages it links to."""
    out: list[Mention] = []
    first: int | None | bool = False  # computed on the first mention
    for start, end, name in scan(body, names, longest):
        if name.page_id == pid or name.page_id in linked:
            continue
        if first is False:
            first = _first_line(conn, pid, body)
        line = None if first is None or first is True else \
            int(first) + body.count("\n", 0, start)
        target_path, target_title = targets[name.page_id]
        out.append({"path": path, "title": title, "line": line,
                    "target_path": target_path, "target_title": target_title,
                    "name": name.text, "text": body[start:end],
                    "snippet": _snippet(body, start, end)})
    return out


def _linking(conn: sqlite3.Connection, target: int) -> set[int]:
    return {s for (s,) in conn.execute(
        "SELECT DISTINCT source_id FROM links WHERE target_id = ?", (target,))}


def _fts_phrase(name: str) -> str:
    return '"' + " ".join(words(name)).replace('"', '""') + '"'


def unlinked_mentions(conn: sqlite3.Connection, path: str, *, limit: int = 50
                      ) -> UnlinkedMentions:
    """The unlinked mentions of the page at `path`: pages (not itself, not one that
    links to it) whose text names its title or an alias, each mention with its line and
    a snippet; the pages with most mentions first, at most `limit` mentions (0: all).
    Pages are read, most relevant first, until `limit` mentions are found or
    READ_PAGES pages were read: `complete` False says more pages may hold some, and
    `total` counts those found."""
    pid, real_path = page_id(conn, path)
    title = conn.execute("SELECT title FROM pages WHERE id = ?", (pid,)).fetchone()[0]
    names_list = _names_of(conn, pid)
    names: dict[tuple[str, ...], list[Name]] = {}
    for n in names_list:
        names.setdefault(words(n), []).append(Name(pid, n))
    longest = max((len(k) for k in names), default=0)
    mentions: list[Mention] = []
    complete = True
    if names:
        match = " OR ".join(f"body : {_fts_phrase(n)}" for n in names_list)
        linking = _linking(conn, pid)
        # The index matches words however they are joined (`durable-compaction` in a
        # link holds the words of "Durable compaction"): only pages whose text has a
        # name as written, but for case and spacing, are read in full.
        as_written = re.compile(r"(?<!\w)(?:" + "|".join(
            r"\s+".join(map(re.escape, n.split())) for n in names_list) + r")(?!\w)",
            re.IGNORECASE)
        # Most relevant first (bm25: the names most often, in the shortest pages); a
        # name common across the vault stops the reading once `limit` mentions are in.
        rows = conn.execute(
            "SELECT p.id, p.path, p.title, p.body FROM pages_fts f "
            "JOIN pages p ON p.id = f.rowid WHERE pages_fts MATCH ? AND p.id != ? "
            "ORDER BY bm25(pages_fts) LIMIT ?", (match, pid, CANDIDATES + 1))
        read_in_full = 0
        for looked_at, (other, other_path, other_title, body) in enumerate(rows):
            if looked_at == CANDIDATES or read_in_full == READ_PAGES or \
                    (limit > 0 and len(mentions) >= limit):
                complete = False
                break
            if other in linking or not as_written.search(body):
                continue
            read_in_full += 1
            mentions += _mentions_in(conn, other, other_path, other_title, body, names,
                                     longest, {pid: (real_path, title)}, set())
    by_page: dict[str, int] = {}
    for m in mentions:
        by_page[m["path"]] = by_page.get(m["path"], 0) + 1
    mentions.sort(key=lambda m: (-by_page[m["path"]], m["path"], m["line"] or 0))
    return {"path": real_path, "title": title, "names": names_list,
            "total": len(mentions), "pages": len(by_page),
            "mentions": mentions[:limit] if limit > 0 else mentions,
            "complete": complete}


def vault_mentions(conn: sqlite3.Connection, *, budget: float = 60.0,
                   progress: Callable[[int, int], None] | None = None,
                   only: set[str] | None = None) -> tuple[list[Mention], bool]:
    """Every unlinked mention in the vault (in the pages at `only`'s paths), page by page
    in path order, until `budget` seconds have passed: (mentions, complete)."""
    deadline = time.monotonic() + budget
    names: dict[tuple[str, ...], list[Name]] = {}
    targets: dict[int, tuple[str, str]] = {}
    for pid, path, title in conn.execute("SELECT id, path, title FROM pages"):
        targets[pid] = (path, title)
    for pid, name in [*((pid, t) for pid, (_, t) in targets.items()),
                      *conn.execute("SELECT page_id, alias FROM aliases")]:
        key = words(name)
        if 0 < len(key) <= MAX_NAME_WORDS:
            entry = names.setdefault(key, [])
            if not any(n.page_id == pid and n.text == name for n in entry):
                entry.append(Name(pid, name))
    longest = max((len(k) for k in names), default=0)
    links: dict[int, set[int]] = {}
    for source, target in conn.execute(
            "SELECT DISTINCT source_id, target_id FROM links WHERE target_id IS NOT NULL"):
        links.setdefault(source, set()).add(target)
    total = len(targets)
    out: list[Mention] = []
    done = 0
    for pid, path, title, body in conn.execute(
            "SELECT id, path, title, body FROM pages ORDER BY path"):
        if time.monotonic() > deadline:
            return out, False
        if only is not None and path not in only:
            continue
        out += _mentions_in(conn, pid, path, title, body, names, longest, targets,
                            links.get(pid, set()))
        done += 1
        if progress is not None and (done % 100 == 0 or done == total):
            progress(done, total)
    return out, True

