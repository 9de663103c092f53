"""A page body's structure, read by pulldown-cmark (through pyromark).

One pass over the CommonMark event stream (GFM tables, footnotes, `$`/`$$` math)
finds what can never hold a link (code blocks and spans, math, HTML comments), the
page's headings, its list items and the text blocks a `^block-id` may close. The
result is the body "masked": the same text with those regions blanked by spaces,
every offset and newline kept, so that the token scan (tokens.py) and the line-based
rules (fields.py) run over it and report true positions.

Obsidian's own rules are added here: `%%comments%%` (which may span blocks, and run to
the end of the page when unclosed), task items with any status character, block ids.

pyromark's ranges are UTF-8 byte offsets (checked in tests/test_page_model.py). The
masking is done on the UTF-8 bytes, where they apply as they are; only the few offsets
a record needs (headings, tasks, block ids) are turned into str indices, in one pass
over them in order.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import pyromark

_MD = pyromark.Markdown(
    options=pyromark.Options.ENABLE_TABLES
    | pyromark.Options.ENABLE_MATH
    | pyromark.Options.ENABLE_FOOTNOTES
)

_HTML_COMMENT = re.compile(rb"<!--(?:-?>|.*?(?:-->|\Z))", re.DOTALL)
_PERCENTS = re.compile(rb"\\*%%")
# Blanking on bytes: every byte but a newline becomes a space. Byte-aligned, the masked
# bytes keep pyromark's offsets; with UTF-8 continuation bytes deleted too, every
# character becomes one space and the decoded text keeps the body's str offsets.
_BLANK = bytes(0x0A if b == 0x0A else 0x20 for b in range(256))
_CONTINUATION = bytes(range(0x80, 0xC0))
# A block id closes a paragraph or list item: ` ^id` (letters, digits, dashes: Obsidian's
# help, "Link to a block in a note"), or stands alone on the line after a block.
BLOCK_ID = re.compile(r"(?:^|(?<=\s))\^([A-Za-z0-9-]+)$")
_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
# A list item with a checkbox, on UTF-8 bytes: the status is any one character.
_TASK = re.compile(
    rb"(?:[-+*]|[0-9]{1,9}[.)])[ \t]+\[([^\n\r\x80-\xbf][\x80-\xbf]*)\](?:[ \t]+|(?=[\r\n])|\Z)"
)
_INDENT = re.compile(rb"[ \t\r\n]*")
_INDENT_BYTES = (b" ", b"\t", b"\r", b"\n")
_HEADING_LEVEL = {"H1": 1, "H2": 2, "H3": 3, "H4": 4, "H5": 5, "H6": 6}
# Inline elements that open and close around text: nothing to read in them.
_INLINE = frozenset({"Emphasis", "Strong", "Link", "Image", "Strikethrough", "Superscript",
                     "Subscript"})
# Budgets, so that no page holds the parser for more than a few tens of milliseconds
# (scripts/fuzz_parse.py measures them); what lies past one is read as plain text and
# said so in `problems`.
# pulldown-cmark reads the whole block structure when it starts, and a paragraph's inline
# structure all at once when its first event is asked for, so stopping the events does
# not stop it. Its work grows with the lines it reads and the punctuation it tries to
# pair (~150 ns for each such byte at worst), so it is given the page up to the line
# where MAX_MARKUP of them have been seen; the generated vault holds one every 22 bytes.
_MARKUP = b"\n\t`*_[]!<>$|\\&~#+-"
_NOT_MARKUP = bytes(b for b in range(256) if b not in _MARKUP)
MAX_MARKUP = 100_000
# Each element pyromark hands over costs a Python object (~0.3 µs) and its reading more:
# prose makes one per 40 bytes or so (a megabyte ~25,000); a megabyte of `> - ` 1.5
# million.
MAX_EVENTS = 40_000
# `%%` marks of Obsidian comments, each a Python step.
MAX_COMMENT_MARKS = 20_000


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
    # Set when a budget ran out: where the structure (or the `%%` comments) stopped being
    # read; the rest is plain text.
    read_up_to: int | None = None
    comments_read_up_to: int | None = None


def char_offsets(data: bytes, offsets: Iterable[int]) -> dict[int, int]:
    """UTF-8 byte offsets (at character boundaries) of `data` → str indices, in one pass
    over them in order."""
    out: dict[int, int] = {}
    pos = index = 0
    for offset in sorted(set(offsets)):
        index += len(data[pos:offset].decode("utf-8", "replace"))
        pos = offset
        out[offset] = index
    return out


def _events(body: str) -> tuple[str, Iterator[tuple[Any, Any]]]:
    try:
        return body, _MD.events_with_range(body, merge_text=True)
    except UnicodeEncodeError:
        # Lone surrogates cannot cross into Rust; '?' keeps every index in place.
        safe = body.encode("utf-8", "replace").decode("utf-8")
        return safe, _MD.events_with_range(safe, merge_text=True)


def markdown_extent(data: bytes) -> int:
    """How much of `data` pulldown-cmark is given: all of it, or up to the line where it
    holds more than MAX_MARKUP markup bytes (inside a line, if that line is very long)."""
    chunk = 1 << 16
    seen = 0
    for start in range(0, len(data), chunk):
        seen += len(data[start:start + chunk].translate(None, _NOT_MARKUP))
        if seen > MAX_MARKUP:
            cut = data.rfind(b"\n", max(0, start - chunk), start) + 1
            if cut == 0:
                cut = start
                while cut and data[cut] & 0xC0 == 0x80:  # not inside a character
                    cut -= 1
            return cut
    return len(data)


def read_structure(body: str) -> Structure:
    """Read `body` once; never raises on any text."""
    if len(body) > MAX_MARKUP:  # it may hold more markup than pulldown-cmark is given
        try:
            data = body.encode("utf-8")
        except UnicodeEncodeError:
            body = body.encode("utf-8", "replace").decode("utf-8")
            data = body.encode("utf-8")
        extent = markdown_extent(data)
        source = body if extent == len(data) else data[:extent].decode("utf-8")
        events = _MD.events_with_range(source, merge_text=True)
    else:
        body, events = _events(body)
        # After pyromark: the str keeps the UTF-8 it made, and encode copies it.
        data = body.encode("utf-8")
        extent = len(data)
    want_ids = "^" in body  # text blocks are only looked at for a block id
    # Byte offsets, as pyromark gives them.
    blanks: list[tuple[int, int]] = []  # ranges to blank
    html: list[tuple[int, int]] = []  # HTML blocks: only their comments are blanked
    headings: list[tuple[int, int, int]] = []  # level, start, end
    items: list[int] = []  # list item starts
    ends: list[tuple[int, int, int | None]] = []  # text blocks: start, end, item start
    depth = 0  # open containers: a heading inside one is not the page's
    # The list item whose own text is still being read: a tight item's text runs from
    # its marker to where its first block starts, or to its end.
    item_run = -1
    for ev, rng in itertools.islice(events, MAX_EVENTS):
        if ev.__class__ is not dict or "Text" in ev:
            continue
        tag = ev.get("Start")
        if tag is not None:
            if tag.__class__ is str:
                if tag in _INLINE:
                    continue
                name = tag
            else:
                name = next(iter(tag))
                if name in _INLINE:
                    continue
            if item_run >= 0:  # the first block in an item: its own text ended here
                ends.append((item_run, rng["start"], item_run))
                item_run = -1
            if name == "Paragraph":
                if want_ids:
                    ends.append((rng["start"], rng["end"], None))
            elif name == "Heading":
                if depth == 0:
                    headings.append((_HEADING_LEVEL[tag["Heading"]["level"]],
                                     rng["start"], rng["end"]))
            elif name == "Item":
                items.append(rng["start"])
                if want_ids:
                    item_run = rng["start"]
                depth += 1
            elif name == "CodeBlock":
                blanks.append((rng["start"], rng["end"]))
            elif name == "BlockQuote" or name == "FootnoteDefinition":
                depth += 1
            elif name == "HtmlBlock":
                html.append((rng["start"], rng["end"]))
            continue
        tag = ev.get("End")
        if tag is not None:
            if tag == "Item":
                depth -= 1
                if item_run >= 0:  # an item with no block in it: its text is all of it
                    ends.append((item_run, rng["end"], item_run))
                    item_run = -1
            elif tag == "FootnoteDefinition" or (tag.__class__ is dict and "BlockQuote" in tag):
                depth -= 1
        elif "Code" in ev or "InlineMath" in ev or "DisplayMath" in ev:
            blanks.append((rng["start"], rng["end"]))
        elif "InlineHtml" in ev:
            if ev["InlineHtml"].startswith("<!--"):
                blanks.append((rng["start"], rng["end"]))
    rest = next(events, None)
    read_up_to: int | None = None if rest is None else rest[1]["start"]
    if read_up_to is None and extent < len(data):
        read_up_to = extent

    for s, e in html:
        blanks.extend(m.span() for m in _HTML_COMMENT.finditer(data, s, e))
    if blanks:
        masked_b = _apply(data, blanks)
    else:
        masked_b = data
    comments_up_to: int | None = None
    if b"%" in data and b"%%" in masked_b:  # a one-byte search first: much the faster
        comments, comments_up_to = _percent_comments(masked_b, html)
        if comments:
            blanks.extend(comments)
            masked_b = _apply(masked_b, comments)  # the rest is blank already
            # Obsidian does not render a comment: a heading in one is no heading.
            starts = [s for s, _ in comments]
            headings = [h for h in headings
                        if not _inside(comments, starts, h[1])]
    # A nested item's range may start in the indentation before its marker (a tab, spaces
    # past its parent's content indent, or the newline before them): the item, its task
    # and its block id are placed at the marker, where Obsidian shows them.
    if any(data[i:i + 1] in _INDENT_BYTES for i in items):
        items = [_INDENT.match(data, i).end() for i in items]  # type: ignore[union-attr]
        ends = [(s if i != s else _INDENT.match(data, s).end(),  # type: ignore[union-attr]
                 e, None if i is None else _INDENT.match(data, i).end())  # type: ignore[union-attr]
                for s, e, i in ends]
    if masked_b is data:
        masked = body
    elif len(data) == len(body):  # ASCII: a byte is a character
        masked = masked_b.decode("ascii")
    else:
        masked = _apply(data, blanks, True).decode("utf-8")

    tasks_b: list[tuple[int, str, int, int]] = []
    for item in items:
        m = _TASK.match(masked_b, item)
        if m:
            eol = masked_b.find(b"\n", m.end())
            tasks_b.append((item, m.group(1).decode("utf-8"), m.end(),
                            len(masked_b) if eol < 0 else eol))
    blocks_b: list[tuple[str, int, int | None]] = []
    seen: set[int] = set()
    for s, e, item_start in ends:
        if masked_b.find(b"^", s, e) < 0:
            continue
        text = masked_b[s:e].decode("utf-8", "replace").rstrip()
        caret = text.rfind("^") if text[-1:] in _ID_CHARS else -1
        if caret >= 0 and (caret == 0 or text[caret - 1].isspace()):
            m_id = BLOCK_ID.match(text, caret)
            if m_id:
                offset = s + len(text[:caret].encode("utf-8"))
                if offset not in seen:
                    seen.add(offset)
                    blocks_b.append((m_id.group(1), offset, item_start))

    if len(data) == len(body):  # ASCII: bytes are characters
        at: Callable[[int], int] = int
    else:
        wanted = [s for _, s, _ in headings]
        for t in tasks_b:
            wanted += (t[0], t[2], t[3])
        for _, offset, item_start in blocks_b:
            wanted.append(offset)
            if item_start is not None:
                wanted.append(item_start)
        wanted += [o for o in (read_up_to, comments_up_to) if o is not None]
        at = char_offsets(data, wanted).__getitem__
    ascii_body = body if at is int else None  # byte offsets index the str
    raw_headings = [RawHeading(level, _heading_text(ascii_body[s:e] if ascii_body is not None
                                                    else data[s:e].decode("utf-8", "replace")),
                               at(s)) for level, s, e in headings]
    tasks = [RawTask(at(start), status, at(ts), at(te)) for start, status, ts, te in tasks_b]
    blocks = sorted((RawBlock(block_id, at(offset), None if item is None else at(item))
                     for block_id, offset, item in blocks_b), key=lambda b: b.offset)
    return Structure(masked, raw_headings, tasks, blocks,
                     None if read_up_to is None else at(read_up_to),
                     None if comments_up_to is None else at(comments_up_to))


def _inside(spans: list[tuple[int, int]], starts: list[int], pos: int) -> bool:
    """Whether `pos` lies in one of `spans` (sorted, disjoint; `starts` their starts)."""
    k = bisect.bisect_right(starts, pos) - 1
    return k >= 0 and pos < spans[k][1]


def _apply(data: bytes, spans: list[tuple[int, int]], by_character: bool = False) -> bytes:
    """`data` with `spans` blanked: byte for byte, or (by_character) one space for each
    UTF-8 character, so that the decoded text keeps the str offsets of `data`'s."""
    out: list[bytes] = []
    pos = 0
    for s, e in sorted(spans):
        if s < pos:
            s = pos
        if e <= s:
            continue
        out.append(data[pos:s])
        if by_character:
            out.append(data[s:e].translate(_BLANK, _CONTINUATION))
        else:
            out.append(data[s:e].translate(_BLANK))
        pos = e
    out.append(data[pos:])
    return b"".join(out)


def _percent_comments(masked: bytes, html: list[tuple[int, int]]
                      ) -> tuple[list[tuple[int, int]], int | None]:
    """Obsidian's `%%…%%` comments, an unclosed one running to the end of the page; and
    where reading them stopped, if the budget of marks ran out.

    Only `%%` outside code, math and HTML blocks counts, and not one escaped as `\\%%`.
    """
    marks: list[int] = []
    html_starts = [a for a, _ in html]
    found = _PERCENTS.finditer(masked)
    for m in itertools.islice(found, MAX_COMMENT_MARKS):
        slashes = m.end() - m.start() - 2
        pos = m.end() - 2
        k = bisect.bisect_right(html_starts, pos) - 1
        if slashes % 2 or (k >= 0 and pos < html[k][1]):
            continue
        marks.append(pos)
    rest = next(found, None)
    read_up_to = None if rest is None else rest.start()
    if read_up_to is not None and len(marks) % 2:
        read_up_to = marks.pop()  # the budget ran out inside a comment: read it as text
    spans: list[tuple[int, int]] = []
    it = iter(marks)
    for opening in it:
        closing = next(it, None)
        spans.append((opening, len(masked) if closing is None else closing + 2))
    return spans, read_up_to


def _heading_text(src: str) -> str:
    """A heading's text as written: without `#` marks, closing `#`s or setext underline."""
    src = src.rstrip("\r\n")
    if "\n" in src or "\r" in src:  # setext: the lines above the underline
        lines = src.splitlines()[:-1]
        return " ".join(line.strip() for line in lines)
    text = src.strip().lstrip("#").strip()
    if text[-1:] == "#":
        closing = text.rstrip("#")
        if not closing or closing[-1] in " \t":
            text = closing.rstrip()
    return text
