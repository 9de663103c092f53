"""The read layer's answers as typed records, defined once: a page, a search, the graph
and a neighbourhood, the mirror's status. `Vault`, the HTTP API and the MCP tools answer
with these; the OpenAPI document's schemas are generated from them
(server/openapi.py), and the view's and the Obsidian plugin's TypeScript types from
that document.

TypedDicts (from typing_extensions, which pydantic reads on every Python vaultsync
supports), because the answers are JSON: a record is the dict the API sends.
"""

# No `from __future__ import annotations`: TypedDict learns which keys are NotRequired
# from the annotations themselves, evaluated.
from typing import Annotated, Any, Literal, NotRequired

from typing_extensions import TypedDict


class doc:  # noqa: N801 - written as a marker in annotations: Annotated[int, doc("…")]
    """A field's meaning, for the JSON schemas made from these records (the OpenAPI
    document, the MCP tools' output schemas). pydantic asks annotation markers for their
    part of a schema, so the records need not import pydantic (a command that only
    syncs never does)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        schema["description"] = self.text
        return schema


# --- a page -----------------------------------------------------------------------------


class Heading(TypedDict):
    level: int
    text: str
    line: int | None


class PageLink(TypedDict):
    """A link written in the page."""

    target: str  # as written ('' for a link to a heading of the page itself)
    anchor: str | None  # #heading or #^block
    display: str | None
    embed: bool
    line: int | None
    form: str  # wikilink, markdown, frontmatter
    target_path: str | None  # the page or file it resolves to; None: unresolved
    target_title: str | None
    target_type: Literal["page", "attachment"] | None
    resolved: bool


class ExternalLink(TypedDict):
    url: str
    display: str | None
    line: int | None


class BacklinkRef(TypedDict):
    """Where a link to the page is written."""

    path: Annotated[str, doc("the page the link is written in, or a canvas that shows "
                             "this page")]
    title: str
    line: Annotated[int | None, doc("line of the link in that page")]


class Backlink(BacklinkRef):
    """A link to the page, from another page."""

    display: str | None
    anchor: str | None
    embed: bool
    form: str


class PageName(TypedDict):
    path: Annotated[str, doc("vault-relative path with .md")]
    title: str


class PageRef(PageName):
    kind: str | None


class Citations(TypedDict):
    sources: Annotated[list[PageRef], doc("the source pages that cite this page (joined "
                                          "to it by a link either way)")]
    cited_by: Annotated[list[PageRef], doc("for a source page: the pages it is cited by")]


class PageMetrics(TypedDict):
    """A page's graph figures. `pagerank_rank` of `pages_ranked` ranks every page
    (`rank_among`); `central_rank` of `central_ranked` is its place in the `central`
    report, which ranks the non-source pages."""

    pagerank: Annotated[float | None, doc("weighted PageRank (all pages sum to 1)")]
    community: Annotated[int | None, doc("Louvain community, 0 = the largest")]
    betweenness: float | None
    component: Annotated[int | None, doc("weakly connected component, 0 = the largest")]
    citation_count: Annotated[int, doc("distinct source pages joined to this page by a "
                                       "link either way")]
    in_degree: Annotated[int, doc("distinct other pages linking here")]
    out_degree: Annotated[int, doc("distinct other pages linked from here")]
    orphan: Annotated[bool, doc("no other page links here")]
    dead_end: Annotated[bool, doc("links to no other page")]
    isolated: Annotated[bool, doc("no links in or out")]
    single_source: Annotated[bool, doc("a non-source page resting on exactly one source")]
    unsourced: Annotated[bool, doc("a non-source page with no source")]
    computed_at: str | None
    pagerank_rank: Annotated[int | None, doc("place by PageRank among all pages, "
                                             "1 = most central")]
    pages_ranked: Annotated[int, doc("how many pages have a PageRank")]
    rank_among: Literal["pages"]
    central_rank: Annotated[int | None, doc(
        "place in the central report, which ranks the non-source pages (None for a "
        "source page)")]
    central_ranked: Annotated[int, doc("how many pages the central report ranks")]
    community_name: Annotated[str | None, doc(
        "the title of the community's most central page (None for a community of one "
        "page)")]


class Problem(TypedDict):
    line: int | None
    message: str
    severity: str


class OpenTask(TypedDict):
    line: int
    status: str  # the character between the brackets: ' ', '/', '>', …
    text: str


class BrokenAnchor(TypedDict):
    """A link written in the page whose #heading or #^block names nothing in its target."""

    line: int
    target: str
    anchor: str
    target_path: str | None


class Page(TypedDict):
    """Everything the mirror knows about one page."""

    path: str
    title: str
    kind: str | None
    is_source: bool
    folder: str
    frontmatter: dict[str, Any]
    tags: list[str]
    aliases: list[str]
    headings: list[Heading]
    links: list[PageLink]
    external_links: list[ExternalLink]
    backlinks: list[Backlink]
    citations: Citations
    metrics: PageMetrics
    problems: list[Problem]
    tasks: list[OpenTask]  # its open tasks
    broken_anchors: list[BrokenAnchor]
    size: int
    mtime: float
    synced_at: str | None
    excerpt: str
    body: NotRequired[str]  # with body=true
    resolved_from: NotRequired[str | None]  # Vault.page: the link target it was found by


# --- search -----------------------------------------------------------------------------


class SearchWhy(TypedDict):
    """Why a search hit ranked where it did: its score is name_score + text_score
    (+1 when the text holds every word) + graph_score."""

    fields: list[str]  # what matched: title, alias, path, text
    name: str | None  # how a title or alias matched ("title exact", "alias holds every word")
    name_score: float
    text_score: float  # bm25 relative to the best text match, times 3
    bm25: float | None  # FTS5's bm25 (lower is better), titles weighted 8x
    all_words: bool  # the text holds every word of the query
    pagerank: float | None
    citations: int  # source pages citing it
    graph_score: float  # PageRank relative to the top page, and citations (up to 5)
    summary: str  # the same, in words


class SearchHitBase(TypedDict):
    """What every search hit says, whichever door shows it (the MCP tools mark the
    snippet and put `why` in words)."""

    path: str
    title: str
    kind: str | None
    match: Annotated[Literal["name", "text"], doc(
        "name: the title, an alias or the path contains the query; text: full-text "
        "match")]
    alias: NotRequired[str | None]
    score: NotRequired[Annotated[float, doc("what hits are ordered by, highest first")]]


class SearchHit(SearchHitBase):
    snippet: str  # HTML: escaped text, hits in <mark>
    rank: NotRequired[float | None]
    why: NotRequired[SearchWhy]


class SearchResult(TypedDict):
    query: str
    fts_query: NotRequired[str]
    results: list[SearchHit]


# --- the graph ----------------------------------------------------------------------------


class _NodeId(TypedDict):
    id: str  # a page's vault path; 'unresolved:NAME', 'tag:#TAG' or a file's path
    type: Literal["page", "unresolved", "attachment", "tag"]
    title: str


class Node(_NodeId, total=False):
    """A node of the graph; pages have every field, other nodes the first three."""

    kind: str | None
    folder: str
    is_source: bool
    tags: list[str]
    pagerank: float | None
    community: int | None
    betweenness: float | None
    component: int | None
    citation_count: int | None
    sources: int  # source pages backing this page
    cited_by: int  # pages citing this source page
    in_degree: int | None
    out_degree: int | None
    orphan: bool
    dead_end: bool
    isolated: bool
    single_source: bool
    unsourced: bool
    x: float | None  # the stored layout's position; None until it is computed
    y: float | None
    depth: int  # local graph only: links away from the centre
    center: bool  # local graph only


class GraphEdge(TypedDict):
    source: Annotated[str, doc("path of the linking page")]
    target: Annotated[str, doc("path of the linked page")]
    weight: Annotated[int, doc("how many links")]


class GraphLink(GraphEdge, total=False):
    type: str


class Community(TypedDict):
    id: int
    name: str  # the title of its top page by PageRank
    path: str
    size: int


class MetricsFreshness(TypedDict):
    computed_at: str | None
    heavy_computed_at: str | None
    graph_version: str
    metrics_graph_version: str | None
    fresh: bool  # the core metrics describe the graph as it is
    heavy_fresh: bool  # betweenness and communities do
    computing: NotRequired[bool]  # serve: a computation is under way
    last_error: NotRequired[str | None]


class LayoutFreshness(TypedDict):
    fresh: bool
    computed_at: str | None
    method: str | None
    graph_hash: str | None


class GraphMeta(TypedDict, total=False):
    pages: int
    shown_pages: int
    truncated: bool
    include: list[str]
    metrics: MetricsFreshness
    communities: list[Community]  # every community of 2+ pages in the vault
    layout: LayoutFreshness


class Graph(TypedDict):
    """The graph as node-link JSON (the graph view's)."""

    nodes: list[Node]
    links: list[GraphLink]
    meta: GraphMeta


class LocalGraph(Graph):
    """A page's neighbourhood (Obsidian's local graph)."""

    center: str
    depth: int
    direction: Literal["in", "out", "both"]


# --- status -------------------------------------------------------------------------------


class MirrorInfo(TypedDict):
    schema_version: int
    graph_version: str | None
    last_sync_at: str | None


class Daemon(TypedDict, total=False):
    """The daemon_status row, with `alive`."""

    pid: int | None
    host: str | None
    state: str | None
    started_at: str | None
    last_batch_at: str | None
    error: Annotated[str | None, doc("why the daemon cannot write the mirror, until it "
                                     "can again")]
    error_since: str | None
    alive: bool
    polling: str | None  # why a live daemon polls the vault instead of watching it


class Batch(TypedDict):
    """A row of sync_log: one committed batch."""

    id: int
    at: str
    origin: str
    added: int
    updated: int
    removed: int
    renamed: int
    changed_paths: list[str]
    removed_paths: list[str]
    seconds: float | None
    added_paths: list[str] | None  # None in rows logged before schema 3
    renamed_from: dict[str, str] | None  # new path → old path


class StatusCounts(TypedDict):
    """The headline counts (read.Counts), and distinct tags and citation pairs."""

    pages: Annotated[int, doc("Markdown pages")]
    sources: Annotated[int, doc("source pages among them")]
    attachments: int
    links: Annotated[int, doc("every link written in a page: to pages, to files, "
                              "unresolved")]
    links_between_pages: Annotated[int, doc("links resolved from one page to another")]
    edges: Annotated[int, doc("distinct linked pairs of pages: the graph's edges")]
    unresolved: Annotated[int, doc("links whose target no page or file answers")]
    problems: int
    tags: int
    citations: int


class Status(TypedDict):
    """How fresh the mirror is: `Vault.status()`, and the heart of GET /api/status."""

    vault: str
    db: str
    mirror: MirrorInfo
    daemon: Daemon | None
    alive: bool  # a daemon keeps the mirror live
    last_batch: Batch | None
    counts: StatusCounts
    metrics: MetricsFreshness


# --- what changed ---------------------------------------------------------------------


class ChangedPage(PageName):
    """A page that changed; a removed page's title is its file name, as a link to it
    would say."""


class RenamedPage(ChangedPage):
    old_path: Annotated[str, doc("the path the page had before")]


class Changes(TypedDict):
    """`Vault.changes()`: the net change of the vault's pages since a cursor or time."""

    cursor: Annotated[int, doc("the last batch read: pass this as `cursor` next time to "
                               "get only what changed after this answer")]
    since_cursor: int | None
    since: str | None
    batches: Annotated[int, doc("committed batches (syncs, daemon batches) read")]
    first_at: str | None  # the first and last batch read
    last_at: str | None
    complete: Annotated[bool, doc("False: the log (its last 1,000 batches) no longer "
                                  "reaches back to the cursor or time; see notes")]
    oldest_cursor: Annotated[int, doc("the oldest cursor answered completely")]
    exact: Annotated[bool, doc("False: a batch logged before schema 3 mixed kinds of "
                               "change, so a page's kind was worked out (see notes)")]
    notes: list[str]
    added: list[ChangedPage]
    edited: list[ChangedPage]
    renamed: list[RenamedPage]
    removed: Annotated[list[ChangedPage], doc("pages gone; title is the file name")]


# --- unlinked mentions ------------------------------------------------------------------


class Mention(TypedDict):
    """One place where a page names another without linking to it."""

    path: Annotated[str, doc("the page whose text names the page without linking")]
    title: str
    line: Annotated[int | None, doc("line in that page's file (None: not known)")]
    target_path: str  # the page it names
    target_title: str
    name: Annotated[str, doc("the title or alias it names")]
    text: Annotated[str, doc("the words as written")]
    snippet: Annotated[str, doc("the line around it, the mention between ⟦ and ⟧")]


class UnlinkedMentions(TypedDict):
    """`Vault.unlinked_mentions(page)`."""

    path: str
    title: str
    names: Annotated[list[str], doc("the title and aliases looked for")]
    total: Annotated[int, doc("mentions found")]
    pages: Annotated[int, doc("pages holding the mentions")]
    mentions: Annotated[list[Mention], doc("pages with most mentions first, up to the "
                                           "limit")]
    complete: Annotated[bool, doc("False: reading stopped at the limit; more pages may "
                                  "mention it")]


# --- related pages ----------------------------------------------------------------------


class RelatedPage(TypedDict):
    """A page likely to deserve a link, with why."""

    path: str
    title: str
    kind: str | None
    is_source: bool
    score: Annotated[float, doc("Adamic-Adar over shared neighbours, plus 1 per shared "
                                "source; higher is closer")]
    adamic_adar: Annotated[float, doc("sum over shared neighbours of 1 / log(their "
                                      "degree)")]
    shared_sources: Annotated[list[str], doc("source pages citing both")]
    shared_neighbours: Annotated[list[str], doc("pages linked with both, either way")]
    reason: Annotated[str, doc("why, in words")]


class RelatedPages(TypedDict):
    """`Vault.related(page)`: pages neither linked to nor from it, best first."""

    path: str
    title: str
    related: Annotated[list[RelatedPage], doc("pages not linked either way, best first")]
