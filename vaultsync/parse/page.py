"""One page: frontmatter, then the body's structure, then its tokens, fields and records."""

from __future__ import annotations

import operator
import posixpath
import re
from typing import Any

from .fields import MAX_FIELD_CHARS, MAX_FIELD_LINES, read_fields
from .frontmatter import (
    WIKILINK,
    frontmatter_strings,
    link_lines,
    read_frontmatter,
    split_frontmatter,
)
from .markdown import BLOCK_ID, MAX_COMMENT_MARKS, MAX_EVENTS, MAX_MARKUP, read_structure
from .records import (
    DEFAULT_OPTIONS,
    Block,
    Heading,
    Link,
    ParsedPage,
    ParseOptions,
    Problem,
    Task,
)
from .tokens import MAX_TOKENS, is_relative, line_index, scan_tokens, split_wikilink

_TAG_CHARS = re.compile(r"^[\w/-]+$")
_first = operator.itemgetter(0)
_WORDS = re.compile(r"[^\W_]+")
# Where an Excalidraw drawing's data starts: its `## Drawing` section (`# Drawing` in
# older files), with the `%%` line that opens the comment around it.
_DRAWING_DATA = re.compile(r"^(?:%%[ \t]*\r?\n)?#{1,2} Drawing[ \t]*$", re.MULTILINE)
_COMMENT_LINE = re.compile(r"^%%[ \t]*$", re.MULTILINE)

# How a page without a frontmatter `title` is titled (the `title` setting):
# "name-or-heading": its file name, or its first level-1 heading when that heading is the
# file name better written (the same words, ignoring case and punctuation);
# "name": its file name, as Obsidian shows it; "heading": its first level-1 heading, else
# its file name (vaultsync 0.1's rule).
TITLE_RULES = ("name-or-heading", "name", "heading")
DRAWING_KIND = "drawing"


def is_drawing(path: str, fm: dict[str, Any]) -> bool:
    """An Excalidraw drawing: `*.excalidraw.md`, or frontmatter `excalidraw-plugin`."""
    return path.lower().endswith(".excalidraw.md") or "excalidraw-plugin" in fm


def file_title(path: str) -> str:
    """A page's file name without `.md` (and a drawing's without `.excalidraw`)."""
    name = posixpath.splitext(posixpath.basename(path))[0]
    if name.lower().endswith(".excalidraw") and len(name) > len(".excalidraw"):
        name = name[:-len(".excalidraw")]
    return name


def same_words(a: str, b: str) -> bool:
    """Whether `a` and `b` are the same words, ignoring case and punctuation."""
    return _WORDS.findall(a.casefold()) == _WORDS.findall(b.casefold())


def page_title(path: str, fm: dict[str, Any], h1: str | None, rule: str,
               drawing: bool = False) -> str:
    """The title: frontmatter `title`, else by `rule` (TITLE_RULES) from the file name and
    the first level-1 heading `h1`. A drawing's headings are its format's, never a title."""
    title = fm.get("title")
    if isinstance(title, str | int | float) and not isinstance(title, bool) \
            and str(title).strip():
        return str(title).strip()
    name = file_title(path)
    if h1 and not drawing:
        if rule == "heading" or (rule == "name-or-heading" and same_words(h1, name)):
            return h1
    return name


def page_kind(path: str, fm_type: Any, options: ParseOptions) -> str | None:
    if isinstance(fm_type, str) and fm_type.strip():
        return fm_type.strip()
    top, sep, _ = path.partition("/")
    if not sep:
        return None
    for folder, kind in options.folder_kinds:
        if folder == top:
            return kind
    return top[:-1] if top.endswith("s") and len(top) > 1 else top


def is_source_page(path: str, fm_type: Any, options: ParseOptions) -> bool:
    if isinstance(fm_type, str) and fm_type.strip().lower() in options.source_types:
        return True
    return any(path == f or path.startswith(f + "/") for f in options.source_folders)


def _string_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _frontmatter_links(fm: dict[str, Any], fm_text: str) -> list[Link]:
    lines = link_lines(fm_text)
    links: list[Link] = []
    for value in frontmatter_strings(fm):
        if "[[" not in value:
            continue
        for m in WIKILINK.finditer(value):
            embed = m.group(1) == "!"
            target, anchor, display = split_wikilink(m.group(2), embed)
            where = lines.get(m.group(0))
            line = (where.popleft() if len(where) > 1 else where[0]) if where else 2
            links.append(Link(target, anchor, display, embed, line, "frontmatter",
                              is_relative(target)))
    return links


def parse_page(path: str, text: str, options: ParseOptions = DEFAULT_OPTIONS) -> ParsedPage:
    """Parse one page. `path` is its vault-relative POSIX path; never raises on bad input."""
    problems: list[Problem] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    fm_text, body_offset, body_line = split_frontmatter(text)
    fm: dict[str, Any] = {}
    if fm_text is not None:
        read = read_frontmatter(fm_text)
        problems.extend(read.problems)
        if read.is_frontmatter:
            fm, fm_text = read.data, read.text
        else:
            fm_text, body_offset, body_line = None, 0, 1
    body = text[body_offset:]
    fm_type = fm.get("type")
    drawing = is_drawing(path, fm)
    page = ParsedPage(
        title="",
        kind=DRAWING_KIND if drawing else page_kind(path, fm_type, options),
        is_source=is_source_page(path, fm_type, options),
        frontmatter=fm,
        body=body,
        problems=problems,
    )
    if drawing:
        # The drawing's data (its JSON) is no text of the page; its text elements are,
        # with their links, even where the plugin wraps them in a `%%` comment.
        data = _DRAWING_DATA.search(body)
        if data is not None:
            body = page.body = body[:data.start()]
        if "%%" in body:
            body = _COMMENT_LINE.sub(lambda m: " " * len(m.group()), body)
    line_of = line_index(body, body_line)
    structure = read_structure(body)
    masked = structure.masked
    if structure.read_up_to is not None:
        line = line_of(structure.read_up_to)
        page.problems.append(Problem(line, (
            f"the page's Markdown is too dense to read in full (over {MAX_EVENTS:,} elements "
            f"or {MAX_MARKUP:,} markup characters): its structure is read up to line {line}, "
            "the rest as plain text")))
    if structure.comments_read_up_to is not None:
        line = line_of(structure.comments_read_up_to)
        page.problems.append(Problem(line, (
            f"the page holds over {MAX_COMMENT_MARKS:,} %% comment marks: comments are read "
            f"up to line {line}, the rest as text")))
    page.headings = [Heading(h.level, h.text, line_of(h.offset)) for h in structure.headings]

    h1 = next((h.text for h in page.headings if h.level == 1 and h.text), None)
    page.title = page_title(path, fm, h1, options.title, drawing)
    page.aliases = list(dict.fromkeys(_string_list(fm.get("aliases", fm.get("alias")))))

    seen_tags: dict[str, str] = {}
    raw_tags = fm.get("tags", fm.get("tag"))
    if isinstance(raw_tags, str):
        raw_tags = re.split(r"[,\s]+", raw_tags)
    for tag in _string_list(raw_tags):
        tag = tag.strip().lstrip("#")
        if tag and _TAG_CHARS.match(tag) and not tag.replace("/", "").isdigit():
            seen_tags.setdefault(tag.lower(), tag)

    # A value holds "[[" only where the text does, or through an escape or a tag (!!binary).
    if fm_text is not None and fm and ("[[" in fm_text or "\\" in fm_text or "!" in fm_text):
        page.links = _frontmatter_links(fm, fm_text)
    tokens = scan_tokens(body, masked, line_of)
    if tokens.read_up_to is not None:
        line = line_of(tokens.read_up_to)
        page.problems.append(Problem(line, (
            f"the page holds over {MAX_TOKENS:,} links, URLs and tags: they are read up to "
            f"line {line}, the rest is not")))
    for tag in tokens.tags:
        seen_tags.setdefault(tag.lower(), tag)
    page.tags = list(seen_tags.values())
    # Document order: frontmatter first, then by position in the body.
    page.links += [link for _, link in sorted(tokens.links, key=_first)]
    page.external_links = [e for _, e in sorted(tokens.external, key=_first)]

    item_ids = {b.item_offset: b.block_id for b in structure.blocks if b.item_offset is not None}
    page.blocks = [Block(b.block_id, line_of(b.offset)) for b in structure.blocks]
    for t in structure.tasks:
        raw = body[t.text_start:t.text_end].rstrip()
        block_id = item_ids.get(t.offset)
        if block_id is not None:
            m = BLOCK_ID.search(raw)
            if m:
                raw = raw[:m.start()].rstrip()
        page.tasks.append(Task(line_of(t.offset), t.status, t.status in "xX", raw.strip(),
                               block_id))
    fields = read_fields(body, masked, line_of)
    page.fields = fields.fields
    if fields.read_up_to is not None:
        line = line_of(fields.read_up_to)
        page.problems.append(Problem(line, (
            f"the page holds over {MAX_FIELD_LINES:,} lines with '::' (or "
            f"{MAX_FIELD_CHARS // 1000:,} KB of them): inline fields are read up to line "
            f"{line}, the rest are not")))
    return page


def decode_page(data: bytes) -> tuple[str, Problem | None]:
    """Bytes → text; invalid UTF-8 is replaced, and the first bad byte's line reported."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return data.decode("utf-8", "replace"), Problem(
            line, "not valid UTF-8; decoded with replacement characters"
        )
