"""A page body's structure, read by pulldown-cmark (through pyromark).

One pass over the CommonMark event stream (GFM tables, footnotes, `$`/`$$` math)
finds what can never hold a link (code blocks and spans, math, HTML comments), the
page's headings, its list items and the text blocks a `^block-id` may close. The
result is the body "masked": the same text with those regions blanked by spaces,
every offset and newline kept, so that the token scan (tokens.py) and the line-based
rules (fields.py) run over it and report true positions.

Obsidian's own rules are added here: `%%comments%%` (which may span blocks, and run to
the end of the page when unclosed), task items with any status character, block ids.

pyromark's ranges are UTF-8 byte offsets (checked in tests/test_markdown_structure.py):
they are turned into str indices in one pass over the bytes.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pyromark

_MD = pyromark.Markdown(
    options=pyromark.Options.ENABLE_TABLES
    | pyromark.Options.ENABLE_MATH
    | pyromark.Options.ENABLE_FOOTNOTES
)

_NOT_NEWLINE = re.compile(r"[^\n]")
_HTML_COMMENT = re.compile(r"<!--(?:-?>|.*?(?:-->|\Z))", re.DOTALL)
_PERCENTS = re.compile(r"\\*%%")
# A block id closes a paragraph or list item: ` ^id` (letters, digits, dashes: Obsidian's
# help, "Link to a block in a note"), or stands alone on the line after a block.
BLOCK_ID = re.compile(r"(?:^|(?<=\s))\^([A-Za-z0-9-]+)$")
_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
_TASK = re.compile(r"(?:[-+*]|\d{1,9}[.)])[ \t]+\[([^\n\r])\](?:[ \t]+|(?=[\r\n])|\Z)")
_HEADING_LEVEL = {"H1": 1, "H2": 2, "H3": 3, "H4": 4, "H5": 5, "H6": 6}
# Blocks that hold other blocks: a heading inside one of them is not the page's.
_CONTAINERS = frozenset({"Item", "BlockQuote", "FootnoteDefinition"})
# Each CommonMark element costs a Python object: ~0.3 µs. Prose makes one per 40 bytes or
# so; a page denser than this (a megabyte of `>` or `*a`) is read this far, the rest as
# plain text, and said so in `problems`, so that no page holds a parser for seconds.
MAX_EVENTS = 500_000


class RawHeading(NamedTuple):
    level: int
    text: str
    offset: int


class RawTask(NamedTuple):
    offset: int  # of the list marker
    status: str
    text_start: int
    text_end: int  # end of the item's first line


class RawBlock(NamedTuple):
    block_id: str
    offset: int  # of the caret
    item_offset: int | None  # the list item it closes, if any


class Structure(NamedTuple):
    masked: str
    headings: list[RawHeading]
    tasks: list[RawTask]
    blocks: list[RawBlock]
    read_up_to: int | None = None  # set when the event budget ran out: offset read so far


def blank(text: str) -> str:
    return _NOT_NEWLINE.sub(" ", text)


_LEAD = re.compile(rb"[\xc2-\xf4]")


def byte_to_str(data: bytes) -> Callable[[int], int]:
    """UTF-8 byte offset (at a character boundary) → str index: minus the extra bytes of
    every multi-byte character before it."""
    leads: list[int] = []
    cumulative = [0]
    total = 0
    for m in _LEAD.finditer(data):
        lead = data[m.start()]
        total += 1 if lead < 0xE0 else 2 if lead < 0xF0 else 3
        leads.append(m.start())
        cumulative.append(total)

    def at(b: int) -> int:
        return b - cumulative[bisect.bisect_left(leads, b)]

    return at


def _events(body: str) -> tuple[str, Iterator[tuple[Any, Any]]]:
    try:
        return body, _MD.events_with_range(body, merge_text=True)
    except UnicodeEncodeError:
        # Lone surrogates cannot cross into Rust; '?' keeps every index in place.
        safe = body.encode("utf-8", "replace").decode("utf-8")
        return safe, _MD.events_with_range(safe, merge_text=True)


def read_structure(body: str) -> Structure:
    """Read `body` once; never raises on any text."""
    body, events = _events(body)
    blanks: list[tuple[int, int]] = []  # byte ranges to blank
    html: list[tuple[int, int]] = []  # HTML blocks: only their comments are blanked
    headings: list[tuple[int, int, int]] = []  # level, start, end
    items: list[int] = []  # list item starts
    ends: list[tuple[int, int, int | None]] = []  # text blocks: start, end, item start
    stack: list[str] = []  # open blocks
    depth = 0  # open containers
    open_items: list[list[int]] = []  # [start, run still open (1/0)]
    budget_end: int | None = None
    for ev, rng in itertools.islice(events, MAX_EVENTS):
        if ev.__class__ is not dict:
            continue
        if "Text" in ev:
            continue
        if "Start" in ev:
            tag = ev["Start"]
            name = tag if tag.__class__ is str else next(iter(tag))
            if name in ("Emphasis", "Strong", "Link", "Image", "Strikethrough",
                        "Superscript", "Subscript"):
                continue
            if open_items and open_items[-1][1] and stack and stack[-1] == "Item":
                tight = open_items[-1]  # a tight item's own text ends where a block starts
                ends.append((tight[0], rng["start"], tight[0]))
                tight[1] = 0
            stack.append(name)
            if name == "CodeBlock":
                blanks.append((rng["start"], rng["end"]))
            elif name == "Paragraph":
                ends.append((rng["start"], rng["end"], None))
            elif name == "Heading":
                if depth == 0:
                    headings.append((_HEADING_LEVEL[tag["Heading"]["level"]],
                                     rng["start"], rng["end"]))
            elif name == "HtmlBlock":
                html.append((rng["start"], rng["end"]))
            elif name == "Item":
                items.append(rng["start"])
                open_items.append([rng["start"], 1])
            if name in _CONTAINERS:
                depth += 1
        elif "End" in ev:
            tag = ev["End"]
            name = tag if tag.__class__ is str else next(iter(tag))
            if not stack or stack[-1] != name:
                continue  # an inline tag (Emphasis, Link, …): never pushed
            stack.pop()
            if name in _CONTAINERS:
                depth -= 1
            if name == "Item":
                start, run_open = open_items.pop()
                if run_open:
                    ends.append((start, rng["end"], start))
        elif "Code" in ev or "InlineMath" in ev or "DisplayMath" in ev:
            blanks.append((rng["start"], rng["end"]))
        elif "InlineHtml" in ev:
            if ev["InlineHtml"].startswith("<!--"):
                blanks.append((rng["start"], rng["end"]))

    rest = next(events, None)
    if rest is not None:
        budget_end = rest[1]["start"]
    at: Callable[[int], int] = int if body.isascii() else byte_to_str(body.encode("utf-8"))
    spans = [(at(s), at(e)) for s, e in blanks]
    for s, e in html:
        a, b = at(s), at(e)
        spans.extend(m.span() for m in _HTML_COMMENT.finditer(body, a, b))
    masked = _apply(body, spans)
    masked = _mask_percent_comments(masked, [(at(s), at(e)) for s, e in html])

    raw_headings = [_heading(body, level, at(s), at(e)) for level, s, e in headings]
    tasks: list[RawTask] = []
    for item_start in items:
        start = at(item_start)
        m = _TASK.match(masked, start)
        if m:
            eol = masked.find("\n", m.end())
            tasks.append(RawTask(start, m.group(1), m.end(), len(masked) if eol < 0 else eol))
    blocks: list[RawBlock] = []
    seen: set[int] = set()
    for s, e, item in ends:
        text = masked[at(s):at(e)].rstrip()
        caret = text.rfind("^") if text[-1:] in _ID_CHARS else -1
        if caret >= 0 and (caret == 0 or text[caret - 1].isspace()):
            m = BLOCK_ID.match(text, caret)
            if m:
                offset = at(s) + caret
                if offset not in seen:
                    seen.add(offset)
                    blocks.append(RawBlock(m.group(1), offset,
                                           None if item is None else at(item)))
    blocks.sort(key=lambda b: b.offset)
    return Structure(masked, raw_headings, tasks, blocks,
                     None if budget_end is None else at(budget_end))


def _apply(body: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return body
    out: list[str] = []
    pos = 0
    for s, e in sorted(spans):
        s = max(s, pos)
        if e <= s:
            continue
        out.append(body[pos:s])
        out.append(blank(body[s:e]))
        pos = e
    out.append(body[pos:])
    return "".join(out)


def _mask_percent_comments(masked: str, html: list[tuple[int, int]]) -> str:
    """Blank Obsidian's `%%…%%` comments; an unclosed one runs to the end of the page.

    Only `%%` outside code, math and HTML blocks counts, and not one escaped as `\\%%`.
    """
    if "%%" not in masked:
        return masked
    marks: list[int] = []
    html_starts = [a for a, _ in html]
    for m in _PERCENTS.finditer(masked):
        slashes = m.end() - m.start() - 2
        pos = m.end() - 2
        k = bisect.bisect_right(html_starts, pos) - 1
        if slashes % 2 or (k >= 0 and pos < html[k][1]):
            continue
        marks.append(pos)
    if not marks:
        return masked
    spans: list[tuple[int, int]] = []
    it = iter(marks)
    for opening in it:
        closing = next(it, None)
        spans.append((opening, len(masked) if closing is None else closing + 2))
    return _apply(masked, spans)


def _heading(body: str, level: int, start: int, end: int) -> RawHeading:
    """The heading's text as written: without `#` marks, closing `#`s or setext underline."""
    src = body[start:end].rstrip("\r\n")
    if "\n" in src or "\r" in src:  # setext: the lines above the underline
        lines = src.splitlines()[:-1]
        return RawHeading(level, " ".join(line.strip() for line in lines), start)
    text = src.strip().lstrip("#")
    if not text.strip():
        return RawHeading(level, "", start)
    text = text.strip()
    closing = text.rstrip("#")
    if closing != text and (not closing or closing[-1] in " \t"):
        text = closing.rstrip()
    return RawHeading(level, text, start)
