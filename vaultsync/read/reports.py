"""The reports of `vaultsync report NAME` (and `/api/reports/NAME`, and the MCP `report`
tool): what the vault's graph says, as JSON-ready rows read from the mirror's views and
page_metrics.

Each row has `path` and `title` plus the figures of its report, except `wanted`
(pages that do not exist): its rows have `target` (the link target as written,
the name the missing page would have) and `title` (the same text), no `path`.
Reports only read; metrics are computed beforehand (graph.ensure_metrics).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from typing_extensions import TypedDict  # pydantic reads it for the OpenAPI schemas

from ..mirror import MetaKey
from .base import BadRequest
from .base import rows as query_rows
from .formats import report_csv, report_markdown, to_dataframe
from .status import headline_counts, metrics_state
from .status import meta as read_meta


@dataclass(frozen=True)
class Column:
    """One field of a report's rows: its name, JSON type and what it means."""

    name: str
    type: str  # "string", "integer", "number", "boolean", "string[]" (a JSON list)
    meaning: str
    nullable: bool = False


@dataclass(frozen=True)
class ReportSpec:
    """Everything about one report that a front end shows: the CLI's help, the
    renderers' titles and columns, the HTTP API, the MCP tool's enum and description, the
    Datasette canned query and the README's table are made from (or checked against)
    these declarations."""

    name: str
    title: str  # a heading for people
    description: str  # what it lists, one line
    columns: tuple[Column, ...]  # every field of a row, in order (JSON has all of them)
    shown: tuple[str, ...]  # the columns a table, Markdown or CSV shows, in order
    kind: bool = True  # accepts `kind`
    limit: str = "rows"  # what `limit` cuts: "rows", or "top" entries per section (summary)
    canned_query: str | None = None  # the Datasette canned query that lists the same
    heavy: bool = False  # needs communities/betweenness, not only the core metrics

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def as_json(self) -> dict[str, Any]:
        """The declaration for clients (GET /api/reports)."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "columns": [{"name": c.name, "type": c.type, "meaning": c.meaning,
                             "nullable": c.nullable} for c in self.columns],
                "kind": self.kind, "limit": self.limit}


_PATH = Column("path", "string", "the page's vault-relative path")
_TITLE = Column("title", "string", "the page's title")
_KIND = Column("kind", "string", "the page's kind (frontmatter `type`)", nullable=True)
_IS_SOURCE = Column("is_source", "boolean", "a source page")
_IN = Column("in_degree", "integer", "distinct other pages linking here", nullable=True)
_OUT = Column("out_degree", "integer", "distinct other pages linked from here", nullable=True)
_PAGE_LIST = (_PATH, _TITLE, _KIND, _IS_SOURCE, _IN, _OUT)

REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec(
        "central", "Central pages (by PageRank)",
        "non-source pages by PageRank (`kind` picks another kind, sources included)",
        (_PATH, _TITLE, _KIND,
         Column("pagerank", "number", "weighted PageRank over the links between pages"),
         Column("in_degree", "integer", "distinct other pages linking here"),
         Column("out_degree", "integer", "distinct other pages linked from here"),
         Column("citation_count", "integer", "distinct source pages linked either way"),
         Column("rank", "integer", "place by PageRank among the pages this report ranks")),
        ("rank", "title", "path", "kind", "pagerank", "in_degree", "out_degree",
         "citation_count"), canned_query="central_concepts"),
    ReportSpec("orphans", "Orphans: no other page links to them",
               "pages no other page links to", _PAGE_LIST,
               ("title", "path", "kind", "out_degree"), canned_query="orphans"),
    ReportSpec("isolated", "Isolated pages: no links in or out",
               "pages with no links in or out", _PAGE_LIST, ("title", "path", "kind"),
               canned_query="isolated"),
    ReportSpec("dead-ends", "Dead ends: no links to other pages",
               "pages that link to no other page", _PAGE_LIST,
               ("title", "path", "kind", "in_degree"), canned_query="dead_ends"),
    ReportSpec(
        "single-source", "Single-source pages: resting on one source",
        "non-source pages backed by exactly one source",
        (_PATH, _TITLE, _KIND, Column("source", "string", "the one source page's path"),
         Column("source_title", "string", "the one source page's title")),
        ("title", "path", "kind", "source_title", "source"), canned_query="single_source"),
    ReportSpec("unsourced", "Unsourced pages: no source linked either way",
               "non-source pages backed by none", _PAGE_LIST,
               ("title", "path", "kind", "in_degree", "out_degree"),
               canned_query="unsourced_concepts"),
    ReportSpec(
        "wanted", "Wanted pages: link targets that do not exist",
        "unresolved link targets, by how many pages reference them",
        (Column("target", "string", "the link target as written: the missing page's name"),
         Column("title", "string", "the same text as `target`"),
         Column("references", "integer", "pages that link to it"),
         Column("links", "integer", "links to it"),
         Column("referenced_by", "string[]", "paths of the pages that link to it")),
        ("target", "references", "links", "referenced_by"), kind=False,
        canned_query="wanted"),
    ReportSpec(
        "broken-anchors",
        "Broken anchors: links to a heading or block the page does not have",
        "links to a heading or block their target page does not have "
        "(`kind`: of the linking page)",
        (_PATH, _TITLE, _KIND, Column("line", "integer", "line of the link", nullable=True),
         Column("target", "string", "the link target as written"),
         Column("anchor", "string", "the #heading or #^block that is missing"),
         Column("target_path", "string", "the page the link resolves to")),
        ("title", "path", "line", "target", "anchor", "target_path"),
        canned_query="broken_anchors"),
    ReportSpec(
        "communities", "Communities (Louvain)",
        "Louvain communities of two or more pages, named after their top page",
        (Column("path", "string", "the community's top page by PageRank"),
         Column("title", "string", "its title: the community's name"),
         Column("community", "integer", "the community's number, 0 = the largest"),
         Column("size", "integer", "pages in it"),
         Column("pagerank", "number", "the top page's PageRank", nullable=True),
         Column("sources", "integer", "source pages in it"),
         Column("top", "string[]", "titles of its most central pages")),
        ("community", "size", "title", "path", "sources", "top"), heavy=True,
        canned_query="communities"),
    ReportSpec(
        "unlinked-mentions", "Unlinked mentions: pages named without a link",
        "text that names a page (its title or an alias, whole words) in a page that does "
        "not link to it (`kind`: of the mentioning page)",
        (_PATH, _TITLE, _KIND, Column("line", "integer", "line of the mention", nullable=True),
         Column("target_path", "string", "the page it names"),
         Column("target_title", "string", "that page's title"),
         Column("name", "string", "the title or alias it names"),
         Column("snippet", "string", "the line around it, the mention between ⟦ and ⟧")),
        ("title", "path", "line", "target_title", "snippet")),
    ReportSpec("summary", "Summary", "the headline counts, every report's count and the "
               "top entries of the main ones", (), (), limit="top", heavy=True),
)}
REPORT_NAMES = tuple(REPORTS)

SUMMARY_TOP = 10

_PAGE_VIEWS = {"orphans": "orphan_pages", "isolated": "isolated_pages",
               "dead-ends": "dead_end_pages", "unsourced": "unsourced_pages"}


Row = dict[str, Any]


def _rows(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[Row]:
    return query_rows(conn, sql, *params)


def _kind_clause(kind: str | None, alias: str = "p") -> tuple[str, list[Any]]:
    return (f" AND {alias}.kind = ?", [kind]) if kind is not None else ("", [])


def _limit(rows: list[Row], limit: int | None) -> list[Row]:
    return rows if limit is None or limit <= 0 else rows[:limit]


def _central(conn: sqlite3.Connection, kind: str | None) -> list[Row]:
    # The central_pages view, which leaves sources out; --kind picks any kind instead.
    where, params = ("p.kind = ?", [kind]) if kind is not None else ("p.is_source = 0", [])
    rows = _rows(conn, (
        "SELECT p.path, p.title, p.kind, m.pagerank, m.in_degree, m.out_degree, "
        "m.citation_count FROM pages p "
        f"JOIN page_metrics m ON m.page_id = p.id WHERE m.pagerank IS NOT NULL AND {where} "
        "ORDER BY m.pagerank DESC, p.path"), params)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def _page_list(conn: sqlite3.Connection, name: str, kind: str | None) -> list[Row]:
    where, params = _kind_clause(kind, "v")
    return _rows(conn, (
        "SELECT v.path, v.title, v.kind, p.is_source, m.in_degree, m.out_degree "
        f"FROM {_PAGE_VIEWS[name]} v JOIN pages p ON p.id = v.id "
        f"LEFT JOIN page_metrics m ON m.page_id = v.id WHERE 1 = 1{where} ORDER BY v.path"),
        params)


def _single_source(conn: sqlite3.Connection, kind: str | None) -> list[Row]:
    where, params = _kind_clause(kind, "v")
    return _rows(conn, (
        "SELECT v.path, v.title, v.kind, v.source_path AS source, v.source_title "
        f"FROM single_source_pages v WHERE 1 = 1{where} ORDER BY v.path"), params)


_WANTED_KEY = ("lower(CASE WHEN lower({t}) LIKE '%.md' "
               "THEN substr({t}, 1, length({t}) - 3) ELSE {t} END)")


def _wanted(conn: sqlite3.Connection) -> list[Row]:
    # The view's group_concat cannot hold paths with commas: list them by the same key.
    referenced: dict[str, list[str]] = {}
    for key, path in conn.execute(
            f"SELECT DISTINCT {_WANTED_KEY.format(t='l.target')}, p.path "
            "FROM links l JOIN pages p ON p.id = l.source_id "
            "WHERE l.target_path IS NULL AND l.target != '' ORDER BY p.path"):
        referenced.setdefault(key, []).append(path)
    return [{"target": target, "title": target, "references": refs, "links": links,
             "referenced_by": referenced.get(key, [])}
            for target, refs, links, key in conn.execute(
                f'SELECT target, "references", links, {_WANTED_KEY.format(t="target")} '
                "FROM wanted_pages")]


def _broken_anchors(conn: sqlite3.Connection, kind: str | None) -> list[Row]:
    where, params = _kind_clause(kind)
    return _rows(conn, (
        "SELECT b.source_path AS path, b.source_title AS title, p.kind, b.line, b.target, "
        "b.anchor, b.target_path FROM broken_anchors b JOIN pages p ON p.id = b.source_id "
        f"WHERE 1 = 1{where} ORDER BY b.source_path, b.line, b.target, b.anchor"), params)


MENTIONS_BUDGET = 120.0  # seconds the unlinked-mentions report reads pages for
Progress = Callable[[int, int], None]


def _unlinked_mentions(conn: sqlite3.Connection, kind: str | None,
                       progress: Progress | None) -> tuple[list[Row], bool]:
    from .mentions import vault_mentions

    kinds = None if kind is None else {p for (p,) in conn.execute(
        "SELECT path FROM pages WHERE kind = ?", (kind,))}
    found, complete = vault_mentions(conn, budget=MENTIONS_BUDGET, progress=progress,
                                     only=kinds)
    page_kind = dict(conn.execute("SELECT path, kind FROM pages"))
    rows: list[Row] = [{"path": m["path"], "title": m["title"], "kind": page_kind[m["path"]],
                        "line": m["line"], "target_path": m["target_path"],
                        "target_title": m["target_title"], "name": m["name"],
                        "snippet": m["snippet"]} for m in found]
    return rows, complete


def _communities(conn: sqlite3.Connection, kind: str | None, top: int = 5) -> list[Row]:
    """Communities of two or more pages, named (pages.community_names) after their top
    page by PageRank, with their most central members."""
    where, params = _kind_clause(kind)
    members: dict[int, list[Row]] = {}
    for row in _rows(conn, (
            "SELECT m.community, p.path, p.title, p.is_source, m.pagerank FROM pages p "
            "JOIN page_metrics m ON m.page_id = p.id WHERE m.community IS NOT NULL"
            f"{where} ORDER BY m.community, m.pagerank DESC, p.path"), params):
        members.setdefault(row["community"], []).append(row)
    out = []
    for community, group in members.items():
        if len(group) < 2:
            continue  # a page alone (or alone of its kind): nothing to name
        hub = group[0]
        out.append({"community": community, "size": len(group), "path": hub["path"],
                    "title": hub["title"], "pagerank": hub["pagerank"],
                    "sources": sum(m["is_source"] for m in group),
                    "top": [m["title"] for m in group[:top]]})
    out.sort(key=lambda r: (-r["size"], r["community"]))
    return out


def summary(conn: sqlite3.Connection, top: int | None = None,
            kind: str | None = None) -> Summary:
    """Counts of every report, the top `top` entries (default 10) of the main ones, and
    how the metrics were computed."""
    top = top if top and top > 0 else SUMMARY_TOP
    m = read_meta(conn)
    state = metrics_state(conn)
    where, params = _kind_clause(kind)
    q = conn.execute
    lists = {name: report_rows(conn, name, kind=kind)
             for name in ("central", "orphans", "isolated", "dead-ends", "single-source",
                          "unsourced", "broken-anchors", "communities")}
    lists["wanted"] = report_rows(conn, "wanted")
    counts = cast(dict[str, int], dict(headline_counts(conn)))
    if kind is not None:  # the pages of that kind; links and the rest stay vault-wide
        counts["pages"] = q(f"SELECT count(*) FROM pages p WHERE 1 = 1{where}",
                            params).fetchone()[0]
        counts["sources"] = q(f"SELECT count(*) FROM pages p WHERE is_source = 1{where}",
                              params).fetchone()[0]
    # Each report's count: `central` is how many pages it ranks.
    counts.update({name.replace("-", "_"): len(rows) for name, rows in lists.items()})
    metrics = {
        "computed_at": state.computed_at,
        "stale": not state.core_current,
        "heavy_stale": not state.heavy_current,
        "betweenness_method": m.get(MetaKey.BETWEENNESS_METHOD),
        "betweenness_k": m.integer(MetaKey.BETWEENNESS_K),
        "community_method": m.get(MetaKey.COMMUNITY_METHOD),
        "community_modularity": m.number(MetaKey.COMMUNITY_MODULARITY),
        "seed": m.integer(MetaKey.COMMUNITY_SEED),
    }
    return {
        "vault": m.get(MetaKey.VAULT),
        "kind": kind,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "last_sync_at": m.get(MetaKey.LAST_SYNC_AT),
        "counts": counts,
        "metrics": metrics,
        "top": {name.replace("-", "_"): rows[:top] for name, rows in lists.items()
                if name in ("central", "orphans", "single-source", "wanted", "communities")},
    }


def _ordered(row: Row, first: tuple[str, ...] = ("path", "title")) -> Row:
    out = {k: row[k] for k in first if k in row}
    out.update((k, v) for k, v in row.items() if k not in out)
    return out


def page_kinds(conn: sqlite3.Connection) -> list[str]:
    """The kinds the vault's pages have, most common first."""
    return [k for (k,) in conn.execute(
        "SELECT kind FROM pages WHERE kind IS NOT NULL GROUP BY kind "
        "ORDER BY count(*) DESC, kind")]


def check_kind(conn: sqlite3.Connection, kind: str) -> None:
    """BadRequest naming the kinds that exist, unless some page is of `kind`."""
    if conn.execute("SELECT 1 FROM pages WHERE kind = ? LIMIT 1", (kind,)).fetchone():
        return
    kinds = page_kinds(conn)
    known = f"the kinds in this vault: {', '.join(kinds)}" if kinds else \
        "no page in this vault has a kind"
    raise BadRequest(f"no page has kind {kind!r}; {known}")


def report_rows(conn: sqlite3.Connection, name: str, *, kind: str | None = None,
                progress: Progress | None = None) -> list[Row]:
    """Every row of the list report `name` (any but `summary`); `kind` keeps pages of
    that kind (central: any kind, sources included). `progress(done, total)` hears of
    a report that reads every page (unlinked-mentions)."""
    if name == "wanted":
        if kind is not None:
            raise BadRequest("--kind does not apply to the wanted report: its targets "
                             "are not pages")
        return [_ordered(r, ("target", "title")) for r in _wanted(conn)]
    if name == "central":
        rows = _central(conn, kind)
    elif name == "single-source":
        rows = _single_source(conn, kind)
    elif name == "communities":
        rows = _communities(conn, kind)
    elif name == "broken-anchors":
        rows = _broken_anchors(conn, kind)
    elif name == "unlinked-mentions":
        rows = _unlinked_mentions(conn, kind, progress)[0]
    else:
        rows = _page_list(conn, name, kind)
        for row in rows:
            row["is_source"] = bool(row["is_source"])
    return [_ordered(r) for r in rows]


def run_report(conn: sqlite3.Connection, name: str, *, limit: int | None = None,
               kind: str | None = None, progress: Progress | None = None) -> Report:
    """Report `name`. Reads only. `limit` None or 0 means every row (summary: the number
    of top entries, default 10); `kind` keeps pages of that kind. BadRequest names what
    exists when `name` or `kind` is unknown."""
    if name not in REPORT_NAMES:
        raise BadRequest(f"no report named {name!r}; choose from {', '.join(REPORT_NAMES)}")
    if kind is not None and name != "wanted":
        check_kind(conn, kind)
    if name == "summary":
        return Report(name, [], 0, summary(conn, limit, kind))
    notes = []
    if name == "unlinked-mentions":  # reads every page, for a bounded time
        rows, complete = _unlinked_mentions(conn, kind, progress)
        rows = [_ordered(r) for r in rows]
    else:
        rows, complete = report_rows(conn, name, kind=kind), True
    if not complete:
        notes.append(f"stopped after {MENTIONS_BUDGET:g} s: the rows are those of the "
                     "pages read by then (in path order); the per-page answer "
                     "(unlinked_mentions) reads any one page at once")
    return Report(name, _limit(rows, limit), len(rows), notes=notes)


class Summary(TypedDict):
    vault: str | None
    kind: str | None
    generated_at: str
    last_sync_at: str | None
    counts: dict[str, int]
    metrics: dict[str, Any]
    top: dict[str, list[dict[str, Any]]]


@dataclass
class Report:
    """One report's answer: its rows (every one, unless a limit cut them), or for
    `summary` the summary; `total` is how many rows there were before the limit."""

    name: str
    rows: list[dict[str, Any]]
    total: int
    summary: Summary | None = None
    notes: list[str] = field(default_factory=list)  # what a reader should know (a stop)

    def json(self) -> list[dict[str, Any]] | Summary:
        """JSON-ready data: the rows, or the summary object."""
        return self.summary if self.summary is not None else self.rows

    @property
    def spec(self) -> ReportSpec:
        return REPORTS[self.name]

    def to_rows(self) -> list[dict[str, Any]]:
        """The rows (summary: one row per count, `count` and `value`)."""
        if self.summary is not None:
            return [{"count": k, "value": v} for k, v in self.summary["counts"].items()]
        return [dict(row) for row in self.rows]

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.json(), indent=indent, ensure_ascii=False)

    def to_markdown(self, *, link_base: str = "", vault_name: str | None = None) -> str:
        """A Markdown table (summary: the report to share), pages linked as
        `link_base` + their vault path."""
        return report_markdown(self, vault_name=vault_name, link_base=link_base)

    def to_csv(self) -> str:
        return report_csv(self)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame of `to_rows()`, the declared columns in order (needs pandas,
        which vaultsync does not install)."""
        return to_dataframe(self)

    def _repr_markdown_(self) -> str:  # Jupyter shows a report as its table
        return self.to_markdown()
