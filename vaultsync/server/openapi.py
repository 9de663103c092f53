"""The OpenAPI 3.1 description of the API, served at /api/openapi.json. Hand-written:
the paths and JSON fields here are a contract, and tests check the routes match."""

from __future__ import annotations

from typing import Any

from ..read.graph import (
    COMPACT_COLUMNS,
    DIRECTIONS,
    FLAGS,
    INCLUDE_OPTIONS,
    LOCAL_COLUMNS,
    MAX_DEPTH,
)

_ERROR = {"description": "error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, where: str, schema: dict[str, Any], description: str,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema,
            "description": description}


_INCLUDE = _param("include", "query", {"type": "string"},
                  "Comma-separated extra node types, as Obsidian's graph toggles: "
                  + ", ".join(INCLUDE_OPTIONS))
_FORMAT = _param("format", "query", {"enum": ["full", "compact"], "default": "full"},
                 "full: node-link JSON (Graph); compact: the same graph as columns and a flat "
                 "link array (CompactGraph), what the graph view fetches")
_COMMON = {"401": _ERROR, "400": _ERROR, "503": _ERROR}


def openapi_document(version: str) -> dict[str, Any]:
    node = {
        "type": "object",
        "required": ["id", "type", "title"],
        "properties": {
            "id": {"type": "string", "description": "vault path for pages; "
                   "'unresolved:NAME', 'tag:#TAG' or the attachment path otherwise"},
            "type": {"enum": ["page", "unresolved", "attachment", "tag"]},
            "title": {"type": "string"}, "kind": {"type": ["string", "null"]},
            "folder": {"type": "string"}, "is_source": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "pagerank": {"type": ["number", "null"]},
            "community": {"type": ["integer", "null"]},
            "betweenness": {"type": ["number", "null"]},
            "component": {"type": ["integer", "null"]},
            "citation_count": {"type": "integer"},
            "sources": {"type": "integer", "description": "source pages backing this page"},
            "cited_by": {"type": "integer", "description": "pages citing this source page"},
            "in_degree": {"type": "integer"}, "out_degree": {"type": "integer"},
            "orphan": {"type": "boolean"}, "dead_end": {"type": "boolean"},
            "isolated": {"type": "boolean"}, "single_source": {"type": "boolean"},
            "unsourced": {"type": "boolean"},
            "depth": {"type": "integer", "description": "local graph only"},
            "center": {"type": "boolean", "description": "local graph only"},
            "x": {"type": ["number", "null"], "description": "stored layout position (pages; "
                  "null until the layout is computed)"},
            "y": {"type": ["number", "null"], "description": "stored layout position"},
        },
    }
    community = {"type": "object", "required": ["id", "name", "size"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string",
                                            "description": "title of its top page by PageRank"},
        "path": {"type": "string"}, "size": {"type": "integer"}}}
    compact_nodes = {
        "type": "object",
        "description": "One array per field, a value per node, in node order. The flags "
                       "bits: " + ", ".join(f"{bit} {name}" for name, bit in FLAGS.items())
                       + ". PageRank has 3 significant digits, x and y one decimal. "
                       + " and ".join(LOCAL_COLUMNS) + ": local graph only.",
        "properties": {
            **{name: {"type": "array"} for name in (*COMPACT_COLUMNS, *LOCAL_COLUMNS)},
        },
        "required": ["id", "type", "title", "flags"],
    }
    compact = {"type": "object", "required": ["format", "count", "nodes", "links"],
               "description": "format=compact: the same graph as columns (a tenth of the "
                              "size); the other node fields are in /api/pages/{path}",
               "properties": {
                   "format": {"const": "compact"},
                   "count": {"type": "integer", "description": "number of nodes"},
                   "nodes": compact_nodes,
                   "links": {"type": "array", "items": {"type": "integer"},
                             "description": "flat [source, target, weight, ...]: node "
                                            "indexes into the node arrays, and links per edge"},
                   "meta": {"type": "object"},
               }}
    graph = {"type": "object", "required": ["nodes", "links"], "properties": {
        "nodes": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
        "meta": {"type": "object", "properties": {
            "communities": {"type": "array",
                            "items": {"$ref": "#/components/schemas/Community"},
                            "description": "every community of 2+ pages in the vault"},
            "layout": {"type": "object", "description": "whether the stored layout is "
                       "current (fresh), when and how it was computed"},
        }},
    }}
    page = _page_schema()
    report_rows = {"type": "array", "items": {"$ref": "#/components/schemas/ReportRow"}}
    graph_or_compact = {"oneOf": [{"$ref": "#/components/schemas/Graph"},
                                  {"$ref": "#/components/schemas/CompactGraph"}]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vaultsync local API",
            "version": version,
            "description": "Read-only API over the SQLite mirror of a Markdown vault. Every "
                           "request needs 'Authorization: Bearer <token>' (`vaultsync token`); "
                           "/api/events also takes ?token=.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"}}},
                "Node": node,
                "Link": {"type": "object", "required": ["source", "target", "weight"],
                         "properties": {"source": {"type": "string"},
                                        "target": {"type": "string"},
                                        "weight": {"type": "integer"},
                                        "type": {"type": "string"}}},
                "Graph": graph,
                "CompactGraph": compact,
                "Community": community,
                "Page": page,
                "PageRef": _PAGE_REF,
                "ReportRow": _REPORT_ROW,
            },
        },
        "paths": {
            "/api/graph": {"get": {
                "summary": "The whole graph as node-link JSON",
                "parameters": [
                    _param("kind", "query", {"type": "string"}, "Only pages of these kinds "
                           "(comma-separated)"),
                    _param("tag", "query", {"type": "string"}, "Only pages with one of these "
                           "tags (nested tags match: ml matches ml/serving)"),
                    _param("min_pagerank", "query", {"type": "number"}, "Only pages with at "
                           "least this PageRank"),
                    _INCLUDE,
                    _param("limit", "query", {"type": "integer", "minimum": 1},
                           "Only the top pages by PageRank"),
                    _FORMAT,
                ],
                "responses": {"200": _ok(graph_or_compact), **_COMMON},
            }},
            "/api/graph/local": {"get": {
                "summary": "The neighbourhood of one page (Obsidian's local graph)",
                "parameters": [
                    _param("path", "query", {"type": "string"}, "Vault path of the page",
                           required=True),
                    _param("depth", "query", {"type": "integer", "minimum": 1, "maximum": MAX_DEPTH,
                                              "default": 1}, "Links away from the page"),
                    _param("direction", "query", {"enum": list(DIRECTIONS),
                                                  "default": "both"}, "Follow links"),
                    _INCLUDE,
                    _FORMAT,
                ],
                "responses": {"200": _ok(graph_or_compact), "404": _ERROR, **_COMMON},
            }},
            "/api/pages/{path}": {"get": {
                "summary": "One page: frontmatter, tags, aliases, headings, links, "
                           "backlinks, citations, metrics",
                "parameters": [
                    _param("path", "path", {"type": "string"}, "Vault path ('.md' optional)",
                           required=True),
                    _param("body", "query", {"type": "boolean"}, "Include the Markdown body"),
                ],
                "responses": {"200": _ok({"$ref": "#/components/schemas/Page"}), "404": _ERROR,
                              **_COMMON},
            }},
            "/api/search": {"get": {
                "summary": "Pages by title, alias or path, then full text (FTS5)",
                "parameters": [
                    _param("q", "query", {"type": "string"}, "Words to find", required=True),
                    _param("limit", "query", {"type": "integer", "minimum": 1,
                                              "maximum": 200, "default": 20}, "Most results"),
                ],
                "responses": {"200": _ok({"type": "object", "properties": {
                    "query": {"type": "string"},
                    "results": {"type": "array", "items": {"type": "object", "properties": {
                        "path": {"type": "string"}, "title": {"type": "string"},
                        "kind": {"type": ["string", "null"]},
                        "snippet": {"type": "string",
                                    "description": "HTML: escaped text, hits in <mark>"},
                    }}}}}), **_COMMON},
            }},
            "/api/reports": {"get": {
                "summary": "The report names",
                "responses": {"200": _ok({"type": "object", "required": ["reports"],
                                          "properties": {"reports": {
                                              "type": "array", "items": {"type": "string"}}}}),
                              **_COMMON},
            }},
            "/api/reports/{name}": {"get": {
                "summary": "A report, as `vaultsync report NAME --format json`",
                "parameters": [
                    _param("name", "path", {"type": "string"}, "Report name", required=True),
                    _param("limit", "query", {"type": "integer", "minimum": 1}, "Most rows"),
                    _param("kind", "query", {"type": "string"}, "Only pages of this kind"),
                ],
                "responses": {"200": _ok({"oneOf": [report_rows, {
                    "type": "object", "description": "summary: the counts and top rows"}]}),
                    "404": _ERROR, **_COMMON},
            }},
            "/api/status": {"get": {
                "summary": "Daemon alive, last batch, counts, metrics freshness",
                "responses": {"200": _ok({"type": "object"}), **_COMMON},
            }},
            "/api/events": {"get": {
                "summary": "Server-sent events: `batch` per committed sync batch "
                           "{id, at, changed, removed}, `metrics` {computed_at}",
                "parameters": [
                    _param("token", "query", {"type": "string"},
                           "The token, for EventSource (which cannot set headers)"),
                    _param("last_id", "query", {"type": "integer"},
                           "Resume after this batch id (or the Last-Event-ID header)"),
                ],
                "responses": {"200": {"description": "text/event-stream",
                                      "content": {"text/event-stream": {}}}, **_COMMON},
            }},
            "/api/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": _ok({"type": "object"})},
            }},
        },
    }


_PAGE_REF = {"type": "object", "required": ["path", "title"], "properties": {
    "path": {"type": "string"}, "title": {"type": "string"},
    "kind": {"type": ["string", "null"]}}}

_REPORT_ROW = {
    "type": "object",
    "description": "One row of a report: `path` and `title` (wanted: `target` and `title`, "
                   "no path), plus the report's own figures",
    "required": ["title"],
    "properties": {
        "path": {"type": "string"}, "title": {"type": "string"},
        "target": {"type": "string"}, "kind": {"type": ["string", "null"]},
        "line": {"type": "integer"}, "anchor": {"type": "string"},
        "rank": {"type": "integer"}, "pagerank": {"type": ["number", "null"]},
        "citation_count": {"type": ["integer", "null"]},
        "source": {"type": "string"}, "source_title": {"type": "string"},
    },
    "additionalProperties": True,
}


def _page_schema() -> dict[str, Any]:
    """What `GET /api/pages/{path}` answers (read.page)."""
    nullable_int = {"type": ["integer", "null"]}
    nullable_num = {"type": ["number", "null"]}
    link = {"type": "object", "required": ["target", "line", "resolved"], "properties": {
        "target": {"type": "string"}, "anchor": {"type": ["string", "null"]},
        "display": {"type": ["string", "null"]}, "embed": {"type": "boolean"},
        "line": {"type": "integer"}, "form": {"type": "string"},
        "target_path": {"type": ["string", "null"]},
        "target_title": {"type": ["string", "null"]},
        "target_type": {"enum": ["page", "attachment", None]},
        "resolved": {"type": "boolean"}}}
    backlink = {"type": "object", "required": ["path", "title", "line"], "properties": {
        "path": {"type": "string"}, "title": {"type": "string"}, "line": {"type": "integer"},
        "display": {"type": ["string", "null"]}, "anchor": {"type": ["string", "null"]},
        "embed": {"type": "boolean"}, "form": {"type": "string"}}}
    refs = {"type": "array", "items": {"$ref": "#/components/schemas/PageRef"}}
    metrics = {"type": "object", "required": [
        "pagerank", "community", "citation_count", "in_degree", "out_degree", "orphan",
        "single_source", "unsourced", "pagerank_rank", "pages_ranked", "community_name"],
        "properties": {
            "pagerank": nullable_num, "community": nullable_int, "betweenness": nullable_num,
            "component": nullable_int, "citation_count": {"type": "integer"},
            "in_degree": {"type": "integer"}, "out_degree": {"type": "integer"},
            "orphan": {"type": "boolean"}, "dead_end": {"type": "boolean"},
            "isolated": {"type": "boolean"}, "single_source": {"type": "boolean"},
            "unsourced": {"type": "boolean"}, "computed_at": {"type": ["string", "null"]},
            "pagerank_rank": {**nullable_int, "description": "1 for the page with the "
                              "highest PageRank"},
            "pages_ranked": {"type": "integer", "description": "pages with a PageRank"},
            "community_name": {"type": ["string", "null"],
                               "description": "title of its community's top page"}}}
    return {"type": "object", "required": [
        "path", "title", "kind", "is_source", "tags", "links", "backlinks", "citations",
        "metrics", "problems", "tasks", "broken_anchors"], "properties": {
        "path": {"type": "string"}, "title": {"type": "string"},
        "kind": {"type": ["string", "null"]}, "is_source": {"type": "boolean"},
        "folder": {"type": "string"}, "frontmatter": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "aliases": {"type": "array", "items": {"type": "string"}},
        "headings": {"type": "array", "items": {"type": "object", "properties": {
            "level": {"type": "integer"}, "text": {"type": "string"},
            "line": {"type": "integer"}}}},
        "links": {"type": "array", "items": link},
        "external_links": {"type": "array", "items": {"type": "object"}},
        "backlinks": {"type": "array", "items": backlink},
        "citations": {"type": "object", "required": ["sources", "cited_by"], "properties": {
            "sources": {**refs, "description": "the source pages this page cites or is "
                        "cited by"},
            "cited_by": {**refs, "description": "for a source page: the pages it supports"}}},
        "metrics": metrics,
        "problems": {"type": "array", "items": {"type": "object", "properties": {
            "line": nullable_int, "message": {"type": "string"},
            "severity": {"type": "string"}}}},
        "tasks": {"type": "array", "description": "open tasks (not checked off)",
                  "items": {"type": "object", "required": ["line", "status", "text"],
                            "properties": {"line": {"type": "integer"},
                                           "status": {"type": "string"},
                                           "text": {"type": "string"}}}},
        "broken_anchors": {"type": "array", "description": "links in this page whose "
                           "#heading or #^block names nothing in their target",
                           "items": {"type": "object",
                                     "required": ["line", "target", "anchor"],
                                     "properties": {
                                         "line": {"type": "integer"},
                                         "target": {"type": "string"},
                                         "anchor": {"type": "string"},
                                         "target_path": {"type": ["string", "null"]}}}},
        "size": {"type": "integer"}, "mtime": {"type": "number"},
        "synced_at": {"type": ["string", "null"]}, "excerpt": {"type": "string"},
        "body": {"type": "string", "description": "with ?body=1"},
    }}
