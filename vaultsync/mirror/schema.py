"""The mirror's schema: its DDL by version, the migrations between versions, and the
keys of its `meta` table.

The schema is public API (see README "The mirror, table by table"). A change to it is a
new entry in MIGRATIONS and a new SCHEMA_VERSION; a version, once released, is never
edited; a mirror made by a newer vaultsync is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from enum import StrEnum

SCHEMA_VERSION = 4

_SCHEMA_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    title TEXT NOT NULL,
    kind TEXT,
    is_source INTEGER NOT NULL DEFAULT 0,
    folder TEXT NOT NULL DEFAULT '',
    frontmatter TEXT NOT NULL DEFAULT '{}',
    body TEXT NOT NULL DEFAULT '',
    mtime REAL,
    size INTEGER,
    hash TEXT,
    mtime_ns INTEGER,
    synced_at TEXT
);
CREATE INDEX pages_kind ON pages(kind);
CREATE INDEX pages_hash ON pages(hash);
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    size INTEGER,
    mtime REAL,
    mtime_ns INTEGER
);
CREATE TABLE links (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    target TEXT NOT NULL,
    anchor TEXT,
    display TEXT,
    embed INTEGER NOT NULL DEFAULT 0,
    line INTEGER,
    form TEXT NOT NULL,
    target_path TEXT,
    target_id INTEGER REFERENCES pages(id) ON DELETE SET NULL,
    target_key TEXT NOT NULL,
    relative INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX links_source_id ON links(source_id);
CREATE INDEX links_target_id ON links(target_id);
CREATE INDEX links_target_key ON links(target_key);
CREATE INDEX links_target_path ON links(target_path);
CREATE TABLE external_links (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    display TEXT,
    line INTEGER
);
CREATE INDEX external_links_page_id ON external_links(page_id);
CREATE TABLE tags (
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    tag TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (page_id, tag)
) WITHOUT ROWID;
CREATE INDEX tags_tag ON tags(tag);
CREATE TABLE aliases (
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    alias TEXT NOT NULL,
    PRIMARY KEY (page_id, alias)
) WITHOUT ROWID;
CREATE TABLE headings (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    level INTEGER NOT NULL,
    text TEXT NOT NULL,
    line INTEGER
);
CREATE INDEX headings_page_id ON headings(page_id);
CREATE TABLE citations (
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    source_page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    PRIMARY KEY (page_id, source_page_id)
) WITHOUT ROWID;
CREATE INDEX citations_source_page_id ON citations(source_page_id);
CREATE TABLE problems (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    line INTEGER,
    message TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'warning',
    detected_at TEXT
);
CREATE INDEX problems_path ON problems(path);
CREATE TABLE skipped_files (
    path TEXT PRIMARY KEY,
    size INTEGER,
    mtime_ns INTEGER
);
CREATE TABLE sync_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    origin TEXT NOT NULL,
    added INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    renamed INTEGER NOT NULL,
    changed_paths TEXT NOT NULL,
    removed_paths TEXT NOT NULL,
    seconds REAL
);
CREATE TABLE daemon_status (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER,
    host TEXT,
    state TEXT,
    started_at TEXT,
    last_batch_at TEXT,
    last_batch_ms REAL,
    last_batch_changes INTEGER,
    pages INTEGER,
    problems INTEGER
);
CREATE TABLE page_metrics (
    page_id INTEGER PRIMARY KEY REFERENCES pages(id) ON DELETE CASCADE,
    in_degree INTEGER NOT NULL DEFAULT 0,
    out_degree INTEGER NOT NULL DEFAULT 0,
    pagerank REAL,
    betweenness REAL,
    community INTEGER,
    component INTEGER,
    citation_count INTEGER NOT NULL DEFAULT 0,
    orphan INTEGER NOT NULL DEFAULT 0,
    isolated INTEGER NOT NULL DEFAULT 0,
    dead_end INTEGER NOT NULL DEFAULT 0,
    computed_at TEXT
);
CREATE INDEX page_metrics_pagerank ON page_metrics(pagerank);
CREATE VIEW page_edges AS
    SELECT source_id, target_id, count(*) AS weight FROM links
    WHERE target_id IS NOT NULL AND target_id != source_id
    GROUP BY source_id, target_id;
CREATE VIEW backlinks AS
    SELECT t.path AS target_path, t.title AS target_title, s.path AS source_path,
           s.title AS source_title, l.line, l.display, l.anchor, l.embed, l.form,
           l.target_id, l.source_id
    FROM links l JOIN pages s ON s.id = l.source_id JOIN pages t ON t.id = l.target_id;
CREATE VIEW central_pages AS
    SELECT p.id, p.path, p.title, p.kind, m.pagerank, m.in_degree, m.out_degree,
           m.citation_count, m.community
    FROM pages p JOIN page_metrics m ON m.page_id = p.id
    WHERE p.is_source = 0 ORDER BY m.pagerank DESC;
CREATE VIEW orphan_pages AS
    SELECT p.id, p.path, p.title, p.kind FROM pages p
    WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l.target_id = p.id AND l.source_id != p.id)
    ORDER BY p.path;
CREATE VIEW dead_end_pages AS
    SELECT p.id, p.path, p.title, p.kind FROM pages p
    WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l.source_id = p.id
                      AND l.target_id IS NOT NULL AND l.target_id != p.id)
    ORDER BY p.path;
CREATE VIEW isolated_pages AS
    SELECT o.id, o.path, o.title, o.kind FROM orphan_pages o
    WHERE o.id IN (SELECT id FROM dead_end_pages) ORDER BY o.path;
CREATE VIEW single_source_pages AS
    SELECT p.id, p.path, p.title, p.kind, s.path AS source_path, s.title AS source_title
    FROM pages p JOIN citations c ON c.page_id = p.id JOIN pages s ON s.id = c.source_page_id
    WHERE p.is_source = 0
      AND (SELECT count(*) FROM citations c2 WHERE c2.page_id = p.id) = 1
    ORDER BY p.path;
CREATE VIEW unsourced_pages AS
    SELECT p.id, p.path, p.title, p.kind FROM pages p
    WHERE p.is_source = 0 AND NOT EXISTS (SELECT 1 FROM citations c WHERE c.page_id = p.id)
    ORDER BY p.path;
CREATE VIEW wanted_pages AS
    SELECT min(l.target) AS target, count(DISTINCT l.source_id) AS "references",
           count(*) AS links,
           group_concat(DISTINCT p.path) AS referenced_by
    FROM links l JOIN pages p ON p.id = l.source_id
    WHERE l.target_path IS NULL AND l.target != ''
    GROUP BY lower(CASE WHEN lower(l.target) LIKE '%.md'
                        THEN substr(l.target, 1, length(l.target) - 3) ELSE l.target END)
    ORDER BY "references" DESC, links DESC, target;
CREATE VIRTUAL TABLE pages_fts USING fts5(title, body, content="pages", content_rowid="id");
CREATE TRIGGER pages_ai AFTER INSERT ON pages BEGIN
    INSERT INTO pages_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER pages_ad AFTER DELETE ON pages BEGIN
    INSERT INTO pages_fts(pages_fts, rowid, title, body)
        VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER pages_au AFTER UPDATE OF title, body ON pages BEGIN
    INSERT INTO pages_fts(pages_fts, rowid, title, body)
        VALUES ('delete', old.id, old.title, old.body);
    INSERT INTO pages_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
END;
"""

# Files are compared by size, mtime, ctime and inode (see scan.py); the daemon can say
# why it is failing; pages' tasks, block ids and Dataview fields; whether a link's
# anchor names something in its target; a page's degrees as one view, which the
# orphan, dead-end and isolated views, the graph API and the metrics all read (an edge
# is what page_edges says: a distinct pair of resolved page links, no self-links); the
# graph view's stored layout (one position per page, computed once per graph structure).
_SCHEMA_V2 = """
ALTER TABLE pages ADD COLUMN ctime_ns INTEGER;
ALTER TABLE pages ADD COLUMN inode INTEGER;
ALTER TABLE attachments ADD COLUMN ctime_ns INTEGER;
ALTER TABLE attachments ADD COLUMN inode INTEGER;
ALTER TABLE skipped_files ADD COLUMN ctime_ns INTEGER;
ALTER TABLE skipped_files ADD COLUMN inode INTEGER;
ALTER TABLE daemon_status ADD COLUMN error TEXT;
ALTER TABLE daemon_status ADD COLUMN error_since TEXT;
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    status TEXT NOT NULL,
    done INTEGER NOT NULL,
    text TEXT NOT NULL,
    block_id TEXT
);
CREATE INDEX tasks_page_id ON tasks(page_id);
CREATE TABLE blocks (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    block_id TEXT NOT NULL,
    line INTEGER NOT NULL
);
CREATE INDEX blocks_page_id ON blocks(page_id);
CREATE TABLE fields (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    key TEXT NOT NULL COLLATE NOCASE,
    value TEXT NOT NULL,
    line INTEGER NOT NULL
);
CREATE INDEX fields_page_id ON fields(page_id);
CREATE INDEX fields_key ON fields(key);
ALTER TABLE links ADD COLUMN anchor_ok INTEGER;
CREATE VIEW broken_anchors AS
    SELECT s.path AS source_path, l.line, l.target, l.anchor, l.target_path,
           s.title AS source_title, l.source_id, l.target_id
    FROM links l JOIN pages s ON s.id = l.source_id
    WHERE l.anchor_ok = 0;
CREATE VIEW page_degrees AS
    SELECT p.id AS page_id,
           (SELECT count(DISTINCT l.source_id) FROM links l
            WHERE l.target_id = p.id AND l.source_id != p.id) AS in_degree,
           (SELECT count(DISTINCT l.target_id) FROM links l
            WHERE l.source_id = p.id AND l.target_id IS NOT NULL AND l.target_id != p.id)
            AS out_degree
    FROM pages p;
DROP VIEW isolated_pages;
DROP VIEW orphan_pages;
DROP VIEW dead_end_pages;
CREATE VIEW orphan_pages AS
    SELECT p.id, p.path, p.title, p.kind FROM pages p
    JOIN page_degrees d ON d.page_id = p.id WHERE d.in_degree = 0 ORDER BY p.path;
CREATE VIEW dead_end_pages AS
    SELECT p.id, p.path, p.title, p.kind FROM pages p
    JOIN page_degrees d ON d.page_id = p.id WHERE d.out_degree = 0 ORDER BY p.path;
CREATE VIEW isolated_pages AS
    SELECT p.id, p.path, p.title, p.kind FROM pages p
    JOIN page_degrees d ON d.page_id = p.id
    WHERE d.in_degree = 0 AND d.out_degree = 0 ORDER BY p.path;
CREATE TABLE page_layout (
    page_id INTEGER PRIMARY KEY REFERENCES pages(id) ON DELETE CASCADE,
    x REAL NOT NULL,
    y REAL NOT NULL
);
"""

# Canvases (JSON Canvas files): their nodes, edges and references to files of the vault;
# the backlinks view lists a canvas's file nodes, as Obsidian's backlinks pane does.
# sync_log says which written paths a batch added and where each rename came from, so
# `changes` need not infer them (rows from before hold NULL there).
# (Pages are parsed again, by the parser version: nested tasks, comments, anchors,
# titles and drawings are read anew.)
_SCHEMA_V3 = """
CREATE TABLE canvases (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    title TEXT NOT NULL,
    nodes INTEGER NOT NULL DEFAULT 0,
    edges INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE canvas_nodes (
    id INTEGER PRIMARY KEY,
    canvas_id INTEGER NOT NULL REFERENCES canvases(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    type TEXT NOT NULL,
    x REAL,
    y REAL,
    width REAL,
    height REAL,
    color TEXT,
    label TEXT,
    text TEXT,
    file TEXT,
    subpath TEXT,
    url TEXT
);
CREATE INDEX canvas_nodes_canvas_id ON canvas_nodes(canvas_id);
CREATE TABLE canvas_edges (
    id INTEGER PRIMARY KEY,
    canvas_id INTEGER NOT NULL REFERENCES canvases(id) ON DELETE CASCADE,
    edge_id TEXT NOT NULL,
    from_node TEXT NOT NULL,
    from_side TEXT,
    from_end TEXT,
    to_node TEXT NOT NULL,
    to_side TEXT,
    to_end TEXT,
    color TEXT,
    label TEXT
);
CREATE INDEX canvas_edges_canvas_id ON canvas_edges(canvas_id);
CREATE TABLE canvas_links (
    id INTEGER PRIMARY KEY,
    canvas_id INTEGER NOT NULL REFERENCES canvases(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    target TEXT NOT NULL,
    anchor TEXT,
    display TEXT,
    embed INTEGER NOT NULL DEFAULT 0,
    form TEXT NOT NULL,
    target_path TEXT,
    target_id INTEGER REFERENCES pages(id) ON DELETE SET NULL,
    relative INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX canvas_links_canvas_id ON canvas_links(canvas_id);
CREATE INDEX canvas_links_target_id ON canvas_links(target_id);
DROP VIEW backlinks;
CREATE VIEW backlinks AS
    SELECT t.path AS target_path, t.title AS target_title, s.path AS source_path,
           s.title AS source_title, l.line, l.display, l.anchor, l.embed, l.form,
           l.target_id, l.source_id
    FROM links l JOIN pages s ON s.id = l.source_id JOIN pages t ON t.id = l.target_id
    UNION ALL
    SELECT t.path, t.title, c.path, c.title, NULL, NULL, cl.anchor, 0, 'canvas',
           cl.target_id, NULL
    FROM canvas_links cl JOIN canvases c ON c.id = cl.canvas_id
    JOIN pages t ON t.id = cl.target_id
    WHERE cl.form = 'file';
ALTER TABLE sync_log ADD COLUMN added_paths TEXT;
ALTER TABLE sync_log ADD COLUMN renamed_from TEXT;
"""

# Every sync counts the unresolved links (target_path IS NULL AND target != ''): with
# `target` in the index the count reads the index alone, not a table row per link
# (3.9 → 0.2 ms at 10,000 pages, a daemon batch's largest read).
_SCHEMA_V4 = """
DROP INDEX links_target_path;
CREATE INDEX links_target_path ON links(target_path, target);
"""

# version → SQL that brings a mirror from version-1 to version. Append; never edit.
MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4}


# Rows that belong to one page and are rewritten with it.
PAGE_CHILD_TABLES = ("links", "external_links", "tags", "aliases", "headings", "tasks",
                     "blocks", "fields")


class MetaKey(StrEnum):
    """The keys of the `meta` table: the mirror's bookkeeping, read by `read.meta`."""

    SCHEMA_VERSION = "schema_version"
    VAULT = "vault"
    VAULT_ID = "vault_id"  # the vault folder's device:inode, to follow a moved vault
    # Why the daemon polls the vault instead of watching it (inotify's limits), with the
    # fix; absent while it watches.
    WATCH_POLLING = "watch_polling"
    PARSE_OPTIONS = "parse_options"  # the parse settings the pages were parsed with
    LAST_SYNC_AT = "last_sync_at"
    GRAPH_VERSION = "graph_version"  # bumped by every batch that changes files
    # The core metrics: the graph version and structure hash they describe.
    METRICS_GRAPH_VERSION = "metrics_graph_version"
    METRICS_GRAPH_HASH = "metrics_graph_hash"
    METRICS_COMPUTED_AT = "metrics_computed_at"
    METRICS_SECONDS = "metrics_seconds"
    # Betweenness and communities: how, and for which structure.
    HEAVY_GRAPH_HASH = "heavy_graph_hash"
    HEAVY_GRAPH_VERSION = "heavy_graph_version"
    HEAVY_COMPUTED_AT = "heavy_computed_at"
    HEAVY_SECONDS = "heavy_seconds"
    BETWEENNESS_METHOD = "betweenness_method"
    BETWEENNESS_K = "betweenness_k"
    BETWEENNESS_SEED = "betweenness_seed"
    COMMUNITY_METHOD = "community_method"
    COMMUNITY_SEED = "community_seed"
    COMMUNITY_MODULARITY = "community_modularity"
    COMMUNITIES = "communities"
    # The graph view's stored layout.
    LAYOUT_GRAPH_HASH = "layout_graph_hash"
    LAYOUT_GRAPH_VERSION = "layout_graph_version"
    LAYOUT_COMPUTED_AT = "layout_computed_at"
    LAYOUT_METHOD = "layout_method"
    LAYOUT_SEED = "layout_seed"
    LAYOUT_ITERATIONS = "layout_iterations"
    LAYOUT_PLACED = "layout_placed"
    LAYOUT_SECONDS = "layout_seconds"


def split_sql(script: str) -> list[str]:
    """Statements of a script, keeping trigger bodies whole (executescript would commit)."""
    statements, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if sqlite3.complete_statement(joined):
            statements.append(joined)
            buf = []
    return statements
