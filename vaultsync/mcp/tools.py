"""The MCP tools and resources: a few lines each over `vaultsync.Vault` and the mirror's
reader (`vaultsync.read`), so an assistant gets the same answers as the HTTP API and the
CLI: the read layer's records, bounded as models.py says. Each opens a short read-only
connection."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal, ParamSpec, TypeVar

import yaml
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from pydantic import Field

from .. import read
from ..config import Config
from ..vault import find_page
from . import models
from .models import LIST_LIMIT, VALUE_CHARS

if TYPE_CHECKING:
    from ..graph import MetricsOnDemand

MAX_DEPTH = 3

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


class VaultTools:
    """The tools: their names, arguments and docstrings are what assistants see; their
    answers are the read layer's records, bounded (models.py)."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.front_door = vault.front_door

    @_answers
    def search(self, query: str,
               limit: Annotated[int, Field(ge=1, le=50)] = 10) -> models.SearchResult:
        """Find pages as a person would rank them: a title or alias that is the query
        (or starts with it, or holds its words) first, then full-text relevance (SQLite
        FTS5 bm25; pages holding every word ahead; the last word a prefix), with the
        graph (PageRank, citations by sources) breaking near-ties. Each hit has the
        page's path, title, a snippet with matches between ⟦ and ⟧, its score and why
        it ranked; pass the path to get_page."""
        if not query.strip():
            raise read.BadRequest("query is required: some words to look for")
        with self.vault.connection() as conn:
            hits = read.search(conn, query, limit=limit + 1)["results"]
        return models.search_result(query, hits, limit)

    @_answers
    def get_page(self, path: str, include_body: bool = False,
                 max_chars: Annotated[int, Field(ge=100, le=200_000)] = 4000
                 ) -> models.Page:
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
        data["resolved_from"] = found["link"]
        return models.page(data, current=current, include_body=include_body,
                           max_chars=max_chars)

    @_answers
    def neighbors(self, path: str, depth: Annotated[int, Field(ge=1, le=MAX_DEPTH)] = 1,
                  direction: Literal["in", "out", "both"] = "both",
                  limit: Annotated[int, Field(ge=1, le=200)] = 50) -> models.Neighbourhood:
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
        return models.neighbourhood(local, facts, names, depth=depth,
                                    direction=direction, limit=limit)

    @_answers
    def report(self, name: ReportName, limit: Annotated[int, Field(ge=1, le=200)] = 20,
               kind: str | None = None) -> models.Report:
        """A report of `vaultsync report`, by the same name and with the same rows
        (the server describes each from read.REPORTS)."""
        with self.vault.connection() as conn:
            self.vault.current_metrics(conn)
            answer = read.run_report(conn, name, kind=kind, limit=limit)
        return models.report(answer, kind=kind, limit=limit)

    @_answers
    def query(self, sql: str, limit: Annotated[int, Field(ge=1, le=1000)] = 100
              ) -> models.QueryAnswer:
        """Run one read-only SQL statement (SQLite) over the vault's mirror."""
        with self.vault.connection() as conn:
            result = read.run_query(conn, sql, limit=limit,
                                    time_limit=self.vault.query_time_limit,
                                    max_cell_chars=VALUE_CHARS,
                                    max_value_bytes=self.vault.query_value_bytes)
        return models.query_answer(result)

    @_answers
    def changes(self, cursor: Annotated[int | None, Field(ge=0)] = None,
                since: str | None = None,
                limit: Annotated[int, Field(ge=1, le=1000)] = 200) -> models.Changes:
        """What changed in the vault since `cursor` (the `cursor` of an earlier answer)
        or since `since` (a UTC time, e.g. 2026-12-07T10:00:00Z); with neither, over the
        whole log. Pages added, edited, renamed (with the old path) and removed, each
        with its title, and a new `cursor` to pass next time. From the mirror's log of
        committed batches, which keeps the last 1,000: `complete` is False, with a
        note, when the cursor or time is older. `limit` caps each list."""
        data = self.front_door.changes(cursor=cursor, since=since)
        truncated: list[str] = []
        hint = "raise limit, up to 1000, or ask more often"
        data["added"] = models.cut(data["added"], limit, "added", truncated, hint)
        data["edited"] = models.cut(data["edited"], limit, "edited", truncated, hint)
        data["renamed"] = models.cut(data["renamed"], limit, "renamed", truncated, hint)
        data["removed"] = models.cut(data["removed"], limit, "removed", truncated, hint)
        return {**data, "truncated": truncated}

    @_answers
    def unlinked_mentions(self, path: str, limit: Annotated[int, Field(ge=1, le=200)] = 30
                          ) -> models.UnlinkedMentions:
        """Pages that name this page without linking to it, as Obsidian's backlinks
        pane lists "unlinked mentions": its title or an alias, as whole words in any
        case, outside code, math, comments and links; not in pages that already link
        to it, nor in the page itself. Each mention has the page, line and a snippet
        with the mention between ⟦ and ⟧. Good candidates for a new link. `path` is
        what a person types: a path, title, alias or [[link]]."""
        data = self.front_door.unlinked_mentions(path, limit=limit)
        truncated = []
        if data["total"] > len(data["mentions"]) or not data["complete"]:
            more = "" if data["complete"] else " or more"
            truncated.append(f"mentions: showing {len(data['mentions']):,} of "
                             f"{data['total']:,}{more} (raise limit, up to 200)")
        return {**data, "truncated": truncated}

    @_answers
    def related(self, path: str, limit: Annotated[int, Field(ge=1, le=50)] = 10
                ) -> models.Related:
        """Pages likely to deserve a link from or to this one, by the graph: pages
        neither linked to nor from it that are cited by the same source pages, or
        linked with the same pages (Adamic-Adar: a shared niche page counts more than a
        shared hub). Best first, each with the reason in words ("both cited by 2 of the
        same sources: ..."). `path` is a path, title, alias or [[link]]."""
        data = self.front_door.related(path, limit=limit)
        for hit in data["related"]:
            hit["shared_sources"] = hit["shared_sources"][:LIST_LIMIT]
            hit["shared_neighbours"] = hit["shared_neighbours"][:LIST_LIMIT]
        return {**data, "truncated": []}

    @_answers
    def status(self) -> models.Status:
        """How fresh the mirror is: is a daemon keeping it live, when did the last change
        arrive, how many pages it holds, and whether the graph metrics are current."""
        return models.status(self.front_door.status(), in_process=self.vault.in_process)

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
