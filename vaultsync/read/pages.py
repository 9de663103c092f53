"""One page and the pages of the graph: find a page by path or link, everything the
mirror knows about it, the graph's nodes, and full-text search."""

from __future__ import annotations

import html
import json
import posixpath
import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict, cast

from ..mirror import chunks, marks
from ..parse import parse_page
from ..resolve import Resolver, is_page_path, name_key
from .answers import Page, SearchResult
from .base import BadRequest, NotFound, rows
from .status import has_table


def page_id(conn: sqlite3.Connection, path: str) -> tuple[int, str]:
    """(id, path) of the page at `path`; `.md` may be left off. NotFound otherwise."""
    for candidate in (path, path + ".md") if not path.lower().endswith(".md") else (path,):
        row = conn.execute("SELECT id, path FROM pages WHERE path = ?", (candidate,)).fetchone()
        if row:
            return int(row[0]), str(row[1])
    raise NotFound(f"no page at {path!r}")


class FoundPage(TypedDict):
    id: int
    path: str
    link: str | None  # the link target the page was resolved from; None for a path


def link_target(text: str) -> str | None:
    """The target of one link as it would be written in a page (`[[Name]]`,
    `![[Name#Heading|shown]]`, `[text](Name%20x.md)`), read by the page parser itself;
    None when `text` is not a single link."""
    links = parse_page("_.md", text.strip()).links
    if len(links) != 1:
        return None
    return links[0].target


def find_page(conn: sqlite3.Connection, ref: str) -> FoundPage:
    """The page `ref` names: a vault path (`.md` optional), else a link as written
    (`[[Name]]` or a bare `Name`), resolved by Obsidian's rules as if written in a page
    at the vault root (the sync engine's Resolver). NotFound says why, and names pages
    whose title or alias is `ref` (aliases never resolve a link, as in Obsidian)."""
    ref = ref.strip()
    if not ref:
        raise BadRequest("a page path or link is required")
    target = link_target(ref)
    if target is None:
        try:
            pid, path = page_id(conn, ref)
            return {"id": pid, "path": path, "link": None}
        except NotFound:
            target = ref
    if target == "":
        raise BadRequest(f"{ref!r} links to the page it is written in; name a page")
    # A link is matched by the file name it ends in: only files of that name can win.
    names = {name_key(target), name_key(posixpath.normpath(target.lstrip("/")))}
    resolver = Resolver(path for (path,) in conn.execute(
        "SELECT path FROM pages UNION ALL SELECT path FROM attachments")
        if name_key(path) in names)
    found = resolver.resolve(target, "")
    if found is not None and is_page_path(found):
        pid, path = page_id(conn, found)
        return {"id": pid, "path": path, "link": target}
    if found is not None:
        raise NotFound(f"{ref!r} names the attachment {found!r}, not a page")
    named = pages_named(conn, target)
    hint = ("; pages with that title or alias: " + ", ".join(named)) if named else ""
    raise NotFound(f"no page at {ref!r}, and no page that a link to {target!r} "
                   f"resolves to{hint}")


class PageSource(TypedDict):
    path: str
    frontmatter: dict[str, Any]
    body: str  # the text after the frontmatter block


def page_source(conn: sqlite3.Connection, path: str) -> PageSource:
    """The frontmatter and body of the page at `path` (`.md` optional)."""
    pid, real_path = page_id(conn, path)
    frontmatter, body = conn.execute("SELECT frontmatter, body FROM pages WHERE id = ?",
                                     (pid,)).fetchone()
    return {"path": real_path, "frontmatter": json.loads(frontmatter or "{}"), "body": body}


def pages_named(conn: sqlite3.Connection, name: str, limit: int = 5) -> list[str]:
    """Paths of pages whose title or an alias is `name`, case-insensitively."""
    return [p for (p,) in conn.execute(
        "SELECT DISTINCT p.path FROM pages p LEFT JOIN aliases a ON a.page_id = p.id "
        "WHERE lower(p.title) = lower(:n) OR lower(a.alias) = lower(:n) "
        "ORDER BY length(p.path), p.path LIMIT :limit", {"n": name.strip(), "limit": limit})]



# --- communities ---------------------------------------------------------------------

def community_names(conn: sqlite3.Connection, community: int | None = None
                    ) -> list[dict[str, Any]]:
    """Communities of two or more pages (or only `community`), each named after its top
    page by PageRank (ties by path), as `vaultsync report communities` names them:
    [{id, name, path, size}]."""
    only = "" if community is None else "AND m.community = ?"
    return [{"id": c, "name": title, "path": path, "size": size} for c, path, title, size in
            conn.execute(f"""
        SELECT community, path, title, size FROM (
            SELECT m.community, p.path, p.title,
                   count(*) OVER (PARTITION BY m.community) AS size,
                   row_number() OVER (PARTITION BY m.community
                                      ORDER BY m.pagerank DESC, p.path) AS place
            FROM pages p JOIN page_metrics m ON m.page_id = p.id
            WHERE m.community IS NOT NULL {only})
        WHERE place = 1 AND size >= 2 ORDER BY community""",
            () if community is None else (community,))]


# --- nodes ---------------------------------------------------------------------------

# Degrees are the page_degrees view's (always current, as the orphan views are);
# PageRank and the rest come from page_metrics.
_NODE_SQL = """
SELECT p.id, p.path, p.title, p.kind, p.is_source, p.folder,
       m.pagerank, m.community, m.betweenness, m.component, m.citation_count, /*xy*/
       d.in_degree, d.out_degree,
       (SELECT count(*) FROM citations c WHERE c.page_id = p.id) AS sources,
       (SELECT count(*) FROM citations c WHERE c.source_page_id = p.id) AS cited_by
FROM pages p JOIN page_degrees d ON d.page_id = p.id
LEFT JOIN page_metrics m ON m.page_id = p.id /*layout*/
"""


def _node_sql(conn: sqlite3.Connection) -> str:
    if has_table(conn, "page_layout"):
        return _NODE_SQL.replace("/*xy*/", "pl.x, pl.y,").replace(
            "/*layout*/", "LEFT JOIN page_layout pl ON pl.page_id = p.id")
    return _NODE_SQL.replace("/*xy*/", "NULL AS x, NULL AS y,")


def _node(row: sqlite3.Row, tags: list[str]) -> dict[str, Any]:
    is_source = bool(row["is_source"])
    in_degree, out_degree, sources = row["in_degree"], row["out_degree"], row["sources"]
    citation_count = row["citation_count"]
    if citation_count is None:  # metrics not computed yet: the citations table's count
        citation_count = sources
    return {
        "id": row["path"],
        "type": "page",
        "title": row["title"],
        "kind": row["kind"],
        "folder": row["folder"],
        "is_source": is_source,
        "tags": tags,
        "pagerank": row["pagerank"],
        "community": row["community"],
        "betweenness": row["betweenness"],
        "component": row["component"],
        "citation_count": citation_count,
        "sources": sources,
        "cited_by": row["cited_by"],
        "in_degree": in_degree,
        "out_degree": out_degree,
        "orphan": in_degree == 0,
        "dead_end": out_degree == 0,
        "isolated": in_degree == 0 and out_degree == 0,
        "single_source": not is_source and sources == 1,
        "unsourced": not is_source and sources == 0,
        "x": row["x"],
        "y": row["y"],
    }


def _tags_by_page(conn: sqlite3.Connection, ids: Sequence[int] | None) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if ids is None:
        rows: Iterable[tuple[int, str]] = conn.execute("SELECT page_id, tag FROM tags ORDER BY tag")
    else:
        rows = (r for chunk in chunks(list(ids)) for r in conn.execute(
            f"SELECT page_id, tag FROM tags WHERE page_id IN ({marks(chunk)}) "
            "ORDER BY tag", chunk))
    for page, tag in rows:
        out.setdefault(page, []).append(tag)
    return out


def page_nodes(conn: sqlite3.Connection, ids: Sequence[int] | None = None
               ) -> dict[int, dict[str, Any]]:
    """Node dicts by page id: every page, or those in `ids`."""
    sql = _node_sql(conn)
    previous = conn.row_factory  # a caller's (Datasette's) connection keeps its own
    conn.row_factory = sqlite3.Row
    try:
        if ids is None:
            rows = list(conn.execute(sql))
        else:
            rows = [r for chunk in chunks(list(ids)) for r in conn.execute(
                sql + f" WHERE p.id IN ({marks(chunk)})", chunk)]
    finally:
        conn.row_factory = previous
    tags = _tags_by_page(conn, ids)
    return {row["id"]: _node(row, tags.get(row["id"], [])) for row in rows}


# --- one page ----------------------------------------------------------------------

def page(conn: sqlite3.Connection, path: str, *, body: bool = False) -> Page:
    """Everything the mirror knows about one page. NotFound when there is no such page."""
    pid, real_path = page_id(conn, path)
    row = rows(conn, "SELECT id, path, title, kind, is_source, folder, frontmatter, body, "
                      "mtime, size, hash, synced_at FROM pages WHERE id = ?", pid)[0]
    node = page_nodes(conn, [pid])[pid]
    links = rows(conn, """
        SELECT l.target, l.anchor, l.display, l.embed, l.line, l.form, l.target_path,
               t.title AS target_title,
               CASE WHEN l.target_id IS NOT NULL THEN 'page'
                    WHEN l.target_path IS NOT NULL THEN 'attachment' END AS target_type
        FROM links l LEFT JOIN pages t ON t.id = l.target_id
        WHERE l.source_id = ? ORDER BY l.line, l.id""", pid)
    for link in links:
        link["embed"] = bool(link["embed"])
        link["resolved"] = link["target_path"] is not None
    backlinks = rows(conn, """
        SELECT source_path AS path, source_title AS title, line, display, anchor, embed, form
        FROM backlinks WHERE target_id = ? AND source_id IS NOT target_id
        ORDER BY source_path, line""", pid)
    for link in backlinks:
        link["embed"] = bool(link["embed"])
    sources = rows(conn, """
        SELECT s.path, s.title, s.kind FROM citations c JOIN pages s ON s.id = c.source_page_id
        WHERE c.page_id = ? ORDER BY s.path""", pid)
    cited_by = rows(conn, """
        SELECT p.path, p.title, p.kind FROM citations c JOIN pages p ON p.id = c.page_id
        WHERE c.source_page_id = ? ORDER BY p.path""", pid)
    metrics = {k: node[k] for k in (
        "pagerank", "community", "betweenness", "component", "citation_count", "in_degree",
        "out_degree", "orphan", "dead_end", "isolated", "single_source", "unsourced")}
    m_row = conn.execute("SELECT computed_at FROM page_metrics WHERE page_id = ?",
                         (pid,)).fetchone()
    metrics["computed_at"] = m_row[0] if m_row else None
    # For people: the page's place among all pages, and its community's name.
    metrics["pagerank_rank"] = None if node["pagerank"] is None else conn.execute(
        "SELECT count(*) + 1 FROM page_metrics WHERE pagerank > ?",
        (node["pagerank"],)).fetchone()[0]
    metrics["pages_ranked"] = conn.execute(
        "SELECT count(*) FROM page_metrics WHERE pagerank IS NOT NULL").fetchone()[0]
    metrics["rank_among"] = "pages"  # what pagerank_rank ranks among: every page
    # The place in `report central`, which ranks the non-source pages only.
    non_source = "SELECT count(*) FROM page_metrics m JOIN pages p ON p.id = m.page_id " \
        "WHERE p.is_source = 0 AND m.pagerank IS NOT NULL"
    metrics["central_rank"] = None if node["pagerank"] is None or node["is_source"] else \
        conn.execute(non_source + " AND m.pagerank > ?", (node["pagerank"],)).fetchone()[0] + 1
    metrics["central_ranked"] = conn.execute(non_source).fetchone()[0]
    named = [] if node["community"] is None else community_names(conn, node["community"])
    metrics["community_name"] = named[0]["name"] if named else None
    out: dict[str, Any] = {
        "path": real_path,
        "title": row["title"],
        "kind": row["kind"],
        "is_source": bool(row["is_source"]),
        "folder": row["folder"],
        "frontmatter": json.loads(row["frontmatter"] or "{}"),
        "tags": node["tags"],
        "aliases": [r[0] for r in conn.execute(
            "SELECT alias FROM aliases WHERE page_id = ? ORDER BY alias", (pid,))],
        "headings": rows(conn, "SELECT level, text, line FROM headings WHERE page_id = ? "
                                "ORDER BY line, id", pid),
        "links": links,
        "external_links": rows(conn, "SELECT url, display, line FROM external_links "
                                      "WHERE page_id = ? ORDER BY line, id", pid),
        "backlinks": backlinks,
        "citations": {"sources": sources, "cited_by": cited_by},
        "metrics": metrics,
        "problems": rows(conn, "SELECT line, message, severity FROM problems WHERE path = ? "
                                "ORDER BY line", real_path),
        # What the page's writer can act on: its open tasks, and the links in it whose
        # #heading or #^block names nothing in the target page.
        "tasks": rows(conn, "SELECT line, status, text FROM tasks WHERE page_id = ? "
                             "AND done = 0 ORDER BY line, id", pid),
        "broken_anchors": rows(conn, "SELECT line, target, anchor, target_path "
                                      "FROM broken_anchors WHERE source_id = ? "
                                      "ORDER BY line, target", pid),
        "size": row["size"],
        "mtime": row["mtime"],
        "synced_at": row["synced_at"],
        "excerpt": _excerpt(row["body"]),
    }
    if body:
        out["body"] = row["body"]
    return cast(Page, out)


def _excerpt(body: str, length: int = 280) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"(?m)^#+\s.*$", " ", body or "")).strip()
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


# --- search --------------------------------------------------------------------------

_MARK_OPEN, _MARK_CLOSE = "\x02", "\x03"


def fts_query(q: str) -> str:
    """User text → a safe FTS5 query: every word a quoted phrase (so `-`, `:`, `*` and
    quotes are text, not syntax), all required, the last one a prefix for type-ahead."""
    words = [w.replace('"', '""') for w in q.split() if w.strip('"')]
    if not words:
        return ""
    parts = [f'"{w}"' for w in words]
    parts[-1] += "*"
    return " ".join(parts)


def _snippet_html(text: str) -> str:
    escaped = html.escape(text, quote=False)
    return escaped.replace(_MARK_OPEN, "<mark>").replace(_MARK_CLOSE, "</mark>")


# How much each signal weighs in a hit's score (see `search`).
NAME_EXACT, NAME_PREFIX, NAME_WORDS, PATH_MATCH = 10.0, 5.0, 4.0, 1.5
TEXT_WEIGHT, ALL_WORDS, PAGERANK_WEIGHT, CITATION_WEIGHT = 3.0, 1.0, 1.0, 0.5
TEXT_CANDIDATES = 100  # pages the full-text index proposes, by bm25
NAME_CANDIDATES = 200  # title and alias rows looked at, the closest names first
_WORDS = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORDS.findall(text)]


def _any_word_query(words: list[str]) -> str:
    """FTS5 query for pages holding any of `words` (each quoted; the last a prefix)."""
    parts = ['"' + w.replace('"', '""') + '"' for w in dict.fromkeys(words)]
    if parts:
        parts[-1] += "*"
    return " OR ".join(parts)


def _name_score(query: str, q_words: list[str], name: str) -> tuple[float, str]:
    """How well a title or alias answers the query, and in which way."""
    n_words = _words(name)
    if not n_words:
        return 0.0, ""
    if n_words == q_words or name.casefold() == query.casefold():
        return NAME_EXACT, "exact"
    if n_words[:len(q_words)] == q_words:
        return NAME_PREFIX, "starts with the query"
    if set(q_words) <= set(n_words):
        return NAME_WORDS, "holds every word"
    return 0.0, ""


def search(conn: sqlite3.Connection, q: str, *, limit: int = 20) -> SearchResult:
    """Pages ranked as a person would: a title or alias that is the query (or starts
    with it, or holds its words) first, then full-text relevance (FTS5 bm25, titles
    weighted 8x, pages holding every word ahead), with the graph breaking near-ties
    (PageRank, how many sources cite the page). Each hit says why it ranked (`why`:
    the fields matched and the figures) and its `score`. `snippet` is HTML: the text
    escaped, hits in <mark>."""
    q = q.strip()
    if not q:
        raise BadRequest("q is required")
    q_words = _words(q)
    query = fts_query(q)
    candidates: dict[int, dict[str, Any]] = {}

    def hit(pid: int) -> dict[str, Any]:
        return candidates.setdefault(pid, {"name": 0.0, "fields": set(), "bm25": None,
                                           "name_how": "", "alias": None, "snippet": None,
                                           "all_words": False})

    # Names: titles, aliases and paths holding the query's text (the full-text index
    # below finds titles holding its words); how well each name fits is scored below.
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    for (pid,) in conn.execute("""
            SELECT DISTINCT p.id FROM pages p LEFT JOIN aliases a ON a.page_id = p.id
            WHERE p.title LIKE :like ESCAPE '\\' OR p.path LIKE :like ESCAPE '\\'
               OR a.alias LIKE :like ESCAPE '\\'
            ORDER BY lower(p.title) = lower(:q) OR lower(a.alias) = lower(:q) DESC,
                     length(p.title), p.path
            LIMIT :n""", {"like": like, "q": q, "n": NAME_CANDIDATES}):
        hit(pid)

    # Full text: every word (the AND query), then any word, by bm25.
    any_words = _any_word_query(q_words)
    for fts, all_words in ((query, True), (any_words, False)):
        if not fts:
            continue
        try:
            rows = conn.execute("""
                SELECT rowid, bm25(pages_fts, 8.0, 1.0) AS rank
                FROM pages_fts WHERE pages_fts MATCH ? ORDER BY rank LIMIT ?""",
                (fts, TEXT_CANDIDATES)).fetchall()
        except sqlite3.OperationalError as exc:
            raise BadRequest(f"cannot search for {q!r}: {exc}") from None
        for pid, rank in rows:
            h = hit(pid)
            if h["bm25"] is None:
                h["bm25"], h["snippet"] = rank, fts  # the query its snippet is made with
                h["all_words"] = all_words
                h["fields"].add("text")
    if not candidates:
        return cast(SearchResult, {"query": q, "fts_query": query, "results": []})

    ids = list(candidates)
    facts: dict[int, tuple[str, str, str | None, float | None, int]] = {}
    for chunk in chunks(ids):
        for pid, path, title, kind, pagerank, cited in conn.execute(f"""
                SELECT p.id, p.path, p.title, p.kind, m.pagerank,
                       (SELECT count(*) FROM citations c WHERE c.page_id = p.id)
                FROM pages p LEFT JOIN page_metrics m ON m.page_id = p.id
                WHERE p.id IN ({marks(chunk)})""", chunk):
            facts[pid] = (path, title, kind, pagerank, cited)
    aliases: dict[int, list[str]] = {}
    for chunk in chunks(ids):
        for pid, alias in conn.execute(
                f"SELECT page_id, alias FROM aliases WHERE page_id IN ({marks(chunk)})", chunk):
            aliases.setdefault(pid, []).append(alias)
    for pid, h in candidates.items():
        path, title = facts[pid][0], facts[pid][1]
        score, how = _name_score(q, q_words, title)
        if score:
            h["name"], h["name_how"] = score, f"title {how}"
            h["fields"].add("title")
        for alias in aliases.get(pid, []):
            a_score, a_how = _name_score(q, q_words, alias)
            if a_score > h["name"]:
                h["name"], h["name_how"], h["alias"] = a_score, f"alias {a_how}", alias
                h["fields"].add("alias")
        if h["name"] == 0.0 and q.casefold() in path.casefold():
            h["name"], h["name_how"] = PATH_MATCH, "path holds the query"
            h["fields"].add("path")
    best_text = max((-h["bm25"] for h in candidates.values() if h["bm25"] is not None),
                    default=0.0) or 1.0
    top_rank = max((f[3] or 0.0 for f in facts.values()), default=0.0) or 1.0
    scored = []
    for pid, h in candidates.items():
        path, title, kind, pagerank, cited = facts[pid]
        text = TEXT_WEIGHT * (-h["bm25"]) / best_text if h["bm25"] is not None else 0.0
        graph = PAGERANK_WEIGHT * (pagerank or 0.0) / top_rank + \
            CITATION_WEIGHT * min(cited, 5) / 5
        score = h["name"] + text + (ALL_WORDS if h["all_words"] else 0.0) + graph
        reasons = []
        if h["name_how"]:
            reasons.append(h["name_how"] + (f" ({h['alias']})" if h["alias"] else ""))
        if h["bm25"] is not None:
            reasons.append("text holds " + ("every word" if h["all_words"] else "some words"))
        if pagerank:
            reasons.append(f"PageRank {pagerank:.3g}")
        if cited:
            reasons.append(f"cited by {cited} source{'s' if cited != 1 else ''}")
        scored.append((-score, path, {
            "path": path, "title": title, "kind": kind,
            "match": "name" if h["name"] else "text", "alias": h["alias"],
            "snippet": h["snippet"] or "", "rank": h["bm25"],
            "score": round(score, 4),
            "why": {"fields": sorted(h["fields"]), "name": h["name_how"] or None,
                    "name_score": h["name"], "text_score": round(text, 4),
                    "bm25": h["bm25"], "all_words": h["all_words"],
                    "pagerank": pagerank, "citations": cited,
                    "graph_score": round(graph, 4), "summary": "; ".join(reasons)}}))
    scored.sort(key=lambda item: (item[0], item[1]))
    results = [item[2] for item in scored[:limit]]
    # Snippets only for the hits shown (FTS5's snippet() reads the page's text).
    by_query: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        if result["rank"] is not None:
            by_query.setdefault(result["snippet"], []).append(result)
            result["snippet"] = ""
        else:  # a name match only: the page's opening words
            body = conn.execute("SELECT substr(body, 1, 400) FROM pages WHERE path = ?",
                                (result["path"],)).fetchone()[0]
            result["snippet"] = _snippet_html(_excerpt(body, 160))
    for fts, hits in by_query.items():
        wanted = {h["path"]: h for h in hits}
        for path, snip in conn.execute(f"""
                SELECT p.path, snippet(pages_fts, -1, char(2), char(3), '…', 12)
                FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid
                WHERE pages_fts MATCH ? AND p.path IN ({marks(list(wanted))})""",
                [fts, *wanted]):
            wanted[path]["snippet"] = _snippet_html(snip)
    return cast(SearchResult, {"query": q, "fts_query": query, "results": results})
