"""What the MCP tools answer, made from the read layer's records (read.answers): each
tool's JSON schema is a record's, or a record with these differences, said once here:

- every answer is bounded, and `truncated` says what was left out and how much;
- a search hit's snippet marks hits between ⟦ and ⟧ (not HTML's <mark>) and its `why`
  is the record's `why.summary`, in words;
- a page splits its links into resolved `links` (the record's `target_path` and
  `target_title` as `path` and `title`) and `unresolved_links`, adds citation counts,
  flags and whether the metrics are `current`, and gives the body only when asked;
- a neighbourhood lists its pages as nodes keyed by `path`, with `depth`;
- the status is flat: the headline counts (read.Counts) beside the daemon's state.

Field descriptions live on the records, so the OpenAPI document carries them too.
"""

# No `from __future__ import annotations`: TypedDict reads NotRequired from the
# evaluated annotations.
import html
import json
import re
from typing import Annotated, Any, Literal, TypeVar, cast

from typing_extensions import TypedDict

from .. import read
from ..read import answers as records
from ..read.answers import doc
from ..read.network import Neighbours

Truncated = Annotated[list[str], doc(
    "What was left out to keep the answer small, and how much; empty when nothing was")]


class Bounded(TypedDict):
    truncated: Truncated


# --- search -----------------------------------------------------------------------------

class SearchHit(records.SearchHitBase):
    snippet: Annotated[str, doc("text around the match, matched words between ⟦ and ⟧ "
                                "(marks Markdown never uses)")]
    why: Annotated[str, doc("why it ranked: how a title or alias matched, whether the "
                            "text holds every word, its PageRank and citations")]


class SearchResult(Bounded):
    query: str
    results: Annotated[list[SearchHit], doc(
        "best first: a title or alias that is the query, then full-text relevance, the "
        "graph (PageRank, citations) breaking ties")]


# --- get_page ---------------------------------------------------------------------------

class OutLink(TypedDict):
    """A resolved records.PageLink."""

    target: Annotated[str, doc("the target as written in the page ('' for a link to a "
                               "heading of the page itself)")]
    anchor: Annotated[str | None, doc("#heading or #^block, if the link has one")]
    path: Annotated[str, doc("the page or attachment it resolves to")]
    title: Annotated[str | None, doc("the linked page's title (None for an attachment)")]
    line: int | None
    embed: bool


class UnresolvedLink(TypedDict):
    """An unresolved records.PageLink."""

    target: Annotated[str, doc("as written; no page or file has this name yet")]
    line: int | None


class Citations(TypedDict):
    """records.Citations with counts and flags, naming each page by path and title."""

    sources: Annotated[list[records.PageName], doc("the source pages that cite this page")]
    cited_by: Annotated[list[records.PageName], doc("for a source page: the pages it is "
                                                    "cited by")]
    count: Annotated[int, doc("distinct source pages joined to this page by a link "
                              "either way")]
    single_source: Annotated[bool, doc("a non-source page resting on exactly one source")]
    unsourced: Annotated[bool, doc("a non-source page with no source")]


class Metrics(records.PageMetrics):
    current: Annotated[bool, doc("the figures match the graph as it is now")]


class Flags(TypedDict):
    """records.PageMetrics' flags, on their own."""

    orphan: Annotated[bool, doc("no other page links here")]
    dead_end: Annotated[bool, doc("links to no other page")]
    isolated: Annotated[bool, doc("no links in or out")]


class Page(Bounded):
    path: str
    title: str
    kind: str | None
    is_source: bool
    resolved_from: Annotated[str | None, doc("the link target the page was found by, when "
                                             "a link rather than a path was given")]
    tags: list[str]
    aliases: list[str]
    frontmatter: dict[str, Any]
    citations: Citations
    links: Annotated[list[OutLink], doc("resolved links out of the page, in order")]
    unresolved_links: list[UnresolvedLink]
    backlinks: Annotated[list[records.BacklinkRef], doc("links from other pages, by "
                                                        "path")]
    headings: list[records.Heading]
    metrics: Metrics
    flags: Flags
    excerpt: Annotated[str, doc("the start of the body as one line")]
    body_chars: Annotated[int, doc("length of the whole body in characters")]
    body: Annotated[str | None, doc("the Markdown body (without frontmatter) when "
                                    "include_body is true, cut to max_chars")]


# --- neighbors --------------------------------------------------------------------------

class Node(TypedDict):
    """A page of records.LocalGraph, keyed by `path`."""

    path: str
    title: str
    kind: str | None
    depth: Annotated[int, doc("links away from the center page (0: the center)")]
    is_source: bool
    pagerank: float | None
    in_degree: int
    out_degree: int
    community: int | None
    community_name: str | None


class Neighbourhood(Bounded):
    center: str
    depth: int
    direction: Literal["in", "out", "both"]
    reached: Annotated[int, doc("pages within depth links, the center included")]
    nodes: Annotated[list[Node], doc("the center, then nearest first and, equally near, "
                                     "most central (PageRank) first")]
    edges: Annotated[list[records.GraphEdge], doc("links between the pages in nodes")]


# --- report -----------------------------------------------------------------------------

class Report(Bounded):
    name: str
    title: str
    kind: str | None
    total: Annotated[int | None, doc("rows in the whole report (None for summary)")]
    rows: Annotated[list[dict[str, Any]], doc("as `vaultsync report NAME --format json` "
                                              "gives them")]
    summary: Annotated[dict[str, Any] | None, doc("the summary report: counts, metrics "
                                                  "and the top entries")]


# --- query ------------------------------------------------------------------------------

class QueryAnswer(Bounded):
    columns: list[str]
    rows: Annotated[list[dict[str, Any]], doc("one object per row, keyed by column")]
    more_rows: Annotated[int, doc("rows after the last one returned")]


# --- status -----------------------------------------------------------------------------

class Status(records.StatusCounts):
    """The headline counts, named as everywhere (`vaultsync status`, the summary report,
    GET /api/status), beside how live the mirror is."""

    vault: str
    mirror: Annotated[str, doc("the mirror database's path")]
    live: Annotated[bool, doc("a daemon keeps the mirror in step with the vault")]
    in_process: Annotated[bool, doc("that daemon runs inside this MCP server (--watch)")]
    daemon: records.Daemon | None
    last_change_at: Annotated[str | None, doc("when the last batch of changes was "
                                              "committed to the mirror (UTC)")]
    last_sync_at: str | None
    unresolved_links: Annotated[int, doc("the same as unresolved (its first name)")]
    metrics_current: Annotated[bool, doc("PageRank and degrees match the graph")]
    communities_current: Annotated[bool, doc("communities and betweenness match the "
                                             "graph")]
    metrics_computed_at: str | None
    summary: Annotated[str, doc("the above in one sentence")]


# --- changes, unlinked mentions, related pages: the records, bounded ---------------------

class Changes(records.Changes, Bounded):
    pass


class UnlinkedMentions(records.UnlinkedMentions, Bounded):
    pass


class Related(records.RelatedPages, Bounded):
    pass



# --- from records to answers ---------------------------------------------------------------
# The differences listed at the top, each made here and nowhere else.

LIST_LIMIT = 50  # items of one list in a page (links, backlinks, headings, …)
CELL_ITEMS = 10  # items of a list inside a report row (referenced_by, top)
VALUE_CHARS = 1000  # characters of one frontmatter value or query cell
QUERY_CHARS = 60_000  # characters of one query answer's rows, as JSON
EDGES_PER_NODE = 2  # neighbors: at most this many edges per node shown, nearest first

R = TypeVar("R")


def cut(items: list[R], limit: int, what: str, truncated: list[str],
        hint: str = "the query tool lists them all") -> list[R]:
    """The first `limit` items, saying in `truncated` how many were left out."""
    if len(items) > limit:
        truncated.append(f"{what}: showing {limit:,} of {len(items):,} ({hint})")
        return items[:limit]
    return items


def bounded(value: Any, *, chars: int = VALUE_CHARS, items: int = LIST_LIMIT) -> Any:
    """`value` (JSON-like) with long strings and lists cut, marked where they were."""
    if isinstance(value, str) and len(value) > chars:
        return value[:chars] + f"… [{len(value) - chars:,} more characters]"
    if isinstance(value, list):
        kept = [bounded(v, chars=chars, items=items) for v in value[:items]]
        return kept + ([f"… [{len(value) - items:,} more]"] if len(value) > items else [])
    if isinstance(value, dict):
        return {k: bounded(v, chars=chars, items=items) for k, v in value.items()}
    return value


_MARK = re.compile(r"</?mark>")


def plain_snippet(snippet_html: str) -> str:
    """The API's HTML snippet (text escaped, hits in <mark>) as plain text, hits between
    ⟦ and ⟧: marks no Markdown uses, so a hit is never taken for the page's own bold."""
    marked = _MARK.sub(lambda m: "\u27e7" if m.group().startswith("</") else "\u27e6",
                       snippet_html)
    return html.unescape(marked)


def search_result(query: str, hits: list[records.SearchHit], limit: int) -> SearchResult:
    truncated = [] if len(hits) <= limit else [
        f"results: showing the first {limit}; more pages match (raise limit, up to 50, "
        "or add words)"]
    shown: list[SearchHit] = []
    for hit in hits[:limit]:
        why = hit.get("why")
        shown.append({"path": hit["path"], "title": hit["title"], "kind": hit["kind"],
                      "match": hit["match"], "snippet": plain_snippet(hit["snippet"]),
                      "score": hit.get("score", 0.0),
                      "why": why["summary"] if why else ""})
    return {"query": query.strip(), "results": shown, "truncated": truncated}


def page(data: records.Page, *, current: bool, include_body: bool, max_chars: int
         ) -> Page:
    truncated: list[str] = []
    m = data["metrics"]
    body = data.get("body", "")
    shown_body = None
    if include_body:
        shown_body = body[:max_chars]
        if len(body) > max_chars:
            truncated.append(
                f"body: showing the first {max_chars:,} of {len(body):,} characters "
                f"(raise max_chars, or read the resource vault://page/{data['path']})")
    frontmatter = bounded(data["frontmatter"])
    if frontmatter != data["frontmatter"]:
        truncated.append(f"frontmatter: values over {VALUE_CHARS:,} characters or "
                         f"{LIST_LIMIT} items cut")

    def first(items: list[R], what: str) -> list[R]:
        return cut(items, LIST_LIMIT, what, truncated)

    links = [link for link in data["links"] if link["resolved"]]
    unresolved = [link for link in data["links"] if not link["resolved"]]
    return {
        "path": data["path"], "title": data["title"], "kind": data["kind"],
        "is_source": data["is_source"], "resolved_from": data.get("resolved_from"),
        "tags": first(data["tags"], "tags"), "aliases": first(data["aliases"], "aliases"),
        "frontmatter": frontmatter,
        "citations": {
            "count": m["citation_count"] or 0, "single_source": m["single_source"],
            "unsourced": m["unsourced"],
            "sources": [{"path": p["path"], "title": p["title"]} for p in first(
                data["citations"]["sources"], "citations.sources")],
            "cited_by": [{"path": p["path"], "title": p["title"]} for p in first(
                data["citations"]["cited_by"], "citations.cited_by")]},
        "links": [{"target": link["target"], "anchor": link["anchor"],
                   "path": link["target_path"] or "", "title": link["target_title"],
                   "line": link["line"], "embed": link["embed"]}
                  for link in first(links, "links")],
        "unresolved_links": [{"target": link["target"], "line": link["line"]}
                             for link in first(unresolved, "unresolved_links")],
        "backlinks": [{"path": b["path"], "title": b["title"], "line": b["line"]}
                      for b in first(data["backlinks"], "backlinks")],
        "headings": first(data["headings"], "headings"),
        "metrics": {**m, "current": current},
        "flags": {"orphan": m["orphan"], "dead_end": m["dead_end"],
                  "isolated": m["isolated"]},
        "excerpt": data["excerpt"], "body_chars": len(body), "body": shown_body,
        "truncated": truncated}


def neighbourhood(local: Neighbours, facts: dict[int, dict[str, Any]],
                  names: dict[int, str], *, depth: int, direction: str, limit: int
                  ) -> Neighbourhood:
    """read.neighbours' pages (nearest, then most central, first) as nodes keyed by
    path, with read.page_nodes' facts about each."""
    truncated: list[str] = []
    if local["reached"] > len(local["ids"]):
        truncated.append(
            f"nodes: showing {len(local['ids']):,} of {local['reached']:,} pages within "
            f"{depth} link{'s' if depth > 1 else ''}, the farther and less central left "
            "out (raise limit, up to 200)")
    order = {i: n for n, i in enumerate(local["ids"])}
    edges: list[records.GraphEdge] = [
        {"source": facts[s]["id"], "target": facts[t]["id"], "weight": w}
        for s, t, w in sorted(local["edges"], key=lambda e: (order[e[0]], order[e[1]]))]
    nodes: list[Node] = []
    for i in local["ids"]:
        n = facts[i]
        nodes.append({"path": n["id"], "title": n["title"], "kind": n["kind"],
                      "depth": local["distance"][i], "is_source": n["is_source"],
                      "pagerank": n["pagerank"], "in_degree": n["in_degree"],
                      "out_degree": n["out_degree"], "community": n["community"],
                      "community_name": names.get(n["community"])})
    return {"center": local["center"], "depth": depth,
            "direction": cast(Literal["in", "out", "both"], direction),
            "reached": local["reached"], "nodes": nodes, "truncated": truncated,
            "edges": cut(edges, EDGES_PER_NODE * limit, "edges", truncated,
                         "those between the first nodes are kept")}


def report(answer: read.Report, *, kind: str | None, limit: int) -> Report:
    """The report's rows (or summary), long lists inside them cut."""
    truncated = list(answer.notes)
    if answer.summary is not None:
        total, rows, summary = None, [], bounded(dict(answer.summary), items=limit)
    else:
        if answer.total > len(answer.rows):
            truncated.append(f"rows: showing {len(answer.rows):,} of {answer.total:,} "
                             "(raise limit, up to 200)")
        total, summary = answer.total, None
        rows = [bounded(row, items=CELL_ITEMS) for row in answer.rows]
        if rows != answer.rows:
            truncated.append(f"lists inside rows: showing the first {CELL_ITEMS} items")
    return {"name": answer.name, "title": answer.spec.title, "kind": kind, "total": total,
            "rows": rows, "summary": summary, "truncated": truncated}


def query_answer(result: read.QueryResult) -> QueryAnswer:
    """The rows that fit in QUERY_CHARS characters of JSON."""
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
    return {"columns": result["columns"], "rows": rows, "more_rows": more,
            "truncated": truncated}


def status(state: records.Status, *, in_process: bool) -> Status:
    """The status record flattened, with a sentence saying how live the mirror is."""
    daemon, live, counts = state["daemon"], state["alive"], state["counts"]
    batch, metrics = state["last_batch"], state["metrics"]
    last_change = batch["at"] if batch else None
    pid = daemon.get("pid") if daemon else None
    if live and daemon is not None and daemon.get("error"):
        summary = (f"the daemon (pid {pid}) cannot write the mirror since "
                   f"{daemon.get('error_since')}: {daemon.get('error')}; it retries")
    elif live and daemon is not None:
        keeper = "this server's daemon" if in_process and pid else "vaultsync watch"
        summary = (f"live: {keeper} (pid {pid}) applies every change to the mirror; last "
                   f"change {last_change or 'none yet'}")
    else:
        summary = (f"not live: no daemon runs, so the mirror is as of its last sync "
                   f"({state['mirror']['last_sync_at']}); run `vaultsync watch` or start "
                   "this server with --watch")
    if not metrics["fresh"]:
        summary += "; graph metrics are older than the last change and are recomputed"
    shown = None if daemon is None else cast(records.Daemon, {
        k: daemon.get(k) for k in ("pid", "state", "started_at", "last_batch_at", "error",
                                   "error_since")})
    return {
        "vault": state["vault"], "mirror": state["db"], "live": live,
        "in_process": in_process and live, "daemon": shown, "last_change_at": last_change,
        "last_sync_at": state["mirror"]["last_sync_at"], **counts,
        "unresolved_links": counts["unresolved"], "metrics_current": metrics["fresh"],
        "communities_current": metrics["heavy_fresh"],
        "metrics_computed_at": metrics["computed_at"], "summary": summary}
