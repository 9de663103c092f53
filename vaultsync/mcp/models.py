"""What the MCP tools answer: one pydantic model per result, so every tool publishes a
JSON schema and returns structured content. Every result is bounded; `truncated` says
what was left out and how much (empty: nothing was)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Truncated = list[str]


def _truncated() -> Any:
    return Field(default_factory=list, description=(
        "What was left out to keep the answer small, and how much; empty when nothing was"))


class PageRef(BaseModel):
    path: str = Field(description="vault-relative path with .md")
    title: str


# --- search -----------------------------------------------------------------------------

class SearchHit(BaseModel):
    path: str
    title: str
    kind: str | None
    match: Literal["name", "text"] = Field(
        description="name: the title, an alias or the path contains the query; "
                    "text: full-text match")
    snippet: str = Field(description="text around the match, matched words between ⟦ and "
                                     "⟧ (marks Markdown never uses)")
    score: float = Field(description="what hits are ordered by, highest first")
    why: str = Field(description="why it ranked: how a title or alias matched, whether the "
                                 "text holds every word, its PageRank and citations")


class SearchResult(BaseModel):
    query: str
    results: list[SearchHit] = Field(description="best first: a title or alias that is "
                                                 "the query, then full-text relevance, the "
                                                 "graph (PageRank, citations) breaking ties")
    truncated: Truncated = _truncated()


# --- get_page ---------------------------------------------------------------------------

class OutLink(BaseModel):
    target: str = Field(description="the target as written in the page ('' for a link "
                                    "to a heading of the page itself)")
    anchor: str | None = Field(description="#heading or #^block, if the link has one")
    path: str = Field(description="the page or attachment it resolves to")
    title: str | None = Field(description="the linked page's title (None for an attachment)")
    line: int | None
    embed: bool


class UnresolvedLink(BaseModel):
    target: str = Field(description="as written; no page or file has this name yet")
    line: int | None


class Backlink(BaseModel):
    path: str = Field(description="the page the link is written in, or a canvas that "
                                  "shows this page")
    title: str
    line: int | None = Field(description="line of the link in that page")


class Heading(BaseModel):
    level: int
    text: str
    line: int | None


class Citations(BaseModel):
    count: int = Field(description="distinct source pages joined to this page by a link "
                                   "either way")
    single_source: bool = Field(description="a non-source page resting on exactly one source")
    unsourced: bool = Field(description="a non-source page with no source")
    sources: list[PageRef] = Field(description="the source pages that cite this page")
    cited_by: list[PageRef] = Field(description="for a source page: the pages it is "
                                                "cited by")


class Metrics(BaseModel):
    pagerank: float | None = Field(description="weighted PageRank (all pages sum to 1)")
    pagerank_rank: int | None = Field(description="place by PageRank among all pages, "
                                                  "1 = most central")
    pages_ranked: int = Field(description="how many pages have a PageRank")
    central_rank: int | None = Field(default=None, description=(
        "place in the central report, which ranks the non-source pages (None for a "
        "source page)"))
    central_ranked: int = Field(default=0, description="how many pages the central "
                                                        "report ranks")
    in_degree: int = Field(description="distinct other pages linking here")
    out_degree: int = Field(description="distinct other pages linked from here")
    community: int | None = Field(description="Louvain community, 0 = the largest")
    community_name: str | None = Field(description="the title of the community's most "
                                                   "central page (None for a community "
                                                   "of one page)")
    betweenness: float | None
    component: int | None = Field(description="weakly connected component, 0 = the largest")
    computed_at: str | None
    current: bool = Field(description="the figures match the graph as it is now")


class Flags(BaseModel):
    orphan: bool = Field(description="no other page links here")
    dead_end: bool = Field(description="links to no other page")
    isolated: bool = Field(description="no links in or out")


class Page(BaseModel):
    path: str
    title: str
    kind: str | None
    is_source: bool
    resolved_from: str | None = Field(description="the link target the page was found by, "
                                                  "when a link rather than a path was given")
    tags: list[str]
    aliases: list[str]
    frontmatter: dict[str, Any]
    citations: Citations
    links: list[OutLink] = Field(description="resolved links out of the page, in order")
    unresolved_links: list[UnresolvedLink]
    backlinks: list[Backlink] = Field(description="links from other pages, by path")
    headings: list[Heading]
    metrics: Metrics
    flags: Flags
    excerpt: str = Field(description="the start of the body as one line")
    body_chars: int = Field(description="length of the whole body in characters")
    body: str | None = Field(description="the Markdown body (without frontmatter) when "
                                         "include_body is true, cut to max_chars")
    truncated: Truncated = _truncated()


# --- neighbors --------------------------------------------------------------------------

class Node(BaseModel):
    path: str
    title: str
    kind: str | None
    depth: int = Field(description="links away from the center page (0: the center)")
    is_source: bool
    pagerank: float | None
    in_degree: int
    out_degree: int
    community: int | None
    community_name: str | None


class Edge(BaseModel):
    source: str = Field(description="path of the linking page")
    target: str = Field(description="path of the linked page")
    weight: int = Field(description="how many links")


class Neighbourhood(BaseModel):
    center: str
    depth: int
    direction: Literal["in", "out", "both"]
    reached: int = Field(description="pages within depth links, the center included")
    nodes: list[Node] = Field(description="the center, then nearest first and, equally "
                                          "near, most central (PageRank) first")
    edges: list[Edge] = Field(description="links between the pages in nodes")
    truncated: Truncated = _truncated()


# --- report -----------------------------------------------------------------------------

class Report(BaseModel):
    name: str
    title: str
    kind: str | None
    total: int | None = Field(description="rows in the whole report (None for summary)")
    rows: list[dict[str, Any]] = Field(description="as `vaultsync report NAME --format "
                                                   "json` gives them")
    summary: dict[str, Any] | None = Field(description="the summary report: counts, "
                                                       "metrics and the top entries")
    truncated: Truncated = _truncated()


# --- query ------------------------------------------------------------------------------

class QueryAnswer(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]] = Field(description="one object per row, keyed by column")
    more_rows: int = Field(description="rows after the last one returned")
    truncated: Truncated = _truncated()


# --- status -----------------------------------------------------------------------------

class Daemon(BaseModel):
    pid: int | None
    state: str | None
    started_at: str | None
    last_batch_at: str | None
    error: str | None = Field(description="why the daemon cannot write the mirror, until "
                                          "it can again")
    error_since: str | None


class Status(BaseModel):
    vault: str
    mirror: str = Field(description="the mirror database's path")
    live: bool = Field(description="a daemon keeps the mirror in step with the vault")
    in_process: bool = Field(description="that daemon runs inside this MCP server (--watch)")
    daemon: Daemon | None
    last_change_at: str | None = Field(description="when the last batch of changes was "
                                                   "committed to the mirror (UTC)")
    last_sync_at: str | None
    # The headline counts, named as everywhere (`vaultsync status`, the summary report,
    # GET /api/status): read.Counts.
    pages: int = Field(description="Markdown pages")
    sources: int = Field(description="source pages among them")
    links: int = Field(description="every link written in a page: to pages, to files, "
                                   "unresolved")
    links_between_pages: int = Field(description="links resolved from one page to another")
    edges: int = Field(description="distinct linked pairs of pages: the graph's edges")
    unresolved: int = Field(description="links whose target no page or file answers")
    unresolved_links: int = Field(description="the same as unresolved (its first name)")
    attachments: int
    problems: int
    metrics_current: bool = Field(description="PageRank and degrees match the graph")
    communities_current: bool = Field(description="communities and betweenness match "
                                                  "the graph")
    metrics_computed_at: str | None
    summary: str = Field(description="the above in one sentence")


# --- changes ----------------------------------------------------------------------------

class RenamedRef(PageRef):
    old_path: str = Field(description="the path the page had before")


class Changes(BaseModel):
    cursor: int = Field(description="pass this as `cursor` next time to get only what "
                                    "changed after this answer")
    since_cursor: int | None
    since: str | None
    batches: int = Field(description="committed batches (syncs, daemon batches) read")
    first_at: str | None
    last_at: str | None
    complete: bool = Field(description="False: the log (its last 1,000 batches) no longer "
                                       "reaches back to the cursor or time; see notes")
    oldest_cursor: int = Field(description="the oldest cursor answered completely")
    exact: bool = Field(description="False: a batch logged before schema 3 mixed kinds "
                                    "of change, so a page's kind was worked out (see "
                                    "notes)")
    notes: list[str]
    added: list[PageRef]
    edited: list[PageRef]
    renamed: list[RenamedRef]
    removed: list[PageRef] = Field(description="pages gone; title is the file name")
    truncated: Truncated = _truncated()


# --- unlinked mentions ------------------------------------------------------------------

class MentionHit(BaseModel):
    path: str = Field(description="the page whose text names the page without linking")
    title: str
    line: int | None = Field(description="line in that page's file")
    name: str = Field(description="the title or alias it names")
    text: str = Field(description="the words as written")
    snippet: str = Field(description="the line around it, the mention between ⟦ and ⟧")


class UnlinkedMentions(BaseModel):
    path: str
    title: str
    names: list[str] = Field(description="the title and aliases looked for")
    total: int
    pages: int = Field(description="pages holding the mentions")
    mentions: list[MentionHit] = Field(description="pages with most mentions first")
    truncated: Truncated = _truncated()


# --- related pages ----------------------------------------------------------------------

class RelatedHit(BaseModel):
    path: str
    title: str
    kind: str | None
    is_source: bool
    score: float = Field(description="Adamic-Adar over shared neighbours, plus 1 per "
                                     "shared source; higher is closer")
    shared_sources: list[str] = Field(description="source pages citing both")
    shared_neighbours: list[str] = Field(description="pages linked with both, either way")
    reason: str = Field(description="why, in words")


class Related(BaseModel):
    path: str
    title: str
    related: list[RelatedHit] = Field(description="pages not linked either way, best first")
    truncated: Truncated = _truncated()
