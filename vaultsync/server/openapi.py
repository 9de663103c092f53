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
                "responses": {"200": _ok({"type": "object"}), "404": _ERROR, **_COMMON},
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
                "responses": {"200": _ok({"type": "object"}), **_COMMON},
            }},
            "/api/reports/{name}": {"get": {
                "summary": "A report, as `vaultsync report NAME --format json`",
                "parameters": [
                    _param("name", "path", {"type": "string"}, "Report name", required=True),
                    _param("limit", "query", {"type": "integer", "minimum": 1}, "Most rows"),
                    _param("kind", "query", {"type": "string"}, "Only pages of this kind"),
                ],
                "responses": {"200": _ok({}), "404": _ERROR, **_COMMON},
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
