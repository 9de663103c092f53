"""Datasette metadata for a vaultsync mirror: descriptions, facets, labels, canned queries.

Pure data, no Datasette import: `metadata_for(name)` works (and `vaultsync datasette
--print-metadata` prints it) whether or not Datasette is installed. Datasette 0.6x takes
all of it as metadata; Datasette 1.0 keeps only descriptions and titles there and reads
table settings and canned queries from its configuration, which `config_for(name)` gives.
"""

from __future__ import annotations

import copy
from typing import Any

# The name Datasette gives `mirror.db`: the key of the shipped metadata.json and
# datasette.json.
STATIC_DB_NAME = "mirror"

# Table keys that Datasette 1.0 reads from its configuration (datasette.yaml), not from
# its metadata; Datasette 0.6x reads them from metadata.
TABLE_CONFIG_KEYS = ("hidden", "sort", "sort_desc", "size", "sortable_columns",
                     "label_column", "facets", "fts_table", "fts_pk", "searchmode")

# The instance's title and description, given when every attached database is a mirror.
INSTANCE_METADATA = {
    "title": "vaultsync",
    "description": "The SQLite mirror of a Markdown vault, by vaultsync.",
}

_PAGE_COLUMNS = {
    "id": "Row id; kept across a rename, so links and citations follow the page.",
    "path": "Vault-relative POSIX path of the Markdown file.",
    "title": "Frontmatter title, else the file name (or its first # heading when that is "
             "the file name better written; see the title setting).",
    "kind": "Frontmatter type, else the top folder's name (singular), else empty.",
    "is_source": "1 for a source page (in a source folder or of a source type).",
    "folder": "The page's folder ('' at the vault root).",
    "frontmatter": "The YAML frontmatter as JSON.",
    "body": "The Markdown after the frontmatter (indexed by pages_fts).",
    "mtime": "File modification time (Unix seconds).",
    "size": "File size in bytes.",
    "hash": "BLAKE2b-128 of the file's bytes.",
    "mtime_ns": "The stat the next sync compares (-1: too recent to trust, re-hashed).",
    "synced_at": "When this row was last written (UTC).",
}

_PAGE_LIST = {
    "id": "Page row id.",
    "path": "Vault-relative path.",
    "title": "Page title.",
    "kind": "Page kind.",
}

TABLES: dict[str, dict[str, Any]] = {
    "pages": {
        "description": "One row per Markdown page of the vault. Searchable (title and body).",
        "label_column": "title",
        "facets": ["kind", "folder"],
        "sort": "path",
        "fts_table": "pages_fts",
        "fts_pk": "id",
        "searchmode": "escaped",
        "columns": _PAGE_COLUMNS,
    },
    "links": {
        "description": "Every internal link: wikilinks, Markdown links and links in "
                       "frontmatter values, resolved the way Obsidian resolves them.",
        "facets": ["form", "embed"],
        "sort": "source_id",
        "columns": {
            "source_id": "The page the link is written in.",
            "target": "The link target as written (without #anchor or |display).",
            "anchor": "#heading or #^block after the target, if any.",
            "display": "The |display text or Markdown link text, if any.",
            "embed": "1 for an embed (![[...]] or ![](...)).",
            "line": "1-based line of the link in the file.",
            "form": "wikilink, markdown or frontmatter.",
            "target_path": "The file it resolves to (page or attachment); empty if none.",
            "target_id": "The page it resolves to; empty for attachments and dead links.",
            "target_key": "Normalised name used to re-resolve the link when files change.",
            "relative": "1 when written relative to the page (./, ../).",
        },
    },
    "external_links": {
        "description": "URLs linked from pages.",
        "sort": "page_id",
        "columns": {"page_id": "The page.", "url": "The URL.", "display": "Link text.",
                    "line": "1-based line."},
    },
    "tags": {
        "description": "Tags of each page, from frontmatter and #tags in the body "
                       "(case-insensitive).",
        "facets": ["tag"],
        "sort": "tag",
        "columns": {"page_id": "The page.", "tag": "Tag without '#'; nested tags keep '/'."},
    },
    "aliases": {
        "description": "Frontmatter aliases of each page.",
        "sort": "alias",
        "columns": {"page_id": "The page.", "alias": "An alternative name."},
    },
    "headings": {
        "description": "Headings of each page, in order.",
        "facets": ["level"],
        "sort": "page_id",
        "columns": {"page_id": "The page.", "level": "1 to 6.", "text": "Heading text.",
                    "line": "1-based line."},
    },
    "citations": {
        "description": "Which source pages each non-source page cites: a link either way "
                       "between the two.",
        "sort": "page_id",
        "columns": {"page_id": "The citing page.", "source_page_id": "The source page."},
    },
    "attachments": {
        "description": "Non-Markdown files of the vault (images, PDFs, ...).",
        "sort": "path",
        "columns": {"path": "Vault-relative path.", "size": "Bytes.",
                    "mtime": "Modification time (Unix seconds)."},
    },
    "problems": {
        "description": "What the parser or sync had to say about a file: broken "
                       "frontmatter, skipped files, undecodable bytes.",
        "facets": ["severity"],
        "sort": "path",
        "columns": {"path": "Vault-relative path.", "line": "1-based line, if known.",
                    "message": "What is wrong.", "severity": "warning or error.",
                    "detected_at": "When it was found (UTC)."},
    },
    "page_metrics": {
        "description": "Graph metrics per page, computed by the graph module after syncs.",
        "sort_desc": "pagerank",
        "facets": ["community", "component"],
        "columns": {
            "page_id": "The page.",
            "in_degree": "Distinct pages linking here.",
            "out_degree": "Distinct pages linked from here.",
            "pagerank": "PageRank over page-to-page links.",
            "betweenness": "Betweenness centrality (computed less often).",
            "community": "Community (cluster) id.",
            "component": "Weakly connected component id.",
            "citation_count": "Citations: sources cited, or pages citing a source.",
            "orphan": "1 when no other page links here.",
            "isolated": "1 when orphan and dead end.",
            "dead_end": "1 when it links to no other page.",
            "computed_at": "When these were computed (UTC).",
        },
    },
    "meta": {
        "description": "Mirror bookkeeping: schema version, vault path, last sync, graph "
                       "version.",
    },
    "sync_log": {
        "description": "One row per committed sync batch (the last 1000).",
        "sort_desc": "id",
        "facets": ["origin"],
        "columns": {
            "id": "The batch's cursor, for changes and the event stream.",
            "origin": "sync or watch.",
            "changed_paths": "JSON list: pages written (added, edited or renamed to).",
            "removed_paths": "JSON list: pages gone (deleted or renamed away).",
            "added_paths": "JSON list: the changed paths that are new pages (NULL in "
                           "rows from before schema 3).",
            "renamed_from": "JSON object: each renamed page's new path to its old path "
                            "(NULL in rows from before schema 3).",
        },
    },
    "daemon_status": {
        "description": "The watch daemon's single status row, if one has run.",
    },
    "skipped_files": {
        "description": "Internal: stats of files left out, so they are not re-read.",
        "hidden": True,
    },
    "page_edges": {
        "description": "View: the page graph, one row per linked page pair with its weight.",
    },
    "backlinks": {
        "description": "View: every resolved link with both ends' paths and titles, and "
                       "every canvas file node showing a page (form canvas).",
        "facets": ["form"],
    },
    "central_pages": {
        "description": "View: non-source pages by PageRank, highest first.",
        "columns": _PAGE_LIST,
    },
    "orphan_pages": {
        "description": "View: pages no other page links to.", "columns": _PAGE_LIST,
        "facets": ["kind"],
    },
    "dead_end_pages": {
        "description": "View: pages that link to no other page.", "columns": _PAGE_LIST,
        "facets": ["kind"],
    },
    "isolated_pages": {
        "description": "View: pages with no links in or out.", "columns": _PAGE_LIST,
        "facets": ["kind"],
    },
    "single_source_pages": {
        "description": "View: non-source pages that cite exactly one source.",
        "facets": ["kind", "source_path"],
    },
    "unsourced_pages": {
        "description": "View: non-source pages that cite no source.", "columns": _PAGE_LIST,
        "facets": ["kind"],
    },
    "wanted_pages": {
        "description": "View: link targets with no page, by how many pages want them.",
    },
    "broken_anchors": {
        "description": "View: links to a heading or block (#Heading, #^id) that their "
                       "target page does not have.",
        "facets": ["target_path"],
    },
    "tasks": {
        "description": "Task list items (- [ ], - [x], - [-] ...): one row per task, "
                       "nested ones included; status is the character between the brackets.",
        "facets": ["status", "done"],
        "label_column": "text",
    },
    "blocks": {
        "description": "Block ids (^id) that [[page#^id]] links can name.",
    },
    "canvases": {
        "description": "Canvases: one row per .canvas file (JSON Canvas 1.0), with how many "
                       "nodes and edges were read.",
        "label_column": "title",
    },
    "canvas_nodes": {
        "description": "The cards of each canvas: text (Markdown), file (a vault file, "
                       "with its #subpath), link (a URL) and group (a labelled frame), "
                       "with position, size and colour.",
        "facets": ["type", "color"],
    },
    "canvas_edges": {
        "description": "The arrows of each canvas, between node ids, with sides, ends, "
                       "colour and label.",
    },
    "canvas_links": {
        "description": "A canvas's references to files of the vault: its file nodes "
                       "(form file) and the links in its text nodes (wikilink, markdown), "
                       "resolved like links.",
        "facets": ["form"],
    },
    "fields": {
        "description": "Dataview inline fields (key:: value, [key:: value], (key:: value)); "
                       "keys compare case-insensitively.",
        "facets": ["key"],
    },
}

_PAGE_COLS = "path, title, kind"

QUERIES: dict[str, dict[str, Any]] = {
    "central_concepts": {
        "title": "Central concepts",
        "description": "Non-source pages by PageRank (page_metrics), the 100 most central.",
        "sql": (
            "SELECT path, title, kind, round(pagerank, 5) AS pagerank, in_degree, out_degree,\n"
            "       citation_count, community\n"
            "FROM central_pages\n"
            "ORDER BY central_pages.pagerank DESC, path\n"
            "LIMIT 100"
        ),
    },
    "orphans": {
        "title": "Orphans",
        "description": "Pages no other page links to.",
        "sql": f"SELECT {_PAGE_COLS} FROM orphan_pages ORDER BY path",
    },
    "isolated": {
        "title": "Isolated pages",
        "description": "Pages with no links in or out.",
        "sql": f"SELECT {_PAGE_COLS} FROM isolated_pages ORDER BY path",
    },
    "dead_ends": {
        "title": "Dead ends",
        "description": "Pages that link to no other page.",
        "sql": f"SELECT {_PAGE_COLS} FROM dead_end_pages ORDER BY path",
    },
    "communities": {
        "title": "Communities",
        "description": "Louvain communities of two or more pages (page_metrics.community, "
                       "0 = the largest), their size and most central page.",
        "sql": (
            "SELECT m.community, count(*) AS size,\n"
            "       (SELECT p2.title FROM page_metrics m2 JOIN pages p2 ON p2.id = m2.page_id\n"
            "        WHERE m2.community = m.community\n"
            "        ORDER BY m2.pagerank DESC, p2.path LIMIT 1) AS top_page\n"
            "FROM page_metrics m\n"
            "WHERE m.community IS NOT NULL\n"
            "GROUP BY m.community HAVING count(*) > 1\n"
            "ORDER BY size DESC, m.community"
        ),
    },
    "single_source": {
        "title": "Single-source pages",
        "description": "Non-source pages that cite exactly one source, with that source.",
        "sql": (
            f"SELECT {_PAGE_COLS}, source_path, source_title\n"
            "FROM single_source_pages ORDER BY path"
        ),
    },
    "unsourced_concepts": {
        "title": "Unsourced concepts",
        "description": "Non-source pages that cite no source.",
        "sql": f"SELECT {_PAGE_COLS} FROM unsourced_pages ORDER BY path",
    },
    "wanted": {
        "title": "Wanted pages",
        "description": "Link targets with no page yet, by how many pages link to them.",
        "sql": (
            'SELECT target, "references", links, referenced_by\n'
            'FROM wanted_pages ORDER BY "references" DESC, links DESC, target'
        ),
    },
    "broken_anchors": {
        "title": "Broken anchors",
        "description": "Links to a heading or block their target page does not have.",
        "sql": (
            "SELECT source_path, line, target, anchor, target_path\n"
            "FROM broken_anchors ORDER BY source_path, line"
        ),
    },
    "open_tasks": {
        "title": "Open tasks",
        "description": "Tasks not done or cancelled ([ ] and the other open statuses), "
                       "by page and line.",
        "sql": (
            "SELECT p.path, p.title, t.line, t.status, t.text\n"
            "FROM tasks t JOIN pages p ON p.id = t.page_id\n"
            "WHERE t.done = 0 AND t.status != '-'\n"
            "ORDER BY p.path, t.line"
        ),
    },
    "page_backlinks": {
        "title": "Backlinks of a page",
        "description": "Pages that link to the page at :path (with or without .md).",
        "sql": (
            "SELECT source_path, source_title, line, display, anchor, embed, form\n"
            "FROM backlinks\n"
            "WHERE target_path IN (:path, :path || '.md')\n"
            "ORDER BY source_path, line"
        ),
    },
    "citing_source": {
        "title": "Pages citing a source",
        "description": "Pages that cite the source page at :source (with or without .md).",
        "sql": (
            "SELECT p.path, p.title, p.kind\n"
            "FROM citations c\n"
            "JOIN pages p ON p.id = c.page_id\n"
            "JOIN pages s ON s.id = c.source_page_id\n"
            "WHERE s.path IN (:source, :source || '.md')\n"
            "ORDER BY p.path"
        ),
    },
    "tagged": {
        "title": "Pages sharing a tag",
        "description": "Pages tagged :tag ('#' optional), nested tags (tag/sub) included.",
        "sql": (
            "SELECT p.path, p.title, p.kind,\n"
            "       (SELECT group_concat(t2.tag, ' ') FROM tags t2 WHERE t2.page_id = p.id)\n"
            "         AS tags\n"
            "FROM pages p\n"
            "WHERE p.id IN (\n"
            "  SELECT t.page_id FROM tags t\n"
            "  WHERE t.tag = ltrim(:tag, '#')\n"
            "     OR lower(substr(t.tag, 1, length(ltrim(:tag, '#')) + 1))\n"
            "        = lower(ltrim(:tag, '#')) || '/'\n"
            ")\n"
            "ORDER BY p.path"
        ),
    },
    "search": {
        "title": "Full-text search",
        "description": "Search titles and bodies (FTS5). Words must all appear; "
                       '"quoted words" match a phrase.',
        "sql": (
            "SELECT p.path, p.title, p.kind,\n"
            "       snippet(pages_fts, -1, '<mark>', '</mark>', '…', 16) AS snippet\n"
            "FROM pages_fts\n"
            "JOIN pages p ON p.id = pages_fts.rowid\n"
            "WHERE trim(:q) != '' AND pages_fts MATCH escape_fts(:q)\n"
            "ORDER BY bm25(pages_fts, 10.0, 1.0), p.path\n"
            "LIMIT 100"
        ),
    },
}

# The query the plugin page links to for a page's backlinks, and its parameter.
BACKLINKS_QUERY = "page_backlinks"
CITING_QUERY = "citing_source"


def database_metadata(vault: str | None = None) -> dict[str, Any]:
    """The metadata of one mirror database (what goes under databases.<name>)."""
    where = f" of {vault}" if vault else ""
    return {
        "title": f"vaultsync mirror{where}",
        "description": (
            "A live SQLite mirror of an Obsidian-style Markdown vault: pages, links, tags, "
            "citations and graph metrics. Start with the canned queries below; pages are "
            "searchable, and each page path links to its graph view and backlinks."
        ),
        "tables": copy.deepcopy(TABLES),
        "queries": copy.deepcopy(QUERIES),
    }


def metadata_for(db_name: str, vault: str | None = None) -> dict[str, Any]:
    """Complete Datasette metadata (for --metadata) for a mirror Datasette names `db_name`
    (the database file's stem)."""
    return {**INSTANCE_METADATA, "databases": {db_name: database_metadata(vault)}}


def database_config() -> dict[str, Any]:
    """What Datasette 1.0 reads from its configuration for one mirror database (what goes
    under databases.<name> of datasette.yaml): table settings and canned queries."""
    tables = {}
    for table, spec in TABLES.items():
        settings = {key: copy.deepcopy(spec[key]) for key in TABLE_CONFIG_KEYS if key in spec}
        if settings:
            tables[table] = settings
    return {"tables": tables, "queries": copy.deepcopy(QUERIES)}


def config_for(db_name: str) -> dict[str, Any]:
    """Datasette 1.0 configuration (for --config, beside --metadata from `metadata_for`)
    for a mirror Datasette names `db_name`."""
    return {"databases": {db_name: database_config()}}
