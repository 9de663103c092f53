"""JSON Canvas 1.0 files (`.canvas`, https://jsoncanvas.org/spec/1.0/) → records. Pure.

A canvas is an object with `nodes` (each with `id`, `type` — text, file, link or group —
`x`, `y`, `width`, `height`, and optional `color`; a text node's Markdown `text`, a file
node's `file` and `subpath`, a link node's `url`, a group's `label`) and `edges` (`id`,
`fromNode`, `toNode`, and optional `fromSide`, `toSide`, `fromEnd`, `toEnd`, `color`,
`label`). Whatever departs from that is read as far as it can be: a node or edge that
is not an object, or has no id, is left out; a field of the wrong type is read as
missing; each departure is a problem. A file that is not JSON, or not a JSON object,
gives no rows and one problem.

A file node and the `[[links]]` and Markdown links of a text node are references from
the canvas to files of the vault (CanvasRef), resolved by the same rules as links.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .page import parse_page
from .records import Problem

CANVAS_SUFFIX = ".canvas"
NODE_TYPES = ("text", "file", "link", "group")
MAX_PROBLEMS = 20  # per canvas: past these, one line says how many more


class CanvasNode(NamedTuple):
    node_id: str
    type: str
    x: float | None
    y: float | None
    width: float | None
    height: float | None
    color: str | None
    label: str | None  # a group's label
    text: str | None  # a text node's Markdown
    file: str | None  # a file node's vault path
    subpath: str | None  # a file node's `#Heading` or `#^block`, as written
    url: str | None  # a link node's URL


class CanvasEdge(NamedTuple):
    edge_id: str
    from_node: str
    from_side: str | None
    from_end: str | None
    to_node: str
    to_side: str | None
    to_end: str | None
    color: str | None
    label: str | None


class CanvasRef(NamedTuple):
    """A file node, or a link in a text node: the canvas refers to a file of the vault."""

    node_id: str
    target: str  # a file node's path; a link's target as written
    anchor: str | None  # without the leading '#'
    display: str | None
    embed: bool
    form: str  # "file", "wikilink" or "markdown"
    relative: bool = False


@dataclass
class ParsedCanvas:
    nodes: list[CanvasNode] = field(default_factory=list)
    edges: list[CanvasEdge] = field(default_factory=list)
    refs: list[CanvasRef] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def is_canvas_path(path: str) -> bool:
    return path.lower().endswith(CANVAS_SUFFIX)


def canvas_title(path: str) -> str:
    """A canvas's file name without `.canvas`, as Obsidian shows it."""
    name = path.rsplit("/", 1)[-1]
    return name[:-len(CANVAS_SUFFIX)] if is_canvas_path(name) else name


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _id(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.more = 0

    def add(self, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(None, message))
        else:
            self.more += 1

    def done(self) -> list[Problem]:
        if self.more:
            self.items.append(Problem(None, f"and {self.more:,} more problems of this canvas"))
        return self.items


def parse_canvas(path: str, data: bytes) -> ParsedCanvas:
    """Read one canvas file's bytes; never raises on bad input."""
    out = ParsedCanvas()
    problems = _Problems()
    try:
        doc = json.loads(data) if data.strip() else {}
    except UnicodeDecodeError as exc:
        out.problems.append(Problem(None, f"not a canvas: not valid UTF-8 ({exc.reason})"))
        return out
    except json.JSONDecodeError as exc:
        out.problems.append(Problem(exc.lineno, f"not a canvas: not valid JSON ({exc.msg}, "
                                    f"line {exc.lineno} column {exc.colno})"))
        return out
    except (RecursionError, ValueError) as exc:
        out.problems.append(Problem(None, f"not a canvas: unreadable JSON ({exc})"))
        return out
    if not isinstance(doc, dict):
        out.problems.append(Problem(None, "not a canvas: the file holds JSON that is not an "
                                    "object with nodes and edges"))
        return out
    raw_nodes, raw_edges = doc.get("nodes", []), doc.get("edges", [])
    if not isinstance(raw_nodes, list):
        problems.add("`nodes` is not a list: no node read")
        raw_nodes = []
    if not isinstance(raw_edges, list):
        problems.add("`edges` is not a list: no edge read")
        raw_edges = []

    seen: set[str] = set()
    for i, raw in enumerate(raw_nodes):
        node_id = _id(raw.get("id")) if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or node_id is None:
            problems.add(f"node {i + 1} is not an object with an id: left out")
            continue
        if node_id in seen:
            problems.add(f"node id {node_id!r} is used twice: the second is left out")
            continue
        seen.add(node_id)
        kind = _string(raw.get("type")) or ""
        if kind not in NODE_TYPES:
            problems.add(f"node {node_id!r} has type {raw.get('type')!r}, not one of "
                         f"{', '.join(NODE_TYPES)}")
        x, y, width, height = (_number(raw.get(k)) for k in ("x", "y", "width", "height"))
        if None in (x, y, width, height):
            problems.add(f"node {node_id!r} lacks a numeric x, y, width or height")
        text = _string(raw.get("text")) if kind == "text" else None
        file = _string(raw.get("file")) if kind == "file" else None
        subpath = _string(raw.get("subpath")) if kind == "file" else None
        if kind == "file" and not file:
            problems.add(f"file node {node_id!r} names no file")
        color = raw.get("color")
        out.nodes.append(CanvasNode(
            node_id, kind, x, y, width, height,
            str(color) if isinstance(color, str | int) and not isinstance(color, bool)
            else None,
            _string(raw.get("label")) if kind == "group" else None,
            text, file, subpath, _string(raw.get("url")) if kind == "link" else None))
        if file:
            anchor = subpath[1:] if subpath and subpath.startswith("#") else subpath
            out.refs.append(CanvasRef(node_id, file, anchor or None, None, False, "file"))
        if text and ("[" in text):
            for link in parse_page(path, text).links:
                out.refs.append(CanvasRef(node_id, link.target, link.anchor, link.display,
                                          link.embed, link.form if link.form != "frontmatter"
                                          else "wikilink", link.relative))

    edge_ids: set[str] = set()
    for i, raw in enumerate(raw_edges):
        if not isinstance(raw, dict):
            problems.add(f"edge {i + 1} is not an object: left out")
            continue
        edge_id, ends = _id(raw.get("id")), (_id(raw.get("fromNode")), _id(raw.get("toNode")))
        if edge_id is None or ends[0] is None or ends[1] is None:
            problems.add(f"edge {i + 1} lacks an id, fromNode or toNode: left out")
            continue
        if edge_id in edge_ids:
            problems.add(f"edge id {edge_id!r} is used twice: the second is left out")
            continue
        edge_ids.add(edge_id)
        missing = [n for n in ends if n not in seen]
        if missing:
            problems.add(f"edge {edge_id!r} joins no node {missing[0]!r}")
        color = raw.get("color")
        out.edges.append(CanvasEdge(
            edge_id, ends[0], _string(raw.get("fromSide")), _string(raw.get("fromEnd")),
            ends[1], _string(raw.get("toSide")), _string(raw.get("toEnd")),
            str(color) if isinstance(color, str | int) and not isinstance(color, bool)
            else None,
            _string(raw.get("label"))))
    out.problems = problems.done()
    return out
