"""Reading the mirror: the only reader.

`vaultsync.mirror` writes the mirror; this package reads it. The HTTP API, the reports,
the MCP tools, the graph metrics and the sync engine's summary ask their questions here,
one function each, so they answer them the same way. Every function takes an open
`sqlite3.Connection` (`mirror.connect(db, readonly=True)`, or `open_mirror(db)`).

Modules: base (errors, rows, snapshots), status (meta, the metrics' freshness, the
daemon, counts), pages (one page, nodes, search), network (the graph and local graphs,
arrays for the metrics), reports, formats (answers as rows, JSON, CSV, Markdown, a
DataFrame), sql (the public schema and read-only SQL), changelog (what changed since a
cursor, from sync_log), mentions (unlinked mentions), suggestions (pages that may deserve a
link).
"""

from ..mirror import chunks, marks
from . import answers
from .answers import (
    ChangedPage,
    Changes,
    Mention,
    RelatedPage,
    RelatedPages,
    RenamedPage,
    UnlinkedMentions,
)
from .base import (
    BadRequest,
    MirrorMissing,
    NotFound,
    database,
    open_mirror,
    rows,
    snapshot,
)
from .changelog import changes
from .formats import to_csv, to_dataframe, to_json, to_rows
from .mentions import unlinked_mentions, vault_mentions
from .network import (
    DIRECTIONS,
    INCLUDE_OPTIONS,
    MAX_DEPTH,
    GraphArrays,
    Neighbours,
    compact,
    edges,
    graph,
    local_graph,
    neighbourhood,
    neighbours,
    read_graph_arrays,
)
from .pages import (
    FoundPage,
    PageSource,
    community_names,
    find_page,
    fts_query,
    link_target,
    page,
    page_id,
    page_nodes,
    page_source,
    pages_named,
    search,
)
from .reports import (
    REPORT_NAMES,
    REPORTS,
    Column,
    Report,
    ReportSpec,
    Summary,
    check_kind,
    page_kinds,
    run_report,
)
from .sql import (
    INTERNAL_COLUMNS,
    INTERNAL_TABLES,
    MAX_VALUE_BYTES,
    TABLE_NOTES,
    QueryRefused,
    QueryResult,
    SchemaTable,
    interrupt_after,
    limit_value_size,
    run_query,
    schema,
    value_limit,
)
from .status import (
    Counts,
    Meta,
    MetricsState,
    MirrorStatus,
    all_counts,
    building_status,
    counts,
    daemon_status,
    dump,
    headline_counts,
    last_batch,
    meta,
    metrics_state,
    mirror_status,
    pid_alive,
)
from .suggestions import related

__all__ = [
    "answers", "to_csv", "to_dataframe", "to_json", "to_rows",
    "ChangedPage", "Changes", "RenamedPage", "changes",
    "Mention", "UnlinkedMentions", "unlinked_mentions", "vault_mentions",
    "RelatedPage", "RelatedPages", "related",
    "DIRECTIONS", "INCLUDE_OPTIONS", "INTERNAL_COLUMNS", "INTERNAL_TABLES", "MAX_DEPTH",
    "MAX_VALUE_BYTES",
    "REPORTS", "REPORT_NAMES", "TABLE_NOTES", "Column", "Counts", "ReportSpec",
    "headline_counts", "BadRequest", "FoundPage", "GraphArrays", "Meta",
    "MetricsState", "MirrorMissing", "MirrorStatus", "Neighbours", "NotFound", "PageSource",
    "QueryRefused", "QueryResult", "Report", "SchemaTable", "Summary", "check_kind", "chunks",
    "all_counts", "building_status", "community_names", "compact", "counts", "daemon_status",
    "database", "dump",
    "edges",
    "find_page", "fts_query", "graph", "interrupt_after",
    "last_batch", "limit_value_size", "link_target", "local_graph", "marks",
    "meta", "metrics_state", "mirror_status", "neighbourhood", "neighbours", "open_mirror",
    "page", "page_id", "page_kinds", "page_nodes", "page_source", "pages_named", "pid_alive",
    "read_graph_arrays", "rows", "run_report", "run_query", "schema", "search", "snapshot",
    "value_limit",
]
