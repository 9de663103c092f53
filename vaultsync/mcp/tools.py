"""The MCP tools and resources: thin functions over the mirror's reader (`vaultsync.read`),
so an assistant gets the same answers as the HTTP API and the CLI. Each opens a short
read-only connection; each answer is bounded."""

from __future__ import annotations

import contextlib
import functools
import html
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, ParamSpec, TypeVar

import yaml
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from pydantic import Field

from .. import read
from ..config import Config
from ..lock import read_lock_state
from ..render import TITLES
from ..vault import find_page
from .models import (
    Backlink,
    Changes,
    Citations,
    Daemon,
    Edge,
    Flags,
    Heading,
    MentionHit,
    Metrics,
    Neighbourhood,
    Node,
    OutLink,
    Page,
    PageRef,
    QueryAnswer,
    Related,
    RelatedHit,
    RenamedRef,
    Report,
    SearchHit,
    SearchResult,
    Status,
    UnlinkedMentions,
    UnresolvedLink,
)

if TYPE_CHECKING:
    from ..graph import MetricsOnDemand

LIST_LIMIT = 50  # items of one list in get_page (links, backlinks, headings, …)
CELL_ITEMS = 10  # items of a list inside a report row (referenced_by, top)
VALUE_CHARS = 1000  # characters of one frontmatter value or query cell
QUERY_CHARS = 60_000  # characters of one query answer's rows, as JSON
MAX_DEPTH = 3
EDGES_PER_NODE = 2  # neighbors: at most this many edges per node shown, nearest first

if TYPE_CHECKING:
    ReportName = str
else:  # the reports' names, from the one list of them, as the argument's enum
    ReportName = Literal[read.REPORT_NAMES]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Vault:
    """The mirror the tools read, and who keeps it fresh."""

    config: Config
    metrics: MetricsOnDemand  # computes stale metrics when no daemon does
    in_process: bool = False  # a daemon runs in this process (`--watch`)
    query_time_limit: float = 2.0
    # The largest string or BLOB a query may make or read (every stored page fits).
    query_value_bytes: int = field(default=0)

    def __post_init__(self) -> None:
        from ..vault import Vault as FrontDoor

        self.front_door = FrontDoor(config=self.config, metrics=self.metrics)
        if not self.query_value_bytes:
            self.query_value_bytes = read.value_limit(self.config.max_page_bytes)

    def current_metrics(self, conn: sqlite3.Connection) -> None:
        """Before an answer that shows graph metrics: make them current (the front
        door's one rule). An assistant gets one answer, not the API's later `metrics`
        event, so a live daemon is waited for briefly; the answer's `current` says
        what it got."""
        self.front_door.current_metrics(conn, wait_for_daemon=True)

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A short read-only connection (read.open_mirror)."""
        if not self.config.db.exists():
            raise ToolError(f"no mirror at {self.config.db} yet: run `vaultsync sync` "
                            "or start this server with --watch")
        with read.open_mirror(self.config.db) as conn:
            yield conn


def _answers(tool: Callable[P, R]) -> Callable[P, R]:
    """A caller's mistake (an unknown page, a bad argument, refused SQL) is the tool's
    answer, as one clear line, not a crash."""

    @functools.wraps(tool)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return tool(*args, **kwargs)
        except (read.BadRequest, read.NotFound, read.MirrorMissing) as exc:
            raise ToolError(str(exc.args[0]) if exc.args else str(exc)) from None
        except sqlite3.OperationalError as exc:
            raise ToolError(f"mirror database error: {exc}") from None

    return wrapper


def _cut(items: list[R], limit: int, what: str, truncated: list[str],
         hint: str = "the query tool lists them all") -> list[R]:
    if len(items) > limit:
        truncated.append(f"{what}: showing {limit:,} of {len(items):,} ({hint})")
        return items[:limit]
    return items


def _bounded(value: Any, *, chars: int = VALUE_CHARS, items: int = LIST_LIMIT) -> Any:
    """`value` (JSON-like) with long strings and lists cut, marked where they were."""
    if isinstance(value, str) and len(value) > chars:
        return value[:chars] + f"… [{len(value) - chars:,} more characters]"
    if isinstance(value, list):
        kept = [_bounded(v, chars=chars, items=items) for v in value[:items]]
        return kept + ([f"… [{len(value) - items:,} more]"] if len(value) > items else [])
    if isinstance(value, dict):
        return {k: _bounded(v, chars=chars, items=items) for k, v in value.items()}
    return value


_MARK = re.compile(r"</?mark>")


def _plain_snippet(snippet_html: str) -> str:
    """The API's HTML snippet (text escaped, hits in <mark>) as plain text, hits between
    ⟦ and ⟧: marks no Markdown uses, so a hit is never taken for the page's own bold."""
    marked = _MARK.sub(lambda m: "\u27e7" if m.group().startswith("</") else "\u27e6",
                       snippet_html)
    return html.unescape(marked)


class VaultTools:
    """The tools: their names, arguments and docstrings are what assistants see."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    # --- search ---------------------------------------------------------------------------

    @_answers
    def search(self, query: str,
               limit: Annotated[int, Field(ge=1, le=50)] = 10) -> SearchResult:
        """Find pages as a person would rank them: a title or alias that is the query
        (or starts with it, or holds its words) first, then full-text relevance (SQLite
        FTS5 bm25; pages holding every word ahead; the last word a prefix), with the
        graph (PageRank, citations by sources) breaking near-ties. Each hit has the
        page's path, title, a snippet with matches between ⟦ and ⟧, its score and why
        it ranked; pass the path to get_page."""
        if not query.strip():
            raise read.BadRequest("query is required: some words to look for")
        with self.vault.connection() as conn:
            found = read.search(conn, query, limit=limit + 1)["results"]
        truncated: list[str] = []
        if len(found) > limit:
            truncated.append(f"results: showing the first {limit}; more pages match "
                             "(raise limit, up to 50, or add words)")
        return SearchResult(query=query.strip(), truncated=truncated, results=[
            SearchHit(path=hit["path"], title=hit["title"], kind=hit["kind"],
                      match=hit["match"], snippet=_plain_snippet(hit["snippet"]),
                      score=hit.get("score", 0.0),
                      why=hit["why"]["summary"] if "why" in hit else "")
            for hit in found[:limit]])

    # --- get_page -------------------------------------------------------------------------

    @_answers
    def get_page(self, path: str, include_body: bool = False,
                 max_chars: Annotated[int, Field(ge=100, le=200_000)] = 4000) -> Page:
        """Everything the vault's graph knows about one page: title, kind, tags, aliases,
        frontmatter, the source pages that cite it (citation count, single-source
        flag), outgoing links, backlinks and unresolved links (with lines), headings,
        graph metrics (PageRank and its rank, degrees, community, betweenness) and
        flags (orphan, dead end, isolated). `path` is what a person would type: a vault
        path (`.md` optional), a title, an alias, or a link as written in a page
        (`[[Name]]`, `[[Name#Heading|shown]]`, `Name`), resolved by Obsidian's rules;
        only when two pages have that title or alias does the error name both. The
        body comes with include_body, cut to max_chars characters."""
        with self.vault.connection() as conn:
            found = find_page(conn, path)
            self.vault.current_metrics(conn)
            data = read.page(conn, found["path"], body=True)
            current = read.metrics_state(conn).core_current
        truncated: list[str] = []
        m = data["metrics"]
        body: str = data["body"]
        shown_body = None
        if include_body:
            shown_body = body[:max_chars]
            if len(body) > max_chars:
                truncated.append(
                    f"body: showing the first {max_chars:,} of {len(body):,} characters "
                    f"(raise max_chars, or read the resource vault://page/{data['path']})")
        frontmatter = _bounded(data["frontmatter"])
        if frontmatter != data["frontmatter"]:
            truncated.append(f"frontmatter: values over {VALUE_CHARS:,} characters or "
                             f"{LIST_LIMIT} items cut")
        links = [link for link in data["links"] if link["resolved"]]
        unresolved = [link for link in data["links"] if not link["resolved"]]
        return Page(
            path=data["path"], title=data["title"], kind=data["kind"],
            is_source=data["is_source"], resolved_from=found["link"],
            tags=_cut(data["tags"], LIST_LIMIT, "tags", truncated),
            aliases=_cut(data["aliases"], LIST_LIMIT, "aliases", truncated),
            frontmatter=frontmatter,
            citations=Citations(
                count=m["citation_count"] or 0, single_source=m["single_source"],
                unsourced=m["unsourced"],
                sources=[PageRef(path=s["path"], title=s["title"]) for s in _cut(
                    data["citations"]["sources"], LIST_LIMIT, "citations.sources",
                    truncated)],
                cited_by=[PageRef(path=s["path"], title=s["title"]) for s in _cut(
                    data["citations"]["cited_by"], LIST_LIMIT, "citations.cited_by",
                    truncated)]),
            links=[OutLink(target=link["target"], anchor=link["anchor"],
                           path=link["target_path"] or "",  # resolved links only
                           title=link["target_title"], line=link["line"],
                           embed=link["embed"])
                   for link in _cut(links, LIST_LIMIT, "links", truncated)],
            unresolved_links=[UnresolvedLink(target=link["target"], line=link["line"])
                              for link in _cut(unresolved, LIST_LIMIT, "unresolved_links",
                                               truncated)],
            backlinks=[Backlink(path=b["path"], title=b["title"], line=b["line"])
                       for b in _cut(data["backlinks"], LIST_LIMIT, "backlinks", truncated)],
            headings=[Heading(level=h["level"], text=h["text"], line=h["line"])
                      for h in _cut(data["headings"], LIST_LIMIT, "headings", truncated)],
            metrics=Metrics(
                pagerank=m["pagerank"], pagerank_rank=m["pagerank_rank"],
                pages_ranked=m["pages_ranked"], central_rank=m["central_rank"],
                central_ranked=m["central_ranked"], in_degree=m["in_degree"],
                out_degree=m["out_degree"], community=m["community"],
                community_name=m["community_name"],
                betweenness=m["betweenness"], component=m["component"],
                computed_at=m["computed_at"], current=current),
            flags=Flags(orphan=m["orphan"], dead_end=m["dead_end"], isolated=m["isolated"]),
            excerpt=data["excerpt"], body_chars=len(body), body=shown_body,
            truncated=truncated)

    # --- neighbors ------------------------------------------------------------------------

    @_answers
    def neighbors(self, path: str, depth: Annotated[int, Field(ge=1, le=MAX_DEPTH)] = 1,
                  direction: Literal["in", "out", "both"] = "both",
                  limit: Annotated[int, Field(ge=1, le=200)] = 50) -> Neighbourhood:
        """The local graph around a page, as Obsidian's local graph view shows it: the
        pages up to `depth` links away (1-3), following links out of pages ("out"),
        into them ("in": backlinks) or both, as nodes and the links between them as
        edges. Nearest pages first, and among equally near ones the most central
        (PageRank) first; `limit` caps the nodes (and edges at twice that, those
        between the nearest and most central pages first). `path` is a vault path, a
        title, an alias or a link as written (`[[Name]]`)."""
        with self.vault.connection() as conn:
            found = find_page(conn, path)
            self.vault.current_metrics(conn)
            local = read.neighbours(conn, found["path"], depth=depth, direction=direction,
                                    limit=limit)
            facts = read.page_nodes(conn, local["ids"])
            names = {c["id"]: c["name"] for c in read.community_names(conn)}
        truncated: list[str] = []
        if local["reached"] > len(local["ids"]):
            truncated.append(
                f"nodes: showing {len(local['ids']):,} of {local['reached']:,} pages within "
                f"{depth} link{'s' if depth > 1 else ''}, the farther and less central left "
                "out (raise limit, up to 200)")
        nodes = [facts[i] for i in local["ids"]]
        order = {i: n for n, i in enumerate(local["ids"])}
        edges = sorted(local["edges"], key=lambda e: (order[e[0]], order[e[1]]))
        return Neighbourhood(
            center=local["center"], depth=depth, direction=direction,
            reached=local["reached"], truncated=truncated,
            nodes=[Node(path=n["id"], title=n["title"], kind=n["kind"],
                        depth=local["distance"][i], is_source=n["is_source"],
                        pagerank=n["pagerank"], in_degree=n["in_degree"],
                        out_degree=n["out_degree"], community=n["community"],
                        community_name=names.get(n["community"]))
                   for i, n in zip(local["ids"], nodes, strict=True)],
            edges=[Edge(source=facts[s]["id"], target=facts[t]["id"], weight=w)
                   for s, t, w in _cut(edges, EDGES_PER_NODE * limit, "edges", truncated,
                                       "those between the first nodes are kept")])

    # --- report ---------------------------------------------------------------------------

    @_answers
    def report(self, name: ReportName,
               limit: Annotated[int, Field(ge=1, le=200)] = 20,
               kind: str | None = None) -> Report:
        """A report of `vaultsync report`, by the same name and with the same rows:
        central (non-source pages by PageRank), orphans (no page links to them),
        isolated (no links in or out), dead-ends (link to no page), single-source
        (resting on one source), unsourced (no source), wanted (link targets with no
        page, most referenced first), broken-anchors (links to a heading or block the
        page lacks), communities (Louvain, named after their top page), summary
        (counts and the top entries of each). `kind` keeps pages of one
        kind (central: any kind, sources included)."""
        with self.vault.connection() as conn:
            self.vault.current_metrics(conn)
            report = read.run_report(conn, name, kind=kind, limit=limit)
        truncated: list[str] = list(report.notes)
        title = TITLES[name]
        if report.summary is not None:
            summary = _bounded(dict(report.summary), items=limit)
            return Report(name=name, title=title, kind=kind, total=None, rows=[],
                          summary=summary, truncated=truncated)
        if report.total > len(report.rows):
            truncated.append(f"rows: showing {len(report.rows):,} of {report.total:,} "
                             "(raise limit, up to 200)")
        rows = [_bounded(row, items=CELL_ITEMS) for row in report.rows]
        if rows != report.rows:
            truncated.append(f"lists inside rows: showing the first {CELL_ITEMS} items")
        return Report(name=name, title=title, kind=kind, total=report.total, rows=rows,
                      summary=None, truncated=truncated)

    # --- query ----------------------------------------------------------------------------

    @_answers
    def query(self, sql: str, limit: Annotated[int, Field(ge=1, le=1000)] = 100
              ) -> QueryAnswer:
        """Run one read-only SQL statement (SQLite) over the vault's mirror."""
        with self.vault.connection() as conn:
            result = read.run_query(conn, sql, limit=limit,
                                    time_limit=self.vault.query_time_limit,
                                    max_cell_chars=VALUE_CHARS,
                                    max_value_bytes=self.vault.query_value_bytes)
        truncated: list[str] = []
        rows: list[dict[str, Any]] = []
        size = 0
        for row in result["rows"]:
            size += len(json.dumps(row, default=str))
            if size > QUERY_CHARS and rows:
                break
            rows.append(row)
        more = result["more_rows"] + len(result["rows"]) - len(rows)
        if len(rows) < len(result["rows"]):
            truncated.append(f"rows: stopped after {len(rows):,} rows ({QUERY_CHARS:,} "
                             "characters); select fewer columns or add a LIMIT")
        if more:
            counted = "" if result["more_rows_exact"] else "at least "
            truncated.append(f"rows: {counted}{more:,} more {'row' if more == 1 else 'rows'} "
                             "not shown (raise limit, up to 1000, or narrow the query)")
        if result["cut_cells"]:
            truncated.append(f"values: {result['cut_cells']:,} cut to {VALUE_CHARS:,} "
                             "characters")
        return QueryAnswer(columns=result["columns"], rows=rows, more_rows=more,
                           truncated=truncated)

    # --- changes ------------------------------------------------------------------------

    @_answers
    def changes(self, cursor: Annotated[int | None, Field(ge=0)] = None,
                since: str | None = None,
                limit: Annotated[int, Field(ge=1, le=1000)] = 200) -> Changes:
        """What changed in the vault since `cursor` (the `cursor` of an earlier answer)
        or since `since` (a UTC time, e.g. 2026-12-07T10:00:00Z); with neither, over the
        whole log. Pages added, edited, renamed (with the old path) and removed, each
        with its title, and a new `cursor` to pass next time. From the mirror's log of
        committed batches, which keeps the last 1,000: `complete` is False, with a
        note, when the cursor or time is older. `limit` caps each list."""
        data = self.vault.front_door.changes(cursor=cursor, since=since)
        truncated: list[str] = []
        hint = "raise limit, up to 1000, or ask more often"
        return Changes(
            cursor=data["cursor"], since_cursor=data["since_cursor"], since=data["since"],
            batches=data["batches"], first_at=data["first_at"], last_at=data["last_at"],
            complete=data["complete"], oldest_cursor=data["oldest_cursor"],
            exact=data["exact"], notes=data["notes"],
            added=[PageRef(**p) for p in _cut(data["added"], limit, "added", truncated,
                                              hint)],
            edited=[PageRef(**p) for p in _cut(data["edited"], limit, "edited", truncated,
                                               hint)],
            renamed=[RenamedRef(**p) for p in _cut(data["renamed"], limit, "renamed",
                                                   truncated, hint)],
            removed=[PageRef(**p) for p in _cut(data["removed"], limit, "removed",
                                                truncated, hint)],
            truncated=truncated)

    # --- unlinked mentions ----------------------------------------------------------------

    @_answers
    def unlinked_mentions(self, path: str,
                          limit: Annotated[int, Field(ge=1, le=200)] = 30
                          ) -> UnlinkedMentions:
        """Pages that name this page without linking to it, as Obsidian's backlinks
        pane lists "unlinked mentions": its title or an alias, as whole words in any
        case, outside code, math, comments and links; not in pages that already link
        to it, nor in the page itself. Each mention has the page, line and a snippet
        with the mention between ⟦ and ⟧. Good candidates for a new link. `path` is
        what a person types: a path, title, alias or [[link]]."""
        data = self.vault.front_door.unlinked_mentions(path, limit=limit)
        truncated: list[str] = []
        if data["total"] > len(data["mentions"]) or not data["complete"]:
            more = "" if data["complete"] else " or more"
            truncated.append(f"mentions: showing {len(data['mentions']):,} of "
                             f"{data['total']:,}{more} (raise limit, up to 200)")
        return UnlinkedMentions(
            path=data["path"], title=data["title"], names=data["names"],
            total=data["total"], pages=data["pages"], truncated=truncated,
            mentions=[MentionHit(path=m["path"], title=m["title"], line=m["line"],
                                 name=m["name"], text=m["text"], snippet=m["snippet"])
                      for m in data["mentions"]])

    # --- related pages --------------------------------------------------------------------

    @_answers
    def related(self, path: str, limit: Annotated[int, Field(ge=1, le=50)] = 10) -> Related:
        """Pages likely to deserve a link from or to this one, by the graph: pages
        neither linked to nor from it that are cited by the same source pages, or
        linked with the same pages (Adamic-Adar: a shared niche page counts more than a
        shared hub). Best first, each with the reason in words ("both cited by 2 of the
        same sources: ..."). `path` is a path, title, alias or [[link]]."""
        data = self.vault.front_door.related(path, limit=limit)
        shown = [RelatedHit(path=r["path"], title=r["title"], kind=r["kind"],
                            is_source=r["is_source"], score=r["score"],
                            shared_sources=r["shared_sources"][:LIST_LIMIT],
                            shared_neighbours=r["shared_neighbours"][:LIST_LIMIT],
                            reason=r["reason"]) for r in data["related"]]
        return Related(path=data["path"], title=data["title"], related=shown)

    # --- status ---------------------------------------------------------------------------

    @_answers
    def status(self) -> Status:
        """How fresh the mirror is: is a daemon keeping it live, when did the last change
        arrive, how many pages it holds, and whether the graph metrics are current."""

        config = self.vault.config
        with self.vault.connection() as conn:
            state = read.mirror_status(conn, read_lock_state(config.db))
        row = state["daemon"]
        daemon = None if row is None else Daemon(
            pid=row.get("pid"), state=row.get("state"), started_at=row.get("started_at"),
            last_batch_at=row.get("last_batch_at"), error=row.get("error"),
            error_since=row.get("error_since"))
        live = state["alive"]
        batch = state["last_batch"]
        counts = state["counts"]
        metrics = state["metrics"]
        last_change = batch["at"] if batch else None
        if live and daemon is not None and daemon.error:
            summary = (f"the daemon (pid {daemon.pid}) cannot write the mirror since "
                       f"{daemon.error_since}: {daemon.error}; it retries")
        elif live and daemon is not None:
            keeper = ("this server's daemon" if self.vault.in_process and daemon.pid
                      else "vaultsync watch")
            summary = (f"live: {keeper} (pid {daemon.pid}) applies every change to the "
                       f"mirror; last change {last_change or 'none yet'}")
        else:
            summary = (f"not live: no daemon runs, so the mirror is as of its last sync "
                       f"({state['mirror']['last_sync_at']}); run `vaultsync watch` or start "
                       "this server with --watch")
        if not metrics["fresh"]:
            summary += "; graph metrics are older than the last change and are recomputed"
        return Status(
            vault=str(config.vault), mirror=str(config.db), live=live,
            in_process=self.vault.in_process and live, daemon=daemon,
            last_change_at=last_change, last_sync_at=state["mirror"]["last_sync_at"],
            pages=counts["pages"], sources=counts["sources"], links=counts["links"],
            links_between_pages=counts["links_between_pages"], edges=counts["edges"],
            unresolved=counts["unresolved"], unresolved_links=counts["unresolved"],
            attachments=counts["attachments"],
            problems=counts["problems"], metrics_current=metrics["fresh"],
            communities_current=metrics["heavy_fresh"],
            metrics_computed_at=metrics["computed_at"], summary=summary)

    # --- resources ------------------------------------------------------------------------

    def page_markdown(self, path: str) -> str:
        """A page's Markdown as the mirror holds it: its frontmatter (as YAML) and body."""
        try:
            with self.vault.connection() as conn:
                source = read.page_source(conn, path)
        except (read.NotFound, ToolError) as exc:
            raise ResourceNotFoundError(str(exc)) from None
        if not source["frontmatter"]:
            return source["body"]
        front = yaml.safe_dump(source["frontmatter"], sort_keys=False, allow_unicode=True)
        return f"---\n{front}---\n{source['body']}"

    def schema_markdown(self) -> str:
        """The mirror's public tables and views, for the query tool."""
        with self.vault.connection() as conn:
            return describe_schema(read.schema(conn), conn.execute(
                "PRAGMA user_version").fetchone()[0])


def describe_schema(tables: list[read.SchemaTable], version: int) -> str:
    """The schema as Markdown: one section per table or view, its columns and a note."""
    lines = [f"# The vaultsync mirror, schema version {version}", "",
             "A SQLite database; the `query` tool runs read-only SQL over it. Tables and "
             "views below are public API; `page_id`, `source_id`, `target_id` and "
             "`source_page_id` refer to `pages.id`.", ""]
    for table in tables:
        columns = ", ".join(f"`{c['name']}` {c['type']}".rstrip() for c in table["columns"])
        lines += [f"## `{table['name']}` ({table['type']})", "", table["note"], "",
                  f"Columns: {columns}", ""]
    return "\n".join(lines)


def compact_schema(tables: list[read.SchemaTable]) -> str:
    """One line per table or view: `name(column, …)`."""
    return "\n".join(f"{t['name']}({', '.join(c['name'] for c in t['columns'])})"
                     for t in tables)
