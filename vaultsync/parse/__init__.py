"""Page text → records. Pure: no file system, no SQL.

The body's structure comes from a CommonMark parser (pulldown-cmark, through
pyromark): code, math, HTML, quotes and callouts, lists, tables and headings are read
as CommonMark reads them. Obsidian's own syntax is read by the rules of this package
where it departs from CommonMark: `%%comments%%`, `[[wikilinks]]` and `![[embeds]]`
(with `\\|` inside tables), `#tags`, tasks with any status character, `^block-ids`
and Dataview's inline fields. Every step is linear in the page's size and has a budget
(MAX_* in markdown, tokens, fields and frontmatter) that keeps a page to a few tens of
milliseconds; past it the page is read on as its budget says, and a problem says where.

Modules: records (the types), frontmatter, markdown (the CommonMark structure and the
masked body), tokens (links, URLs, tags), fields (Dataview), anchors (heading and block
anchors as Obsidian compares them), page (parse_page: titles, kinds, Excalidraw
drawings), canvas (JSON Canvas files: nodes, edges and their references to files).
"""

from .anchors import PageAnchors, anchor_exists, anchor_parts, heading_key
from .frontmatter import split_frontmatter
from .markdown import Structure, read_structure
from .page import (
    DRAWING_KIND,
    TITLE_RULES,
    decode_page,
    file_title,
    is_drawing,
    is_source_page,
    page_kind,
    page_title,
    parse_page,
    same_words,
)
from .records import (
    DEFAULT_OPTIONS,
    Block,
    ExternalLink,
    Field,
    Heading,
    Link,
    ParsedPage,
    ParseOptions,
    Problem,
    Task,
)
from .tokens import split_wikilink


def mask_body(body: str) -> str:
    """`body` with code, comments and math blanked; offsets and newlines kept."""
    return read_structure(body).masked


__all__ = [
    "DEFAULT_OPTIONS",
    "DRAWING_KIND",
    "TITLE_RULES",
    "file_title",
    "is_drawing",
    "page_title",
    "same_words",
    "Block",
    "ExternalLink",
    "Field",
    "Heading",
    "Link",
    "ParseOptions",
    "ParsedPage",
    "Problem",
    "Structure",
    "Task",
    "PageAnchors",
    "anchor_exists",
    "anchor_parts",
    "decode_page",
    "heading_key",
    "is_source_page",
    "mask_body",
    "page_kind",
    "parse_page",
    "read_structure",
    "split_frontmatter",
    "split_wikilink",
]
