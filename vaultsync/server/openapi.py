"""The OpenAPI 3.1 description of the API, served at /api/openapi.json and committed as
docs/openapi.json (scripts/dump_openapi.py; the view's and the Obsidian plugin's
TypeScript types are generated from it). The paths and their parameters are written
here (tests check they match the routes); the answers' schemas are generated from the
read layer's typed records (read.answers, pydantic's TypeAdapter) and the reports'
declarations (read.REPORTS), so a change of shape changes this document."""

from __future__ import annotations

from typing import Any

from ..read import answers
from ..read.answers import Changes, RelatedPages, UnlinkedMentions
from ..read.network import (
    COMPACT_COLUMNS,
    DIRECTIONS,
    FLAGS,
    INCLUDE_OPTIONS,
    LOCAL_COLUMNS,
    MAX_DEPTH,
)
from ..read.reports import REPORTS, ReportSpec, Summary
from ..read.status import Counts

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


REF = "#/components/schemas/{model}"


def record_schemas(*records: Any) -> dict[str, Any]:
    """JSON Schemas of typed records (TypedDicts), by name, with the records they hold;
    references point into the OpenAPI document's components."""
    from pydantic import TypeAdapter

    out: dict[str, Any] = {}
    for record in records:
        schema = TypeAdapter(record).json_schema(ref_template=REF, mode="serialization")
        out.update(schema.pop("$defs", {}))
        out[record.__name__] = schema
    return out


_JSON_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"}, "integer": {"type": "integer"},
    "number": {"type": "number"}, "boolean": {"type": "boolean"},
    "string[]": {"type": "array", "items": {"type": "string"}}}


def report_schema(spec: ReportSpec) -> dict[str, Any]:
    """The JSON Schema of one report's answer, from its declaration."""
    if not spec.columns:  # summary
        return {"$ref": REF.format(model="Summary")}
    properties = {}
    for column in spec.columns:
        schema: dict[str, Any] = dict(_JSON_TYPES[column.type])
        if column.nullable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        properties[column.name] = {**schema, "description": column.meaning}
    return {"type": "array", "title": spec.title, "description": spec.description,
            "items": {"type": "object", "required": list(spec.column_names),
                      "properties": properties}}


_DECLARATION = {"type": "object", "description": "read.ReportSpec: what a report lists "
                "and what it accepts", "required": ["name", "title", "description",
                                                    "columns", "kind", "limit"],
                "properties": {
                    "name": {"type": "string"}, "title": {"type": "string"},
                    "description": {"type": "string"},
                    "columns": {"type": "array", "items": {
                        "type": "object", "required": ["name", "type", "meaning", "nullable"],
                        "properties": {"name": {"type": "string"},
                                       "type": {"enum": list(_JSON_TYPES)},
                                       "meaning": {"type": "string"},
                                       "nullable": {"type": "boolean"}}}},
                    "kind": {"type": "boolean", "description": "accepts ?kind="},
                    "limit": {"enum": ["rows", "top"],
                              "description": "what ?limit= cuts"}}}


def report_schema_name(name: str) -> str:
    return "Report" + "".join(part.title() for part in name.split("-"))


def openapi_document(version: str) -> dict[str, Any]:
    records = record_schemas(answers.Page, answers.Graph, answers.LocalGraph,
                             answers.SearchResult, answers.Status, Summary, Counts,
                             Changes, UnlinkedMentions, RelatedPages)
    reports = {report_schema_name(name): report_schema(spec)
               for name, spec in REPORTS.items() if spec.columns}
    node_fields = records["Node"]["properties"]
    compact_nodes = {
        "type": "object",
        "description": "One array per field, a value per node, in node order. The flags "
                       "bits: " + ", ".join(f"{bit} {name}" for name, bit in FLAGS.items())
                       + ". PageRank has 3 significant digits, x and y one decimal. "
                       + " and ".join(LOCAL_COLUMNS) + ": local graph only.",
        # Each column holds the values of the Node field of its name (flags: the bits).
        "properties": {
            name: {"type": "array", "items": {"type": "integer"} if name == "flags" else {
                k: v for k, v in node_fields[name].items() if k != "title"}}
            for name in (*COMPACT_COLUMNS, *LOCAL_COLUMNS)
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
                   "meta": {"$ref": REF.format(model="GraphMeta")},
                   # a local graph's, as in LocalGraph
                   "center": {"type": "string"}, "depth": {"type": "integer"},
                   "direction": {"enum": ["in", "out", "both"]},
               }}
    graph_or_compact = {"oneOf": [{"$ref": "#/components/schemas/Graph"},
                                  {"$ref": "#/components/schemas/CompactGraph"}]}
    local_or_compact = {"oneOf": [{"$ref": "#/components/schemas/LocalGraph"},
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
                "CompactGraph": compact,
                "ApiStatus": {"allOf": [{"$ref": REF.format(model="Status")}, {
                    "type": "object", "properties": {
                        "server": {"type": "object", "description": "this server: version, "
                                   "watch, allow_remote, view_built, daemon_error"},
                        "layout": {"$ref": REF.format(model="LayoutFreshness")}}}],
                    "description": "Status, and the server's own facts. Before the first "
                                   "sync, mirror, daemon, counts and metrics are null."},
                **records,
                **reports,
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
                "responses": {"200": _ok(local_or_compact), "404": _ERROR, **_COMMON},
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
                "responses": {"200": _ok({"$ref": "#/components/schemas/SearchResult"}),
                              **_COMMON},
            }},
            "/api/reports": {"get": {
                "summary": "The report names, and each report's declaration",
                "responses": {"200": _ok({"type": "object", "required": ["reports"],
                                          "properties": {"reports": {
                                              "type": "array",
                                              "items": {"enum": list(REPORTS)}},
                                              "declarations": {
                                                  "type": "array",
                                                  "items": _DECLARATION}}}),
                              **_COMMON},
            }},
            "/api/reports/{name}": {"get": {
                "summary": "A report, as `vaultsync report NAME --format json`",
                "parameters": [
                    _param("name", "path", {"enum": list(REPORTS)}, "Report name",
                           required=True),
                    _param("limit", "query", {"type": "integer", "minimum": 0},
                           "Most rows (summary: top entries per section); 0: all"),
                    _param("kind", "query", {"type": "string"}, "Only pages of this kind "
                           "(not for " + ", ".join(n for n, r in REPORTS.items()
                                                   if not r.kind) + ")"),
                ],
                "responses": {"200": _ok({"oneOf": [
                    {"$ref": REF.format(model=report_schema_name(name))
                     if spec.columns else REF.format(model="Summary")}
                    for name, spec in REPORTS.items()]}), "404": _ERROR, **_COMMON},
            }},
            "/api/changes": {"get": {
                "summary": "What changed since a cursor or a time: pages added, edited, "
                           "renamed and removed, and the cursor to pass next time (from "
                           "sync_log, which keeps the last 1,000 batches: complete is false "
                           "when the cursor or time is older)",
                "parameters": [
                    _param("cursor", "query", {"type": "integer", "minimum": 0},
                           "The cursor of an earlier answer (a sync_log id)"),
                    _param("since", "query", {"type": "string"},
                           "A UTC time, e.g. 2026-12-07T10:00:00Z (not with cursor)"),
                ],
                "responses": {"200": _ok({"$ref": "#/components/schemas/Changes"}),
                              **_COMMON},
            }},
            "/api/unlinked-mentions": {"get": {
                "summary": "Pages that name a page (its title or an alias, whole words, any "
                           "case, outside code, math, comments and links) without linking "
                           "to it, with lines and snippets (the mention between ⟦ and ⟧)",
                "parameters": [
                    _param("page", "query", {"type": "string"}, "The page: a path, title, "
                           "alias or [[link]]", required=True),
                    _param("limit", "query", {"type": "integer", "minimum": 0,
                                              "default": 50}, "Most mentions; 0: all"),
                ],
                "responses": {"200": _ok({"$ref": "#/components/schemas/UnlinkedMentions"}),
                              "404": _ERROR, **_COMMON},
            }},
            "/api/related": {"get": {
                "summary": "Pages likely to deserve a link from or to a page: not linked "
                           "either way, but cited by the same sources or linked with the "
                           "same pages (Adamic-Adar), best first, each with the reason in "
                           "words",
                "parameters": [
                    _param("page", "query", {"type": "string"}, "The page: a path, title, "
                           "alias or [[link]]", required=True),
                    _param("limit", "query", {"type": "integer", "minimum": 1,
                                              "maximum": 200, "default": 10},
                           "Most suggestions"),
                ],
                "responses": {"200": _ok({"$ref": "#/components/schemas/RelatedPages"}),
                              "404": _ERROR, **_COMMON},
            }},
            "/api/status": {"get": {
                "summary": "Daemon alive, last batch, counts, metrics freshness",
                "responses": {"200": _ok({"$ref": "#/components/schemas/ApiStatus"}),
                              **_COMMON},
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


# Any report's row, for clients that show every report alike (the Obsidian plugin).
_REPORT_ROW: dict[str, Any] = {
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
