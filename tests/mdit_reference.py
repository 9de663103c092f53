"""A reference masker on markdown-it-py, to check vaultsync.parse.mask_body against.

`mask_body_mdit(body)` has mask_body's contract: the same length, every newline kept,
and everything that can never hold a link blanked with spaces. Here the regions come
from a real CommonMark tokenizer instead of a line scanner:

* fenced and indented code, and `$$` math blocks: the lines of the block token (its map);
* HTML comments: in html_block tokens, the `<!-- -->` spans of the block's source; inline,
  the html_inline tokens that are comments;
* code spans, `$…$`/`$$…$$` math and Obsidian `%%…%%` comments inside paragraphs,
  headings and table cells: markdown-it gives no offsets for inline tokens, so the rules
  that make them are wrapped to record `state.pos` before and after, in the inline
  token's content; each content line is then placed in its source line (after the
  container markers a blockquote or list item strips) to turn those into body offsets.

The dialect is Obsidian's as far as CommonMark goes: CommonMark with raw HTML, GFM
tables, and dollarmath with no space inside the dollars (so "$5 and $10" is not math)
and digits allowed around them, as in pulldown-cmark's math extension. `%%` comments
are Obsidian's: they can span lines and blocks, and an unclosed one runs to the end of
the page.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

__all__ = ["mask_body_mdit", "masked_spans", "structure_mdit", "MD"]

# An HTML comment as a browser reads one (and CommonMark 0.31): `<!-->` and `<!--->` are
# complete; an unclosed one runs to the end of the html block holding it.
_HTML_COMMENT = re.compile(r"<!--(?:-?>|.*?(?:-->|\Z))", re.DOTALL)
_BLOCK_TYPES = frozenset({"fence", "code_block", "math_block", "math_block_label"})
_NOT_NEWLINE = re.compile(r"[^\n]")

InlineRule = Callable[[StateInline, bool], bool]


# --- recording offsets from inline rules -------------------------------------------


def _base(state: StateInline) -> int:
    """Offset of `state.src` in the top inline token's content (image alt is a sub-parse)."""
    stack: list[list[Any]] = state.env["_srcs"]
    for entry in reversed(stack):
        if entry[0] is state.src:
            return entry[1]
    top = stack[-1]
    if top[0] is None:  # the first rule run inside a pending image alt text
        top[0] = state.src
        return top[1]
    raise RuntimeError("inline source not tracked")  # pragma: no cover


def _record(state: StateInline, start: int, end: int) -> None:
    base = _base(state)
    state.env["_spans"].append((base + start, base + end))


def _recording(fn: InlineRule, keep: Callable[[Token], bool]) -> InlineRule:
    """Wrap an inline rule so that each token it makes and `keep` accepts is recorded."""

    def rule(state: StateInline, silent: bool) -> bool:
        start, n = state.pos, len(state.tokens)
        ok = fn(state, silent)
        if ok and not silent and len(state.tokens) > n and keep(state.tokens[-1]):
            _record(state, start, state.pos)
        return ok

    return rule


def _tracking_image(fn: InlineRule) -> InlineRule:
    """The image rule parses its alt text as a new source: note where that source starts."""

    def rule(state: StateInline, silent: bool) -> bool:
        if silent or not state.src.startswith("![", state.pos):
            return fn(state, silent)
        stack = state.env["_srcs"]
        stack.append([None, _base(state) + state.pos + 2])
        try:
            return fn(state, silent)
        finally:
            stack.pop()

    return rule


def _obsidian_comment(state: StateInline, silent: bool) -> bool:
    """`%%…%%`, Obsidian's comment: raw text up to the next `%%`, across blocks if need be.

    An unclosed `%%` at the top level leaves the comment open; the next inline content
    of the page then starts inside it (blocks between are covered when the events are
    paired). `%%` inside a link text that does not close there is plain text.
    """
    env = state.env
    src, pos = state.src, state.pos
    top = src is env["_top_src"]
    if top and pos == 0 and env["_pct_open"]:
        k = src.find("%%")
        end = state.posMax if k < 0 else k + 2
        if not silent and k >= 0:
            env["_pct_open"] = False
            env["_events"].append(("close", env["_tok"], end))
        state.pos = max(end, pos + 1)
        return True
    if not src.startswith("%%", pos):
        return False
    k = src.find("%%", pos + 2, state.posMax)
    if k >= 0:
        end, closed = k + 2, True
    elif top and state.posMax == len(src):
        end, closed = state.posMax, False
    else:
        return False
    if not silent:
        base = _base(state)
        env["_events"].append(("open", env["_tok"], base + pos))
        if closed:
            env["_events"].append(("close", env["_tok"], base + end))
        else:
            env["_pct_open"] = True
    state.pos = end
    return True


def _core_inline(state: StateCore) -> None:
    """markdown-it's core inline rule, with the bookkeeping the recorders need."""
    env = state.env
    for tok in state.tokens:
        if tok.type != "inline":
            continue
        if tok.children is None:
            tok.children = []
        env["_top_src"] = tok.content
        env["_srcs"] = [[tok.content, 0]]
        env["_tok"] = tok
        env["_spans"] = spans = []
        state.md.inline.parse(tok.content, state.md, env, tok.children)
        if spans:
            tok.meta["spans"] = spans


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    dollarmath_plugin(
        md, allow_space=False, allow_digits=True, double_inline=True, allow_labels=False
    )
    rules = {r.name: r.fn for r in md.inline.ruler.__rules__}
    md.inline.ruler.at("backticks", _recording(rules["backticks"], lambda t: True))
    md.inline.ruler.at(
        "math_inline",
        _recording(rules["math_inline"], lambda t: t.type.startswith("math_inline")),
    )
    md.inline.ruler.at(
        "html_inline",
        _recording(rules["html_inline"], lambda t: t.content.startswith("<!--")),
    )
    md.inline.ruler.at("image", _tracking_image(rules["image"]))
    md.inline.ruler.before("text", "obsidian_comment", _obsidian_comment)
    md.core.ruler.at("inline", _core_inline)
    return md


MD = _build()


# --- from inline content back to the body --------------------------------------------


def _rest_ok(rest: str) -> bool:
    """What may follow an inline content on its line: spaces, a heading's closing #s, a cell."""
    rest = rest.strip()
    return not rest or rest.startswith("|") or not rest.strip("#").strip()


def _align(text: str, line: str, col: int) -> list[int] | None:
    """Columns of `line` holding each character of `text`, read from `col`.

    Allows the two rewrites markdown-it makes to inline content: spaces standing for a
    tab it partly expanded, and a table's `\\|` read as `|`.
    """
    cols: list[int] = []
    i = 0
    while i < len(text):
        if col >= len(line):
            return None
        ch, src = text[i], line[col]
        if ch == src:
            cols.append(col)
            i += 1
            col += 1
        elif ch == " " and src == "\t":
            while i < len(text) and text[i] == " ":
                cols.append(col)
                i += 1
            col += 1
        elif ch == "|" and src == "\\" and line.startswith("\\|", col):
            cols.append(col + 1)
            i += 1
            col += 2
        else:
            return None
    if not _rest_ok(line[col:]):
        return None
    return cols


def _place(text: str, line: str, start: int) -> tuple[int | list[int], int]:
    """Where `text` (one line of an inline content) sits in its source `line`.

    Returns a shift (text[i] is line[shift + i]) or a list of columns, and the column
    after it (a table row's next cell is searched from there).
    """
    if not text:
        return start, start
    col = line.find(text, start)
    while col >= 0:
        if _rest_ok(line[col + len(text):]):
            return col, col + len(text)
        col = line.find(text, col + 1)
    for col in range(start, len(line)):
        cols = _align(text, line, col)
        if cols is not None:
            return cols, cols[-1] + 1
    raise ValueError(f"cannot place inline content {text!r} in line {line!r}")


class _Mapper:
    """Offsets in one inline token's content → offsets in the body."""

    def __init__(self, tok: Token, lines: list[str], starts: list[int], cursor: dict) -> None:
        assert tok.map is not None
        parts = tok.content.split("\n")
        first = tok.map[0]
        if len(parts) > tok.map[1] - first:
            raise ValueError(f"inline content has more lines than its map: {tok.map}")
        self.cstarts: list[int] = []
        self.rows: list[tuple[int, int, int, int | list[int]]] = []
        offset = 0
        for k, part in enumerate(parts):
            n = first + k
            place, after = _place(part, lines[n], cursor.get(n, 0))
            cursor[n] = after
            self.cstarts.append(offset)
            self.rows.append((len(part), starts[n], len(lines[n]), place))
            offset += len(part) + 1

    def __call__(self, offset: int) -> int:
        k = bisect.bisect_right(self.cstarts, offset) - 1
        size, line_start, line_len, place = self.rows[k]
        i = offset - self.cstarts[k]
        if i >= size:  # the newline after this line
            return line_start + line_len
        return line_start + (place + i if isinstance(place, int) else place[i])


def masked_spans(body: str) -> list[tuple[int, int]]:
    """The [start, end) spans of `body` that can never hold a link, unmerged, unsorted."""
    src = body.replace("\r", " ")  # markdown-it reads a lone CR as a line break
    env: dict[str, Any] = {"_pct_open": False, "_events": []}
    tokens = MD.parse(src, env)
    lines = src.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    ends = [s + len(line) for s, line in zip(starts, lines, strict=True)]

    def line_span(a: int, b: int) -> tuple[int, int]:
        return starts[a], ends[min(b, len(lines)) - 1]

    spans: list[tuple[int, int]] = []
    mappers: dict[int, _Mapper] = {}
    cursor: dict[int, int] = {}

    def mapper(tok: Token) -> _Mapper:
        m = mappers.get(id(tok))
        if m is None:
            m = mappers[id(tok)] = _Mapper(tok, lines, starts, cursor)
        return m

    in_cell = False
    for tok in tokens:
        if tok.type in _BLOCK_TYPES and tok.map:
            spans.append(line_span(*tok.map))
        elif tok.type == "html_block" and tok.map:
            a, b = line_span(*tok.map)
            spans.extend(m.span() for m in _HTML_COMMENT.finditer(src, a, b))
        elif tok.type in ("th_open", "td_open"):
            in_cell = True
        elif tok.type == "inline":
            # Table cells share a line: place every cell, in order, so none is misplaced.
            if in_cell or "spans" in tok.meta:
                m = mapper(tok)
                for s, e in tok.meta.get("spans", ()):
                    spans.append((m(s), m(e - 1) + 1))
            in_cell = False

    events: list[tuple[str, Token, int]] = env["_events"]
    opened: int | None = None
    for kind, tok, offset in events:
        m = mapper(tok)
        if kind == "open":
            opened = m(offset)
        elif opened is not None:
            spans.append((opened, m(offset - 1) + 1))
            opened = None
    if opened is not None:
        spans.append((opened, len(body)))
    return spans


def mask_body_mdit(body: str) -> str:
    """Return `body` with code, comments and math blanked; offsets and newlines kept."""
    spans = sorted(masked_spans(body))
    out: list[str] = []
    pos = 0
    for s, e in spans:
        s = max(s, pos)
        if e <= s:
            continue
        out.append(body[pos:s])
        out.append(_NOT_NEWLINE.sub(" ", body[s:e]))
        pos = e
    out.append(body[pos:])
    masked = "".join(out)
    assert len(masked) == len(body)
    return masked


def headings_mdit(body: str) -> list[tuple[int, str, int]]:
    """(level, text, offset of its first line) of each heading at the top level."""
    src = body.replace("\r", " ")
    tokens = MD.parse(src, {"_pct_open": False, "_events": []})
    starts = [0]
    for line in src.split("\n")[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    out = []
    for tok, inline in zip(tokens, tokens[1:], strict=False):
        if tok.type == "heading_open" and tok.level == 0 and tok.map:
            text = " ".join(part.strip() for part in inline.content.split("\n"))
            out.append((int(tok.tag[1]), text.strip(), starts[tok.map[0]]))
    return out


def structure_mdit(body: str) -> Any:
    """vaultsync.parse.markdown.read_structure's result, from markdown-it (no tasks, blocks)."""
    from vaultsync.parse.markdown import RawHeading, Structure

    masked = mask_body_mdit(body)
    # A heading whose marks are blanked lies inside a %% comment: no heading in Obsidian.
    headings = [RawHeading(level, text, offset) for level, text, offset in headings_mdit(body)
                if masked[offset:masked.find("\n", offset) % (len(masked) + 1)].strip()]
    return Structure(masked, headings, [], [])


def vault_pages(root: Path) -> list[tuple[str, str]]:
    """(vault path, text) of every page under `root`, dot-folders left out."""
    pages = []
    for file in sorted(root.rglob("*.md")):
        rel = file.relative_to(root)
        if not any(part.startswith(".") for part in rel.parts):
            pages.append((rel.as_posix(), file.read_text(encoding="utf-8")))
    return pages
